// SPDX-License-Identifier: GPL-2.0-or-later
//
// ACPI: the AML builder, the PC machine's tables (checked field by field, and by iasl where it
// is installed), the PM device (registers, SCI, timer rate, soft-off, power button, migration)
// and the -machine acpi= option.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hw/acpi/aml.h"
#include "hw/acpi/pm.h"
#include "hw/acpi/tables.h"
#include "hw/i386/boot.h"
#include "system/options.h"
#include "util/bytes.h"

namespace colo {
namespace {

using Bytes = std::vector<uint8_t>;

std::string sig_of(std::span<const uint8_t> t) {
  return std::string(reinterpret_cast<const char*>(t.data()), 4);
}

uint8_t sum(std::span<const uint8_t> t) {
  uint8_t s = 0;
  for (uint8_t b : t)
    s = static_cast<uint8_t>(s + b);
  return s;
}

bool contains(std::span<const uint8_t> hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// --- AML ---------------------------------------------------------------------------------------

TEST(AmlTest, PkgLength) {
  EXPECT_EQ(aml_pkg_length(0), Bytes({0x01}));
  EXPECT_EQ(aml_pkg_length(62), Bytes({0x3f}));
  // 63 + 2 = 65 = 0x41: two bytes, low nibble 1, then 0x04.
  EXPECT_EQ(aml_pkg_length(63), Bytes({0x41, 0x04}));
  EXPECT_EQ(aml_pkg_length(0xffd), Bytes({0x4f, 0xff}));
  EXPECT_EQ(aml_pkg_length(0xffe), Bytes({0x81, 0x00, 0x01}));           // 0x1001
  EXPECT_EQ(aml_pkg_length(0x100000), Bytes({0xc4, 0x00, 0x00, 0x01}));  // 0x100004
}

TEST(AmlTest, NameStrings) {
  EXPECT_EQ(aml_name_string("_S5"), Bytes({'_', 'S', '5', '_'}));
  EXPECT_EQ(aml_name_string("PCI0"), Bytes({'P', 'C', 'I', '0'}));
  EXPECT_EQ(aml_name_string("\\_SB"), Bytes({0x5c, '_', 'S', 'B', '_'}));
  EXPECT_EQ(aml_name_string("\\_SB.PCI0"),
            Bytes({0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
  EXPECT_EQ(aml_name_string("A.B.C"),
            Bytes({0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'}));
  EXPECT_EQ(aml_name_string("^FOO"), Bytes({0x5e, 'F', 'O', 'O', '_'}));
  EXPECT_EQ(aml_name_string("\\"), Bytes({0x5c, 0x00}));
}

TEST(AmlTest, Integers) {
  EXPECT_EQ(aml_int(0), Bytes({0x00}));
  EXPECT_EQ(aml_int(1), Bytes({0x01}));
  EXPECT_EQ(aml_int(0x13), Bytes({0x0a, 0x13}));
  EXPECT_EQ(aml_int(0xffff), Bytes({0x0b, 0xff, 0xff}));
  EXPECT_EQ(aml_int(0x1ffff), Bytes({0x0c, 0xff, 0xff, 0x01, 0x00}));
  EXPECT_EQ(aml_int(0x100000000ULL), Bytes({0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(AmlTest, StringsAndEisaId) {
  EXPECT_EQ(aml_string("AB"), Bytes({0x0d, 'A', 'B', 0}));
  // ASL EisaId("PNP0A03") is 0x030AD041.
  EXPECT_EQ(aml_eisaid("PNP0A03"), Bytes({0x0c, 0x41, 0xd0, 0x0a, 0x03}));
}

TEST(AmlTest, Containers) {
  Bytes pkg = aml_package({aml_int(0), aml_int(1)});
  EXPECT_EQ(pkg, Bytes({0x12, 0x04, 0x02, 0x00, 0x01}));
  EXPECT_EQ(aml_name_decl("_UID", aml_int(0)), Bytes({0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_EQ(aml_device("PCI0", {}), Bytes({0x5b, 0x82, 0x05, 'P', 'C', 'I', '0'}));
  EXPECT_EQ(aml_scope("\\", {}), Bytes({0x10, 0x03, 0x5c, 0x00}));
  EXPECT_EQ(aml_buffer(Bytes{0xaa, 0xbb}), Bytes({0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb}));
}

TEST(AmlTest, ResourceTemplate) {
  AmlResources r;
  r.io(0xcf8, 0xcf8, 1, 8);
  EXPECT_EQ(r.bytes(), Bytes({0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08, 0x79, 0x00}));
  AmlResources m;
  m.dword_memory(0xc0000000, 0xfebfffff, false);
  Bytes b = m.bytes();
  ASSERT_EQ(b.size(), 26u + 2u);
  EXPECT_EQ(b[0], 0x87);
  EXPECT_EQ(load_le16(&b[1]), 23);
  EXPECT_EQ(load_le32(&b[10]), 0xc0000000u);  // minimum
  EXPECT_EQ(load_le32(&b[14]), 0xfebfffffu);  // maximum
  EXPECT_EQ(load_le32(&b[22]), 0x3ec00000u);  // length
  AmlResources q;
  q.qword_memory(0x100000000ULL, 0x8ffffffffULL, true);
  b = q.bytes();
  ASSERT_EQ(b.size(), 46u + 2u);
  EXPECT_EQ(b[0], 0x8a);
  EXPECT_EQ(load_le16(&b[1]), 43);
  EXPECT_EQ(b[5], 0x03);                         // cacheable, read-write
  EXPECT_EQ(load_le64(&b[14]), 0x100000000ULL);  // minimum
  EXPECT_EQ(load_le64(&b[22]), 0x8ffffffffULL);  // maximum
  EXPECT_EQ(load_le64(&b[38]), 0x800000000ULL);  // length
}

// --- Tables ------------------------------------------------------------------------------------

class AcpiTablesTest : public ::testing::TestWithParam<int> {
 protected:
  AcpiTables build(int cpus) {
    AcpiConfig cfg;
    cfg.nr_cpus = cpus;
    auto r = build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesEnd);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return *r;
  }
};

TEST_P(AcpiTablesTest, HeadersLengthsChecksums) {
  AcpiTables t = build(GetParam());
  EXPECT_EQ(t.base, kAcpiTablesAddr);
  EXPECT_LE(t.base + t.blob.size(), kAcpiTablesEnd);
  ASSERT_EQ(t.tables.size(), 7u);
  for (const auto& loc : t.tables) {
    SCOPED_TRACE(loc.signature);
    ASSERT_GE(loc.addr, t.base);
    ASSERT_LE(loc.addr - t.base + loc.length, t.blob.size());
    auto b = t.bytes(loc.signature);
    if (loc.signature == "RSD PTR ") {
      EXPECT_EQ(loc.addr % 16, 0u);
      continue;
    }
    EXPECT_EQ(sig_of(b), loc.signature);
    EXPECT_EQ(load_le32(&b[4]), loc.length);
    if (loc.signature == "FACS") {
      EXPECT_EQ(loc.addr % 64, 0u);
      EXPECT_EQ(loc.length, 64u);
      continue;  // no checksum
    }
    EXPECT_EQ(sum(b), 0) << "checksum";
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(&b[10]), 6), "COLOVM");
  }
  // Nothing overlaps.
  for (size_t i = 1; i < t.tables.size(); i++) {
    EXPECT_LE(t.tables[i - 1].addr + t.tables[i - 1].length, t.tables[i].addr);
  }
}

TEST_P(AcpiTablesTest, RsdpPointsToRsdtAndXsdt) {
  AcpiTables t = build(GetParam());
  auto r = t.bytes("RSD PTR ");
  ASSERT_EQ(r.size(), 36u);
  EXPECT_EQ(t.rsdp_addr, t.find("RSD PTR ")->addr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.data()), 8), "RSD PTR ");
  EXPECT_EQ(sum(r.first(20)), 0);
  EXPECT_EQ(sum(r), 0);
  EXPECT_EQ(r[15], 2);  // revision
  EXPECT_EQ(load_le32(&r[16]), t.find("RSDT")->addr);
  EXPECT_EQ(load_le32(&r[20]), 36u);
  EXPECT_EQ(load_le64(&r[24]), t.find("XSDT")->addr);
  // In the BIOS area that guests scan, after the MP table however many CPUs it lists.
  EXPECT_GE(t.rsdp_addr, 0xe0000u);
  EXPECT_LT(t.rsdp_addr + 36, 0x100000u);
  MpTableConfig mp;
  mp.nr_cpus = 255;
  EXPECT_LE(kBiosAreaStart + build_mptable(mp, kBiosAreaStart).size(), t.base);

  auto rsdt = t.bytes("RSDT");
  auto xsdt = t.bytes("XSDT");
  ASSERT_EQ(rsdt.size(), 36u + 2 * 4);
  ASSERT_EQ(xsdt.size(), 36u + 2 * 8);
  EXPECT_EQ(load_le32(&rsdt[36]), t.find("FACP")->addr);
  EXPECT_EQ(load_le32(&rsdt[40]), t.find("APIC")->addr);
  EXPECT_EQ(load_le64(&xsdt[36]), t.find("FACP")->addr);
  EXPECT_EQ(load_le64(&xsdt[44]), t.find("APIC")->addr);
}

void expect_gas_io(std::span<const uint8_t> f, size_t off, uint16_t port, uint8_t bits) {
  SCOPED_TRACE(off);
  EXPECT_EQ(f[off], 1);  // system I/O
  EXPECT_EQ(f[off + 1], bits);
  EXPECT_EQ(f[off + 2], 0);
  EXPECT_EQ(load_le64(&f[off + 4]), port);
}

TEST_P(AcpiTablesTest, Fadt) {
  int cpus = GetParam();
  AcpiTables t = build(cpus);
  auto f = t.bytes("FACP");
  ASSERT_EQ(f.size(), fadt::kLength);
  EXPECT_EQ(f[8], 3);  // revision
  EXPECT_EQ(load_le32(&f[fadt::kFirmwareCtrl]), t.find("FACS")->addr);
  EXPECT_EQ(load_le64(&f[fadt::kXFirmwareCtrl]), 0u);
  EXPECT_EQ(load_le32(&f[fadt::kDsdt]), t.find("DSDT")->addr);
  EXPECT_EQ(load_le64(&f[fadt::kXDsdt]), t.find("DSDT")->addr);
  EXPECT_EQ(load_le16(&f[fadt::kSciInt]), 9);
  EXPECT_EQ(load_le32(&f[fadt::kSmiCmd]), 0u);
  EXPECT_EQ(load_le32(&f[fadt::kPm1aEvtBlk]), 0x600u);
  EXPECT_EQ(load_le32(&f[fadt::kPm1aCntBlk]), 0x604u);
  EXPECT_EQ(load_le32(&f[fadt::kPmTmrBlk]), 0x608u);
  EXPECT_EQ(f[fadt::kPm1EvtLen], 4);
  EXPECT_EQ(f[fadt::kPm1CntLen], 2);
  EXPECT_EQ(f[fadt::kPmTmrLen], 4);
  // The X_ blocks say the same, with bit widths matching the lengths (ACPICA warns otherwise).
  expect_gas_io(f, fadt::kXPm1aEvtBlk, 0x600, 32);
  expect_gas_io(f, fadt::kXPm1aCntBlk, 0x604, 16);
  expect_gas_io(f, fadt::kXPmTmrBlk, 0x608, 32);
  for (size_t off : {size_t{160}, size_t{184}, size_t{196}, size_t{220}, size_t{232}}) {
    for (size_t i = 0; i < 12; i++)
      EXPECT_EQ(f[off + i], 0) << "unused GAS at " << off;
  }
  // Everything PM1b/PM2/GPE is absent.
  for (size_t off : {size_t{60}, size_t{68}, size_t{72}, size_t{80}, size_t{84}}) {
    EXPECT_EQ(load_le32(&f[off]), 0u) << off;
  }
  uint32_t flags = load_le32(&f[fadt::kFlags]);
  EXPECT_TRUE(flags & fadt::kResetRegSup);
  EXPECT_FALSE(flags & fadt::kPwrButton) << "the power button is fixed hardware";
  EXPECT_TRUE(flags & fadt::kSlpButton) << "there is no sleep button";
  EXPECT_FALSE(flags & fadt::kTmrValExt) << "24-bit timer";
  EXPECT_EQ((flags & fadt::kForceApicClusterModel) != 0, cpus > 8);
  EXPECT_EQ(load_le16(&f[fadt::kIapcBootArch]) & fadt::k8042, 0);
  expect_gas_io(f, fadt::kResetReg, 0xcf9, 8);
  EXPECT_EQ(f[fadt::kResetValue], 0x06);
  EXPECT_EQ(f[fadt::kCentury], 0x32);
}

TEST_P(AcpiTablesTest, Madt) {
  int cpus = GetParam();
  AcpiTables t = build(cpus);
  auto m = t.bytes("APIC");
  EXPECT_EQ(load_le32(&m[36]), 0xfee00000u);
  EXPECT_EQ(load_le32(&m[40]), 1u);  // PCAT_COMPAT
  int lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
  size_t off = 44;
  while (off < m.size()) {
    ASSERT_LE(off + 2, m.size());
    uint8_t type = m[off], len = m[off + 1];
    ASSERT_GE(len, 2);
    ASSERT_LE(off + len, m.size());
    switch (type) {
      case 0:
        ASSERT_EQ(len, 8);
        EXPECT_EQ(m[off + 2], lapics);  // processor UID
        EXPECT_EQ(m[off + 3], lapics);  // APIC id
        EXPECT_EQ(load_le32(&m[off + 4]), 1u);
        lapics++;
        break;
      case 1:
        ASSERT_EQ(len, 12);
        EXPECT_EQ(m[off + 2], cpus);  // IOAPIC id, as the MP table has it
        EXPECT_EQ(load_le32(&m[off + 4]), 0xfec00000u);
        EXPECT_EQ(load_le32(&m[off + 8]), 0u);
        ioapics++;
        break;
      case 2:
        ASSERT_EQ(len, 10);
        EXPECT_EQ(m[off + 2], 0);  // ISA
        if (m[off + 3] == 0) {
          EXPECT_EQ(load_le32(&m[off + 4]), 2u);
          EXPECT_EQ(load_le16(&m[off + 8]), 0);
        } else {
          EXPECT_EQ(m[off + 3], 9);
          EXPECT_EQ(load_le32(&m[off + 4]), 9u);
          EXPECT_EQ(load_le16(&m[off + 8]), 0x000d);  // active high, level
        }
        overrides++;
        break;
      case 4:
        ASSERT_EQ(len, 6);
        EXPECT_EQ(m[off + 2], 0xff);
        EXPECT_EQ(m[off + 5], 1);  // LINT1
        nmis++;
        break;
      default:
        ADD_FAILURE() << "unexpected MADT entry type " << int{type};
    }
    off += len;
  }
  EXPECT_EQ(off, m.size());
  EXPECT_EQ(lapics, cpus);
  EXPECT_EQ(ioapics, 1);
  EXPECT_EQ(overrides, 2);
  EXPECT_EQ(nmis, 1);
}

TEST_P(AcpiTablesTest, Dsdt) {
  int cpus = GetParam();
  AcpiTables t = build(cpus);
  auto d = t.bytes("DSDT");
  EXPECT_EQ(d[8], 2);  // revision: 64-bit integers
  // Name (_S5, Package (0x04) {Zero, Zero, Zero, Zero})
  EXPECT_TRUE(contains(d, {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}));
  // Name (_HID, EisaId ("PNP0A03"))
  EXPECT_TRUE(contains(d, {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03}));
  // The _PRT entry of slot 3 pin INTB: Package {0x0003FFFF, One, Zero, 0x10 + (3 + 1) % 4}.
  EXPECT_TRUE(contains(d, {0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x03, 0x00, 0x01, 0x00, 0x0a,
                           static_cast<uint8_t>(pci_intx_gsi(3, 1))}));
  EXPECT_EQ(pci_intx_gsi(3, 1), 16u);
  // The last processor device.
  char last[5];
  snprintf(last, sizeof(last), "C%03X", cpus - 1);
  EXPECT_TRUE(contains(d, {0x5b, 0x82}));
  std::string s(d.begin(), d.end());
  EXPECT_NE(s.find(last), std::string::npos);
  EXPECT_NE(s.find("ACPI0007"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Cpus, AcpiTablesTest, ::testing::Values(1, 2, 9, 255));

TEST(AcpiTablesErrorsTest, BadConfigAndSpace) {
  AcpiConfig cfg;
  cfg.nr_cpus = 0;
  EXPECT_FALSE(build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesEnd).ok());
  cfg.nr_cpus = 256;
  EXPECT_FALSE(build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesEnd).ok());
  cfg.nr_cpus = 1;
  EXPECT_FALSE(build_acpi_tables(cfg, kAcpiTablesAddr + 4, kAcpiTablesEnd).ok());
  cfg.pci_mmio64_start = 0x80000000;  // a 64-bit window below 4 GiB
  cfg.pci_mmio64_size = 0x1000;
  EXPECT_FALSE(build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesEnd).ok());
  cfg.pci_mmio64_size = 0;
  auto r = build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesAddr + 256);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("do not fit"), std::string::npos);
}

// --- iasl --------------------------------------------------------------------------------------

class IaslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (system("iasl -v >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "*** SKIPPED: iasl is not installed (Debian package acpica-tools; "
                      "scripts/install-deps.sh installs it) ***";
    }
    char tmpl[] = "/tmp/colovm-acpi-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      (void)system(cmd.c_str());
    }
  }
  // Disassembles `table` with `iasl -d`; returns iasl's output and the .dsl text.
  std::pair<std::string, std::string> disassemble(const std::string& name,
                                                  std::span<const uint8_t> table, int* status) {
    std::string bin = dir_ + "/" + name + ".dat";
    std::ofstream(bin, std::ios::binary)
        .write(reinterpret_cast<const char*>(table.data()),
               static_cast<std::streamsize>(table.size()));
    *status = run("cd '" + dir_ + "' && iasl -d " + name + ".dat 2>&1", &output_);
    std::ifstream in(dir_ + "/" + name + ".dsl");
    std::stringstream dsl;
    dsl << in.rdbuf();
    return {output_, dsl.str()};
  }
  int run(const std::string& cmd, std::string* out) {
    out->clear();
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr)
      return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      out->append(buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  std::string dir_;
  std::string output_;
};

TEST_F(IaslTest, DsdtDisassemblesAndRecompiles) {
  AcpiConfig cfg;
  cfg.nr_cpus = 4;
  cfg.pci_mmio64_start = 0x100000000ULL;
  cfg.pci_mmio64_size = 0x800000000ULL;
  auto t = build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesEnd);
  ASSERT_TRUE(t.ok());
  int status;
  auto [out, dsl] = disassemble("dsdt", t->bytes("DSDT"), &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("rror"), std::string::npos) << out;
  EXPECT_NE(dsl.find("Name (_S5, Package (0x04)"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("Device (PCI0)"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("EisaId (\"PNP0A03\")"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("WordBusNumber"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("0xFEBFFFFF"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("QWordMemory"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("0x00000008FFFFFFFF"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("Device (C003)"), std::string::npos) << dsl;
  EXPECT_EQ(dsl.find("Device (C004)"), std::string::npos) << dsl;
  // The disassembly compiles back without errors.
  std::string cout;
  int cst = run("cd '" + dir_ + "' && iasl -p recompiled dsdt.dsl 2>&1", &cout);
  EXPECT_EQ(cst, 0) << cout;
  EXPECT_NE(cout.find("0 Errors"), std::string::npos) << cout;
}

TEST_F(IaslTest, DataTablesDisassembleWithoutComplaints) {
  AcpiConfig cfg;
  cfg.nr_cpus = 2;
  auto t = build_acpi_tables(cfg, kAcpiTablesAddr, kAcpiTablesEnd);
  ASSERT_TRUE(t.ok());
  for (const char* sig : {"FACP", "APIC", "FACS", "RSDT", "XSDT"}) {
    SCOPED_TRACE(sig);
    int status;
    auto [out, dsl] = disassemble(sig, t->bytes(sig), &status);
    ASSERT_EQ(status, 0) << out;
    EXPECT_NE(dsl.find(std::string("Signature : \"") + sig + "\""), std::string::npos) << dsl;
    for (const char* bad : {"Invalid", "Incorrect", "rror", "Warning", "**** "}) {
      EXPECT_EQ(dsl.find(bad), std::string::npos) << bad << "\n" << dsl;
    }
  }
  int status;
  auto [out, fadt_dsl] = disassemble("fadt", t->bytes("FACP"), &status);
  EXPECT_NE(fadt_dsl.find("PM1A Control Block Address : 00000604"), std::string::npos) << fadt_dsl;
  EXPECT_NE(fadt_dsl.find("Reset Register Supported (V2) : 1"), std::string::npos) << fadt_dsl;
}

// --- PM device ---------------------------------------------------------------------------------

class RecordingIrq : public IrqLine {
 public:
  void set_level(bool l) override {
    levels.push_back(l);
    level = l;
  }
  std::vector<bool> levels;
  bool level = false;
};

class RecordingEvents : public MachineEvents {
 public:
  void request_reset(ShutdownCause cause) override { resets.push_back(cause); }
  void request_shutdown(ShutdownCause cause) override { shutdowns.push_back(cause); }
  void request_exit(int status) override { exits.push_back(status); }
  void report_internal_error(int, const std::string&) override { errors++; }
  std::vector<ShutdownCause> resets, shutdowns;
  std::vector<int> exits;
  int errors = 0;
};

class AcpiPmTest : public ::testing::Test {
 protected:
  uint32_t in(uint64_t off, size_t size) {
    uint8_t buf[4] = {};
    pm_.read(off, std::span<uint8_t>(buf, size));
    return static_cast<uint32_t>(load_le_n(std::span<const uint8_t>(buf, size)));
  }
  void out(uint64_t off, size_t size, uint32_t v) {
    uint8_t buf[4];
    store_le_n(std::span<uint8_t>(buf, size), v);
    pm_.write(off, std::span<const uint8_t>(buf, size));
  }
  RecordingIrq sci_;
  RecordingEvents events_;
  AcpiPm pm_{&sci_, &events_};
};

TEST_F(AcpiPmTest, PowerOnState) {
  EXPECT_EQ(in(0, 2), 0u);  // PM1_STS
  EXPECT_EQ(in(2, 2), 0u);  // PM1_EN
  EXPECT_EQ(in(4, 2), 1u);  // PM1_CNT: SCI_EN
  EXPECT_FALSE(sci_.level);
}

TEST_F(AcpiPmTest, SciEnStaysSetAndSlpEnReadsZero) {
  out(4, 2, 0);
  EXPECT_EQ(in(4, 2), 1u);
  out(4, 2, 5u << 10);  // SLP_TYP 5 without SLP_EN: stored, nothing happens
  EXPECT_EQ(in(4, 2), (5u << 10) | 1u);
  EXPECT_TRUE(events_.shutdowns.empty());
}

TEST_F(AcpiPmTest, PowerButtonRaisesSciOnlyWhenEnabled) {
  pm_.press_power_button();
  EXPECT_EQ(in(0, 2), AcpiPm::kPwrBtnSts);  // status set either way
  EXPECT_FALSE(sci_.level);
  EXPECT_TRUE(sci_.levels.empty());
  out(2, 2, AcpiPm::kPwrBtnEn);  // enabling with the status pending raises the SCI
  EXPECT_EQ(in(2, 2), AcpiPm::kPwrBtnEn);
  EXPECT_TRUE(sci_.level);
  // Writing 0 changes nothing; writing 1 clears the status and lowers the SCI.
  out(0, 2, 0);
  EXPECT_EQ(in(0, 2), AcpiPm::kPwrBtnSts);
  EXPECT_TRUE(sci_.level);
  out(0, 2, AcpiPm::kPwrBtnSts);
  EXPECT_EQ(in(0, 2), 0u);
  EXPECT_FALSE(sci_.level);
  // Enabled first, then pressed: the SCI follows at once.
  pm_.press_power_button();
  EXPECT_TRUE(sci_.level);
  out(2, 2, 0);  // disabling lowers the line, the status stays
  EXPECT_FALSE(sci_.level);
  EXPECT_EQ(in(0, 2), AcpiPm::kPwrBtnSts);
  EXPECT_EQ(sci_.levels, (std::vector<bool>{true, false, true, false}));
}

TEST_F(AcpiPmTest, StatusAndEnableAsOneDwordAndAsBytes) {
  pm_.press_power_button();
  // ACPICA may access the event block as a dword: STS in the low half, EN in the high half.
  EXPECT_EQ(in(0, 4), AcpiPm::kPwrBtnSts);
  out(0, 4, static_cast<uint32_t>(AcpiPm::kPwrBtnEn) << 16);  // enable, clear nothing
  EXPECT_EQ(in(0, 4), (static_cast<uint32_t>(AcpiPm::kPwrBtnEn) << 16) | AcpiPm::kPwrBtnSts);
  EXPECT_TRUE(sci_.level);
  out(1, 1, AcpiPm::kPwrBtnSts >> 8);  // byte write to the status' high byte clears it
  EXPECT_EQ(in(0, 2), 0u);
  EXPECT_EQ(in(3, 1), AcpiPm::kPwrBtnEn >> 8);
  EXPECT_FALSE(sci_.level);
  // Reserved enable bits do not stick.
  out(2, 2, 0xffff);
  EXPECT_EQ(in(2, 2), AcpiPm::kPm1EnMask);
}

TEST_F(AcpiPmTest, SleepTypeZeroPowersOff) {
  out(4, 2, AcpiPm::kSlpEn | AcpiPm::kSciEn);  // SLP_TYP 0 | SLP_EN
  ASSERT_EQ(events_.shutdowns.size(), 1u);
  EXPECT_EQ(events_.shutdowns[0], ShutdownCause::kGuestShutdown);
  EXPECT_EQ(in(4, 2), 1u);  // SLP_EN is not stored
  // A byte write of the high byte does the same.
  out(5, 1, AcpiPm::kSlpEn >> 8);
  EXPECT_EQ(events_.shutdowns.size(), 2u);
  EXPECT_TRUE(events_.resets.empty());
  EXPECT_TRUE(events_.exits.empty());
}

TEST_F(AcpiPmTest, OtherSleepTypesAreIgnored) {
  for (uint32_t typ = 1; typ < 8; typ++) {
    out(4, 2, AcpiPm::kSlpEn | (typ << AcpiPm::kSlpTypShift));
    EXPECT_EQ(in(4, 2), (typ << AcpiPm::kSlpTypShift) | 1u);
  }
  EXPECT_TRUE(events_.shutdowns.empty());
}

TEST_F(AcpiPmTest, TimerIsWriteProtectedAndOutsideIsZero) {
  uint32_t before = in(8, 4);
  out(8, 4, 0);
  uint32_t after = in(8, 4);
  EXPECT_LE(after, AcpiPm::kTimerMask);
  EXPECT_TRUE(after >= before || before - after > 0x800000) << before << " " << after;  // wrap
  EXPECT_EQ(in(6, 2), 0u);
}

TEST_F(AcpiPmTest, TimerRunsAt3579545Hz) {
  using Clock = std::chrono::steady_clock;
  // Two reads 10 ms apart on the host clock (busy-waiting, no sleep): 35795 ticks +- 20 %.
  auto t0 = Clock::now();
  uint32_t a = in(8, 4);
  while (Clock::now() - t0 < std::chrono::milliseconds(10)) {
  }
  uint32_t b = in(8, 4);
  auto elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  uint32_t ticks = (b - a) & AcpiPm::kTimerMask;
  EXPECT_GE(ticks, 35795 * 8 / 10) << ticks;
  // The upper bound allows for the time the second read itself took beyond 10 ms.
  EXPECT_LE(ticks, static_cast<uint32_t>(3579545.0 * elapsed * 1.2)) << ticks;
  EXPECT_LE(ticks, 35795u * 12 / 10 + static_cast<uint32_t>(3579545.0 * (elapsed - 0.010)))
      << ticks;
  // Monotonic between consecutive reads (modulo the 24-bit wrap).
  uint32_t prev = in(8, 4);
  for (int i = 0; i < 1000; i++) {
    uint32_t now = in(8, 4);
    EXPECT_LT((now - prev) & AcpiPm::kTimerMask, 0x800000u);
    prev = now;
  }
}

TEST_F(AcpiPmTest, ResetClearsRegistersAndLowersSci) {
  out(2, 2, AcpiPm::kPwrBtnEn);
  pm_.press_power_button();
  out(4, 2, 3u << 10);
  ASSERT_TRUE(sci_.level);
  pm_.reset();
  EXPECT_EQ(in(0, 2), 0u);
  EXPECT_EQ(in(2, 2), 0u);
  EXPECT_EQ(in(4, 2), 1u);
  EXPECT_FALSE(sci_.level);
}

TEST_F(AcpiPmTest, VmStateRoundTrip) {
  out(2, 2, AcpiPm::kPwrBtnEn | AcpiPm::kRtcEn);
  out(4, 2, 2u << 10);
  pm_.press_power_button();
  AcpiPmState saved = pm_.state();
  ByteWriter w;
  pm_.save(w);

  RecordingIrq sci2;
  RecordingEvents ev2;
  AcpiPm other(&sci2, &ev2);
  ASSERT_TRUE(other.load(w.buffer(), 1).ok());
  AcpiPmState s = other.state();
  EXPECT_EQ(s.pm1_sts, AcpiPm::kPwrBtnSts);
  EXPECT_EQ(s.pm1_en, AcpiPm::kPwrBtnEn | AcpiPm::kRtcEn);
  EXPECT_EQ(s.pm1_cnt, (2u << 10) | 1u);
  EXPECT_TRUE(sci2.level) << "the loaded device drives its SCI";
  // The timer goes on from the saved value (a little later, not from zero or the host's clock).
  uint32_t since = (s.tmr_value - saved.tmr_value) & AcpiPm::kTimerMask;
  EXPECT_LT(since, 3579545u / 10) << saved.tmr_value << " -> " << s.tmr_value;

  // The description names the fields once.
  std::string d = vmstate_describe(kAcpiPmVmState);
  for (const char* f : {"pm1_sts", "pm1_en", "pm1_cnt", "tmr_value"}) {
    EXPECT_NE(d.find(f), std::string::npos) << d;
  }
}

TEST_F(AcpiPmTest, VmStateRejectsBadValues) {
  auto encode = [](AcpiPmState s) {
    ByteWriter w;
    vmstate_save(kAcpiPmVmState, &s, w);
    return w.take();
  };
  AcpiPmState good;
  EXPECT_TRUE(pm_.load(encode(good), 1).ok());
  AcpiPmState no_sci_en;
  no_sci_en.pm1_cnt = 0;
  EXPECT_FALSE(pm_.load(encode(no_sci_en), 1).ok());
  AcpiPmState big_timer;
  big_timer.tmr_value = 0x1000000;
  EXPECT_FALSE(pm_.load(encode(big_timer), 1).ok());
  AcpiPmState reserved_en;
  reserved_en.pm1_en = 0x8000;
  EXPECT_FALSE(pm_.load(encode(reserved_en), 1).ok());
  EXPECT_FALSE(pm_.load(Bytes{1, 2}, 1).ok());  // truncated
  EXPECT_EQ(in(4, 2), 1u);                      // failed loads left the device alone
}

// --- -machine acpi= ----------------------------------------------------------------------------

Result<CommandLine> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "colovm");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(AcpiOptionTest, MachineAcpi) {
  auto d = parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->acpi);
  for (auto [v, want] : {std::pair<const char*, bool>{"pc,acpi=off", false},
                         {"acpi=on", true},
                         {"pc,acpi=auto", true},
                         {"type=pc,debug-exit=off,acpi=no", false}}) {
    auto r = parse({"-machine", v});
    ASSERT_TRUE(r.ok()) << v << ": " << r.error().message();
    EXPECT_EQ(r->acpi, want) << v;
  }
  auto bad = parse({"-machine", "acpi=maybe"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("acpi"), std::string::npos) << bad.error().message();
}

}  // namespace
}  // namespace colo
