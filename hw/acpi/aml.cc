// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/acpi/aml.h"

#include <cstdio>
#include <cstdlib>

namespace colo {

namespace {

constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0a,
                  kWordPrefix = 0x0b, kDWordPrefix = 0x0c, kStringPrefix = 0x0d,
                  kQWordPrefix = 0x0e, kScopeOp = 0x10, kBufferOp = 0x11, kPackageOp = 0x12,
                  kExtOpPrefix = 0x5b, kDeviceOp = 0x82, kRootChar = 0x5c, kParentPrefix = 0x5e,
                  kDualNamePrefix = 0x2e, kMultiNamePrefix = 0x2f;

// Resource descriptor tags.
constexpr uint8_t kSmallIo = 0x47, kSmallEndTag = 0x79, kLargeDWordAddress = 0x87,
                  kLargeWordAddress = 0x88, kLargeQWordAddress = 0x8a;
constexpr uint8_t kResourceTypeMemory = 0, kResourceTypeIo = 1, kResourceTypeBus = 2;
// General flags: MaxFixed | MinFixed, positive decode, producer.
constexpr uint8_t kAddressFlagsFixed = 0x0c;

[[noreturn]] void bad_name(std::string_view path) {
  fprintf(stderr, "colovm: bug: bad AML name '%.*s'\n", static_cast<int>(path.size()), path.data());
  abort();
}

void append(AmlBytes& out, const AmlBytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// opcode(s), PkgLength, contents
AmlBytes with_pkg_length(std::initializer_list<uint8_t> ops, const AmlBytes& contents) {
  AmlBytes out(ops);
  append(out, aml_pkg_length(contents.size()));
  append(out, contents);
  return out;
}

AmlBytes named_container(std::initializer_list<uint8_t> ops, std::string_view name,
                         const std::vector<AmlBytes>& terms) {
  AmlBytes contents = aml_name_string(name);
  for (const AmlBytes& t : terms)
    append(contents, t);
  return with_pkg_length(ops, contents);
}

}  // namespace

AmlBytes aml_pkg_length(size_t payload) {
  // One byte holds lengths up to 63; with n following bytes, 4 + 8n bits.
  size_t total = payload + 1;
  if (total < 0x40)
    return {static_cast<uint8_t>(total)};
  for (size_t extra = 1; extra <= 3; extra++) {
    total = payload + 1 + extra;
    if (total < (size_t{1} << (4 + 8 * extra))) {
      AmlBytes out;
      out.push_back(static_cast<uint8_t>((extra << 6) | (total & 0x0f)));
      for (size_t i = 0; i < extra; i++)
        out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
      return out;
    }
  }
  fprintf(stderr, "colovm: bug: AML package of %zu bytes is too long\n", payload);
  abort();
}

AmlBytes aml_name_string(std::string_view path) {
  AmlBytes out;
  size_t i = 0;
  if (!path.empty() && path[0] == '\\') {
    out.push_back(kRootChar);
    i = 1;
  } else {
    while (i < path.size() && path[i] == '^') {
      out.push_back(kParentPrefix);
      i++;
    }
  }
  std::vector<std::string_view> segs;
  while (i < path.size()) {
    size_t dot = path.find('.', i);
    if (dot == std::string_view::npos)
      dot = path.size();
    segs.push_back(path.substr(i, dot - i));
    i = dot + 1;
    if (dot + 1 == path.size())
      bad_name(path);  // trailing dot
  }
  if (segs.empty()) {
    out.push_back(0x00);  // NullName
    return out;
  }
  if (segs.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segs.size() > 2) {
    if (segs.size() > 255)
      bad_name(path);
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segs.size()));
  }
  for (std::string_view s : segs) {
    if (s.empty() || s.size() > 4)
      bad_name(path);
    for (size_t k = 0; k < 4; k++) {
      char c = k < s.size() ? s[k] : '_';
      bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (k > 0 && c >= '0' && c <= '9');
      if (!ok)
        bad_name(path);
      out.push_back(static_cast<uint8_t>(c));
    }
  }
  return out;
}

AmlBytes aml_int(uint64_t value) {
  if (value == 0)
    return {kZeroOp};
  if (value == 1)
    return {kOneOp};
  ByteWriter w;
  if (value <= 0xff) {
    w.u8(kBytePrefix);
    w.u8(static_cast<uint8_t>(value));
  } else if (value <= 0xffff) {
    w.u8(kWordPrefix);
    w.le16(static_cast<uint16_t>(value));
  } else if (value <= 0xffffffff) {
    w.u8(kDWordPrefix);
    w.le32(static_cast<uint32_t>(value));
  } else {
    w.u8(kQWordPrefix);
    w.le64(value);
  }
  return w.take();
}

AmlBytes aml_string(std::string_view s) {
  AmlBytes out{kStringPrefix};
  for (char c : s) {
    if (static_cast<unsigned char>(c) - 1u >= 0x7fu)
      bad_name(s);  // 1-0x7f
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0);
  return out;
}

AmlBytes aml_eisaid(std::string_view id) {
  // Three letters of 5 bits each ('A' = 1), then four hex digits; stored big-endian in a
  // DWord: byte 0 = 0 l1 l1 l1 l1 l1 l2 l2, byte 1 = l2 l2 l2 l3 l3 l3 l3 l3, bytes 2-3 the
  // product number.
  auto hex = [&](char c) -> uint32_t {
    if (c >= '0' && c <= '9')
      return static_cast<uint32_t>(c - '0');
    if (c >= 'A' && c <= 'F')
      return static_cast<uint32_t>(c - 'A' + 10);
    bad_name(id);
  };
  if (id.size() != 7)
    bad_name(id);
  for (int i = 0; i < 3; i++) {
    if (id[i] < 'A' || id[i] > 'Z')
      bad_name(id);
  }
  uint32_t v = (static_cast<uint32_t>(id[0] - 'A' + 1) << 26) |
               (static_cast<uint32_t>(id[1] - 'A' + 1) << 21) |
               (static_cast<uint32_t>(id[2] - 'A' + 1) << 16) | (hex(id[3]) << 12) |
               (hex(id[4]) << 8) | (hex(id[5]) << 4) | hex(id[6]);
  // Byte-swapped, so that the DWord's bytes in memory are the big-endian id.
  uint32_t swapped = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24);
  ByteWriter w;
  w.u8(kDWordPrefix);
  w.le32(swapped);
  return w.take();
}

AmlBytes aml_name_decl(std::string_view name, const AmlBytes& value) {
  AmlBytes out{kNameOp};
  append(out, aml_name_string(name));
  append(out, value);
  return out;
}

AmlBytes aml_package(const std::vector<AmlBytes>& elements) {
  if (elements.size() > 255) {
    fprintf(stderr, "colovm: bug: AML package of %zu elements\n", elements.size());
    abort();
  }
  AmlBytes contents{static_cast<uint8_t>(elements.size())};
  for (const AmlBytes& e : elements)
    append(contents, e);
  return with_pkg_length({kPackageOp}, contents);
}

AmlBytes aml_buffer(std::span<const uint8_t> bytes) {
  AmlBytes contents = aml_int(bytes.size());
  contents.insert(contents.end(), bytes.begin(), bytes.end());
  return with_pkg_length({kBufferOp}, contents);
}

AmlBytes aml_scope(std::string_view name, const std::vector<AmlBytes>& terms) {
  return named_container({kScopeOp}, name, terms);
}

AmlBytes aml_device(std::string_view name, const std::vector<AmlBytes>& terms) {
  return named_container({kExtOpPrefix, kDeviceOp}, name, terms);
}

AmlResources& AmlResources::word_bus_number(uint16_t min, uint16_t max) {
  w_.u8(kLargeWordAddress);
  w_.le16(13);
  w_.u8(kResourceTypeBus);
  w_.u8(kAddressFlagsFixed);
  w_.u8(0);      // type-specific flags
  w_.le16(0);    // granularity
  w_.le16(min);  // range minimum
  w_.le16(max);  // range maximum
  w_.le16(0);    // translation offset
  w_.le16(static_cast<uint16_t>(max - min + 1));
  return *this;
}

AmlResources& AmlResources::io(uint16_t min, uint16_t max, uint8_t align, uint8_t length) {
  w_.u8(kSmallIo);
  w_.u8(1);  // decodes 16 address bits
  w_.le16(min);
  w_.le16(max);
  w_.u8(align);
  w_.u8(length);
  return *this;
}

AmlResources& AmlResources::word_io(uint16_t min, uint16_t max) {
  w_.u8(kLargeWordAddress);
  w_.le16(13);
  w_.u8(kResourceTypeIo);
  w_.u8(kAddressFlagsFixed);
  w_.u8(3);  // EntireRange: both ISA and non-ISA ranges
  w_.le16(0);
  w_.le16(min);
  w_.le16(max);
  w_.le16(0);
  w_.le16(static_cast<uint16_t>(max - min + 1));
  return *this;
}

AmlResources& AmlResources::dword_memory(uint32_t min, uint32_t max, bool cacheable) {
  w_.u8(kLargeDWordAddress);
  w_.le16(23);
  w_.u8(kResourceTypeMemory);
  w_.u8(kAddressFlagsFixed);
  w_.u8(static_cast<uint8_t>(0x01 | (cacheable ? 0x02 : 0)));  // ReadWrite
  w_.le32(0);
  w_.le32(min);
  w_.le32(max);
  w_.le32(0);
  w_.le32(max - min + 1);
  return *this;
}

AmlResources& AmlResources::qword_memory(uint64_t min, uint64_t max, bool cacheable) {
  w_.u8(kLargeQWordAddress);
  w_.le16(43);
  w_.u8(kResourceTypeMemory);
  w_.u8(kAddressFlagsFixed);
  w_.u8(static_cast<uint8_t>(0x01 | (cacheable ? 0x02 : 0)));  // ReadWrite
  w_.le64(0);
  w_.le64(min);
  w_.le64(max);
  w_.le64(0);
  w_.le64(max - min + 1);
  return *this;
}

AmlBytes AmlResources::bytes() const {
  AmlBytes out = w_.buffer();
  out.push_back(kSmallEndTag);
  out.push_back(0);
  return out;
}

AmlBytes AmlResources::buffer() const {
  return aml_buffer(bytes());
}

}  // namespace colo
