// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: migration/vmstate.h
//
// Each device declares its migratable state once: a plain struct of the modelled device's
// registers plus a constant table naming its fields. The table drives saving, loading, the
// stream analyser and compatibility checks; nobody writes save/load code by hand.
//
//   struct SerialState { uint8_t ier; uint8_t lcr; std::array<uint8_t, 16> rx_fifo; ... };
//   constexpr VmStateField kSerialFields[] = {
//       VMSTATE_FIELD(SerialState, ier),
//       VMSTATE_FIELD(SerialState, lcr),
//       VMSTATE_FIELD(SerialState, rx_fifo),
//       VMSTATE_FIELD_V(SerialState, scratch, 2),    // only in streams of version >= 2
//   };
//   constexpr VmStateDescription kSerialVmState = {
//       .name = "serial", .version_id = 2, .minimum_version_id = 1, .fields = kSerialFields};
//
// Field types are deduced from the struct at compile time: unsigned and signed integers of 8 to
// 64 bits, bool, and fixed-size arrays of those. Anything else fails to compile.
//
// Wire format of one state (all integers big-endian):
//   fields in table order: scalars in their size, arrays element by element, bool as one byte
//   then for each subsection whose needed() is true:
//     0x05, name length (u8), name, version (be32), the subsection's own fields (recursively)
// A loader rejects unknown subsections, tolerates missing ones (the fields keep the values the
// caller started from, normally the reset state), rejects versions outside
// [minimum_version_id, version_id], and rejects bool bytes other than 0/1. It reads into a copy
// and post_load() validates it, so a failed load leaves the device untouched.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "util/bytes.h"
#include "util/error.h"

namespace colo {

enum class VmStateKind : uint8_t { kUnsigned, kSigned, kBool };

struct VmStateField {
  const char* name;
  size_t offset;
  uint8_t elem_size;  // 1, 2, 4 or 8
  VmStateKind kind;
  uint32_t count;  // 1 for scalars
  int version_id;  // first stream version carrying this field
};

struct VmStateDescription;

struct VmStateSubsection {
  const VmStateDescription* vmsd;
  // Whether the subsection is sent for this state (typically: differs from its default).
  bool (*needed)(const void* state);
};

struct VmStateDescription {
  const char* name;
  int version_id = 1;
  int minimum_version_id = 1;
  std::span<const VmStateField> fields;
  std::span<const VmStateSubsection> subsections = {};
  // Validates a freshly loaded state (indices in range, consistent registers). The state is the
  // struct the table describes.
  Status (*post_load)(const void* state) = nullptr;
};

namespace vmstate_internal {

template <typename T>
struct ScalarTraits {
  static constexpr bool kOk = std::is_integral_v<T> && sizeof(T) <= 8;
  static constexpr VmStateKind kKind =
      std::is_same_v<T, bool>
          ? VmStateKind::kBool
          : (std::is_signed_v<T> ? VmStateKind::kSigned : VmStateKind::kUnsigned);
};

template <typename T>
struct FieldTraits {
  using Elem = T;
  static constexpr uint32_t kCount = 1;
};
template <typename T, size_t N>
struct FieldTraits<T[N]> {
  using Elem = T;
  static constexpr uint32_t kCount = N;
};
template <typename T, size_t N>
struct FieldTraits<std::array<T, N>> {
  using Elem = T;
  static constexpr uint32_t kCount = N;
};

template <typename F>
constexpr VmStateField make_field(const char* name, size_t offset, int version) {
  using Elem = typename FieldTraits<F>::Elem;
  static_assert(ScalarTraits<Elem>::kOk,
                "vmstate fields must be integers, bool, or fixed arrays of them");
  return VmStateField{name,
                      offset,
                      static_cast<uint8_t>(sizeof(Elem)),
                      ScalarTraits<Elem>::kKind,
                      FieldTraits<F>::kCount,
                      version};
}

}  // namespace vmstate_internal

#define VMSTATE_FIELD_V(State, member, version)                                                   \
  ::colo::vmstate_internal::make_field<decltype(State::member)>(#member, offsetof(State, member), \
                                                                version)
#define VMSTATE_FIELD(State, member) VMSTATE_FIELD_V(State, member, 0)

// Appends the state `state` (described by `vmsd`) to `out`.
void vmstate_save(const VmStateDescription& vmsd, const void* state, ByteWriter& out);

// Reads a state of stream version `version_id` from `in` into `state` (which holds the starting
// values for anything the stream does not carry). Consumes `in` to its end: the caller frames
// each state. On error `state` may be partly written; use vmstate_load_into() for a safe load.
Status vmstate_load(const VmStateDescription& vmsd, void* state, ByteReader& in, int version_id);

// Loads into a copy of `base`, runs post_load, and returns the copy; `base` is untouched.
template <typename State>
Result<State> vmstate_load_into(const VmStateDescription& vmsd, const State& base,
                                std::span<const uint8_t> data, int version_id) {
  State copy = base;
  ByteReader in(data);
  COLO_TRY(vmstate_load(vmsd, &copy, in, version_id));
  return copy;
}

// A human-readable description of the table (for the stream analyser and compatibility checks):
// one line per field "name type[count] since vN".
std::string vmstate_describe(const VmStateDescription& vmsd);

}  // namespace colo
