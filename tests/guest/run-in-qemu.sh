#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs the test guest under qemu-system-x86_64 with KVM, for side-by-side runs with colovm.
# Usage: run-in-qemu.sh ELF 'CMDLINE' [QEMU ARGS...]
# Serial output goes to stdout. The exit status is the guest's N (QEMU exits with
# (N << 1) | 1; this undoes that). QEMU's own failure (status 1, the same as N = 0) is
# told apart by the "testguest: exit 0" line and reported as 125.
set -u -o pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 ELF 'CMDLINE' [QEMU ARGS...]" >&2
  exit 2
fi
elf=$1
cmdline=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
qemu-system-x86_64 -enable-kvm -m 128 -nographic -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$elf" -append "$cmdline" "$@" | tee "$log"
status=$?
if [ "$status" -eq 1 ] && ! tr -d '\r' <"$log" | grep -q '^testguest: exit 0$'; then
  exit 125
fi
if [ $((status & 1)) -eq 1 ]; then
  exit $((status >> 1))
fi
exit "$status"
