// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/pci.h"

#include "drivers/pio.h"
#include "lib/string.h"
#include "user/bootinfo.h"
#include "user/pages.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

/* The 32-bit MMIO window: from the start of the guest's uncached mapping to the IOAPIC. */
#define MMIO32_START UINT64_C(0xc0000000)
#define MMIO32_END UINT64_C(0xfec00000)
#define SIZE_4G UINT64_C(0x100000000)
#define SIZE_2M UINT64_C(0x200000)

/* Page table bits (kernel/kernel.h has the same; ring 3 owns its own copies). */
#define PTE_P 0x001ull
#define PTE_RW 0x002ull
#define PTE_US 0x004ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_PS 0x080ull
#define PTE_ADDR 0x000ffffffffff000ull
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PDE_MMIO (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PCD | PTE_PWT)

extern uint64_t pml4[512]; /* kernel/tables.S: every entry is user-writable */

static struct pci_device devices[PCI_MAX_DEVICES];
static unsigned ndevices;
static bool scanned;
bool pci_reassign;

static uint32_t address(uint8_t dev, uint8_t fn, uint8_t off) {
  return 0x80000000u | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xfcu);
}

static uint32_t cfg_read32(uint8_t dev, uint8_t fn, uint8_t off) {
  outl(PCI_CONFIG_ADDRESS, address(dev, fn, off));
  return inl(PCI_CONFIG_DATA);
}

static void cfg_write32(uint8_t dev, uint8_t fn, uint8_t off, uint32_t v) {
  outl(PCI_CONFIG_ADDRESS, address(dev, fn, off));
  outl(PCI_CONFIG_DATA, v);
}

uint32_t pci_read32(const struct pci_device* d, uint8_t off) {
  return cfg_read32(d->dev, d->fn, off);
}

uint16_t pci_read16(const struct pci_device* d, uint8_t off) {
  outl(PCI_CONFIG_ADDRESS, address(d->dev, d->fn, off));
  return inw((uint16_t)(PCI_CONFIG_DATA + (off & 2)));
}

uint8_t pci_read8(const struct pci_device* d, uint8_t off) {
  outl(PCI_CONFIG_ADDRESS, address(d->dev, d->fn, off));
  return inb((uint16_t)(PCI_CONFIG_DATA + (off & 3)));
}

void pci_write32(const struct pci_device* d, uint8_t off, uint32_t v) {
  cfg_write32(d->dev, d->fn, off, v);
}

void pci_write16(const struct pci_device* d, uint8_t off, uint16_t v) {
  outl(PCI_CONFIG_ADDRESS, address(d->dev, d->fn, off));
  outw((uint16_t)(PCI_CONFIG_DATA + (off & 2)), v);
}

/* Reads and sizes every BAR with decoding off (nothing else runs meanwhile). */
static void decode_bars(struct pci_device* d) {
  uint16_t cmd = pci_read16(d, PCI_COMMAND);
  pci_write16(d, PCI_COMMAND, cmd & (uint16_t) ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  for (int i = 0; i < PCI_NUM_BARS; i++) {
    uint8_t off = (uint8_t)(PCI_BAR0 + 4 * i);
    uint32_t lo = pci_read32(d, off);
    pci_write32(d, off, 0xffffffffu);
    uint32_t mask_lo = pci_read32(d, off);
    pci_write32(d, off, lo);
    struct pci_bar* b = &d->bar[i];
    if (lo & 1) {
      uint32_t m = mask_lo & 0xfffcu;
      if (m) {
        b->kind = PCI_BAR_IO;
        b->addr = lo & 0xfffcu;
        b->size = (~m & 0xffffu) + 1;
      }
      continue;
    }
    bool is64 = ((lo >> 1) & 3) == 2 && i + 1 < PCI_NUM_BARS;
    uint64_t addr = lo & ~0xfu;
    uint64_t mask = mask_lo & ~0xfu;
    if (is64) {
      uint8_t off_hi = (uint8_t)(off + 4);
      uint32_t hi = pci_read32(d, off_hi);
      pci_write32(d, off_hi, 0xffffffffu);
      uint32_t mask_hi = pci_read32(d, off_hi);
      pci_write32(d, off_hi, hi);
      addr |= (uint64_t)hi << 32;
      mask |= (uint64_t)mask_hi << 32;
    } else {
      mask |= UINT64_C(0xffffffff00000000);
    }
    if (mask_lo & ~0xfu) {
      b->kind = is64 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
      b->addr = addr;
      b->size = ~mask + 1;
    }
    if (is64) {
      i++; /* the upper half stays PCI_BAR_NONE */
    }
  }
  pci_write16(d, PCI_COMMAND, cmd);
}

static void add_function(uint8_t dev, uint8_t fn, uint32_t id) {
  if (ndevices == PCI_MAX_DEVICES) {
    return;
  }
  struct pci_device* d = &devices[ndevices++];
  memset(d, 0, sizeof(*d));
  d->dev = dev;
  d->fn = fn;
  d->vendor = (uint16_t)id;
  d->device = (uint16_t)(id >> 16);
  d->class_rev = cfg_read32(dev, fn, PCI_CLASS_REVISION);
  uint8_t header = (uint8_t)(cfg_read32(dev, fn, PCI_HEADER_TYPE & 0xfc) >> 16) & 0x7f;
  if (header == 0) { /* only type-0 headers have six BARs and a subsystem ID */
    d->subsystem = (uint16_t)(cfg_read32(dev, fn, PCI_SUBSYSTEM_ID & 0xfc) >> 16);
    decode_bars(d);
  }
}

unsigned pci_scan(struct pci_device** table) {
  if (!scanned) {
    scanned = true;
    for (uint8_t dev = 0; dev < 32; dev++) {
      uint32_t id = cfg_read32(dev, 0, PCI_VENDOR_ID);
      if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
        continue;
      }
      add_function(dev, 0, id);
      bool multi = (cfg_read32(dev, 0, PCI_HEADER_TYPE & 0xfc) >> 16) & 0x80;
      for (uint8_t fn = 1; multi && fn < 8; fn++) {
        id = cfg_read32(dev, fn, PCI_VENDOR_ID);
        if ((id & 0xffff) != 0xffff && (id & 0xffff) != 0) {
          add_function(dev, fn, id);
        }
      }
    }
  }
  *table = devices;
  return ndevices;
}

uint8_t pci_find_cap(const struct pci_device* d, uint8_t id, uint8_t prev) {
  if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
    return 0;
  }
  uint8_t off = prev ? pci_read8(d, (uint8_t)(prev + 1)) : pci_read8(d, PCI_CAPABILITY_LIST);
  for (int guard = 0; guard < 48 && off >= 0x40; guard++) {
    off &= 0xfc;
    if (pci_read8(d, off) == id) {
      return off;
    }
    off = pci_read8(d, (uint8_t)(off + 1));
  }
  return 0;
}

#define MSIX_CONTROL_ENABLE 0x8000
#define MSIX_CONTROL_MASKALL 0x4000
#define MSIX_TABLE_SIZE_MASK 0x07ff
#define MSI_ADDRESS_CPU0 0xfee00000u

const char* pci_msix_route(const struct pci_device* d, unsigned entry, uint8_t vector) {
  uint8_t cap = pci_find_cap(d, PCI_CAP_ID_MSIX, 0);
  if (!cap) {
    return "no MSI-X capability";
  }
  uint16_t control = pci_read16(d, (uint8_t)(cap + 2));
  uint32_t table = pci_read32(d, (uint8_t)(cap + 4));
  const struct pci_bar* bar = &d->bar[table & 7];
  uint64_t offset = table & ~7u;
  if (entry > (control & MSIX_TABLE_SIZE_MASK) ||
      (bar->kind != PCI_BAR_MEM32 && bar->kind != PCI_BAR_MEM64) || !bar->addr ||
      offset + 16 * (entry + 1) > bar->size) {
    return "unusable MSI-X table";
  }
  uint64_t e = bar->addr + offset + 16 * entry;
  *(volatile uint32_t*)(uintptr_t)e = MSI_ADDRESS_CPU0;
  *(volatile uint32_t*)(uintptr_t)(e + 4) = 0;
  *(volatile uint32_t*)(uintptr_t)(e + 8) = vector;
  *(volatile uint32_t*)(uintptr_t)(e + 12) = 0; /* unmasked */
  pci_write16(d, (uint8_t)(cap + 2),
              (uint16_t)((control | MSIX_CONTROL_ENABLE) & ~MSIX_CONTROL_MASKALL));
  return NULL;
}

static bool overlaps(uint64_t a, uint64_t size, uint64_t b, uint64_t bsize) {
  return a < b + bsize && b < a + size;
}

/* The end of whatever occupies part of [a, a + size), or 0 if nothing does. */
static uint64_t busy_until(uint64_t a, uint64_t size, const struct pci_bar* self) {
  for (uint32_t i = 0; i < boot_info.memmap_entries; i++) {
    const struct hvm_memmap_entry* m = &boot_info.memmap[i];
    if (m->size && overlaps(a, size, m->addr, m->size)) {
      return m->addr + m->size;
    }
  }
  for (unsigned i = 0; i < ndevices; i++) {
    for (int j = 0; j < PCI_NUM_BARS; j++) {
      const struct pci_bar* b = &devices[i].bar[j];
      if (b == self || (b->kind != PCI_BAR_MEM32 && b->kind != PCI_BAR_MEM64) || !b->addr) {
        continue;
      }
      if (overlaps(a, size, b->addr, b->size)) {
        return b->addr + b->size;
      }
    }
  }
  return 0;
}

static uint64_t find_free(uint64_t size, const struct pci_bar* self) {
  uint64_t a = (MMIO32_START + size - 1) & ~(size - 1);
  while (a + size <= MMIO32_END) {
    uint64_t end = busy_until(a, size, self);
    if (!end) {
      return a;
    }
    a = (end + size - 1) & ~(size - 1);
  }
  return 0;
}

static uint64_t* table_at(uint64_t* entry) {
  if (!(*entry & PTE_P)) {
    uint64_t page = pages_alloc(1);
    if (!page) {
      return NULL;
    }
    memset((void*)(uintptr_t)page, 0, PAGE_SIZE);
    /* Not present -> present needs no TLB flush (no TLB caches a not-present entry). */
    *entry = page | PTE_TABLE;
  }
  return (uint64_t*)(uintptr_t)(*entry & PTE_ADDR);
}

/* Identity-maps [addr, addr + size) uncached where nothing is mapped yet. */
static bool map_mmio(uint64_t addr, uint64_t size) {
  for (uint64_t a = addr & ~(SIZE_2M - 1); a < addr + size; a += SIZE_2M) {
    if (a >> 48) {
      return false;
    }
    uint64_t* pdpt = table_at(&pml4[(a >> 39) & 511]);
    if (!pdpt) {
      return false;
    }
    uint64_t* pdpte = &pdpt[(a >> 30) & 511];
    if ((*pdpte & PTE_P) && (*pdpte & PTE_PS)) {
      continue; /* a 1 GiB page is already there */
    }
    uint64_t* pd = table_at(pdpte);
    if (!pd) {
      return false;
    }
    uint64_t* pde = &pd[(a >> 21) & 511];
    if (!(*pde & PTE_P)) {
      *pde = a | PDE_MMIO;
    }
  }
  return true;
}

static void write_bar(const struct pci_device* d, int i, uint64_t addr) {
  uint8_t off = (uint8_t)(PCI_BAR0 + 4 * i);
  uint32_t flags = pci_read32(d, off) & 0xfu;
  pci_write32(d, off, (uint32_t)addr | flags);
  if (d->bar[i].kind == PCI_BAR_MEM64) {
    pci_write32(d, (uint8_t)(off + 4), (uint32_t)(addr >> 32));
  }
}

const char* pci_enable(struct pci_device* d) {
  uint16_t cmd = pci_read16(d, PCI_COMMAND);
  pci_write16(d, PCI_COMMAND, cmd & (uint16_t)~PCI_COMMAND_MEMORY);
  for (int i = 0; i < PCI_NUM_BARS; i++) {
    struct pci_bar* b = &d->bar[i];
    if (b->kind != PCI_BAR_MEM32 && b->kind != PCI_BAR_MEM64) {
      continue;
    }
    if (b->addr == 0 || pci_reassign) {
      uint64_t size = b->size < PAGE_SIZE ? PAGE_SIZE : b->size;
      uint64_t a = find_free(size, b);
      if (!a) {
        return "no room for a BAR in the 32-bit MMIO window";
      }
      b->addr = a;
      write_bar(d, i, a);
    }
    if (b->addr + b->size > SIZE_4G && !map_mmio(b->addr, b->size)) {
      return "cannot map a BAR above 4 GiB";
    }
  }
  cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
  pci_write16(d, PCI_COMMAND, cmd);
  return NULL;
}
