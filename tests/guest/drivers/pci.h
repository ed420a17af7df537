// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCI on bus 0 through configuration mechanism #1 (ports 0xcf8/0xcfc, two port exits per
 * access): enumeration of every function, BAR decoding and, where firmware left a memory
 * BAR unassigned, assignment in the 32-bit MMIO window; BARs outside the identity map
 * (above 4 GiB) get an uncached mapping.
 */
#ifndef TESTGUEST_DRIVERS_PCI_H
#define TESTGUEST_DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 64
#define PCI_NUM_BARS 6

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_CAP_ID_VENDOR 0x09
#define PCI_CAP_ID_MSIX 0x11

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
  enum pci_bar_kind kind; /* the upper half of a 64-bit BAR is PCI_BAR_NONE */
  uint64_t addr;
  uint64_t size;
};

struct pci_device {
  uint8_t dev, fn; /* bus 0 */
  uint16_t vendor, device, subsystem;
  uint32_t class_rev; /* class << 8 | revision */
  struct pci_bar bar[PCI_NUM_BARS];
};

/* Scans bus 0 once (later calls return the same table); returns the number of functions. */
unsigned pci_scan(struct pci_device** table);

uint32_t pci_read32(const struct pci_device* d, uint8_t off);
uint16_t pci_read16(const struct pci_device* d, uint8_t off);
uint8_t pci_read8(const struct pci_device* d, uint8_t off);
void pci_write32(const struct pci_device* d, uint8_t off, uint32_t v);
void pci_write16(const struct pci_device* d, uint8_t off, uint16_t v);

/*
 * Makes the device's memory BARs usable from ring 3: assigns unassigned ones (all of them
 * if pci_reassign is set, to test the assignment), maps those outside the identity map,
 * then enables memory decoding and bus mastering and disables INTx. Returns NULL, or why
 * the device cannot be used.
 */
const char* pci_enable(struct pci_device* d);

/* Set by the pci=reassign job. */
extern bool pci_reassign;

/*
 * Enables MSI-X and points table entry `entry` at the local APIC of CPU 0 with `vector`
 * (fixed delivery, edge). Call after pci_enable(). Returns NULL or why it cannot.
 */
const char* pci_msix_route(const struct pci_device* d, unsigned entry, uint8_t vector);

/* Offset of the first capability with this ID at or after the one following prev (0 = start). */
uint8_t pci_find_cap(const struct pci_device* d, uint8_t id, uint8_t prev);

#endif
