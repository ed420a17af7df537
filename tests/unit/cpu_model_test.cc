// SPDX-License-Identifier: GPL-2.0-or-later
//
// -cpu parsing against a synthetic KVM_GET_SUPPORTED_CPUID table (an AVX-512 Intel host).
#include "hw/i386/cpu-model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

namespace colo {
namespace {

enum Reg { kEax, kEbx, kEcx, kEdx };

uint32_t bits(std::initializer_list<int> list) {
  uint32_t v = 0;
  for (int b : list)
    v |= 1u << b;
  return v;
}

uint32_t str4(const char* s) {
  uint32_t v;
  memcpy(&v, s, 4);
  return v;
}

CpuidEntry leaf(uint32_t fn, uint32_t index, bool indexed, uint32_t eax, uint32_t ebx, uint32_t ecx,
                uint32_t edx) {
  CpuidEntry e;
  e.function = fn;
  e.index = index;
  e.flags = indexed ? 1 : 0;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

constexpr uint32_t kHostSignature = 0x00050654;  // family 6 model 0x55 stepping 4
const char kHostBrand[48] = "Intel(R) Xeon(R) Test CPU @ 2.00GHz";

CpuidTable host_table() {
  CpuidTable t;
  t.push_back(leaf(0, 0, false, 0xd, str4("Genu"), str4("ntel"), str4("ineI")));
  t.push_back(leaf(1, 0, false, kHostSignature, 0x00100800,
                   // pni pclmulqdq ssse3 fma cx16 pcid sse4.1 sse4.2 x2apic movbe popcnt
                   // tsc-deadline aes xsave osxsave avx f16c rdrand (no hypervisor bit)
                   bits({0, 1, 9, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}),
                   // fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36
                   // clflush mmx fxsr sse sse2 ss ht
                   bits({0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  11, 12,
                         13, 14, 15, 16, 17, 19, 23, 24, 25, 26, 27, 28})));
  t.push_back(leaf(4, 0, true, 0x1c004121, 0x01c0003f, 0x3f, 0));
  t.push_back(leaf(4, 1, true, 0x1c004122, 0x01c0003f, 0x3f, 0));
  t.push_back(leaf(4, 2, true, 0x1c004143, 0x03c0003f, 0x3ff, 0));
  t.push_back(leaf(4, 3, true, 0x1c03c163, 0x03c0003f, 0x3fff, 4));
  t.push_back(leaf(7, 0, true, 0,
                   // fsgsbase bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap
                   // clflushopt avx512cd sha-ni avx512bw avx512vl
                   bits({0, 3, 5, 7, 8, 9, 10, 16, 17, 18, 19, 20, 23, 28, 29, 30, 31}),
                   bits({2, 3, 9, 10}),       // umip pku vaes vpclmulqdq
                   bits({10, 26, 29, 31})));  // md-clear spec-ctrl arch-capabilities ssbd
  t.push_back(leaf(0xb, 0, true, 1, 2, 0x100, 0));
  t.push_back(leaf(0xb, 1, true, 5, 16, 0x201, 0));
  t.push_back(leaf(0xb, 2, true, 0, 0, 2, 0));
  t.push_back(leaf(0xd, 0, true, 0x7, 0x340, 0x340, 0));
  t.push_back(leaf(0xd, 1, true, bits({0, 1, 2}), 0, 0, 0));  // xsaveopt xsavec xgetbv1
  t.push_back(leaf(0xd, 2, true, 0x100, 0x240, 0, 0));
  t.push_back(leaf(0x40000000, 0, false, 0x40000001, str4("KVMK"), str4("VMKV"), str4("M\0\0\0")));
  // kvmclock kvm-nopiodelay kvmclock2 kvm-asyncpf kvm-steal-time kvm-pv-eoi kvm-pv-unhalt
  // kvmclock-stable-bit
  t.push_back(leaf(0x40000001, 0, false, bits({0, 1, 3, 4, 5, 6, 7, 24}), 0, 0, 0));
  t.push_back(leaf(0x80000000, 0, false, 0x80000008, 0, 0, 0));
  t.push_back(leaf(0x80000001, 0, false, 0, 0, bits({0, 5, 8}),  // lahf-lm abm 3dnowprefetch
                   bits({11, 20, 26, 27, 29})));                 // syscall nx pdpe1gb rdtscp lm
  for (uint32_t i = 0; i < 3; i++) {
    uint32_t r[4];
    memcpy(r, kHostBrand + 16 * i, 16);
    t.push_back(leaf(0x80000002 + i, 0, false, r[0], r[1], r[2], r[3]));
  }
  t.push_back(leaf(0x80000008, 0, false, 0x3030, 0, 0, 0));
  return t;
}

const std::vector<std::string> kHostFeatures = {
    // 1:EDX
    "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "mtrr", "pge",
    "mca", "cmov", "pat", "pse36", "clflush", "mmx", "fxsr", "sse", "sse2", "ss", "ht",
    // 1:ECX
    "pni", "pclmulqdq", "ssse3", "fma", "cx16", "pcid", "sse4.1", "sse4.2", "x2apic", "movbe",
    "popcnt", "tsc-deadline", "aes", "xsave", "osxsave", "avx", "f16c", "rdrand", "hypervisor",
    // 7:EBX
    "fsgsbase", "bmi1", "avx2", "smep", "bmi2", "erms", "invpcid", "avx512f", "avx512dq", "rdseed",
    "adx", "smap", "clflushopt", "avx512cd", "sha-ni", "avx512bw", "avx512vl",
    // 7:ECX, 7:EDX
    "umip", "pku", "vaes", "vpclmulqdq", "md-clear", "spec-ctrl", "arch-capabilities", "ssbd",
    // 0xd.1:EAX
    "xsaveopt", "xsavec", "xgetbv1",
    // 0x80000001:EDX, ECX
    "syscall", "nx", "pdpe1gb", "rdtscp", "lm", "lahf-lm", "abm", "3dnowprefetch",
    // 0x40000001:EAX
    "kvmclock", "kvm-nopiodelay", "kvmclock2", "kvm-asyncpf", "kvm-steal-time", "kvm-pv-eoi",
    "kvm-pv-unhalt", "kvmclock-stable-bit"};

const std::vector<std::string> kKvmFeatures = {"kvmclock",      "kvm-nopiodelay",     "kvmclock2",
                                               "kvm-asyncpf",   "kvm-steal-time",     "kvm-pv-eoi",
                                               "kvm-pv-unhalt", "kvmclock-stable-bit"};

std::vector<std::string> without(std::vector<std::string> v, const std::set<std::string>& drop) {
  std::erase_if(v, [&](const std::string& s) { return drop.count(s) != 0; });
  return v;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const CpuidEntry* find(const CpuidTable& t, uint32_t fn, uint32_t index = 0) {
  for (const CpuidEntry& e : t) {
    if (e.function == fn && e.index == index)
      return &e;
  }
  return nullptr;
}

std::string vendor_of(const CpuidEntry& e) {
  char s[13] = {};
  memcpy(s, &e.ebx, 4);
  memcpy(s + 4, &e.edx, 4);
  memcpy(s + 8, &e.ecx, 4);
  return s;
}

std::string brand_of(const CpuidTable& t) {
  char s[49] = {};
  for (uint32_t i = 0; i < 3; i++) {
    const CpuidEntry* e = find(t, 0x80000002 + i);
    if (e == nullptr)
      return "";
    memcpy(s + 16 * i, &e->eax, 4);
    memcpy(s + 16 * i + 4, &e->ebx, 4);
    memcpy(s + 16 * i + 8, &e->ecx, 4);
    memcpy(s + 16 * i + 12, &e->edx, 4);
  }
  return s;
}

CpuModel parse_ok(const std::string& spec, const CpuidTable& host = host_table()) {
  auto r = CpuModel::parse(spec, host);
  EXPECT_TRUE(r.ok()) << spec << ": " << r.error().message();
  return r.ok() ? std::move(*r) : *CpuModel::parse("host", host);
}

const std::set<std::string> kXsaveDependents = {
    "xsave",   "osxsave",  "avx",      "xsaveopt", "xsavec",  "xgetbv1",
    "pku",     "avx2",     "fma",      "f16c",     "vaes",    "vpclmulqdq",
    "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"};

TEST(CpuModelTest, HostKeepsEverything) {
  CpuModel m = parse_ok("host");
  EXPECT_EQ(m.name(), "host");
  EXPECT_EQ(m.enabled_features(), kHostFeatures);
  EXPECT_FALSE(m.has_feature("vmx"));
  EXPECT_FALSE(m.has_feature("avx512ifma"));
  EXPECT_FALSE(m.has_feature("no-such-feature"));
  EXPECT_EQ(m.signature(), kHostSignature);
  EXPECT_EQ(m.features_edx(), host_table()[1].edx);
  CpuidTable t = m.cpuid_for(0, 1);
  EXPECT_EQ(t.size(), host_table().size());
  EXPECT_EQ(vendor_of(*find(t, 0)), "GenuineIntel");
  EXPECT_EQ(find(t, 0)->eax, 0xdu);
  EXPECT_EQ(brand_of(t), kHostBrand);
  EXPECT_NE(find(t, 0xd, 0), nullptr);
  EXPECT_NE(find(t, 0xd, 1), nullptr);
  EXPECT_NE(find(t, 0xd, 2), nullptr);
  // Leaves nobody has a reason to touch come through unchanged.
  const CpuidTable host = host_table();
  for (uint32_t fn : {0x40000000u, 0x40000001u, 0x80000000u, 0x80000001u, 0x80000008u, 7u, 0xdu}) {
    const CpuidEntry* got = find(t, fn);
    const CpuidEntry* want = find(host, fn);
    ASSERT_NE(got, nullptr) << std::hex << fn;
    EXPECT_EQ(got->eax, want->eax) << std::hex << fn;
    EXPECT_EQ(got->ebx, want->ebx) << std::hex << fn;
    EXPECT_EQ(got->ecx, want->ecx) << std::hex << fn;
    EXPECT_EQ(got->edx, want->edx) << std::hex << fn;
  }
}

TEST(CpuModelTest, MaxIsHost) {
  CpuModel m = parse_ok("max");
  EXPECT_EQ(m.name(), "max");
  EXPECT_EQ(m.enabled_features(), kHostFeatures);
}

TEST(CpuModelTest, DefaultIsQemu64) {
  CpuModel m = parse_ok("");
  EXPECT_EQ(m.name(), "qemu64");
  EXPECT_EQ(m.signature(), 0x00060fb1u);
}

const std::vector<std::string> kQemu64Features = concat(
    {"fpu",  "de",  "pse",  "tsc",        "msr",     "pae",   "mce",     "cx8",    "apic", "sep",
     "mtrr", "pge", "mca",  "cmov",       "pat",     "pse36", "clflush", "mmx",    "fxsr", "sse",
     "sse2", "pni", "cx16", "hypervisor", "syscall", "nx",    "lm",      "lahf-lm"},
    kKvmFeatures);

TEST(CpuModelTest, Qemu64MasksToItsFeatures) {
  CpuModel m = parse_ok("qemu64");
  EXPECT_EQ(m.name(), "qemu64");
  EXPECT_EQ(m.enabled_features(), kQemu64Features);
  EXPECT_FALSE(m.has_feature("xsave"));
  EXPECT_FALSE(m.has_feature("avx"));
  EXPECT_FALSE(m.has_feature("sse4.2"));
  // Family 15 model 107 stepping 1, QEMU's qemu64.
  EXPECT_EQ(m.signature(), 0x00060fb1u);
  EXPECT_EQ(m.features_edx(),
            bits({0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 19, 23, 24, 25, 26}));
  CpuidTable t = m.cpuid_for(0, 1);
  EXPECT_EQ(vendor_of(*find(t, 0)), "AuthenticAMD");
  EXPECT_EQ(vendor_of(*find(t, 0x80000000)), "AuthenticAMD");
  EXPECT_EQ(find(t, 0)->eax, 0xdu);                  // min(host, model level)
  EXPECT_EQ(find(t, 0x80000000)->eax, 0x80000008u);  // min(host, model xlevel)
  EXPECT_EQ(brand_of(t), "QEMU Virtual CPU version 2.5+");
  // No XSAVE, so no XSAVE leaf.
  for (const CpuidEntry& e : t)
    EXPECT_NE(e.function, 0xdu);
  // Leaf 7 is there but empty of features.
  ASSERT_NE(find(t, 7), nullptr);
  EXPECT_EQ(find(t, 7)->ebx, 0u);
  EXPECT_EQ(find(t, 7)->ecx, 0u);
  EXPECT_EQ(find(t, 7)->edx, 0u);
  // The KVM leaves stay as the host offers them.
  const CpuidTable host = host_table();
  EXPECT_EQ(find(t, 0x40000001)->eax, find(host, 0x40000001)->eax);
  EXPECT_EQ(find(t, 0x40000000)->ebx, str4("KVMK"));
  EXPECT_EQ(find(t, 0x40000000)->ecx, str4("VMKV"));
  EXPECT_EQ(find(t, 0x40000000)->edx, str4("M\0\0\0"));
}

TEST(CpuModelTest, Qemu64OnlyWhatTheHostHas) {
  CpuidTable host = host_table();
  for (CpuidEntry& e : host) {
    if (e.function == 0x80000001)
      e.ecx &= ~1u;  // no lahf-lm
    if (e.function == 1)
      e.ecx &= ~(1u << 13);  // no cx16
  }
  CpuModel m = parse_ok("qemu64", host);
  EXPECT_EQ(m.enabled_features(), without(kQemu64Features, {"lahf-lm", "cx16"}));
  // Asking for them does not help: the host does not have them.
  m = parse_ok("qemu64,+cx16,lahf-lm=on", host);
  EXPECT_EQ(m.enabled_features(), without(kQemu64Features, {"lahf-lm", "cx16"}));
}

TEST(CpuModelTest, Kvm64) {
  CpuModel m = parse_ok("kvm64");
  EXPECT_EQ(m.enabled_features(), without(kQemu64Features, {"lahf-lm"}));
  EXPECT_EQ(m.signature(), 0x00000f61u);  // family 15 model 6 stepping 1
  CpuidTable t = m.cpuid_for(0, 1);
  EXPECT_EQ(vendor_of(*find(t, 0)), "GenuineIntel");
  EXPECT_EQ(brand_of(t), "Common KVM processor");
}

TEST(CpuModelTest, MinusCx16) {
  CpuModel m = parse_ok("host,-cx16");
  EXPECT_FALSE(m.has_feature("cx16"));
  EXPECT_EQ(m.enabled_features(), without(kHostFeatures, {"cx16"}));
  m = parse_ok("qemu64,-cx16");
  EXPECT_EQ(m.enabled_features(), without(kQemu64Features, {"cx16"}));
  m = parse_ok("qemu64,cx16=off");
  EXPECT_EQ(m.enabled_features(), without(kQemu64Features, {"cx16"}));
  // Off then on again: the last one wins.
  m = parse_ok("qemu64,-cx16,+cx16");
  EXPECT_EQ(m.enabled_features(), kQemu64Features);
}

TEST(CpuModelTest, MinusXsaveTakesItsDependentsAndLeaf) {
  for (const char* spec : {"host,-xsave", "host,xsave=off", "max,xsave=no"}) {
    CpuModel m = parse_ok(spec);
    EXPECT_FALSE(m.has_feature("xsave")) << spec;
    EXPECT_FALSE(m.has_feature("avx")) << spec;
    EXPECT_FALSE(m.has_feature("osxsave")) << spec;
    EXPECT_FALSE(m.has_feature("avx2")) << spec;
    EXPECT_FALSE(m.has_feature("avx512f")) << spec;
    EXPECT_TRUE(m.has_feature("sse4.2")) << spec;
    EXPECT_TRUE(m.has_feature("bmi2")) << spec;
    EXPECT_EQ(m.enabled_features(), without(kHostFeatures, kXsaveDependents)) << spec;
    for (int n : {1, 4}) {
      for (const CpuidEntry& e : m.cpuid_for(0, n))
        EXPECT_NE(e.function, 0xdu) << spec;
    }
  }
}

TEST(CpuModelTest, MinusAvxKeepsXsave) {
  CpuModel m = parse_ok("host,-avx");
  EXPECT_TRUE(m.has_feature("xsave"));
  EXPECT_TRUE(m.has_feature("osxsave"));
  EXPECT_EQ(m.enabled_features(),
            without(kHostFeatures, {"avx", "avx2", "fma", "f16c", "vaes", "vpclmulqdq", "avx512f",
                                    "avx512dq", "avx512cd", "avx512bw", "avx512vl"}));
  EXPECT_NE(find(m.cpuid_for(0, 1), 0xd, 0), nullptr);
}

TEST(CpuModelTest, AliasesClearDependentsToo) {
  const std::set<std::string> kAvxFamily = {"avx",      "avx2",       "fma",     "f16c",
                                            "vaes",     "vpclmulqdq", "avx512f", "avx512dq",
                                            "avx512cd", "avx512bw",   "avx512vl"};
  std::set<std::string> sse42 = kAvxFamily;
  sse42.insert("sse4.2");
  EXPECT_EQ(parse_ok("host,-sse4.2").enabled_features(), without(kHostFeatures, sse42));
  EXPECT_EQ(parse_ok("host,-sse4_2").enabled_features(), without(kHostFeatures, sse42));
  EXPECT_EQ(parse_ok("host,sse4_2=off").enabled_features(), without(kHostFeatures, sse42));
  std::set<std::string> pni = sse42;
  pni.insert({"pni", "ssse3", "sse4.1"});
  EXPECT_EQ(parse_ok("host,-pni").enabled_features(), without(kHostFeatures, pni));
  EXPECT_EQ(parse_ok("host,-sse3").enabled_features(), without(kHostFeatures, pni));
  EXPECT_EQ(parse_ok("host,-i64").enabled_features(), without(kHostFeatures, {"lm", "pdpe1gb"}));
  // Turning an alias on works like its name.
  EXPECT_TRUE(parse_ok("qemu64,+sse4_1").has_feature("sse4.1"));
  EXPECT_TRUE(parse_ok("qemu64,+pclmuldq").has_feature("pclmulqdq"));
}

TEST(CpuModelTest, PlusFeatureFromTheHost) {
  CpuModel m = parse_ok("qemu64,+popcnt,+pcid,sse4.1=on,+avx512f");
  EXPECT_TRUE(m.has_feature("popcnt"));
  EXPECT_TRUE(m.has_feature("pcid"));
  EXPECT_TRUE(m.has_feature("sse4.1"));
  EXPECT_TRUE(m.has_feature("avx512f"));
  EXPECT_EQ(m.enabled_features().size(), kQemu64Features.size() + 4);
  // qemu64 plus xsave gets the XSAVE leaf back.
  m = parse_ok("qemu64,+xsave");
  EXPECT_TRUE(m.has_feature("xsave"));
  EXPECT_NE(find(m.cpuid_for(0, 1), 0xd, 0), nullptr);
  EXPECT_FALSE(m.has_feature("xsaveopt"));  // cleared by the model, not asked for
}

TEST(CpuModelTest, PlusFeatureTheHostLacksIsDroppedWithAWarning) {
  testing::internal::CaptureStderr();
  CpuModel m = parse_ok("host,+vmx,+rdpid,svm=on");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(m.has_feature("vmx"));
  EXPECT_FALSE(m.has_feature("rdpid"));
  EXPECT_FALSE(m.has_feature("svm"));
  EXPECT_EQ(m.enabled_features(), kHostFeatures);
  EXPECT_NE(
      err.find("warning: host doesn't support requested feature: CPUID.01H:ECX.vmx [bit 5]\n"),
      std::string::npos)
      << err;
  EXPECT_NE(
      err.find("warning: host doesn't support requested feature: CPUID.07H:ECX.rdpid [bit 22]\n"),
      std::string::npos)
      << err;
  EXPECT_NE(
      err.find(
          "warning: host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]\n"),
      std::string::npos)
      << err;

  testing::internal::CaptureStderr();
  m = parse_ok("qemu64,+vmx");
  err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(m.enabled_features(), kQemu64Features);
  EXPECT_NE(err.find("CPUID.01H:ECX.vmx [bit 5]"), std::string::npos) << err;
}

TEST(CpuModelTest, Errors) {
  auto r = CpuModel::parse("host,+foo", host_table());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "CPU model 'host': unknown CPU feature 'foo'");
  r = CpuModel::parse("qemu64,bar=on", host_table());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "CPU model 'qemu64': unknown CPU feature 'bar'");
  r = CpuModel::parse("host,-baz", host_table());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "CPU model 'host': unknown CPU feature 'baz'");
  r = CpuModel::parse("pentium9", host_table());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "unable to find CPU model 'pentium9'");
  EXPECT_EQ(r.error().hint(), "available models: host, max, qemu64, kvm64");
  r = CpuModel::parse("host,cx16=maybe", host_table());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Parameter 'cx16' expects 'on' or 'off'");
  r = CpuModel::parse("host,bad key=on", host_table());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Invalid parameter 'bad key'");
}

TEST(CpuModelTest, HypervisorBitAlwaysSet) {
  for (const char* spec : {"host", "qemu64", "kvm64", "host,-hypervisor"}) {
    CpuModel m = parse_ok(spec);
    EXPECT_TRUE(m.has_feature("hypervisor")) << spec;
    for (int n : {1, 2, 8}) {
      EXPECT_TRUE(find(m.cpuid_for(n - 1, n), 1)->ecx & (1u << 31)) << spec;
    }
  }
}

TEST(CpuModelTest, CpuidForSetsApicIdsAndTopology) {
  CpuModel m = parse_ok("host");
  CpuidTable t = m.cpuid_for(2, 4);
  const CpuidEntry* l1 = find(t, 1);
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->ebx, 0x02040800u);  // APIC ID 2, 4 logical CPUs, CLFLUSH 64 bytes
  EXPECT_EQ(l1->ebx >> 24, 2u);
  EXPECT_TRUE(l1->edx & (1u << 28));  // HTT
  EXPECT_EQ(l1->eax, kHostSignature);
  EXPECT_EQ(l1->ecx, host_table()[1].ecx | (1u << 31));

  const CpuidEntry* b0 = find(t, 0xb, 0);
  const CpuidEntry* b1 = find(t, 0xb, 1);
  const CpuidEntry* b2 = find(t, 0xb, 2);
  ASSERT_TRUE(b0 && b1 && b2);
  EXPECT_EQ(b0->eax, 0u);
  EXPECT_EQ(b0->ebx, 1u);
  EXPECT_EQ(b0->ecx, 0x100u);
  EXPECT_EQ(b0->edx, 2u);
  EXPECT_EQ(b1->eax, 2u);  // 4 CPUs: 2 bits of APIC ID
  EXPECT_EQ(b1->ebx, 4u);
  EXPECT_EQ(b1->ecx, 0x201u);
  EXPECT_EQ(b1->edx, 2u);
  EXPECT_EQ(b2->eax, 0u);
  EXPECT_EQ(b2->ebx, 0u);
  EXPECT_EQ(b2->ecx, 2u);
  EXPECT_EQ(b2->edx, 2u);

  // Deterministic cache parameters: the cache type/level bits stay, the core counts follow -smp.
  const CpuidEntry* c0 = find(t, 4, 0);
  ASSERT_NE(c0, nullptr);
  EXPECT_EQ(c0->eax & 0x3ff, 0x121u);
  EXPECT_EQ(c0->eax >> 26, 3u);
  EXPECT_EQ(c0->ebx, 0x01c0003fu);

  // Each vCPU its own APIC ID.
  for (int i = 0; i < 5; i++) {
    CpuidTable ti = m.cpuid_for(i, 5);
    EXPECT_EQ(find(ti, 1)->ebx >> 24, static_cast<uint32_t>(i));
    EXPECT_EQ((find(ti, 1)->ebx >> 16) & 0xff, 5u);
    EXPECT_EQ(find(ti, 0xb, 0)->edx, static_cast<uint32_t>(i));
    EXPECT_EQ(find(ti, 0xb, 1)->edx, static_cast<uint32_t>(i));
    EXPECT_EQ(find(ti, 0xb, 1)->eax, 3u);  // 5 CPUs need 3 bits
  }

  // One vCPU: no HTT, a single logical processor.
  CpuidTable one = m.cpuid_for(0, 1);
  EXPECT_EQ(find(one, 1)->ebx, 0x00000800u);  // no logical count, as QEMU
  EXPECT_FALSE(find(one, 1)->edx & (1u << 28));
  EXPECT_EQ(find(one, 0xb, 1)->eax, 0u);
  EXPECT_EQ(find(one, 0xb, 1)->ebx, 1u);
  EXPECT_EQ(find(one, 4, 0)->eax, 0x121u);
  EXPECT_EQ(find(one, 0x80000008)->ecx, 0u);  // AMD: no other core in the package
  EXPECT_EQ(find(m.cpuid_for(0, 5), 0x80000008)->ecx, 4u | (3u << 12));

  // Only leaves 1, 4 and 0xb differ between vCPUs.
  CpuidTable a = m.cpuid_for(0, 2), b = m.cpuid_for(1, 2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i].function == 1 || a[i].function == 0xb)
      continue;
    EXPECT_EQ(a[i].eax, b[i].eax) << std::hex << a[i].function;
    EXPECT_EQ(a[i].ebx, b[i].ebx) << std::hex << a[i].function;
    EXPECT_EQ(a[i].ecx, b[i].ecx) << std::hex << a[i].function;
    EXPECT_EQ(a[i].edx, b[i].edx) << std::hex << a[i].function;
  }
}

TEST(CpuModelTest, Names) {
  EXPECT_EQ(CpuModel::model_names(), (std::vector<std::string>{"host", "max", "qemu64", "kvm64"}));
  auto names = CpuModel::feature_names();
  EXPECT_EQ(names.front(), "fpu");
  for (const std::string& f : kHostFeatures) {
    EXPECT_NE(std::find(names.begin(), names.end(), f), names.end()) << f;
  }
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size()) << "a feature name appears twice";
}

}  // namespace
}  // namespace colo
