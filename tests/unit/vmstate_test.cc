// SPDX-License-Identifier: GPL-2.0-or-later
//
// The vmstate wire format, pinned byte for byte (as QEMU's tests/unit/test-vmstate.c does): a
// change here breaks migration between colovm builds.
#include "migration/vmstate.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace colo {
namespace {

struct TestState {
  uint8_t a = 0;
  uint16_t b = 0;
  uint32_t c = 0;
  uint64_t d = 0;
  int8_t e = 0;
  int16_t f = 0;
  bool flag = false;
  std::array<uint16_t, 3> arr{};
  uint32_t v2field = 0;  // only in version 2 streams
  uint8_t sub_x = 0;     // subsection "test/sub"
  uint32_t sub_y = 0;
};

constexpr VmStateField kTestFields[] = {
    VMSTATE_FIELD(TestState, a),
    VMSTATE_FIELD(TestState, b),
    VMSTATE_FIELD(TestState, c),
    VMSTATE_FIELD(TestState, d),
    VMSTATE_FIELD(TestState, e),
    VMSTATE_FIELD(TestState, f),
    VMSTATE_FIELD(TestState, flag),
    VMSTATE_FIELD(TestState, arr),
    VMSTATE_FIELD_V(TestState, v2field, 2),
};

constexpr VmStateField kSubFields[] = {
    VMSTATE_FIELD(TestState, sub_x),
    VMSTATE_FIELD(TestState, sub_y),
};

Status sub_post_load(const void* opaque) {
  const auto* s = static_cast<const TestState*>(opaque);
  if (s->sub_x == 0xee)
    return make_error("sub_x 0xee is reserved");
  return ok_status();
}

constexpr VmStateDescription kSubVmState = {
    .name = "test/sub",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kSubFields,
    .post_load = sub_post_load,
};

bool sub_needed(const void* opaque) {
  return static_cast<const TestState*>(opaque)->sub_x != 0;
}

constexpr VmStateSubsection kTestSubsections[] = {{&kSubVmState, sub_needed}};

Status test_post_load(const void* opaque) {
  const auto* s = static_cast<const TestState*>(opaque);
  if (s->a > 0x80)
    return make_error("a = 0x%x out of range", s->a);
  return ok_status();
}

constexpr VmStateDescription kTestVmState = {
    .name = "test",
    .version_id = 2,
    .minimum_version_id = 1,
    .fields = kTestFields,
    .subsections = kTestSubsections,
    .post_load = test_post_load,
};

TestState sample() {
  TestState s;
  s.a = 0x11;
  s.b = 0x2233;
  s.c = 0x44556677;
  s.d = 0x8899aabbccddeeffULL;
  s.e = -2;
  s.f = -3;
  s.flag = true;
  s.arr = {0x0001, 0x0203, 0xffff};
  s.v2field = 0xdeadbeef;
  return s;
}

const std::vector<uint8_t> kGoldenBase = {
    0x11,                                            // a
    0x22, 0x33,                                      // b
    0x44, 0x55, 0x66, 0x77,                          // c
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,  // d
    0xfe,                                            // e = -2
    0xff, 0xfd,                                      // f = -3
    0x01,                                            // flag
    0x00, 0x01, 0x02, 0x03, 0xff, 0xff,              // arr
    0xde, 0xad, 0xbe, 0xef,                          // v2field
};

const std::vector<uint8_t> kGoldenSub = {
    0x05,                                             // subsection marker
    0x08, 't',  'e',  's',  't', '/', 's', 'u', 'b',  // name
    0x00, 0x00, 0x00, 0x01,                           // version
    0x5a,                                             // sub_x
    0x01, 0x02, 0x03, 0x04,                           // sub_y
};

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<uint8_t> save(const TestState& s) {
  ByteWriter w;
  vmstate_save(kTestVmState, &s, w);
  return w.take();
}

void expect_same(const TestState& x, const TestState& y) {
  EXPECT_EQ(x.a, y.a);
  EXPECT_EQ(x.b, y.b);
  EXPECT_EQ(x.c, y.c);
  EXPECT_EQ(x.d, y.d);
  EXPECT_EQ(x.e, y.e);
  EXPECT_EQ(x.f, y.f);
  EXPECT_EQ(x.flag, y.flag);
  EXPECT_EQ(x.arr, y.arr);
  EXPECT_EQ(x.v2field, y.v2field);
  EXPECT_EQ(x.sub_x, y.sub_x);
  EXPECT_EQ(x.sub_y, y.sub_y);
}

// Loads a copy of `data` held in its own allocation, so a read past the end is a heap overflow
// that the sanitizer build reports.
Result<TestState> load(const std::vector<uint8_t>& data, int version = 2,
                       const TestState& base = TestState{}) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[data.size() + 1]);
  if (!data.empty())
    memcpy(copy.get(), data.data(), data.size());
  return vmstate_load_into(kTestVmState, base, std::span<const uint8_t>(copy.get(), data.size()),
                           version);
}

std::string load_error(const std::vector<uint8_t>& data, int version = 2) {
  auto r = load(data, version);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message();
}

TEST(VmStateTest, FieldTableIsDeducedFromTheStruct) {
  EXPECT_EQ(kTestFields[0].elem_size, 1);
  EXPECT_EQ(kTestFields[0].kind, VmStateKind::kUnsigned);
  EXPECT_EQ(kTestFields[3].elem_size, 8);
  EXPECT_EQ(kTestFields[4].kind, VmStateKind::kSigned);
  EXPECT_EQ(kTestFields[6].kind, VmStateKind::kBool);
  EXPECT_EQ(kTestFields[6].elem_size, 1);
  EXPECT_EQ(kTestFields[7].count, 3u);
  EXPECT_EQ(kTestFields[7].elem_size, 2);
  EXPECT_EQ(kTestFields[7].offset, offsetof(TestState, arr));
  EXPECT_EQ(kTestFields[8].version_id, 2);
  EXPECT_EQ(kTestFields[0].version_id, 0);
  EXPECT_STREQ(kTestFields[8].name, "v2field");
}

TEST(VmStateTest, GoldenBytesWithoutSubsection) {
  EXPECT_EQ(save(sample()), kGoldenBase);
}

TEST(VmStateTest, GoldenBytesWithSubsection) {
  TestState s = sample();
  s.sub_x = 0x5a;
  s.sub_y = 0x01020304;
  EXPECT_EQ(save(s), concat(kGoldenBase, kGoldenSub));
}

TEST(VmStateTest, SaveAppends) {
  ByteWriter w;
  w.u8(0xaa);
  TestState s = sample();
  vmstate_save(kTestVmState, &s, w);
  EXPECT_EQ(w.buffer(), concat({0xaa}, kGoldenBase));
}

TEST(VmStateTest, RoundTrip) {
  TestState s = sample();
  s.sub_x = 0x7f;
  s.sub_y = 0xcafef00d;
  s.d = UINT64_MAX;
  s.e = INT8_MIN;
  s.f = INT16_MIN;
  auto r = load(save(s));
  ASSERT_TRUE(r.ok()) << r.error().message();
  expect_same(*r, s);
}

TEST(VmStateTest, LoadDecodesGoldenBytes) {
  auto r = load(concat(kGoldenBase, kGoldenSub));
  ASSERT_TRUE(r.ok()) << r.error().message();
  TestState want = sample();
  want.sub_x = 0x5a;
  want.sub_y = 0x01020304;
  expect_same(*r, want);
}

TEST(VmStateTest, VmstateLoadConsumesTheWholeReader) {
  TestState s;
  std::vector<uint8_t> bytes = concat(kGoldenBase, kGoldenSub);
  ByteReader in(bytes);
  ASSERT_TRUE(vmstate_load(kTestVmState, &s, in, 2).ok());
  EXPECT_TRUE(in.at_end());
  EXPECT_EQ(s.sub_y, 0x01020304u);
}

TEST(VmStateTest, Version1StreamLacksNewerFields) {
  // A version 1 stream has no v2field: the field keeps the value the load started from.
  std::vector<uint8_t> v1(kGoldenBase.begin(), kGoldenBase.end() - 4);
  TestState base;
  base.v2field = 0x12345678;
  auto r = load(v1, 1, base);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->v2field, 0x12345678u);
  EXPECT_EQ(r->a, 0x11);
  EXPECT_EQ(r->arr, (std::array<uint16_t, 3>{0x0001, 0x0203, 0xffff}));
  // The same bytes as version 2 are four bytes short.
  EXPECT_EQ(load_error(v1, 2), "'test' field 'v2field': state truncated");
  // And a version 2 stream read as version 1 has four bytes too many.
  EXPECT_EQ(load_error(kGoldenBase, 1), "'test': unexpected data after the state");
}

TEST(VmStateTest, VersionOutsideTheSupportedRange) {
  EXPECT_EQ(load_error(kGoldenBase, 3),
            "'test': unsupported state version 3 (this build reads 1 to 2)");
  EXPECT_EQ(load_error(kGoldenBase, 0),
            "'test': unsupported state version 0 (this build reads 1 to 2)");
  EXPECT_EQ(load_error(kGoldenBase, -1),
            "'test': unsupported state version -1 (this build reads 1 to 2)");
}

TEST(VmStateTest, MinimumVersionRejected) {
  constexpr VmStateDescription kNewOnly = {
      .name = "newonly", .version_id = 4, .minimum_version_id = 3, .fields = kTestFields};
  TestState s;
  ByteReader in(kGoldenBase);
  Status st = vmstate_load(kNewOnly, &s, in, 2);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "'newonly': unsupported state version 2 (this build reads 3 to 4)");
  EXPECT_EQ(s.a, 0);  // nothing was read
  EXPECT_EQ(in.position(), 0u);
}

TEST(VmStateTest, SubsectionOnlyWhenNeeded) {
  TestState s = sample();
  s.sub_y = 0x01020304;  // sub_x == 0: not needed, so not sent
  EXPECT_EQ(save(s), kGoldenBase);
}

TEST(VmStateTest, AbsentSubsectionKeepsStartingValues) {
  TestState base;
  base.sub_x = 9;
  base.sub_y = 99;
  auto r = load(kGoldenBase, 2, base);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->sub_x, 9);
  EXPECT_EQ(r->sub_y, 99u);
  EXPECT_EQ(r->d, 0x8899aabbccddeeffULL);
}

TEST(VmStateTest, UnknownSubsectionRejected) {
  std::vector<uint8_t> bad = kGoldenBase;
  bad.insert(bad.end(), {0x05, 0x04, 'n', 'o', 'p', 'e', 0, 0, 0, 1, 0});
  EXPECT_EQ(load_error(bad), "'test': unknown subsection 'nope'");
  // A name that is a prefix of a known one is still unknown.
  std::vector<uint8_t> prefix = kGoldenBase;
  prefix.insert(prefix.end(), {0x05, 0x04, 't', 'e', 's', 't', 0, 0, 0, 1, 0});
  EXPECT_EQ(load_error(prefix), "'test': unknown subsection 'test'");
}

TEST(VmStateTest, SubsectionVersionChecked) {
  std::vector<uint8_t> bad = concat(kGoldenBase, kGoldenSub);
  bad[kGoldenBase.size() + 10 + 3] = 2;  // version 2 of "test/sub"
  EXPECT_EQ(load_error(bad), "'test/sub': unsupported state version 2 (this build reads 1 to 1)");
}

TEST(VmStateTest, DataAfterTheStateRejected) {
  EXPECT_EQ(load_error(concat(kGoldenBase, {0x00})), "'test': unexpected data after the state");
  EXPECT_EQ(load_error(concat(concat(kGoldenBase, kGoldenSub), {0x04})),
            "'test': unexpected data after the state");
}

TEST(VmStateTest, InvalidBoolRejected) {
  std::vector<uint8_t> bad = kGoldenBase;
  bad[18] = 0x02;  // flag
  EXPECT_EQ(load_error(bad), "'test' field 'flag': invalid bool value 2");
  bad[18] = 0xff;
  EXPECT_EQ(load_error(bad), "'test' field 'flag': invalid bool value 255");
  bad[18] = 0x00;
  auto r = load(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->flag);
}

TEST(VmStateTest, PostLoadRejectionLeavesTheBaseUntouched) {
  TestState base = sample();
  base.sub_x = 3;
  TestState bad_state = sample();
  bad_state.a = 0x81;
  bad_state.b = 0x1111;
  std::vector<uint8_t> bytes = save(bad_state);
  auto r = vmstate_load_into(kTestVmState, base, bytes, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "test: a = 0x81 out of range");
  TestState want = sample();
  want.sub_x = 3;
  expect_same(base, want);
}

TEST(VmStateTest, SubsectionPostLoadRuns) {
  TestState s = sample();
  s.sub_x = 0xee;
  auto r = load(save(s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "sub_x 0xee is reserved");
}

TEST(VmStateTest, TruncationFailsCleanly) {
  TestState s = sample();
  s.sub_x = 0x5a;
  s.sub_y = 0x01020304;
  const std::vector<uint8_t> full = save(s);
  const size_t n = full.size();
  ASSERT_EQ(n, kGoldenBase.size() + kGoldenSub.size());

  EXPECT_EQ(load_error({}), "'test' field 'a': state truncated");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.end() - 2)),
            "'test/sub' field 'sub_y': state truncated");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.begin() + n / 2)),
            "'test' field 'arr': state truncated");
  // Just the second half: its bytes read as fields until they run out.
  auto second_half = load(std::vector<uint8_t>(full.begin() + n / 2, full.end()));
  EXPECT_FALSE(second_half.ok());

  // Every prefix: only the full stream and the stream without its (optional) subsection load.
  for (size_t len = 0; len <= n; len++) {
    auto r = load(std::vector<uint8_t>(full.begin(), full.begin() + len));
    if (len == n || len == kGoldenBase.size()) {
      EXPECT_TRUE(r.ok()) << "length " << len << ": " << r.error().message();
    } else {
      ASSERT_FALSE(r.ok()) << "length " << len;
      const std::string& msg = r.error().message();
      EXPECT_TRUE(msg.find("truncated") != std::string::npos) << "length " << len << ": " << msg;
    }
  }
  // Every suffix.
  for (size_t start = 1; start < n; start++) {
    auto r = load(std::vector<uint8_t>(full.begin() + start, full.end()));
    EXPECT_FALSE(r.ok()) << "suffix from " << start;
  }
}

TEST(VmStateTest, SubsectionHeaderTruncation) {
  std::vector<uint8_t> bytes = concat(kGoldenBase, kGoldenSub);
  // Cut inside the marker/length/name/version: the header check fires.
  for (size_t cut = 1; cut < 14; cut++) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + kGoldenBase.size() + cut);
    EXPECT_EQ(load_error(part), "'test': subsection header truncated") << "cut " << cut;
  }
  // A name length beyond the data.
  std::vector<uint8_t> long_name = kGoldenBase;
  long_name.insert(long_name.end(), {0x05, 0xff, 't', 'e', 's', 't'});
  EXPECT_EQ(load_error(long_name), "'test': subsection header truncated");
}

TEST(VmStateTest, Describe) {
  EXPECT_EQ(vmstate_describe(kTestVmState),
            "test version 2 (min 1)\n"
            "  a uint8\n"
            "  b uint16\n"
            "  c uint32\n"
            "  d uint64\n"
            "  e int8\n"
            "  f int16\n"
            "  flag bool8\n"
            "  arr uint16[3]\n"
            "  v2field uint32 since v2\n"
            "  subsection test/sub version 1 (min 1)\n"
            "  sub_x uint8\n"
            "  sub_y uint32\n");
}

}  // namespace
}  // namespace colo
