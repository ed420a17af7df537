// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/i386/cpu-model.h
//
// -cpu MODEL[,+feat][,-feat][,feat=on|off]: the CPUID table each vCPU gets.
//   host, max   everything this host's KVM supports (KVM_GET_SUPPORTED_CPUID)
//   qemu64      QEMU's conservative x86-64 model (what `qemu-system-x86_64` uses by default)
//   kvm64       QEMU's "Common KVM processor"
// Named models are intersected with what KVM supports. A requested feature the host lacks is
// dropped with a warning, as QEMU does. Turning a feature off also turns off the features that
// depend on it (xsave -> avx -> avx2, ...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "accel/kvm.h"
#include "util/error.h"

namespace colo {

class CpuModel {
 public:
  // Parses "-cpu" (e.g. "qemu64,-cx16,+xsave") against the host's supported CPUID.
  static Result<CpuModel> parse(std::string_view spec, const CpuidTable& supported);

  // The CPUID table of vCPU `index` out of `nr_vcpus` (APIC IDs and topology filled in).
  CpuidTable cpuid_for(int index, int nr_vcpus) const;
  const std::string& name() const { return name_; }
  // CPUID.1:EAX and EDX (for the MP table).
  uint32_t signature() const;
  uint32_t features_edx() const;
  // Names of the features that are on, for -cpu help and diagnostics.
  std::vector<std::string> enabled_features() const;
  bool has_feature(std::string_view name) const;

  // Every feature name colovm knows, in table order.
  static std::vector<std::string> feature_names();
  static std::vector<std::string> model_names();

 private:
  std::string name_;
  CpuidTable table_;
};

}  // namespace colo
