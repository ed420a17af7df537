#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make demo: boot the test guest on colovm and show what it does.
set -euo pipefail
build=${1:-build}
colovm="$build/colovm"
guest="$build/tests/guest/testguest.elf"

if [[ ! -e /dev/kvm ]]; then
  echo "demo: /dev/kvm is missing: colovm needs KVM (a host with virtualization enabled)" >&2
  exit 1
fi

cmdline="print=hello-from-the-test-guest dirty=4096 exit=0"
echo "== colovm demo: boot the test guest (a PVH kernel) on KVM"
echo "\$ $colovm -m 256 -kernel $guest -append \"$cmdline\" -nographic"
start=$(date +%s%N)
set +e
"$colovm" -m 256 -kernel "$guest" -append "$cmdline" -nographic </dev/null
status=$?
set -e
end=$(date +%s%N)
echo "== the guest ended the VM through the debug-exit port with status $status after $(( (end - start) / 1000000 )) ms"
if [[ $status -ne 0 ]]; then
  echo "demo: FAILED (expected status 0)" >&2
  exit 1
fi
echo "== demo passed"
