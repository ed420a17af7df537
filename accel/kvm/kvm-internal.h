// SPDX-License-Identifier: GPL-2.0-or-later
//
// Private to accel/kvm: helpers shared by the VM and vCPU files.
#pragma once

#include "accel/kvm.h"

namespace colo {

// Sets a new vCPU's power-on defaults that KVM leaves to user space (LAPIC LINT0/LINT1 of the
// BSP, MTRR default type, fast strings).
Status kvm_vcpu_init_defaults(KvmVcpu& vcpu, int fd, int index);

// The signal that kicks a vCPU thread out of KVM_RUN.
void kvm_install_kick_signal();
int kvm_kick_signal();

}  // namespace colo
