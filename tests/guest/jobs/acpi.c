// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ACPI jobs:
 *   acpi       finds the RSDP and prints every table it reaches (XSDT or RSDT entries, and
 *              the DSDT and FACS that the FADT points to)
 *   poweroff   soft-off: writes SLP_TYP 0 | SLP_EN to the FADT's PM1a control block, which
 *              is what QEMU's PIIX4 (i440fx) and colovm take as S5. The guest hard-codes
 *              SLP_TYP 0 instead of evaluating \_S5 in the DSDT (that needs an AML
 *              interpreter); both VMMs declare \_S5 = {0, 0, 0, 0}.
 *   powerbutton  enables the fixed power button event (PWRBTN_EN), lets the SCI through the
 *              8259 (and the local APIC's LINT0), waits for the SCI with sti; hlt, and once
 *              PWRBTN_STS is set acknowledges it and powers off like poweroff: what an OS does
 *              when the host presses the button (QMP system_powerdown)
 *
 * The RSDP comes from the PVH start info (rsdp_paddr) if it is set, else from a scan of the
 * BIOS area 0xe0000-0xfffff on 16-byte boundaries. Tables are read in place through the
 * identity map of 0-4 GiB; anything above 4 GiB is ignored.
 */
#include <stdbool.h>
#include <stdint.h>

#include "abi.h"
#include "drivers/lapic.h"
#include "drivers/pic.h"
#include "drivers/pio.h"
#include "drivers/tsc.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "lib/string.h"
#include "user/bootinfo.h"
#include "user/runtime.h"
#include "user/syscall.h"

#define LOW_LIMIT 0x100000000ull
#define BIOS_AREA_START 0xe0000u
#define BIOS_AREA_END 0x100000u
#define TABLE_MAX_LENGTH (16u << 20)

/* PM1_STS, PM1_EN */
#define PM1_PWRBTN (1u << 8)

/* PM1_CNT */
#define PM1_CNT_SLP_TYP_MASK (7u << 10)
#define PM1_CNT_SLP_EN (1u << 13)

struct acpi_rsdp {
  char signature[8];
  uint8_t checksum;
  char oem_id[6];
  uint8_t revision;
  uint32_t rsdt;
  uint32_t length; /* revision >= 2 */
  uint64_t xsdt;
  uint8_t extended_checksum;
  uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
  char signature[4];
  uint32_t length;
  uint8_t revision;
  uint8_t checksum;
  char oem_id[6];
  char oem_table_id[8];
  uint32_t oem_revision;
  uint32_t creator_id;
  uint32_t creator_revision;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "table header layout");

/* FADT offsets. */
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT 40
#define FADT_SCI_INT 46
#define FADT_PM1A_EVT_BLK 56
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM1_EVT_LEN 88
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT 140
/* Generic Address Structures: space id (1 = I/O), ..., address at +4. */
#define FADT_X_PM1A_EVT_BLK 148
#define FADT_X_PM1A_CNT_BLK 172

static uint8_t byte_sum(const void* p, uint64_t n) {
  const uint8_t* b = p;
  uint8_t s = 0;
  for (uint64_t i = 0; i < n; i++) {
    s = (uint8_t)(s + b[i]);
  }
  return s;
}

static uint32_t read32(const void* p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static uint64_t read64(const void* p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static const struct acpi_rsdp* rsdp_at(uint64_t addr) {
  if (addr == 0 || addr + sizeof(struct acpi_rsdp) > LOW_LIMIT) {
    return 0;
  }
  const struct acpi_rsdp* r = (const struct acpi_rsdp*)(uintptr_t)addr;
  if (memcmp(r->signature, "RSD PTR ", 8) != 0 || byte_sum(r, 20) != 0) {
    return 0;
  }
  if (r->revision >= 2 && (r->length < sizeof(*r) || byte_sum(r, sizeof(*r)) != 0)) {
    return 0;
  }
  return r;
}

static const struct acpi_rsdp* find_rsdp(void) {
  const struct hvm_start_info* si = boot_info.start_info;
  if (si && si->rsdp_paddr) {
    const struct acpi_rsdp* r = rsdp_at(si->rsdp_paddr);
    if (r) {
      return r;
    }
    log_warn("acpi: no valid RSDP at 0x%lx (start info), scanning", si->rsdp_paddr);
  }
  for (uint64_t a = BIOS_AREA_START; a < BIOS_AREA_END; a += 16) {
    const struct acpi_rsdp* r = rsdp_at(a);
    if (r) {
      return r;
    }
  }
  return 0;
}

/*
 * The table header at addr if it lies below 4 GiB with a sane length (NULL otherwise).
 * *checksum_ok tells whether its bytes add up to 0 (FACS has no checksum).
 */
static const struct acpi_header* table_at(uint64_t addr, bool* checksum_ok) {
  if (addr == 0 || addr + sizeof(struct acpi_header) > LOW_LIMIT) {
    return 0;
  }
  const struct acpi_header* h = (const struct acpi_header*)(uintptr_t)addr;
  uint32_t len = h->length;
  bool facs = memcmp(h->signature, "FACS", 4) == 0;
  if (len < (facs ? 64u : sizeof(*h)) || len > TABLE_MAX_LENGTH || addr + len > LOW_LIMIT) {
    return 0;
  }
  *checksum_ok = facs || byte_sum(h, len) == 0;
  return h;
}

typedef void (*table_visitor)(uint64_t addr, const struct acpi_header* h, bool checksum_ok,
                              void* ctx);

static void visit(uint64_t addr, table_visitor fn, void* ctx) {
  bool ok;
  const struct acpi_header* h = table_at(addr, &ok);
  if (!h) {
    log_warn("acpi: no table at 0x%lx", addr);
    return;
  }
  fn(addr, h, ok, ctx);
}

/*
 * Calls fn for the root table (XSDT if the RSDP has a usable one, else RSDT), each of its
 * entries, and the FACS and DSDT of the FADT. Returns false if there is no usable root table.
 */
static bool for_each_table(const struct acpi_rsdp* rsdp, table_visitor fn, void* ctx) {
  bool ok;
  uint64_t root = 0;
  unsigned entry_size = 4;
  if (rsdp->revision >= 2 && rsdp->xsdt && table_at(rsdp->xsdt, &ok) && ok) {
    root = rsdp->xsdt;
    entry_size = 8;
  } else if (table_at(rsdp->rsdt, &ok) && ok) {
    root = rsdp->rsdt;
  } else {
    return false;
  }
  const struct acpi_header* rt = table_at(root, &ok);
  fn(root, rt, ok, ctx);
  const uint8_t* entries = (const uint8_t*)rt + sizeof(*rt);
  uint32_t n = (rt->length - (uint32_t)sizeof(*rt)) / entry_size;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t* e = entries + (uint64_t)i * entry_size;
    uint64_t addr = entry_size == 8 ? read64(e) : read32(e);
    const struct acpi_header* h = table_at(addr, &ok);
    if (!h) {
      log_warn("acpi: no table at 0x%lx (entry %u of %.4s)", addr, i, rt->signature);
      continue;
    }
    fn(addr, h, ok, ctx);
    if (memcmp(h->signature, "FACP", 4) == 0) {
      const uint8_t* f = (const uint8_t*)h;
      uint64_t facs = read32(f + FADT_FIRMWARE_CTRL);
      uint64_t dsdt = read32(f + FADT_DSDT);
      if (h->length >= FADT_X_FIRMWARE_CTRL + 8 && read64(f + FADT_X_FIRMWARE_CTRL)) {
        facs = read64(f + FADT_X_FIRMWARE_CTRL);
      }
      if (h->length >= FADT_X_DSDT + 8 && read64(f + FADT_X_DSDT)) {
        dsdt = read64(f + FADT_X_DSDT);
      }
      if (facs) {
        visit(facs, fn, ctx);
      }
      if (dsdt) {
        visit(dsdt, fn, ctx);
      }
    }
  }
  return true;
}

static void print_table(uint64_t addr, const struct acpi_header* h, bool checksum_ok, void* ctx) {
  (void)ctx;
  log_line("acpi table %.4s at 0x%lx length %u", h->signature, addr, h->length);
  if (!checksum_ok) {
    log_warn("acpi table %.4s at 0x%lx: bad checksum", h->signature, addr);
  }
}

void job_acpi(struct job_arg_text arg) {
  (void)arg;
  const struct acpi_rsdp* rsdp = find_rsdp();
  if (!rsdp) {
    guest_fail(EXIT_NO_ACPI, "acpi: no ACPI tables");
  }
  log_line("acpi rsdp 0x%lx revision %u oem '%.6s'", (uint64_t)(uintptr_t)rsdp, rsdp->revision,
           rsdp->oem_id);
  if (!for_each_table(rsdp, print_table, 0)) {
    guest_fail(EXIT_NO_ACPI, "acpi: the RSDP points to no valid RSDT or XSDT");
  }
}

static void find_fadt(uint64_t addr, const struct acpi_header* h, bool checksum_ok, void* ctx) {
  (void)addr;
  if (checksum_ok && memcmp(h->signature, "FACP", 4) == 0 && h->length >= FADT_PM1_EVT_LEN + 1) {
    *(const struct acpi_header**)ctx = h;
  }
}

/* The FADT, or the job fails with EXIT_NO_ACPI. */
static const uint8_t* fadt_or_fail(const char* job) {
  const struct acpi_rsdp* rsdp = find_rsdp();
  const struct acpi_header* fadt = 0;
  if (!rsdp || !for_each_table(rsdp, find_fadt, &fadt) || !fadt) {
    guest_fail(EXIT_NO_ACPI, "%s: no ACPI tables", job);
  }
  return (const uint8_t*)fadt;
}

/* A PM1a block's I/O port: the 32-bit field, else the X_ GAS if it is in I/O space. */
static uint16_t pm1a_port_or_fail(const uint8_t* fadt, unsigned off32, unsigned off_gas,
                                  const char* job, const char* what) {
  uint64_t port = read32(fadt + off32);
  uint32_t length = read32(fadt + 4);
  if (port == 0 && length >= off_gas + 12 && fadt[off_gas] == 1 /* system I/O */) {
    port = read64(fadt + off_gas + 4);
  }
  if (port == 0 || port > 0xffff) {
    guest_fail(EXIT_NO_ACPI, "%s: the FADT has no %s in I/O space", job, what);
  }
  return (uint16_t)port;
}

/* Soft-off through PM1a_CNT; returns only if the machine is still running 2 s later. */
static void soft_off(uint16_t port) {
  log_line("poweroff via port 0x%x", port);
  /* Like ACPICA: keep the other bits (SCI_EN), set SLP_TYP, then SLP_EN. */
  uint16_t cnt = (uint16_t)(inw(port) & ~(PM1_CNT_SLP_TYP_MASK | PM1_CNT_SLP_EN));
  outw(port, cnt);
  outw(port, (uint16_t)(cnt | PM1_CNT_SLP_EN));
  /* A VMM may take a moment to stop the vCPUs (QEMU does it from its main loop). */
  if (!delay_us(2000000)) {
    for (volatile uint64_t i = 0; i < 2000000000ull; i++) {
    }
  }
}

void job_poweroff(struct job_arg_text arg) {
  (void)arg;
  const uint8_t* fadt = fadt_or_fail("poweroff");
  soft_off(pm1a_port_or_fail(fadt, FADT_PM1A_CNT_BLK, FADT_X_PM1A_CNT_BLK, "poweroff",
                             "PM1a control block"));
  guest_fail(EXIT_PANIC, "poweroff: the machine did not power off");
}

void job_powerbutton(struct job_arg_text arg) {
  (void)arg;
  const uint8_t* fadt = fadt_or_fail("powerbutton");
  uint16_t evt = pm1a_port_or_fail(fadt, FADT_PM1A_EVT_BLK, FADT_X_PM1A_EVT_BLK, "powerbutton",
                                   "PM1a event block");
  uint16_t cnt = pm1a_port_or_fail(fadt, FADT_PM1A_CNT_BLK, FADT_X_PM1A_CNT_BLK, "powerbutton",
                                   "PM1a control block");
  uint16_t sts_port = evt;
  uint16_t en_port = (uint16_t)(evt + fadt[FADT_PM1_EVT_LEN] / 2);
  uint16_t sci = (uint16_t)(fadt[FADT_SCI_INT] | fadt[FADT_SCI_INT + 1] << 8);
  if (sci >= 16) {
    guest_fail(EXIT_NO_ACPI, "powerbutton: SCI %u is not an ISA IRQ", sci);
  }
  outw(sts_port, PM1_PWRBTN); /* a press from before counts as none */
  outw(en_port, (uint16_t)(inw(en_port) | PM1_PWRBTN));
  lapic_virtual_wire();
  pic_unmask(sci);
  log_line("powerbutton waiting, sci %u", sci);
  /* Only the SCI is unmasked: check the status after each interrupt, not by polling. */
  do {
    sys_wait();
  } while (!(inw(sts_port) & PM1_PWRBTN));
  outw(sts_port, PM1_PWRBTN);
  pic_mask(sci);
  log_line("powerbutton pressed");
  soft_off(cnt);
  guest_fail(EXIT_PANIC, "powerbutton: the machine did not power off");
}
