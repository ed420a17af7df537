// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/acpi/aml.h
//
// A small builder for ACPI Machine Language (ACPI 6.4, chapter 20): just the terms colovm's
// DSDT needs. Each function returns the encoded bytes of one term; containers (Scope, Device,
// Package, Buffer) take their already-encoded contents and prepend the opcode and PkgLength.
//
//   AmlBytes s5 = aml_name_decl("_S5", aml_package({aml_int(0), aml_int(0), aml_int(0),
//                                                    aml_int(0)}));
//
// Names are the programmer's constants, not guest input: a malformed one (a segment longer than
// 4 characters, a character outside [A-Z0-9_]) is a bug and aborts.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "util/bytes.h"

namespace colo {

using AmlBytes = std::vector<uint8_t>;

// The PkgLength encoding for a term whose contents after the PkgLength are `payload` bytes
// long. The encoded length counts its own bytes, as the spec wants.
AmlBytes aml_pkg_length(size_t payload);

// A NameString: "_S5", "PCI0", "\\_SB.PCI0", "^PCI0". Segments shorter than 4 characters are
// padded with '_'.
AmlBytes aml_name_string(std::string_view path);

// An integer constant in its shortest form (ZeroOp, OneOp, Byte/Word/DWord/QWordConst).
AmlBytes aml_int(uint64_t value);

// A String constant (ASCII, NUL-terminated in AML).
AmlBytes aml_string(std::string_view s);

// A compressed EISA id ("PNP0A03") as a DWordConst, as ASL's EisaId() encodes it.
AmlBytes aml_eisaid(std::string_view id);

// Name(name, value)
AmlBytes aml_name_decl(std::string_view name, const AmlBytes& value);

// Package() { elements } (at most 255 elements).
AmlBytes aml_package(const std::vector<AmlBytes>& elements);

// Buffer() { bytes }
AmlBytes aml_buffer(std::span<const uint8_t> bytes);

// Scope(name) { terms } and Device(name) { terms }
AmlBytes aml_scope(std::string_view name, const std::vector<AmlBytes>& terms);
AmlBytes aml_device(std::string_view name, const std::vector<AmlBytes>& terms);

// A ResourceTemplate (ACPI 6.4, 6.4 "Resource Data Types"): descriptors in order, then
// buffer() closes it with an End Tag and wraps it in a Buffer.
class AmlResources {
 public:
  // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, len)
  AmlResources& word_bus_number(uint16_t min, uint16_t max);
  // IO(Decode16, min, max, align, length)
  AmlResources& io(uint16_t min, uint16_t max, uint8_t align, uint8_t length);
  // WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len)
  AmlResources& word_io(uint16_t min, uint16_t max);
  // DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable|Cacheable,
  //             ReadWrite, 0, min, max, 0, len)
  AmlResources& dword_memory(uint32_t min, uint32_t max, bool cacheable);
  // QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable|Cacheable,
  //             ReadWrite, 0, min, max, 0, len)
  AmlResources& qword_memory(uint64_t min, uint64_t max, bool cacheable);

  // The descriptors and the End Tag (checksum 0: "treat as correct") as a Buffer term.
  AmlBytes buffer() const;
  // Only the descriptor bytes with the End Tag (what the Buffer holds).
  AmlBytes bytes() const;

 private:
  ByteWriter w_;
};

}  // namespace colo
