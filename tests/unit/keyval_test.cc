// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/keyval.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace colo {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs list_of(std::string_view params, std::string_view implied) {
  auto r = keyval_parse_list(params, implied);
  EXPECT_TRUE(r.ok()) << params << ": " << (r.ok() ? "" : r.error().message());
  Pairs out;
  if (!r.ok())
    return out;
  for (const auto& item : *r)
    out.emplace_back(item.key, item.value);
  return out;
}

std::string list_error(std::string_view params, std::string_view implied) {
  auto r = keyval_parse_list(params, implied);
  EXPECT_FALSE(r.ok()) << params;
  return r.ok() ? "" : r.error().message();
}

constexpr uint64_t kKiB = 1ULL << 10;
constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

const char kSizeError[] =
    "Parameter 'size' expects a size (a number with an optional suffix B, K, M, G, T, P or E)";

// --- keyval_parse_list / keyval_parse ----------------------------------------------------------

TEST(KeyvalTest, EmptyStringGivesNothing) {
  EXPECT_EQ(list_of("", "type"), Pairs{});
  EXPECT_EQ(list_of("", ""), Pairs{});
}

TEST(KeyvalTest, ImpliedKeyTakesTheFirstElement) {
  EXPECT_EQ(list_of("tap,id=n0,script=no", "type"),
            (Pairs{{"type", "tap"}, {"id", "n0"}, {"script", "no"}}));
  // The implied value may hold characters a key may not.
  EXPECT_EQ(list_of("file:/tmp/x.log", "path"), (Pairs{{"path", "file:/tmp/x.log"}}));
  EXPECT_EQ(list_of("512", "size"), (Pairs{{"size", "512"}}));
}

TEST(KeyvalTest, ExplicitFirstKeyWinsOverImpliedKey) {
  EXPECT_EQ(list_of("type=tap,id=n0", "type"), (Pairs{{"type", "tap"}, {"id", "n0"}}));
  EXPECT_EQ(list_of("id=n0,type=tap", "type"), (Pairs{{"id", "n0"}, {"type", "tap"}}));
}

TEST(KeyvalTest, ImpliedKeyOnlyForTheFirstElement) {
  // A later element without '=' is a flag, not a second implied value.
  EXPECT_EQ(list_of("a,b", "type"), (Pairs{{"type", "a"}, {"b", "on"}}));
}

TEST(KeyvalTest, WithoutImpliedKeyTheFirstElementIsAFlag) {
  EXPECT_EQ(list_of("foo,bar=1", ""), (Pairs{{"foo", "on"}, {"bar", "1"}}));
}

TEST(KeyvalTest, DoubledCommaEscapesAComma) {
  EXPECT_EQ(list_of("a=x,,y,b=2", ""), (Pairs{{"a", "x,y"}, {"b", "2"}}));
  EXPECT_EQ(list_of("a=x,,", ""), (Pairs{{"a", "x,"}}));
  EXPECT_EQ(list_of("a=,,,,", ""), (Pairs{{"a", ",,"}}));
  EXPECT_EQ(list_of("a=x,,,b", ""), (Pairs{{"a", "x,"}, {"b", "on"}}));
  EXPECT_EQ(list_of("/tmp/a,,b.img,id=d0", "file"),
            (Pairs{{"file", "/tmp/a,b.img"}, {"id", "d0"}}));
}

TEST(KeyvalTest, ValueMayContainEquals) {
  EXPECT_EQ(list_of("append=console=ttyS0 root=/dev/vda", ""),
            (Pairs{{"append", "console=ttyS0 root=/dev/vda"}}));
}

TEST(KeyvalTest, EmptyValueIsKept) {
  EXPECT_EQ(list_of("a=,b=1", ""), (Pairs{{"a", ""}, {"b", "1"}}));
}

TEST(KeyvalTest, FlagsKeepOrderAndSigns) {
  EXPECT_EQ(list_of("host,+x,-y,z,w=off", "model"),
            (Pairs{{"model", "host"}, {"+x", "on"}, {"-y", "on"}, {"z", "on"}, {"w", "off"}}));
}

TEST(KeyvalTest, TrailingCommaIsIgnored) {
  EXPECT_EQ(list_of("a=1,", ""), (Pairs{{"a", "1"}}));
  EXPECT_EQ(list_of("tap,", "type"), (Pairs{{"type", "tap"}}));
}

TEST(KeyvalTest, DottedKeysStayFlat) {
  auto d = keyval_parse("driver=qcow2,file.driver=file,file.filename=/x.img", "");
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(
      *d, (KeyvalDict{{"driver", "qcow2"}, {"file.driver", "file"}, {"file.filename", "/x.img"}}));
}

TEST(KeyvalTest, DuplicatesKeptInListLastWinsInDict) {
  EXPECT_EQ(list_of("a=1,a=2", ""), (Pairs{{"a", "1"}, {"a", "2"}}));
  auto d = keyval_parse("a=1,b=x,a=2", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (KeyvalDict{{"a", "2"}, {"b", "x"}}));
}

TEST(KeyvalTest, KeyCharacters) {
  EXPECT_EQ(list_of("Ab-c_d.e+f=1", ""), (Pairs{{"Ab-c_d.e+f", "1"}}));
}

TEST(KeyvalTest, InvalidKeys) {
  EXPECT_EQ(list_error("a=1,=2", ""), "Invalid parameter ''");
  EXPECT_EQ(list_error("=2", "type"), "Invalid parameter ''");
  EXPECT_EQ(list_error(",a=1", ""), "Invalid parameter ''");
  EXPECT_EQ(list_error("a=1,b c", ""), "Invalid parameter 'b c'");
  EXPECT_EQ(list_error("a b=1", ""), "Invalid parameter 'a b'");
  EXPECT_EQ(list_error(".a=1", ""), "Invalid parameter '.a'");
  EXPECT_EQ(list_error("a.=1", ""), "Invalid parameter 'a.'");
  EXPECT_EQ(list_error("x,a:b", "type"), "Invalid parameter 'a:b'");
  EXPECT_EQ(list_error("x,a=1,b/c", "type"), "Invalid parameter 'b/c'");
  // Errors come from keyval_parse too.
  auto d = keyval_parse("ok=1,bad key=2", "");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message(), "Invalid parameter 'bad key'");
}

// --- parse_bool / parse_uint -------------------------------------------------------------------

TEST(KeyvalTest, ParseBool) {
  for (const char* v : {"on", "yes", "true", "y"}) {
    auto r = parse_bool("x", v);
    ASSERT_TRUE(r.ok()) << v;
    EXPECT_TRUE(*r) << v;
  }
  for (const char* v : {"off", "no", "false", "n"}) {
    auto r = parse_bool("x", v);
    ASSERT_TRUE(r.ok()) << v;
    EXPECT_FALSE(*r) << v;
  }
  for (const char* v : {"", "ON", "1", "0", "maybe", "onn", " on"}) {
    auto r = parse_bool("vhost", v);
    ASSERT_FALSE(r.ok()) << v;
    EXPECT_EQ(r.error().message(), "Parameter 'vhost' expects 'on' or 'off'");
  }
}

TEST(KeyvalTest, ParseUint) {
  struct Case {
    const char* text;
    uint64_t value;
  } cases[] = {
      {"0", 0},
      {"42", 42},
      {"0x10", 16},
      {"0XfF", 255},
      {"010", 8},  // C (and QEMU) number syntax: a leading 0 is octal
      {"18446744073709551615", UINT64_MAX},
  };
  for (const auto& c : cases) {
    auto r = parse_uint("n", c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
    EXPECT_EQ(*r, c.value) << c.text;
  }
  for (const char* bad :
       {"", "-1", "+1", " 1", "1 ", "abc", "12abc", "0x", "08", "18446744073709551616", "1.5"}) {
    auto r = parse_uint("count", bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed as " << *r;
    EXPECT_EQ(r.error().message(), "Parameter 'count' expects a non-negative number") << bad;
  }
}

// --- parse_size --------------------------------------------------------------------------------

TEST(KeyvalTest, ParseSizeSuffixes) {
  struct Case {
    const char* text;
    uint64_t value;
  } cases[] = {
      {"0", 0},
      {"512", 512},
      {"5B", 5},
      {"5b", 5},
      {"1K", kKiB},
      {"1k", kKiB},
      {"4M", 4 * kMiB},
      {"4m", 4 * kMiB},
      {"2G", 2 * kGiB},
      {"2g", 2 * kGiB},
      {"3T", 3ULL << 40},
      {"3t", 3ULL << 40},
      {"1P", 1ULL << 50},
      {"1p", 1ULL << 50},
      {"1E", 1ULL << 60},
      {"15e", 15ULL << 60},
      {"18446744073709551615", UINT64_MAX},
      {"18446744073709551615B", UINT64_MAX},
  };
  for (const auto& c : cases) {
    auto r = parse_size("size", c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
    EXPECT_EQ(*r, c.value) << c.text;
  }
}

TEST(KeyvalTest, ParseSizeFractions) {
  struct Case {
    const char* text;
    uint64_t value;
  } cases[] = {
      {"1.5G", 3 * kGiB / 2},
      {"0.5K", 512},
      {".5M", kMiB / 2},
      {"1.25k", 1280},
      {"0.1K", 102},  // truncated towards zero
      {"1.0B", 1},    // a zero fraction is no fraction (QEMU accepts it too)
      {"1.0", 1},
      {"2.K", 2 * kKiB},  // "1.k works without fractional digits" (QEMU)
      {"15.5E", (15ULL << 60) + (1ULL << 59)},
  };
  for (const auto& c : cases) {
    auto r = parse_size("size", c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message();
    EXPECT_EQ(*r, c.value) << c.text;
  }
}

TEST(KeyvalTest, ParseSizeDefaultUnit) {
  auto r = parse_size("size", "512", kMiB);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 512 * kMiB);
  // An explicit suffix overrides the default unit, including B.
  r = parse_size("size", "512K", kMiB);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 512 * kKiB);
  r = parse_size("size", "4096B", kMiB);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 4096u);
  // A fraction is fine when the default unit is larger than a byte.
  r = parse_size("size", "1.5", kMiB);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3 * kMiB / 2);
  r = parse_size("size", "16383", 1ULL << 50);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 16383ULL << 50);
}

TEST(KeyvalTest, ParseSizeOverflow) {
  for (const char* bad : {"16E", "16384P", "18446744073709551616", "18446744073709551615K",
                          "99999999999999999999999", "15.9999999999999999999E", "16.0E"}) {
    auto r = parse_size("size", bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed as " << *r;
    EXPECT_EQ(r.error().message(), kSizeError) << bad;
  }
  auto r = parse_size("size", "16384", 1ULL << 50);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), kSizeError);
}

TEST(KeyvalTest, ParseSizeGarbage) {
  for (const char* bad :
       {"",       "abc",    "K",     "-1",    "+1",    " 1",   "1 ",  "1X",    "1KB",
        "1Ki",    "1K ",    "0x10",  "0x10K", "1.5",   "1.5B", ".",   ".K",    "1..5K",
        "1.5.5K", "1.5e3M", "1.5E3", "1e3",   "1.-5K", "inf",  "nan", "1.5 G", "1,5G"}) {
    auto r = parse_size("size", bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed as " << *r;
    EXPECT_EQ(r.error().message(), kSizeError) << bad;
  }
  auto r = parse_size("mem-size", "lots");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "Parameter 'mem-size' expects a size (a number with an optional suffix B, K, M, G, T, "
            "P or E)");
}

// --- format_size -------------------------------------------------------------------------------

TEST(KeyvalTest, FormatSize) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1), "1 B");
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1024), "1 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_size(128 * kMiB), "128 MiB");
  EXPECT_EQ(format_size(1000 * kMiB), "1000 MiB");
  EXPECT_EQ(format_size(3 * kGiB / 2), "1.5 GiB");
  EXPECT_EQ(format_size(kGiB + kGiB / 4), "1.25 GiB");
  EXPECT_EQ(format_size(kGiB / 3), "341 MiB");
  EXPECT_EQ(format_size(3ULL << 40), "3 TiB");
  EXPECT_EQ(format_size(1ULL << 50), "1 PiB");
  EXPECT_EQ(format_size(1ULL << 60), "1 EiB");
  EXPECT_EQ(format_size(UINT64_MAX), "16 EiB");
}

TEST(KeyvalTest, FormatSizeNeverUsesExponents) {
  // Just below a unit: QEMU's size_to_str moves to the larger unit rather than printing 1.02e+03.
  EXPECT_EQ(format_size(kMiB - 1), "1 MiB");
  EXPECT_EQ(format_size(1000 * kKiB + 512), "0.977 MiB");
  EXPECT_EQ(format_size(999 * kKiB + 512), "0.976 MiB");
  EXPECT_EQ(format_size(998 * kKiB + 256), "998 KiB");
  EXPECT_EQ(format_size(kGiB - kMiB - kMiB / 2), "0.999 GiB");
  for (uint64_t v = 1; v != 0 && v < (1ULL << 63); v = v * 3 + 1) {
    std::string s = format_size(v);
    EXPECT_EQ(s.find('e'), std::string::npos) << v << " -> " << s;
    EXPECT_EQ(s.find("+"), std::string::npos) << v << " -> " << s;
  }
}

// --- OptionReader ------------------------------------------------------------------------------

OptionReader reader(std::string_view params, std::string_view implied = "") {
  auto d = keyval_parse(params, implied);
  EXPECT_TRUE(d.ok());
  return OptionReader(d.ok() ? *d : KeyvalDict{});
}

TEST(OptionReaderTest, TakeRemovesTheKey) {
  OptionReader r = reader("tap,id=n0,script=no", "type");
  EXPECT_TRUE(r.has("id"));
  EXPECT_EQ(r.take("id"), std::optional<std::string>("n0"));
  EXPECT_FALSE(r.has("id"));
  EXPECT_EQ(r.take("id"), std::nullopt);
  EXPECT_EQ(r.take_or("type", "none"), "tap");
  EXPECT_EQ(r.take_or("type", "none"), "none");
  EXPECT_EQ(r.remaining(), (KeyvalDict{{"script", "no"}}));
  Status st = r.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Invalid parameter 'script'");
  EXPECT_EQ(r.take("script"), std::optional<std::string>("no"));
  EXPECT_TRUE(r.finish().ok());
}

TEST(OptionReaderTest, FinishNamesTheFirstKeyInOrder) {
  OptionReader r = reader("zeta=1,alpha=2,mid=3");
  r.take("mid");
  Status st = r.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Invalid parameter 'alpha'");
}

TEST(OptionReaderTest, TakeBool) {
  OptionReader r = reader("vhost=on,queues=off,bad=2");
  auto v = r.take_bool("vhost", false);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(*v);
  v = r.take_bool("queues", true);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(*v);
  v = r.take_bool("absent", true);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(*v);
  v = r.take_bool("bad", false);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message(), "Parameter 'bad' expects 'on' or 'off'");
  EXPECT_TRUE(r.finish().ok());  // a bad value is still taken
}

TEST(OptionReaderTest, FlagIsOn) {
  OptionReader r = reader("x,server,wait=off", "path");
  auto server = r.take_bool("server", false);
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(*server);
  auto wait = r.take_bool("wait", true);
  ASSERT_TRUE(wait.ok());
  EXPECT_FALSE(*wait);
}

TEST(OptionReaderTest, TakeUint) {
  OptionReader r = reader("a=7,b=0x20,c=-1");
  auto v = r.take_uint("a", 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7u);
  v = r.take_uint("b", 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 32u);
  v = r.take_uint("d", 99);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 99u);
  v = r.take_uint("c", 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message(), "Parameter 'c' expects a non-negative number");
}

TEST(OptionReaderTest, TakeSize) {
  OptionReader r = reader("512,max=2G,bad=x", "size");
  auto v = r.take_size("size", 0, kMiB);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 512 * kMiB);
  v = r.take_size("max", 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 2 * kGiB);
  v = r.take_size("min", 12345, kMiB);  // the default is not scaled
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 12345u);
  v = r.take_size("bad", 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message(),
            "Parameter 'bad' expects a size (a number with an optional suffix B, K, M, G, T, P or "
            "E)");
}

TEST(OptionReaderTest, TakePrefix) {
  OptionReader r = reader(
      "driver=qcow2,file.driver=file,file.filename=/x.img,file.aio.mode=native,filex=1,file=f,"
      "backing.driver=raw");
  KeyvalDict file = r.take_prefix("file");
  EXPECT_EQ(file, (KeyvalDict{{"driver", "file"}, {"filename", "/x.img"}, {"aio.mode", "native"}}));
  EXPECT_EQ(
      r.remaining(),
      (KeyvalDict{{"driver", "qcow2"}, {"filex", "1"}, {"file", "f"}, {"backing.driver", "raw"}}));
  EXPECT_EQ(r.take_prefix("file"), KeyvalDict{});
  EXPECT_EQ(r.take_prefix("nothing"), KeyvalDict{});
  EXPECT_EQ(r.take_prefix("backing"), (KeyvalDict{{"driver", "raw"}}));
  r.take("driver");
  r.take("file");
  Status st = r.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Invalid parameter 'filex'");
}

}  // namespace
}  // namespace colo
