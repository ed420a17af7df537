// SPDX-License-Identifier: GPL-2.0-or-later
#include "migration/vmstate.h"

#include <cstring>
#include <string>

namespace colo {

namespace {

constexpr uint8_t kSubsectionMarker = 0x05;

uint64_t load_elem(const uint8_t* p, uint8_t size) {
  switch (size) {
    case 1:
      return *p;
    case 2: {
      uint16_t v;
      memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      uint32_t v;
      memcpy(&v, p, 4);
      return v;
    }
    default: {
      uint64_t v;
      memcpy(&v, p, 8);
      return v;
    }
  }
}

void store_elem(uint8_t* p, uint8_t size, uint64_t v) {
  switch (size) {
    case 1:
      *p = static_cast<uint8_t>(v);
      break;
    case 2: {
      uint16_t x = static_cast<uint16_t>(v);
      memcpy(p, &x, 2);
      break;
    }
    case 4: {
      uint32_t x = static_cast<uint32_t>(v);
      memcpy(p, &x, 4);
      break;
    }
    default:
      memcpy(p, &v, 8);
      break;
  }
}

void put_elem(ByteWriter& out, uint8_t size, uint64_t v) {
  switch (size) {
    case 1:
      out.u8(static_cast<uint8_t>(v));
      break;
    case 2:
      out.be16(static_cast<uint16_t>(v));
      break;
    case 4:
      out.be32(static_cast<uint32_t>(v));
      break;
    default:
      out.be64(v);
      break;
  }
}

uint64_t get_elem(ByteReader& in, uint8_t size) {
  switch (size) {
    case 1:
      return in.u8();
    case 2:
      return in.be16();
    case 4:
      return in.be32();
    default:
      return in.be64();
  }
}

void save_fields(const VmStateDescription& vmsd, const uint8_t* base, ByteWriter& out) {
  for (const VmStateField& f : vmsd.fields) {
    for (uint32_t i = 0; i < f.count; i++) {
      const uint8_t* p = base + f.offset + static_cast<size_t>(i) * f.elem_size;
      put_elem(out, f.elem_size, load_elem(p, f.elem_size));
    }
  }
}

Status load_fields(const VmStateDescription& vmsd, uint8_t* base, ByteReader& in, int version_id) {
  for (const VmStateField& f : vmsd.fields) {
    if (f.version_id > version_id)
      continue;
    for (uint32_t i = 0; i < f.count; i++) {
      uint64_t v = get_elem(in, f.elem_size);
      if (in.failed()) {
        return make_error("'%s' field '%s': state truncated", vmsd.name, f.name);
      }
      if (f.kind == VmStateKind::kBool && v > 1) {
        return make_error("'%s' field '%s': invalid bool value %llu", vmsd.name, f.name,
                          static_cast<unsigned long long>(v));
      }
      store_elem(base + f.offset + static_cast<size_t>(i) * f.elem_size, f.elem_size, v);
    }
  }
  return ok_status();
}

Status check_version(const VmStateDescription& vmsd, int version_id) {
  if (version_id > vmsd.version_id || version_id < vmsd.minimum_version_id) {
    return make_error("'%s': unsupported state version %d (this build reads %d to %d)", vmsd.name,
                      version_id, vmsd.minimum_version_id, vmsd.version_id);
  }
  return ok_status();
}

Status load_subsections(const VmStateDescription& vmsd, void* state, ByteReader& in) {
  while (!in.at_end()) {
    if (in.u8() != kSubsectionMarker) {
      return make_error("'%s': unexpected data after the state", vmsd.name);
    }
    uint8_t len = in.u8();
    auto name_bytes = in.view(len);
    int version = static_cast<int>(in.be32());
    if (in.failed())
      return make_error("'%s': subsection header truncated", vmsd.name);
    std::string_view name(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
    const VmStateDescription* sub = nullptr;
    for (const VmStateSubsection& s : vmsd.subsections) {
      if (name == s.vmsd->name)
        sub = s.vmsd;
    }
    if (sub == nullptr) {
      return make_error("'%s': unknown subsection '%.*s'", vmsd.name, static_cast<int>(name.size()),
                        name.data());
    }
    COLO_TRY(check_version(*sub, version));
    COLO_TRY(load_fields(*sub, static_cast<uint8_t*>(state), in, version));
    if (!sub->subsections.empty()) {
      return make_error("'%s': nested subsections are not supported", sub->name);
    }
    if (sub->post_load != nullptr)
      COLO_TRY(sub->post_load(state));
  }
  return ok_status();
}

const char* kind_name(VmStateKind k) {
  switch (k) {
    case VmStateKind::kUnsigned:
      return "uint";
    case VmStateKind::kSigned:
      return "int";
    case VmStateKind::kBool:
      return "bool";
  }
  return "?";
}

}  // namespace

void vmstate_save(const VmStateDescription& vmsd, const void* state, ByteWriter& out) {
  const uint8_t* base = static_cast<const uint8_t*>(state);
  save_fields(vmsd, base, out);
  for (const VmStateSubsection& s : vmsd.subsections) {
    if (s.needed != nullptr && !s.needed(state))
      continue;
    std::string_view name(s.vmsd->name);
    out.u8(kSubsectionMarker);
    out.u8(static_cast<uint8_t>(name.size()));
    out.str(name);
    out.be32(static_cast<uint32_t>(s.vmsd->version_id));
    save_fields(*s.vmsd, base, out);
  }
}

Status vmstate_load(const VmStateDescription& vmsd, void* state, ByteReader& in, int version_id) {
  COLO_TRY(check_version(vmsd, version_id));
  COLO_TRY(load_fields(vmsd, static_cast<uint8_t*>(state), in, version_id));
  COLO_TRY(load_subsections(vmsd, state, in));
  if (vmsd.post_load != nullptr)
    COLO_TRY(vmsd.post_load(state).prepend(vmsd.name));
  return ok_status();
}

std::string vmstate_describe(const VmStateDescription& vmsd) {
  std::string out = string_printf("%s version %d (min %d)\n", vmsd.name, vmsd.version_id,
                                  vmsd.minimum_version_id);
  for (const VmStateField& f : vmsd.fields) {
    out += string_printf("  %s %s%d", f.name, kind_name(f.kind), f.elem_size * 8);
    if (f.count != 1)
      out += string_printf("[%u]", f.count);
    if (f.version_id > 0)
      out += string_printf(" since v%d", f.version_id);
    out += '\n';
  }
  for (const VmStateSubsection& s : vmsd.subsections) {
    out += "  subsection ";
    out += vmstate_describe(*s.vmsd);
  }
  return out;
}

}  // namespace colo
