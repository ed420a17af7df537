// SPDX-License-Identifier: GPL-2.0-or-later
//
// <linux/kvm.h> for C++. Linux 6.1's UAPI headers declare flexible arrays with
// __DECLARE_FLEX_ARRAY, whose empty inner struct has size 1 in C++ (0 in C). That changes
// sizeof(struct kvm_cpuid2) and friends, and with it the ioctl numbers, which encode the size:
// KVM then rejects KVM_GET_SUPPORTED_CPUID with EINVAL. Declaring the arrays plainly restores
// the C layout; the static_asserts below keep it that way.
#pragma once

#include <linux/stddef.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[0]
#include <linux/kvm.h>
#pragma GCC diagnostic pop

static_assert(sizeof(struct kvm_cpuid2) == 8, "kvm_cpuid2 must have its C layout");
static_assert(sizeof(struct kvm_msr_list) == 4, "kvm_msr_list must have its C layout");
static_assert(sizeof(struct kvm_msrs) == 8, "kvm_msrs must have its C layout");
static_assert(sizeof(struct kvm_irq_routing) == 8, "kvm_irq_routing must have its C layout");
static_assert(sizeof(struct kvm_xsave) == 4096, "kvm_xsave must have its C layout");
static_assert(sizeof(struct kvm_signal_mask) == 4, "kvm_signal_mask must have its C layout");
