// SPDX-License-Identifier: GPL-2.0-or-later
//
// The PC memory map, the MP table and the two kernel loaders, on synthetic kernels built here.
#include "hw/i386/boot.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "util/bytes.h"

namespace colo {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

// --- helpers -----------------------------------------------------------------------------------

std::unique_ptr<GuestMemory> make_memory(uint64_t size) {
  auto block = RamBlock::create("ram", size);
  EXPECT_TRUE(block.ok()) << block.error().message();
  if (!block.ok())
    return nullptr;
  auto mem = std::make_unique<GuestMemory>();
  RamBlock* b = block->get();
  mem->add_block(std::move(*block));
  mem->add_region({0, size, b, 0});
  return mem;
}

std::vector<uint8_t> read_mem(const GuestMemory& mem, uint64_t gpa, size_t len) {
  std::vector<uint8_t> out(len);
  Status st = mem.read(gpa, out);
  EXPECT_TRUE(st.ok()) << st.error().message();
  return out;
}

uint64_t read64(const GuestMemory& mem, uint64_t gpa) {
  return load_le64(read_mem(mem, gpa, 8).data());
}
uint32_t read32(const GuestMemory& mem, uint64_t gpa) {
  return load_le32(read_mem(mem, gpa, 4).data());
}
uint8_t read8(const GuestMemory& mem, uint64_t gpa) {
  return read_mem(mem, gpa, 1)[0];
}

std::string read_cstring(const GuestMemory& mem, uint64_t gpa) {
  std::string s;
  for (;;) {
    uint8_t c = read8(mem, gpa + s.size());
    if (c == 0 || s.size() > 0x10000)
      return s;
    s += static_cast<char>(c);
  }
}

std::vector<uint8_t> pattern(size_t n, uint8_t mul, uint8_t add) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++)
    v[i] = static_cast<uint8_t>(i * mul + add);
  return v;
}

void expect_segment(const X86Segment& s, uint16_t selector, uint8_t type, uint8_t s_bit, uint8_t db,
                    uint8_t l, uint8_t g, uint32_t limit) {
  EXPECT_EQ(s.base, 0u);
  EXPECT_EQ(s.limit, limit);
  EXPECT_EQ(s.selector, selector);
  EXPECT_EQ(s.type, type);
  EXPECT_EQ(s.present, 1);
  EXPECT_EQ(s.dpl, 0);
  EXPECT_EQ(s.s, s_bit);
  EXPECT_EQ(s.db, db);
  EXPECT_EQ(s.l, l);
  EXPECT_EQ(s.g, g);
}

void expect_boot_gdt(const GuestMemory& mem) {
  EXPECT_EQ(read64(mem, 0x500), 0u);
  EXPECT_EQ(read64(mem, 0x508), 0x00cf9b000000ffffULL);  // 32-bit code, 4 GiB
  EXPECT_EQ(read64(mem, 0x510), 0x00af9b000000ffffULL);  // 64-bit code
  EXPECT_EQ(read64(mem, 0x518), 0x00cf93000000ffffULL);  // data, 4 GiB
  EXPECT_EQ(read64(mem, 0x520), 0x00008b0000000067ULL);  // busy TSS
}

void expect_e820_at(const GuestMemory& mem, uint64_t gpa, size_t stride,
                    const std::vector<E820Entry>& e820) {
  for (size_t i = 0; i < e820.size(); i++) {
    uint64_t e = gpa + stride * i;
    EXPECT_EQ(read64(mem, e), e820[i].addr) << "entry " << i;
    EXPECT_EQ(read64(mem, e + 8), e820[i].size) << "entry " << i;
    EXPECT_EQ(read32(mem, e + 16), static_cast<uint32_t>(e820[i].type)) << "entry " << i;
  }
}

// --- e820 --------------------------------------------------------------------------------------

void check_e820_invariants(const std::vector<E820Entry>& t) {
  for (size_t i = 0; i < t.size(); i++) {
    EXPECT_GT(t[i].size, 0u) << i;
    EXPECT_GT(t[i].addr + t[i].size, t[i].addr) << i;  // no wrap
    if (i > 0) {
      EXPECT_LE(t[i - 1].addr + t[i - 1].size, t[i].addr) << "entries " << i - 1 << ", " << i;
    }
  }
}

TEST(E820Test, SmallRam) {
  auto t = pc_e820_table(128 * kMiB, 0);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[0].addr, 0u);
  EXPECT_EQ(t[0].size, 0x9fc00u);
  EXPECT_EQ(t[0].type, E820Type::kRam);
  EXPECT_EQ(t[1].addr, 0x9fc00u);
  EXPECT_EQ(t[1].size, 0x400u);
  EXPECT_EQ(t[1].type, E820Type::kReserved);
  EXPECT_EQ(t[2].addr, 0xf0000u);
  EXPECT_EQ(t[2].size, 0x10000u);
  EXPECT_EQ(t[2].type, E820Type::kReserved);
  EXPECT_EQ(t[3].addr, 0x100000u);
  EXPECT_EQ(t[3].size, 127 * kMiB);
  EXPECT_EQ(t[3].type, E820Type::kRam);
  EXPECT_EQ(t[4].addr, 0xfeffc000u);
  EXPECT_EQ(t[4].size, 0x4000u);
  EXPECT_EQ(t[4].type, E820Type::kReserved);
  EXPECT_EQ(t[5].addr, 0xfffbd000u);
  EXPECT_EQ(t[5].size, 0x3000u);
  EXPECT_EQ(t[5].type, E820Type::kReserved);
  check_e820_invariants(t);
}

TEST(E820Test, SplitAroundThePciHole) {
  auto t = pc_e820_table(kPciHoleStart, 5 * kGiB);
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[3].addr, kHighMemStart);
  EXPECT_EQ(t[3].size, kPciHoleStart - kHighMemStart);
  EXPECT_EQ(t[3].type, E820Type::kRam);
  EXPECT_EQ(t[6].addr, k4GiB);
  EXPECT_EQ(t[6].size, 5 * kGiB);
  EXPECT_EQ(t[6].type, E820Type::kRam);
  check_e820_invariants(t);
  uint64_t ram = 0;
  for (const auto& e : t) {
    if (e.type == E820Type::kRam)
      ram += e.size;
  }
  EXPECT_EQ(ram, kPciHoleStart + 5 * kGiB - (0x100000 - 0x9fc00));
}

TEST(E820Test, SeveralSizes) {
  for (uint64_t below : {8 * kMiB, 64 * kMiB, 1 * kGiB, 2 * kGiB + 4096, kPciHoleStart}) {
    for (uint64_t above : {uint64_t{0}, uint64_t{4096}, kGiB, 64 * kGiB}) {
      auto t = pc_e820_table(below, above);
      check_e820_invariants(t);
      ASSERT_EQ(t.size(), above ? 7u : 6u);
      EXPECT_EQ(t[3].addr + t[3].size, below);
      // Nothing reserved overlaps RAM, and RAM ends where asked.
      uint64_t last_ram_end = 0;
      for (const auto& e : t) {
        if (e.type == E820Type::kRam)
          last_ram_end = e.addr + e.size;
      }
      EXPECT_EQ(last_ram_end, above ? k4GiB + above : below);
    }
  }
}

// --- MP table ----------------------------------------------------------------------------------

uint8_t sum(const uint8_t* p, size_t n) {
  uint8_t s = 0;
  for (size_t i = 0; i < n; i++)
    s = static_cast<uint8_t>(s + p[i]);
  return s;
}

struct MpEntries {
  std::vector<const uint8_t*> processors, buses, ioapics, ioints, lints;
  size_t count = 0;
};

MpEntries walk(const std::vector<uint8_t>& t) {
  MpEntries e;
  size_t pos = 16 + 44;
  while (pos < t.size()) {
    const uint8_t* p = t.data() + pos;
    switch (p[0]) {
      case 0:
        e.processors.push_back(p);
        pos += 20;
        break;
      case 1:
        e.buses.push_back(p);
        pos += 8;
        break;
      case 2:
        e.ioapics.push_back(p);
        pos += 8;
        break;
      case 3:
        e.ioints.push_back(p);
        pos += 8;
        break;
      case 4:
        e.lints.push_back(p);
        pos += 8;
        break;
      default:
        ADD_FAILURE() << "unknown MP entry type " << int(p[0]) << " at " << pos;
        return e;
    }
    e.count++;
  }
  EXPECT_EQ(pos, t.size());
  return e;
}

TEST(MpTableTest, FloatingPointer) {
  MpTableConfig cfg;
  cfg.nr_cpus = 2;
  auto t = build_mptable(cfg, 0xf0000);
  ASSERT_GE(t.size(), 16u + 44u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data()), 4), "_MP_");
  EXPECT_EQ(load_le32(t.data() + 4), 0xf0010u);  // the configuration table follows it
  EXPECT_EQ(t[8], 1);                            // length: one paragraph
  EXPECT_EQ(t[9], 4);                            // MP spec 1.4
  EXPECT_EQ(sum(t.data(), 16), 0);
  EXPECT_NE(t[10], 0);  // the checksum byte does the balancing
  for (int i = 11; i < 16; i++)
    EXPECT_EQ(t[i], 0) << "feature byte " << i - 10;
  // At another base the pointer moves with it.
  auto t2 = build_mptable(cfg, 0x9fc00);
  EXPECT_EQ(load_le32(t2.data() + 4), 0x9fc10u);
  EXPECT_EQ(sum(t2.data(), 16), 0);
}

TEST(MpTableTest, ConfigurationTableHeader) {
  MpTableConfig cfg;
  cfg.nr_cpus = 4;
  cfg.pci_slots = 32;
  auto t = build_mptable(cfg, 0xf0000);
  const uint8_t* c = t.data() + 16;
  size_t len = t.size() - 16;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(c), 4), "PCMP");
  EXPECT_EQ(load_le16(c + 4), len);
  EXPECT_EQ(c[6], 4);
  EXPECT_EQ(sum(c, len), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(c + 8), 8), "COLOVM  ");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(c + 16), 12), "PC          ");
  EXPECT_EQ(load_le32(c + 28), 0u);  // no OEM table
  EXPECT_EQ(load_le16(c + 32), 0u);
  EXPECT_EQ(load_le32(c + 36), 0xfee00000u);
  EXPECT_EQ(load_le16(c + 40), 0u);  // no extended table
  EXPECT_EQ(c[42], 0);
  MpEntries e = walk(t);
  EXPECT_EQ(load_le16(c + 34), e.count);
  EXPECT_EQ(e.count, 4u + 2 + 1 + 1 + 15 + 32 * 4 + 2);
}

TEST(MpTableTest, Processors) {
  MpTableConfig cfg;
  cfg.nr_cpus = 3;
  cfg.cpu_signature = 0x000606a6;
  cfg.cpu_features = 0x178bfbff;
  auto t = build_mptable(cfg, 0xf0000);
  MpEntries e = walk(t);
  ASSERT_EQ(e.processors.size(), 3u);
  for (int i = 0; i < 3; i++) {
    const uint8_t* p = e.processors[i];
    EXPECT_EQ(p[1], i) << "APIC ID";
    EXPECT_EQ(p[2], 0x14) << "APIC version";
    EXPECT_EQ(p[3], i == 0 ? 3 : 1) << "CPU " << i << " flags (enabled, BP on CPU 0)";
    EXPECT_EQ(load_le32(p + 4), 0x000606a6u);
    EXPECT_EQ(load_le32(p + 8), 0x178bfbffu);
    EXPECT_EQ(load_le64(p + 12), 0u);
  }
  // The processor entries come first, as the spec orders them.
  EXPECT_EQ(e.processors[0], t.data() + 60);
}

TEST(MpTableTest, BusesAndIoapic) {
  MpTableConfig cfg;
  cfg.nr_cpus = 2;
  auto t = build_mptable(cfg, 0xf0000);
  MpEntries e = walk(t);
  ASSERT_EQ(e.buses.size(), 2u);
  EXPECT_EQ(e.buses[0][1], 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.buses[0] + 2), 6), "PCI   ");
  EXPECT_EQ(e.buses[1][1], 1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.buses[1] + 2), 6), "ISA   ");
  ASSERT_EQ(e.ioapics.size(), 1u);
  const uint8_t* io = e.ioapics[0];
  EXPECT_EQ(io[1], 2) << "IOAPIC ID follows the CPUs' APIC IDs";
  EXPECT_EQ(io[2], 0x11);
  EXPECT_EQ(io[3], 1);
  EXPECT_EQ(load_le32(io + 4), 0xfec00000u);
}

TEST(MpTableTest, IsaInterrupts) {
  MpTableConfig cfg;
  cfg.nr_cpus = 1;
  cfg.pci_slots = 0;
  auto t = build_mptable(cfg, 0xf0000);
  MpEntries e = walk(t);
  ASSERT_EQ(e.ioints.size(), 16u);
  // ExtINT (the 8259) on INTIN0.
  const uint8_t* ext = e.ioints[0];
  EXPECT_EQ(ext[1], 3);
  EXPECT_EQ(load_le16(ext + 2), 0u);
  EXPECT_EQ(ext[4], 1);  // ISA
  EXPECT_EQ(ext[5], 0);
  EXPECT_EQ(ext[6], 1);  // IOAPIC ID
  EXPECT_EQ(ext[7], 0);
  std::vector<int> pin_of_irq(16, -1);
  for (size_t i = 1; i < e.ioints.size(); i++) {
    const uint8_t* p = e.ioints[i];
    EXPECT_EQ(p[1], 0) << "INT";
    EXPECT_EQ(load_le16(p + 2), 0u) << "bus default polarity/trigger";
    EXPECT_EQ(p[4], 1) << "ISA bus";
    EXPECT_EQ(p[6], 1) << "IOAPIC ID";
    ASSERT_LT(p[5], 16);
    EXPECT_EQ(pin_of_irq[p[5]], -1) << "IRQ " << int(p[5]) << " twice";
    pin_of_irq[p[5]] = p[7];
  }
  EXPECT_EQ(pin_of_irq[0], 2) << "IRQ0 (PIT) is wired to INTIN2";
  EXPECT_EQ(pin_of_irq[2], -1) << "IRQ2 is the cascade";
  for (int irq = 1; irq < 16; irq++) {
    if (irq != 2) {
      EXPECT_EQ(pin_of_irq[irq], irq) << "IRQ " << irq;
    }
  }
  ASSERT_EQ(e.lints.size(), 2u);
  EXPECT_EQ(e.lints[0][1], 3);     // ExtINT
  EXPECT_EQ(e.lints[0][6], 0xff);  // all local APICs
  EXPECT_EQ(e.lints[0][7], 0);     // LINT0
  EXPECT_EQ(e.lints[1][1], 1);     // NMI
  EXPECT_EQ(e.lints[1][6], 0xff);
  EXPECT_EQ(e.lints[1][7], 1);  // LINT1
}

TEST(MpTableTest, PciInterrupts) {
  MpTableConfig cfg;
  cfg.nr_cpus = 2;
  cfg.pci_slots = 32;
  auto t = build_mptable(cfg, 0xf0000);
  MpEntries e = walk(t);
  int pci = 0;
  std::vector<bool> seen(128, false);
  for (const uint8_t* p : e.ioints) {
    if (p[4] != 0)
      continue;  // not the PCI bus
    pci++;
    EXPECT_EQ(p[1], 0) << "INT";
    EXPECT_EQ(load_le16(p + 2), 0x0fu) << "level-triggered, active low";
    EXPECT_EQ(p[6], 2) << "IOAPIC ID";
    int slot = p[5] >> 2, pin = p[5] & 3;
    ASSERT_LT(p[5], 128);
    EXPECT_FALSE(seen[p[5]]);
    seen[p[5]] = true;
    EXPECT_EQ(p[7], pci_intx_gsi(slot, pin)) << "slot " << slot << " pin " << pin;
  }
  EXPECT_EQ(pci, 128);
}

TEST(MpTableTest, PciIntxSwizzle) {
  EXPECT_EQ(pci_intx_gsi(0, 0), 16u);
  EXPECT_EQ(pci_intx_gsi(1, 0), 17u);
  EXPECT_EQ(pci_intx_gsi(2, 0), 18u);
  EXPECT_EQ(pci_intx_gsi(3, 0), 19u);
  EXPECT_EQ(pci_intx_gsi(4, 0), 16u);
  EXPECT_EQ(pci_intx_gsi(3, 1), 16u);
  EXPECT_EQ(pci_intx_gsi(1, 3), 16u);
  EXPECT_EQ(pci_intx_gsi(31, 3), 18u);
}

// --- probe_kernel ------------------------------------------------------------------------------

TEST(ProbeKernelTest, Formats) {
  std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F'};
  auto r = probe_kernel(elf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, KernelFormat::kPvhElf);

  std::vector<uint8_t> bz(0x206, 0);
  memcpy(bz.data() + 0x202, "HdrS", 4);
  r = probe_kernel(bz);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, KernelFormat::kLinuxBzImage);

  r = probe_kernel({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "the kernel file is empty");

  for (size_t len : {1, 3, 0x205}) {
    std::vector<uint8_t> cut(bz.begin(), bz.begin() + len);
    if (len == 3)
      cut = {0x7f, 'E', 'L'};
    r = probe_kernel(cut);
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.error().message(), "not a Linux bzImage or a PVH ELF kernel");
  }
  std::vector<uint8_t> junk(4096, 0x90);
  r = probe_kernel(junk);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "not a Linux bzImage or a PVH ELF kernel");
}

// --- PVH ---------------------------------------------------------------------------------------

constexpr uint32_t kPtLoad = 1, kPtNote = 4;

struct ElfSeg {
  uint32_t type;
  uint64_t paddr;
  std::vector<uint8_t> data;
  uint64_t memsz;
};

void note(ByteWriter& w, const char* name, uint32_t type, std::vector<uint8_t> desc) {
  uint32_t namesz = static_cast<uint32_t>(strlen(name) + 1);
  w.le32(namesz);
  w.le32(static_cast<uint32_t>(desc.size()));
  w.le32(type);
  w.bytes(name, namesz);
  w.zeros((4 - namesz % 4) % 4);
  w.bytes(desc);
  w.zeros((4 - desc.size() % 4) % 4);
}

std::vector<uint8_t> pvh_notes(uint64_t entry, size_t entry_size = 4) {
  ByteWriter w;
  note(w, "GNU", 3, pattern(20, 1, 0));             // a build ID first
  note(w, "Xen", 6, {'l', 'i', 'n', 'u', 'x', 0});  // XEN_ELFNOTE_GUEST_OS
  std::vector<uint8_t> desc(entry_size);
  for (size_t i = 0; i < entry_size; i++)
    desc[i] = static_cast<uint8_t>(entry >> (8 * i));
  note(w, "Xen", 18, desc);  // XEN_ELFNOTE_PHYS32_ENTRY
  return w.take();
}

// Header, program headers, then the segments' bytes in order.
std::vector<uint8_t> build_elf(bool is64, uint64_t e_entry, const std::vector<ElfSeg>& segs) {
  const size_t ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32;
  ByteWriter w;
  w.bytes(
      "\x7f"
      "ELF",
      4);
  w.u8(is64 ? 2 : 1);  // class
  w.u8(1);             // little-endian
  w.u8(1);             // version
  w.zeros(9);
  w.le16(2);              // ET_EXEC
  w.le16(is64 ? 62 : 3);  // x86-64 / i386
  w.le32(1);
  if (is64) {
    w.le64(e_entry);
    w.le64(ehsize);  // phoff
    w.le64(0);       // shoff
  } else {
    w.le32(static_cast<uint32_t>(e_entry));
    w.le32(static_cast<uint32_t>(ehsize));
    w.le32(0);
  }
  w.le32(0);  // flags
  w.le16(static_cast<uint16_t>(ehsize));
  w.le16(static_cast<uint16_t>(phentsize));
  w.le16(static_cast<uint16_t>(segs.size()));
  w.le16(0);
  w.le16(0);
  w.le16(0);
  EXPECT_EQ(w.size(), ehsize);
  uint64_t offset = ehsize + phentsize * segs.size();
  for (const ElfSeg& s : segs) {
    w.le32(s.type);
    if (is64) {
      w.le32(7);  // flags
      w.le64(offset);
      w.le64(s.paddr + 0xffffffff80000000ULL);  // vaddr: a kernel's, unused
      w.le64(s.paddr);
      w.le64(s.data.size());
      w.le64(s.memsz);
      w.le64(0x1000);
    } else {
      w.le32(static_cast<uint32_t>(offset));
      w.le32(static_cast<uint32_t>(s.paddr + 0xc0000000));
      w.le32(static_cast<uint32_t>(s.paddr));
      w.le32(static_cast<uint32_t>(s.data.size()));
      w.le32(static_cast<uint32_t>(s.memsz));
      w.le32(7);
      w.le32(0x1000);
    }
    offset += s.data.size();
  }
  for (const ElfSeg& s : segs)
    w.bytes(s.data);
  return w.take();
}

constexpr uint64_t kEntry = 0x100040;
const std::vector<uint8_t> kText = pattern(0x300, 7, 1);
const std::vector<uint8_t> kData = pattern(0x100, 11, 3);

std::vector<ElfSeg> pvh_segments(uint64_t entry = kEntry, size_t entry_size = 4) {
  return {
      {kPtNote, 0, pvh_notes(entry, entry_size), 0},
      {kPtLoad, 0x100000, kText, kText.size()},
      {kPtLoad, 0x200000, kData, 0x3000},  // 0x2f00 bytes of bss
  };
}

// Offsets of program header fields, for corrupting them.
size_t phdr(bool is64, int i) {
  return (is64 ? 64 : 52) + (is64 ? 56 : 32) * i;
}

class PvhTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    mem_ = make_memory(64 * kMiB);
    ASSERT_NE(mem_, nullptr);
    cfg_.cmdline = "console=ttyS0 earlyprintk=serial";
    cfg_.e820 = pc_e820_table(64 * kMiB, 0);
    cfg_.below_4g = 64 * kMiB;
  }
  bool is64() const { return GetParam(); }
  std::vector<uint8_t> elf(const std::vector<ElfSeg>& segs) {
    return build_elf(is64(), kEntry, segs);
  }

  Result<X86BootState> load(const std::vector<uint8_t>& image) {
    // Its own allocation, so reading past the end is a heap overflow under ASan.
    std::unique_ptr<uint8_t[]> copy(new uint8_t[image.size() + 1]);
    if (!image.empty())
      memcpy(copy.get(), image.data(), image.size());
    BootConfig cfg = cfg_;
    cfg.kernel = std::span<const uint8_t>(copy.get(), image.size());
    return pvh_load(*mem_, cfg);
  }
  std::string load_error(const std::vector<uint8_t>& image) {
    auto r = load(image);
    EXPECT_FALSE(r.ok());
    if (r.ok())
      return "";
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    return r.error().message();
  }

  std::unique_ptr<GuestMemory> mem_;
  BootConfig cfg_;
};

TEST_P(PvhTest, LoadsSegmentsAndStartInfo) {
  std::vector<uint8_t> initrd = pattern(0x1234, 5, 9);
  cfg_.initrd = initrd;
  ASSERT_TRUE(mem_->fill(0x200000, 0xcc, 0x4000).ok());
  auto r = load(elf(pvh_segments()));
  ASSERT_TRUE(r.ok()) << r.error().message();

  // Segments at their physical addresses, bss zeroed, nothing beyond p_memsz touched.
  EXPECT_EQ(read_mem(*mem_, 0x100000, kText.size()), kText);
  EXPECT_EQ(read_mem(*mem_, 0x200000, kData.size()), kData);
  EXPECT_EQ(read_mem(*mem_, 0x200100, 0x2f00), std::vector<uint8_t>(0x2f00, 0));
  EXPECT_EQ(read_mem(*mem_, 0x203000, 0x1000), std::vector<uint8_t>(0x1000, 0xcc));

  // struct hvm_start_info at EBX.
  const uint64_t si = 0x6000;
  EXPECT_EQ(r->rbx, si);
  EXPECT_EQ(read32(*mem_, si + 0), 0x336ec578u);  // magic
  EXPECT_EQ(read32(*mem_, si + 4), 1u);           // version
  EXPECT_EQ(read32(*mem_, si + 8), 0u);           // flags
  EXPECT_EQ(read32(*mem_, si + 12), 1u);          // nr_modules
  uint64_t modlist = read64(*mem_, si + 16);
  uint64_t cmdline = read64(*mem_, si + 24);
  EXPECT_EQ(read64(*mem_, si + 32), 0u);  // rsdp_paddr: no ACPI
  uint64_t memmap = read64(*mem_, si + 40);
  EXPECT_EQ(read32(*mem_, si + 48), cfg_.e820.size());
  EXPECT_EQ(read_cstring(*mem_, cmdline), "console=ttyS0 earlyprintk=serial");
  expect_e820_at(*mem_, memmap, 24, cfg_.e820);
  // The boot data stays below the kernel and clear of the other boot structures.
  EXPECT_LT(memmap + 24 * cfg_.e820.size(), kZeroPageAddr);
  EXPECT_GE(modlist, si + 56);
  EXPECT_LE(modlist + 32, memmap);

  // The module: the initrd, page-aligned, as high as RAM allows, above the kernel.
  uint64_t mod_addr = read64(*mem_, modlist);
  EXPECT_EQ(read64(*mem_, modlist + 8), initrd.size());
  EXPECT_EQ(read64(*mem_, modlist + 16), 0u);  // no module command line
  EXPECT_EQ(mod_addr, (64 * kMiB - initrd.size()) & ~0xfffULL);
  EXPECT_EQ(read_mem(*mem_, mod_addr, initrd.size()), initrd);

  // 32-bit protected mode, flat segments from the boot GDT, paging off.
  EXPECT_EQ(r->rip, kEntry);
  EXPECT_EQ(r->cr0, 0x11u);
  EXPECT_EQ(r->cr3, 0u);
  EXPECT_EQ(r->cr4, 0u);
  EXPECT_EQ(r->efer, 0u);
  EXPECT_EQ(r->rflags, 0x2u);
  expect_segment(r->cs, 0x08, 0xb, 1, 1, 0, 1, 0xffffffff);
  for (const X86Segment* s : {&r->ds, &r->es, &r->fs, &r->gs, &r->ss}) {
    expect_segment(*s, 0x18, 0x3, 1, 1, 0, 1, 0xffffffff);
  }
  expect_segment(r->tr, 0x20, 0xb, 0, 0, 0, 0, 0x67);
  EXPECT_EQ(r->gdt_base, 0x500u);
  EXPECT_EQ(r->gdt_limit, 39);
  expect_boot_gdt(*mem_);
}

TEST_P(PvhTest, WithoutInitrd) {
  auto r = load(elf(pvh_segments()));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(read32(*mem_, 0x6000 + 12), 0u);
  EXPECT_EQ(read64(*mem_, 0x6000 + 16), 0u);
}

TEST_P(PvhTest, EightByteEntryNote) {
  auto r = load(elf(pvh_segments(0x100080, 8)));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->rip, 0x100080u);
}

TEST_P(PvhTest, SegmentEndingAtTheEndOfRam) {
  auto segs = pvh_segments();
  segs[2].paddr = 64 * kMiB - 0x3000;
  auto r = load(elf(segs));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(read_mem(*mem_, 64 * kMiB - 0x3000, kData.size()), kData);
  // With no bss at all.
  segs[2].paddr = 64 * kMiB - kData.size();
  segs[2].memsz = kData.size();
  r = load(elf(segs));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(read_mem(*mem_, 64 * kMiB - kData.size(), kData.size()), kData);
}

TEST_P(PvhTest, EveryTruncationFailsCleanly) {
  const std::vector<uint8_t> full = elf(pvh_segments());
  for (size_t len = 0; len < full.size(); len++) {
    auto r = load(std::vector<uint8_t>(full.begin(), full.begin() + len));
    ASSERT_FALSE(r.ok()) << "length " << len << " of " << full.size();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
  EXPECT_EQ(load_error({}), "not an ELF file");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.begin() + 51)),
            "ELF file truncated");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.end() - 1)),
            "ELF segment 2 lies outside the file");
  auto r = load(full);
  EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST_P(PvhTest, HeaderErrors) {
  std::vector<uint8_t> f = elf(pvh_segments());
  auto bad = f;
  bad[4] = 3;
  EXPECT_EQ(load_error(bad), "bad ELF class 3");
  bad = f;
  bad[5] = 2;
  EXPECT_EQ(load_error(bad), "ELF file is not little-endian");
  bad = f;
  store_le16(bad.data() + 18, 40);  // ARM
  EXPECT_EQ(load_error(bad), "ELF file is not for x86 (machine 40)");
  bad = f;
  store_le16(bad.data() + (is64() ? 56 : 44), 0);
  EXPECT_EQ(load_error(bad), "ELF file has no program headers");
  bad = f;
  store_le16(bad.data() + (is64() ? 54 : 42), is64() ? 55 : 31);
  EXPECT_EQ(load_error(bad), std::string("bad ELF program header size ") + (is64() ? "55" : "31"));
}

TEST_P(PvhTest, ProgramHeadersOutsideTheFile) {
  std::vector<uint8_t> f = elf(pvh_segments());
  for (uint64_t phoff : {uint64_t{f.size()}, uint64_t{f.size() - 8}, uint64_t{0xffffffff}}) {
    auto bad = f;
    if (is64()) {
      store_le64(bad.data() + 32, phoff);
    } else {
      store_le32(bad.data() + 28, static_cast<uint32_t>(phoff));
    }
    EXPECT_EQ(load_error(bad), "ELF program headers lie outside the file") << phoff;
  }
  if (is64()) {
    auto bad = f;
    store_le64(bad.data() + 32, ~0ULL);
    EXPECT_EQ(load_error(bad), "ELF program headers lie outside the file");
  }
  auto bad = f;
  store_le16(bad.data() + (is64() ? 56 : 44), 0xffff);  // phnum
  EXPECT_EQ(load_error(bad), "ELF program headers lie outside the file");
}

TEST_P(PvhTest, SegmentDataOutsideTheFile) {
  std::vector<uint8_t> f = elf(pvh_segments());
  auto bad = f;
  // Segment 1's p_offset beyond the file.
  if (is64()) {
    store_le64(bad.data() + phdr(true, 1) + 8, f.size() + 1);
  } else {
    store_le32(bad.data() + phdr(false, 1) + 4, static_cast<uint32_t>(f.size() + 1));
  }
  EXPECT_EQ(load_error(bad), "ELF segment 1 lies outside the file");
  // p_offset + p_filesz wrapping around.
  bad = f;
  if (is64()) {
    store_le64(bad.data() + phdr(true, 1) + 32, ~0ULL - 0x10);
  } else {
    store_le32(bad.data() + phdr(false, 1) + 16, 0xfffffff0u);
  }
  EXPECT_EQ(load_error(bad), "ELF segment 1 lies outside the file");
  // The note segment too.
  bad = f;
  if (is64()) {
    store_le64(bad.data() + phdr(true, 0) + 32, f.size());
  } else {
    store_le32(bad.data() + phdr(false, 0) + 16, static_cast<uint32_t>(f.size()));
  }
  EXPECT_EQ(load_error(bad), "ELF segment 0 lies outside the file");
}

TEST_P(PvhTest, SegmentBelowOneMiB) {
  auto segs = pvh_segments();
  segs[2].paddr = 0x80000;
  EXPECT_EQ(load_error(elf(segs)),
            "ELF segment at 0x80000 is below 1 MiB (reserved for boot data)");
}

TEST_P(PvhTest, SegmentBeyondRam) {
  auto segs = pvh_segments();
  segs[2].paddr = 64 * kMiB - 0x2fff;
  auto r = load(elf(segs));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "ELF segment at 0x3ffd001+0x3000 does not fit in RAM");
  EXPECT_EQ(r.error().hint(), "increase the memory size with -m");
  segs[2].paddr = 0x7fff0000;
  EXPECT_EQ(load_error(elf(segs)), "ELF segment at 0x7fff0000+0x3000 does not fit in RAM");
}

TEST_P(PvhTest, HugeMemszOverflow) {
  auto f = elf(pvh_segments());
  auto bad = f;
  if (is64()) {
    store_le64(bad.data() + phdr(true, 2) + 40, ~0ULL - 0x1000);  // paddr + memsz wraps
    EXPECT_EQ(load_error(bad), "ELF segment at 0x200000+0xffffffffffffefff does not fit in RAM");
    store_le64(bad.data() + phdr(true, 2) + 40, 1ULL << 63);
    EXPECT_EQ(load_error(bad), "ELF segment at 0x200000+0x8000000000000000 does not fit in RAM");
    // A physical address that wraps with the size.
    bad = f;
    store_le64(bad.data() + phdr(true, 2) + 24, ~0ULL - 0xfff);
    EXPECT_EQ(load_error(bad), "ELF segment at 0xfffffffffffff000+0x3000 does not fit in RAM");
  } else {
    store_le32(bad.data() + phdr(false, 2) + 20, 0xffffffffu);
    EXPECT_EQ(load_error(bad), "ELF segment at 0x200000+0xffffffff does not fit in RAM");
  }
}

TEST_P(PvhTest, FileSizeLargerThanMemorySize) {
  auto segs = pvh_segments();
  segs[2].memsz = kData.size() - 1;
  EXPECT_EQ(load_error(elf(segs)), "ELF segment larger in the file than in memory");
}

TEST_P(PvhTest, EntryOutsideTheImage) {
  EXPECT_EQ(load_error(elf(pvh_segments(0x203000))),
            "PVH entry point 0x203000 is outside the kernel image");
  EXPECT_EQ(load_error(elf(pvh_segments(0xfffff))),
            "PVH entry point 0xfffff is outside the kernel image");
  EXPECT_EQ(load_error(elf(pvh_segments(0))), "PVH entry point 0x0 is outside the kernel image");
  // The last byte of the image is inside.
  auto r = load(elf(pvh_segments(0x202fff)));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->rip, 0x202fffu);
}

TEST_P(PvhTest, MissingNote) {
  const char* kMissing = "ELF kernel has no PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY note)";
  // No PT_NOTE at all.
  auto segs = pvh_segments();
  segs.erase(segs.begin());
  EXPECT_EQ(load_error(elf(segs)), kMissing);
  // Notes, but not that one.
  segs = pvh_segments();
  ByteWriter w;
  note(w, "GNU", 3, pattern(20, 1, 0));
  note(w, "Xen", 17, {0x40, 0, 0x10, 0});  // another Xen note
  note(w, "Xe", 18, {0x40, 0, 0x10, 0});   // the right type from another owner
  note(w, "Xenn", 18, {0x40, 0, 0x10, 0});
  note(w, "Xen", 18, {0x40, 0, 0x10});  // a descriptor of the wrong size
  segs[0].data = w.take();
  EXPECT_EQ(load_error(elf(segs)), kMissing);
  // A note whose sizes run past the segment.
  segs = pvh_segments();
  store_le32(segs[0].data.data(), 0xfffffff0u);
  EXPECT_EQ(load_error(elf(segs)), kMissing);
  segs = pvh_segments();
  store_le32(segs[0].data.data() + 4, 0xffffffffu);
  EXPECT_EQ(load_error(elf(segs)), kMissing);
  // A note segment too short for a note header.
  segs = pvh_segments();
  segs[0].data.resize(11);
  EXPECT_EQ(load_error(elf(segs)), kMissing);
}

TEST_P(PvhTest, NoLoadableSegments) {
  auto segs = pvh_segments();
  segs[1].type = 6;  // PT_PHDR
  segs[2].memsz = 0;
  segs[2].data.clear();
  EXPECT_EQ(load_error(elf(segs)), "ELF kernel has no loadable segments");
}

TEST_P(PvhTest, CommandLineLimit) {
  cfg_.cmdline = std::string(0xffff, 'x');
  ASSERT_TRUE(load(elf(pvh_segments())).ok());
  EXPECT_EQ(read_cstring(*mem_, kCmdlineAddr).size(), 0xffffu);
  cfg_.cmdline = std::string(0x10000, 'x');
  EXPECT_EQ(load_error(elf(pvh_segments())),
            "kernel command line too long (65536 bytes, the limit is 65535)");
}

TEST_P(PvhTest, InitrdTooLarge) {
  std::vector<uint8_t> initrd(63 * kMiB);
  cfg_.initrd = initrd;
  auto r = load(elf(pvh_segments()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "initrd is too large (63 MiB) for the RAM below 64 MiB");
  EXPECT_EQ(r.error().hint(), "increase the memory size with -m");
}

TEST_P(PvhTest, RsdpPassedThrough) {
  cfg_.rsdp_addr = 0xf5a20;
  ASSERT_TRUE(load(elf(pvh_segments())).ok());
  EXPECT_EQ(read64(*mem_, 0x6000 + 32), 0xf5a20u);
}

INSTANTIATE_TEST_SUITE_P(ElfClass, PvhTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "Elf64" : "Elf32";
                         });

// --- Linux bzImage -----------------------------------------------------------------------------

struct BzImage {
  uint16_t version = 0x020f;
  uint8_t loadflags = 0x01;    // LOADED_HIGH
  uint16_t xloadflags = 0x03;  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  uint8_t setup_sects = 4;
  uint8_t relocatable = 1;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x20000;
  uint32_t cmdline_size = 0x7ff;
  uint32_t initrd_addr_max = 0x7fffffff;
  size_t payload_size = 0x3000;

  size_t setup_size() const { return ((setup_sects == 0 ? 4 : setup_sects) + 1) * 512u; }
  std::vector<uint8_t> payload() const { return pattern(payload_size, 13, 5); }
  std::vector<uint8_t> build() const {
    std::vector<uint8_t> k(setup_size(), 0);
    // Setup code after the header, which the loader must not copy into the zero page.
    for (size_t i = 0x26c; i < k.size(); i++)
      k[i] = 0x90;
    k[0x1f1] = setup_sects;
    store_le32(k.data() + 0x1f4, static_cast<uint32_t>(payload_size / 16));  // syssize
    store_le16(k.data() + 0x1fe, 0xaa55);
    k[0x200] = 0xeb;  // jmp to the end of the header (0x26c)
    k[0x201] = 0x6a;
    memcpy(k.data() + 0x202, "HdrS", 4);
    store_le16(k.data() + 0x206, version);
    k[0x211] = loadflags;
    store_le32(k.data() + 0x214, 0x100000);  // code32_start
    store_le32(k.data() + 0x22c, initrd_addr_max);
    store_le32(k.data() + 0x230, 0x200000);  // kernel_alignment
    k[0x234] = relocatable;
    k[0x235] = 21;  // min_alignment
    store_le16(k.data() + 0x236, xloadflags);
    store_le32(k.data() + 0x238, cmdline_size);
    store_le64(k.data() + 0x258, pref_address);
    store_le32(k.data() + 0x260, init_size);
    auto p = payload();
    k.insert(k.end(), p.begin(), p.end());
    return k;
  }
};

class LinuxBootTest : public ::testing::Test {
 protected:
  void SetUp() override { use_ram(64 * kMiB); }
  void use_ram(uint64_t size) {
    mem_ = make_memory(size);
    ASSERT_NE(mem_, nullptr);
    cfg_.e820 = pc_e820_table(size, 0);
    cfg_.below_4g = size;
    cfg_.cmdline = "console=ttyS0 panic=-1";
  }
  Result<X86BootState> load(const std::vector<uint8_t>& image) {
    std::unique_ptr<uint8_t[]> copy(new uint8_t[image.size() + 1]);
    if (!image.empty())
      memcpy(copy.get(), image.data(), image.size());
    BootConfig cfg = cfg_;
    cfg.kernel = std::span<const uint8_t>(copy.get(), image.size());
    return linux_load(*mem_, cfg);
  }
  std::string load_error(const std::vector<uint8_t>& image) {
    auto r = load(image);
    EXPECT_FALSE(r.ok());
    if (r.ok())
      return "";
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    return r.error().message();
  }

  std::unique_ptr<GuestMemory> mem_;
  BootConfig cfg_;
};

TEST_F(LinuxBootTest, ZeroPageAndPayload) {
  BzImage bz;
  std::vector<uint8_t> initrd = pattern(0x1800, 3, 7);
  cfg_.initrd = initrd;
  auto r = load(bz.build());
  ASSERT_TRUE(r.ok()) << r.error().message();

  // The protected-mode kernel at 1 MiB.
  EXPECT_EQ(read_mem(*mem_, 0x100000, bz.payload_size), bz.payload());

  const uint64_t zp = kZeroPageAddr;
  std::vector<uint8_t> page = read_mem(*mem_, zp, 4096);
  // The setup header, copied from the file.
  EXPECT_EQ(page[0x1f1], 4);
  EXPECT_EQ(load_le32(&page[0x1f4]), bz.payload_size / 16);
  EXPECT_EQ(load_le16(&page[0x1fe]), 0xaa55);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&page[0x202]), 4), "HdrS");
  EXPECT_EQ(load_le16(&page[0x206]), 0x020f);
  EXPECT_EQ(load_le32(&page[0x22c]), 0x7fffffffu);
  EXPECT_EQ(page[0x234], 1);
  EXPECT_EQ(load_le16(&page[0x236]), 0x03);
  EXPECT_EQ(load_le32(&page[0x238]), 0x7ffu);
  EXPECT_EQ(load_le32(&page[0x260]), 0x20000u);
  // ... and nothing after it (the setup code is not part of the zero page).
  for (size_t i = 0x26c; i < 0x2d0; i++)
    EXPECT_EQ(page[i], 0) << std::hex << i;
  // The loader's fields.
  EXPECT_EQ(page[0x210], 0xff);                // type_of_loader: undefined
  EXPECT_EQ(page[0x211], 0x81);                // LOADED_HIGH | CAN_USE_HEAP
  EXPECT_EQ(load_le16(&page[0x224]), 0xfe00);  // heap_end_ptr
  EXPECT_EQ(load_le32(&page[0x228]), kCmdlineAddr);
  EXPECT_EQ(read_cstring(*mem_, load_le32(&page[0x228])), "console=ttyS0 panic=-1");
  uint32_t ramdisk = load_le32(&page[0x218]);
  EXPECT_EQ(load_le32(&page[0x21c]), initrd.size());
  EXPECT_EQ(ramdisk, (64 * kMiB - initrd.size()) & ~0xfffULL);
  EXPECT_GE(ramdisk, 0x100000u + bz.init_size);
  EXPECT_EQ(read_mem(*mem_, ramdisk, initrd.size()), initrd);
  // The e820 map.
  EXPECT_EQ(page[0x1e8], cfg_.e820.size());
  expect_e820_at(*mem_, zp + 0x2d0, 20, cfg_.e820);
  // No ACPI.
  EXPECT_EQ(load_le64(&page[0x70]), 0u);
  // Nothing else below the header but the e820 count.
  for (size_t i = 0; i < 0x1f1; i++) {
    if (i != 0x1e8) {
      EXPECT_EQ(page[i], 0) << std::hex << i;
    }
  }
}

TEST_F(LinuxBootTest, LongModeEntryState) {
  BzImage bz;
  auto r = load(bz.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->rip, 0x100200u);
  EXPECT_EQ(r->rsi, kZeroPageAddr);
  EXPECT_EQ(r->cr0, 0x80000031u);  // PG | NE | ET | PE
  EXPECT_TRUE(r->cr0 & (1u << 31));
  EXPECT_EQ(r->cr4, 0x20u);    // PAE
  EXPECT_EQ(r->efer, 0x500u);  // LME | LMA
  EXPECT_EQ(r->cr3, kPageTablesAddr);
  EXPECT_EQ(r->rflags, 0x2u);                                // interrupts off
  expect_segment(r->cs, 0x10, 0xb, 1, 0, 1, 1, 0xffffffff);  // __BOOT_CS
  for (const X86Segment* s : {&r->ds, &r->es, &r->fs, &r->gs, &r->ss}) {
    expect_segment(*s, 0x18, 0x3, 1, 1, 0, 1, 0xffffffff);  // __BOOT_DS
  }
  expect_segment(r->tr, 0x20, 0xb, 0, 0, 0, 0, 0x67);
  EXPECT_EQ(r->gdt_base, kBootGdtAddr);
  EXPECT_EQ(r->gdt_limit, 39);
  expect_boot_gdt(*mem_);
}

TEST_F(LinuxBootTest, IdentityPageTables) {
  ASSERT_TRUE(load(BzImage{}.build()).ok());
  const uint64_t pml4 = kPageTablesAddr;
  EXPECT_EQ(read64(*mem_, pml4), 0xa003u);
  for (int i = 1; i < 512; i++)
    EXPECT_EQ(read64(*mem_, pml4 + 8 * i), 0u) << "PML4 " << i;
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(read64(*mem_, 0xa000 + 8 * i), (0xb000u + 0x1000u * i) | 3) << "PDPT " << i;
  }
  for (int i = 4; i < 512; i++)
    EXPECT_EQ(read64(*mem_, 0xa000 + 8 * i), 0u) << "PDPT " << i;
  // 2048 2-MiB pages mapping 0..4 GiB one to one.
  for (uint64_t i = 0; i < 2048; i++) {
    ASSERT_EQ(read64(*mem_, 0xb000 + 8 * i), (i << 21) | 0x83) << "PDE " << i;
  }
  // The tables end before the command line and do not overlap the zero page.
  EXPECT_LE(kZeroPageAddr + 4096, kPageTablesAddr);
  EXPECT_LE(kPageTablesAddr + 6 * 4096, kCmdlineAddr);
}

TEST_F(LinuxBootTest, InitrdBelowInitrdAddrMax) {
  use_ram(kGiB);
  BzImage bz;
  bz.initrd_addr_max = 0x0fffffff;
  std::vector<uint8_t> initrd = pattern(0x2345, 17, 1);
  cfg_.initrd = initrd;
  ASSERT_TRUE(load(bz.build()).ok());
  uint32_t ramdisk = read32(*mem_, kZeroPageAddr + 0x218);
  EXPECT_EQ(ramdisk, (0x10000000 - initrd.size()) & ~0xfffULL);
  EXPECT_EQ(read32(*mem_, kZeroPageAddr + 0x21c), initrd.size());
  EXPECT_EQ(read_mem(*mem_, ramdisk, initrd.size()), initrd);
}

TEST_F(LinuxBootTest, NonRelocatableKernelAtPrefAddress) {
  BzImage bz;
  bz.relocatable = 0;
  bz.pref_address = 0x1000000;
  auto r = load(bz.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->rip, 0x1000200u);
  EXPECT_EQ(read_mem(*mem_, 0x1000000, bz.payload_size), bz.payload());
}

TEST_F(LinuxBootTest, RsdpAddress) {
  cfg_.rsdp_addr = 0xf5a20;
  ASSERT_TRUE(load(BzImage{}.build()).ok());
  EXPECT_EQ(read64(*mem_, kZeroPageAddr + 0x70), 0xf5a20u);
  // Protocols before 2.14 have no acpi_rsdp_addr field.
  BzImage old;
  old.version = 0x020d;
  ASSERT_TRUE(load(old.build()).ok());
  EXPECT_EQ(read64(*mem_, kZeroPageAddr + 0x70), 0u);
}

TEST_F(LinuxBootTest, SetupSectsZeroMeansFour) {
  BzImage bz;
  bz.setup_sects = 0;
  auto r = load(bz.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(read_mem(*mem_, 0x100000, bz.payload_size), bz.payload());
}

TEST_F(LinuxBootTest, EveryTruncationFailsCleanly) {
  BzImage bz;
  const std::vector<uint8_t> full = bz.build();
  for (size_t len = 0; len < full.size(); len++) {
    auto r = load(std::vector<uint8_t>(full.begin(), full.begin() + len));
    ASSERT_FALSE(r.ok()) << "length " << len << " of " << full.size();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
  EXPECT_EQ(load_error({}), "not a Linux bzImage (no 'HdrS' setup header)");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.begin() + 0x26f)),
            "not a Linux bzImage (no 'HdrS' setup header)");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.begin() + 2560)),
            "bzImage truncated: setup code of 2560 bytes, file of 2560 bytes");
  EXPECT_EQ(load_error(std::vector<uint8_t>(full.begin(), full.end() - 1)),
            "bzImage truncated: 12287 bytes of kernel, the header says 12288");
  auto r = load(full);
  EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST_F(LinuxBootTest, NotABzImage) {
  auto k = BzImage{}.build();
  k[0x202] = 'h';
  EXPECT_EQ(load_error(k), "not a Linux bzImage (no 'HdrS' setup header)");
}

TEST_F(LinuxBootTest, OldProtocol) {
  BzImage bz;
  bz.version = 0x020b;
  EXPECT_EQ(load_error(bz.build()),
            "Linux boot protocol 2.11 is too old (2.12 or later is needed)");
  bz.version = 0x0204;
  EXPECT_EQ(load_error(bz.build()),
            "Linux boot protocol 2.04 is too old (2.12 or later is needed)");
  bz.version = 0x020c;
  EXPECT_TRUE(load(bz.build()).ok());
}

TEST_F(LinuxBootTest, No64BitEntry) {
  BzImage bz;
  bz.xloadflags = 0x02;
  EXPECT_EQ(load_error(bz.build()), "the kernel has no 64-bit entry point (XLF_KERNEL_64)");
}

TEST_F(LinuxBootTest, ZImage) {
  BzImage bz;
  bz.loadflags = 0;
  EXPECT_EQ(load_error(bz.build()), "zImage kernels are not supported");
}

TEST_F(LinuxBootTest, CommandLineLongerThanCmdlineSize) {
  BzImage bz;
  bz.cmdline_size = 15;
  cfg_.cmdline = std::string(15, 'a');
  ASSERT_TRUE(load(bz.build()).ok());
  EXPECT_EQ(read_cstring(*mem_, kCmdlineAddr), std::string(15, 'a'));
  cfg_.cmdline = std::string(16, 'a');
  EXPECT_EQ(load_error(bz.build()), "kernel command line too long (16 bytes, the limit is 15)");
  // colovm's own buffer caps a kernel that claims more.
  bz.cmdline_size = 0xffffffff;
  cfg_.cmdline = std::string(0x10000, 'b');
  EXPECT_EQ(load_error(bz.build()),
            "kernel command line too long (65536 bytes, the limit is 65535)");
}

TEST_F(LinuxBootTest, InitrdTooLargeForRam) {
  std::vector<uint8_t> initrd(63 * kMiB);
  cfg_.initrd = initrd;
  auto r = load(BzImage{}.build());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "initrd is too large (63 MiB) for the RAM below 64 MiB");
  EXPECT_EQ(r.error().hint(), "increase the memory size with -m");
  // Limited by initrd_addr_max rather than by RAM.
  BzImage bz;
  bz.initrd_addr_max = 0x3fffff;
  cfg_.initrd = std::span<const uint8_t>(initrd.data(), 3 * kMiB);
  EXPECT_EQ(load_error(bz.build()), "initrd is too large (3 MiB) for the RAM below 4 MiB");
}

TEST_F(LinuxBootTest, KernelLargerThanRam) {
  BzImage bz;
  bz.init_size = 64 * kMiB;
  auto r = load(bz.build());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "the kernel needs 64 MiB of RAM at 0x100000, more than there is");
  EXPECT_EQ(r.error().hint(), "increase the memory size with -m");
  bz.init_size = 63 * kMiB;
  EXPECT_TRUE(load(bz.build()).ok());
}

TEST_F(LinuxBootTest, BadPrefAddress) {
  BzImage bz;
  bz.relocatable = 0;
  bz.pref_address = 0x80000;
  EXPECT_EQ(load_error(bz.build()),
            "the kernel needs 128 KiB of RAM at 0x80000, more than there is");
  // An address so high that address + size wraps around.
  bz.pref_address = 0xfffffffffffe0000ULL;
  EXPECT_EQ(load_error(bz.build()),
            "the kernel needs 128 KiB of RAM at 0xfffffffffffe0000, more than there is");
  bz.pref_address = 64 * kMiB;
  EXPECT_EQ(load_error(bz.build()),
            "the kernel needs 128 KiB of RAM at 0x4000000, more than there is");
}

}  // namespace
}  // namespace colo
