// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/i386/cpu-model.h"

#include <algorithm>
#include <cstring>

#include "util/keyval.h"
#include "util/log.h"

namespace colo {

namespace {

enum Reg { kEax, kEbx, kEcx, kEdx };

struct FeatureWord {
  uint32_t function;
  uint32_t index;
  Reg reg;
  const char* names[32];  // nullptr = unnamed bit
};

// Feature names as QEMU spells them (target/i386/cpu.c feature_word_info), the ones that matter.
// clang-format off
const FeatureWord kFeatureWords[] = {
    {1, 0, kEdx, {"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", nullptr,
                  "sep", "mtrr", "pge", "mca", "cmov", "pat", "pse36", "pn", "clflush", nullptr,
                  "ds", "acpi", "mmx", "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64", "pbe"}},
    {1, 0, kEcx, {"pni", "pclmulqdq", "dtes64", "monitor", "ds-cpl", "vmx", "smx", "est", "tm2",
                  "ssse3", "cid", nullptr, "fma", "cx16", "xtpr", "pdcm", nullptr, "pcid", "dca",
                  "sse4.1", "sse4.2", "x2apic", "movbe", "popcnt", "tsc-deadline", "aes", "xsave",
                  "osxsave", "avx", "f16c", "rdrand", "hypervisor"}},
    {7, 0, kEbx, {"fsgsbase", "tsc-adjust", "sgx", "bmi1", "hle", "avx2", nullptr, "smep", "bmi2",
                  "erms", "invpcid", "rtm", nullptr, nullptr, "mpx", nullptr, "avx512f",
                  "avx512dq", "rdseed", "adx", "smap", "avx512ifma", "pcommit", "clflushopt",
                  "clwb", "intel-pt", "avx512pf", "avx512er", "avx512cd", "sha-ni", "avx512bw",
                  "avx512vl"}},
    {7, 0, kEcx, {nullptr, "avx512vbmi", "umip", "pku", "ospke", "waitpkg", "avx512vbmi2", nullptr,
                  "gfni", "vaes", "vpclmulqdq", "avx512vnni", "avx512bitalg", nullptr,
                  "avx512-vpopcntdq", nullptr, "la57", nullptr, nullptr, nullptr, nullptr,
                  nullptr, "rdpid", nullptr, "bus-lock-detect", "cldemote", nullptr, "movdiri",
                  "movdir64b", nullptr, nullptr, nullptr}},
    {7, 0, kEdx, {nullptr, nullptr, "avx512-4vnniw", "avx512-4fmaps", "fsrm", nullptr, nullptr,
                  nullptr, "avx512-vp2intersect", nullptr, "md-clear", nullptr, nullptr, nullptr,
                  "serialize", nullptr, "tsx-ldtrk", nullptr, nullptr, nullptr, nullptr, nullptr,
                  "amx-bf16", "avx512-fp16", "amx-tile", "amx-int8", "spec-ctrl", "stibp", nullptr,
                  "arch-capabilities", "core-capability", "ssbd"}},
    {0xd, 1, kEax, {"xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd", nullptr, nullptr, nullptr,
                    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr}},
    {0x80000001, 0, kEdx, {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                           nullptr, nullptr, nullptr, "syscall", nullptr, nullptr, nullptr,
                           nullptr, nullptr, nullptr, nullptr, nullptr, "nx", nullptr, "mmxext",
                           nullptr, nullptr, "fxsr-opt", "pdpe1gb", "rdtscp", nullptr, "lm",
                           "3dnowext", "3dnow"}},
    {0x80000001, 0, kEcx, {"lahf-lm", "cmp-legacy", "svm", "extapic", "cr8legacy", "abm", "sse4a",
                           "misalignsse", "3dnowprefetch", "osvw", "ibs", "xop", "skinit", "wdt",
                           nullptr, "lwp", "fma4", "tce", nullptr, "nodeid-msr", nullptr, "tbm",
                           "topoext", "perfctr-core", "perfctr-nb", nullptr, nullptr, nullptr,
                           nullptr, nullptr, nullptr, nullptr}},
    {0x40000001, 0, kEax, {"kvmclock", "kvm-nopiodelay", "kvm-mmu", "kvmclock2", "kvm-asyncpf",
                           "kvm-steal-time", "kvm-pv-eoi", "kvm-pv-unhalt", nullptr,
                           "kvm-pv-tlb-flush", "kvm-asyncpf-vmexit", "kvm-pv-ipi",
                           "kvm-poll-control", "kvm-pv-sched-yield", "kvm-asyncpf-int",
                           "kvm-msi-ext-dest-id", nullptr, nullptr, nullptr, nullptr, nullptr,
                           nullptr, nullptr, nullptr, "kvmclock-stable-bit", nullptr, nullptr,
                           nullptr, nullptr, nullptr, nullptr, nullptr}},
};
// clang-format on

// Aliases QEMU accepts.
struct Alias {
  const char* alias;
  const char* name;
};
constexpr Alias kAliases[] = {{"sse3", "pni"},
                              {"lahf_lm", "lahf-lm"},
                              {"sse4_1", "sse4.1"},
                              {"sse4_2", "sse4.2"},
                              {"tsc_deadline", "tsc-deadline"},
                              {"pclmuldq", "pclmulqdq"},
                              {"kvmclock-stable", "kvmclock-stable-bit"},
                              {"i64", "lm"},
                              {"sha", "sha-ni"},
                              {"ffxsr", "fxsr-opt"}};

// Turning off the first turns off the second.
struct Dependency {
  const char* feature;
  const char* dependent;
};
constexpr Dependency kDependencies[] = {
    {"xsave", "osxsave"},
    {"xsave", "avx"},
    {"xsave", "xsaveopt"},
    {"xsave", "xsavec"},
    {"xsave", "xgetbv1"},
    {"xsave", "xsaves"},
    {"xsave", "pku"},
    {"xsave", "amx-tile"},
    {"avx", "avx2"},
    {"avx", "fma"},
    {"avx", "f16c"},
    {"avx", "vaes"},
    {"avx", "vpclmulqdq"},
    {"avx2", "avx512f"},
    {"avx512f", "avx512dq"},
    {"avx512f", "avx512ifma"},
    {"avx512f", "avx512pf"},
    {"avx512f", "avx512er"},
    {"avx512f", "avx512cd"},
    {"avx512f", "avx512bw"},
    {"avx512f", "avx512vl"},
    {"avx512f", "avx512vbmi"},
    {"avx512f", "avx512vbmi2"},
    {"avx512f", "avx512vnni"},
    {"avx512f", "avx512bitalg"},
    {"avx512f", "avx512-vpopcntdq"},
    {"avx512f", "avx512-fp16"},
    {"sse", "sse2"},
    {"sse2", "pni"},
    {"pni", "ssse3"},
    {"ssse3", "sse4.1"},
    {"sse4.1", "sse4.2"},
    {"sse4.2", "avx"},
    {"fxsr", "sse"},
    {"apic", "x2apic"},
    {"x2apic", "tsc-deadline"},
    {"lm", "pdpe1gb"},
};

struct FeatureRef {
  const FeatureWord* word;
  int bit;
};

std::optional<FeatureRef> find_feature(std::string_view name) {
  for (const Alias& a : kAliases) {
    if (name == a.alias)
      name = a.name;
  }
  for (const FeatureWord& w : kFeatureWords) {
    for (int b = 0; b < 32; b++) {
      if (w.names[b] != nullptr && name == w.names[b])
        return FeatureRef{&w, b};
    }
  }
  return std::nullopt;
}

uint32_t* reg_of(CpuidEntry& e, Reg r) {
  switch (r) {
    case kEax:
      return &e.eax;
    case kEbx:
      return &e.ebx;
    case kEcx:
      return &e.ecx;
    default:
      return &e.edx;
  }
}

CpuidEntry* find_leaf(CpuidTable& t, uint32_t function, uint32_t index) {
  for (CpuidEntry& e : t) {
    if (e.function == function && (e.index == index || !(e.flags & 1)))
      return &e;
  }
  return nullptr;
}

const CpuidEntry* find_leaf(const CpuidTable& t, uint32_t function, uint32_t index) {
  return find_leaf(const_cast<CpuidTable&>(t), function, index);
}

void set_string(CpuidEntry* e, const char* s12) {
  if (e == nullptr)
    return;
  // Vendor order: EBX, EDX, ECX.
  memcpy(&e->ebx, s12, 4);
  memcpy(&e->edx, s12 + 4, 4);
  memcpy(&e->ecx, s12 + 8, 4);
}

void set_brand(CpuidTable& t, const char* brand) {
  char buf[48] = {};
  strncpy(buf, brand, sizeof(buf) - 1);
  for (uint32_t i = 0; i < 3; i++) {
    CpuidEntry* e = find_leaf(t, 0x80000002 + i, 0);
    if (e == nullptr)
      continue;
    memcpy(&e->eax, buf + 16 * i, 4);
    memcpy(&e->ebx, buf + 16 * i + 4, 4);
    memcpy(&e->ecx, buf + 16 * i + 8, 4);
    memcpy(&e->edx, buf + 16 * i + 12, 4);
  }
}

struct NamedModel {
  const char* name;
  const char* vendor;
  uint32_t family, model, stepping;
  uint32_t level, xlevel;
  const char* brand;
  const char* features;  // space separated
};

const NamedModel kModels[] = {
    {"qemu64", "AuthenticAMD", 15, 107, 1, 0xd, 0x8000000a, "QEMU Virtual CPU version 2.5+",
     "fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse "
     "sse2 pni cx16 syscall nx lm lahf-lm"},
    {"kvm64", "GenuineIntel", 15, 6, 1, 0xd, 0x80000008, "Common KVM processor",
     "fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse "
     "sse2 pni cx16 syscall nx lm"},
};

uint32_t signature_of(uint32_t family, uint32_t model, uint32_t stepping) {
  uint32_t sig = stepping & 0xf;
  if (family > 0xf) {
    sig |= 0xf << 8 | ((family - 0xf) & 0xff) << 20;
  } else {
    sig |= (family & 0xf) << 8;
  }
  sig |= (model & 0xf) << 4 | ((model >> 4) & 0xf) << 16;
  return sig;
}

void clear_feature(CpuidTable& t, std::string_view name) {
  auto ref = find_feature(name);
  if (!ref)
    return;
  CpuidEntry* e = find_leaf(t, ref->word->function, ref->word->index);
  if (e == nullptr)
    return;
  uint32_t* r = reg_of(*e, ref->word->reg);
  if (!(*r & (1u << ref->bit)))
    return;
  *r &= ~(1u << ref->bit);
  // By the canonical name: "-sse4_2" must clear avx as "-sse4.2" does.
  std::string_view canonical = ref->word->names[ref->bit];
  for (const Dependency& d : kDependencies) {
    if (canonical == d.feature)
      clear_feature(t, d.dependent);
  }
}

bool feature_on(const CpuidTable& t, const FeatureRef& ref) {
  const CpuidEntry* e = find_leaf(t, ref.word->function, ref.word->index);
  if (e == nullptr)
    return false;
  return *reg_of(const_cast<CpuidEntry&>(*e), ref.word->reg) & (1u << ref.bit);
}

}  // namespace

std::vector<std::string> CpuModel::feature_names() {
  std::vector<std::string> out;
  for (const FeatureWord& w : kFeatureWords) {
    for (const char* n : w.names) {
      if (n != nullptr)
        out.emplace_back(n);
    }
  }
  return out;
}

std::vector<std::string> CpuModel::model_names() {
  std::vector<std::string> out = {"host", "max"};
  for (const NamedModel& m : kModels)
    out.emplace_back(m.name);
  return out;
}

Result<CpuModel> CpuModel::parse(std::string_view spec, const CpuidTable& supported) {
  COLO_ASSIGN_OR_RETURN(KeyvalList items, keyval_parse_list(spec, "model"));
  std::string model = "qemu64";
  if (!items.empty() && items.front().key == "model") {
    model = items.front().value;
    items.erase(items.begin());
  }
  CpuModel m;
  m.name_ = model;
  m.table_ = supported;
  if (model != "host" && model != "max") {
    const NamedModel* nm = nullptr;
    for (const NamedModel& x : kModels) {
      if (model == x.name)
        nm = &x;
    }
    if (nm == nullptr) {
      return make_error("unable to find CPU model '%s'", model.c_str())
          .set_hint("available models: host, max, qemu64, kvm64");
    }
    // Clear every named feature bit, then set the model's features the host supports.
    CpuidTable host = m.table_;
    for (const FeatureWord& w : kFeatureWords) {
      if (w.function == 0x40000001)
        continue;  // KVM paravirt features stay as the host offers
      CpuidEntry* e = find_leaf(m.table_, w.function, w.index);
      if (e != nullptr)
        *reg_of(*e, w.reg) = 0;
    }
    std::string feats = nm->features;
    size_t pos = 0;
    while (pos < feats.size()) {
      size_t end = feats.find(' ', pos);
      if (end == std::string::npos)
        end = feats.size();
      std::string f = feats.substr(pos, end - pos);
      pos = end + 1;
      auto ref = find_feature(f);
      if (ref && feature_on(host, *ref)) {
        CpuidEntry* e = find_leaf(m.table_, ref->word->function, ref->word->index);
        if (e != nullptr)
          *reg_of(*e, ref->word->reg) |= 1u << ref->bit;
      }
    }
    if (CpuidEntry* l0 = find_leaf(m.table_, 0, 0)) {
      l0->eax = std::min(l0->eax, nm->level);
      set_string(l0, nm->vendor);
    }
    if (CpuidEntry* l1 = find_leaf(m.table_, 1, 0)) {
      l1->eax = signature_of(nm->family, nm->model, nm->stepping);
    }
    if (CpuidEntry* x0 = find_leaf(m.table_, 0x80000000, 0)) {
      x0->eax = std::min(x0->eax, nm->xlevel);
      set_string(x0, nm->vendor);
    }
    set_brand(m.table_, nm->brand);
  }
  // Without XSAVE the XSAVE leaf must not advertise state components.
  for (const auto& item : items) {
    std::string name = item.key;
    bool on;
    if (!name.empty() && (name[0] == '+' || name[0] == '-') && item.value == "on") {
      on = name[0] == '+';
      name = name.substr(1);
    } else {
      COLO_ASSIGN_OR_RETURN(on, parse_bool(name, item.value));
    }
    auto ref = find_feature(name);
    if (!ref) {
      return make_error("CPU model '%s': unknown CPU feature '%s'", model.c_str(), name.c_str());
    }
    if (on) {
      if (!feature_on(supported, *ref)) {
        static constexpr const char* kRegNames[] = {"EAX", "EBX", "ECX", "EDX"};
        warn_report("host doesn't support requested feature: CPUID.%02XH:%s.%s [bit %d]",
                    ref->word->function, kRegNames[ref->word->reg], name.c_str(), ref->bit);
        continue;
      }
      CpuidEntry* e = find_leaf(m.table_, ref->word->function, ref->word->index);
      if (e != nullptr)
        *reg_of(*e, ref->word->reg) |= 1u << ref->bit;
    } else {
      clear_feature(m.table_, name);
    }
  }
  // Consistency: no XSAVE means no XSAVE leaf; the hypervisor bit is always on.
  if (!m.has_feature("xsave")) {
    std::erase_if(m.table_, [](const CpuidEntry& e) { return e.function == 0xd; });
  }
  if (CpuidEntry* l1 = find_leaf(m.table_, 1, 0))
    l1->ecx |= 1u << 31;
  return m;
}

bool CpuModel::has_feature(std::string_view name) const {
  auto ref = find_feature(name);
  return ref && feature_on(table_, *ref);
}

std::vector<std::string> CpuModel::enabled_features() const {
  std::vector<std::string> out;
  for (const FeatureWord& w : kFeatureWords) {
    for (int b = 0; b < 32; b++) {
      if (w.names[b] != nullptr && feature_on(table_, FeatureRef{&w, b}))
        out.emplace_back(w.names[b]);
    }
  }
  return out;
}

uint32_t CpuModel::signature() const {
  const CpuidEntry* e = find_leaf(table_, 1, 0);
  return e != nullptr ? e->eax : 0;
}

uint32_t CpuModel::features_edx() const {
  const CpuidEntry* e = find_leaf(table_, 1, 0);
  return e != nullptr ? e->edx : 0;
}

CpuidTable CpuModel::cpuid_for(int index, int nr_vcpus) const {
  CpuidTable t = table_;
  uint32_t apic_id = static_cast<uint32_t>(index);
  for (CpuidEntry& e : t) {
    switch (e.function) {
      case 1:
        // APIC ID, CLFLUSH line size (8 * 8 bytes) and, as QEMU does, the logical
        // processor count only when there is more than one (some hosts' KVM
        // shows the guest HTT regardless, and Linux reads a count of 1 as
        // "Hyper-Threading is disabled" where QEMU's guests see 0).
        e.ebx = (apic_id << 24) | (8u << 8);
        if (nr_vcpus > 1) {
          e.ebx |= static_cast<uint32_t>(nr_vcpus) << 16;
          e.edx |= 1u << 28;  // HTT: the logical count is valid
        } else {
          e.edx &= ~(1u << 28);
        }
        break;
      case 4: {
        // Deterministic cache parameters: cores per package.
        e.eax &= 0x3ff;
        uint32_t cores = static_cast<uint32_t>(nr_vcpus);
        e.eax |= (cores - 1) << 26 | (cores > 1 ? ((cores - 1) << 14) : 0);
        break;
      }
      case 0x80000008: {
        // AMD core count (NC) and APIC ID core bits: the host's would make a
        // single-vCPU guest believe it shares a package with another core.
        uint32_t shift = 0;
        while ((1u << shift) < static_cast<uint32_t>(nr_vcpus))
          shift++;
        e.ecx = static_cast<uint32_t>(nr_vcpus - 1) | (nr_vcpus > 1 ? shift << 12 : 0);
        break;
      }
      case 0xb:
      case 0x1f:
        e.edx = apic_id;
        if (e.index == 0) {
          e.eax = 0;
          e.ebx = 1;
          e.ecx = 0x100;  // level 0: SMT, 1 thread
        } else if (e.index == 1) {
          uint32_t shift = 0;
          while ((1u << shift) < static_cast<uint32_t>(nr_vcpus))
            shift++;
          e.eax = shift;
          e.ebx = static_cast<uint32_t>(nr_vcpus);
          e.ecx = 0x201;  // level 1: core
        } else {
          e.eax = e.ebx = 0;
          e.ecx = e.index;
        }
        break;
      default:
        break;
    }
  }
  return t;
}

}  // namespace colo
