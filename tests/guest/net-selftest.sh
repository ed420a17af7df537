#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs the test guest's network, disk and service checks against qemu-system-x86_64 with
# KVM, in a network namespace of its own (a tap device with 10.0.0.1/24 on the host side,
# the guest at 10.0.0.2/24). Everything it creates is removed on exit, even on failure.
#
# Usage (as root): tests/guest/net-selftest.sh [-g SECONDS] [--fast] [ELF]
#   ELF        the guest (default: build/tests/guest/testguest.elf)
#   -g N       seconds of garbage traffic (default 10)
#   --fast     boot every VM with qboot instead of SeaBIOS (BARs then come from the guest)
# Needs: qemu-system-x86_64 (7.2), python3 (standard library only), iproute2, ping,
# /dev/kvm, /dev/net/tun. Exit status 0 if every check passed.
#
# Boots:
#   1. SeaBIOS: ip=10.0.0.2/24 seed=1 echo kv dirtier=64,10 on an empty 1 MiB disk:
#      ping, TCP echo (1 MiB, 8 x 4 MiB), UDP echo, round-trip latency, KV SET/GET and
#      protocol, 10 s of garbage while 8 echo streams run, ping again.
#   2. The same disk after a torn SET was written into it (offline): qboot (the guest
#      assigns the BARs itself), idle=hlt echo=tsc kv dirtier=16,50: every key is back,
#      the torn record ignored, TSC echo format, the guest halts when idle.
#   3. Failures: no virtio-blk for kv (exit 110), no virtio-net (exit 110), bad ip= (103).
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
garbage_seconds=10
bios=()
elf=""
while [ $# -gt 0 ]; do
  case $1 in
    -g) garbage_seconds=$2; shift 2 ;;
    --fast) bios=(-bios /usr/share/qemu/qboot.rom); shift ;;
    -h|--help) sed -n '3,22p' "$0"; exit 0 ;;
    *) elf=$1; shift ;;
  esac
done
elf=${elf:-$repo/build/tests/guest/testguest.elf}

ns=tgnet-$$
tap=tgtap0
host_ip=10.0.0.1
guest_ip=10.0.0.2
guest_mac=52:54:00:12:34:56
qboot=(-bios /usr/share/qemu/qboot.rom)
work=$(mktemp -d /tmp/net-selftest.XXXXXX)
qemu_pid=""
failed=0

cleanup() {
  if [ -n "$qemu_pid" ]; then
    kill "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
  fi
  # anything else this script started in its namespace
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    kill "$pid" 2>/dev/null
  done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "net-selftest: $*"; }
check() { # check OK TEXT
  if [ "$1" = 0 ]; then
    echo "ok   $2"
  else
    echo "FAIL $2"
    failed=$((failed + 1))
  fi
}

for tool in qemu-system-x86_64 python3 ip ping; do
  command -v "$tool" >/dev/null || { say "missing $tool"; exit 2; }
done
[ "$(id -u)" = 0 ] || { say "needs root (network namespaces, tap)"; exit 2; }
[ -r "$elf" ] || { say "no guest at $elf (ninja -C build tests/guest/testguest.elf)"; exit 2; }
[ -c /dev/kvm ] && [ -c /dev/net/tun ] || { say "needs /dev/kvm and /dev/net/tun"; exit 2; }

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" addr add "$host_ip/24" dev "$tap"
ip -n "$ns" link set "$tap" up
disk=$work/disk.img
truncate -s 1M "$disk"

in_ns() { ip netns exec "$ns" "$@"; }
py() { in_ns env GUEST_IP=$guest_ip HOST_IP=$host_ip GUEST_MAC=$guest_mac \
  python3 "$here/net-selftest.py" "$@" || failed=$((failed + 1)); }

qemu() { # qemu LOG 'CMDLINE' [QEMU ARGS...]: starts QEMU in the namespace (qemu_pid)
  local log=$1 cmdline=$2
  shift 2
  # ip netns exec execs QEMU: $! is QEMU's PID
  ip netns exec "$ns" qemu-system-x86_64 -enable-kvm -m 256 -nographic -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$elf" -append "$cmdline" "$@" >"$log" 2>&1 </dev/null &
  qemu_pid=$!
}

nic=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off"
     -device "virtio-net-pci,netdev=n0,mac=$guest_mac,romfile=")
blk=(-drive "file=$disk,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0)

boot() { # boot NAME 'CMDLINE' [QEMU ARGS...]: waits for "serving"
  local name=$1 log=$work/$1.log
  shift
  local t0=$SECONDS
  qemu "$log" "$@"
  for _ in $(seq 1 240); do
    grep -q '^testguest: serving' "$log" && break
    kill -0 "$qemu_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! grep -q '^testguest: serving' "$log"; then
    check 1 "$name: the guest did not start serving"
    tr -d '\r' <"$log" | tail -20
    return 1
  fi
  check 0 "$name: serving after $((SECONDS - t0)) s"
  tr -d '\r' <"$log" | grep '^testguest: ' | grep -v '^testguest: boot ok' | sed 's/^/     /'
}

shutdown() { # shutdown NAME: the guest must still be running, then QEMU is stopped
  local name=$1
  if kill -0 "$qemu_pid" 2>/dev/null; then
    check 0 "$name: the guest kept running"
  else
    check 1 "$name: the guest ended early"
    tr -d '\r' <"$work/$name.log" | tail -20
  fi
  kill "$qemu_pid" 2>/dev/null
  wait "$qemu_pid" 2>/dev/null
  qemu_pid=""
}

expect_line() { # expect_line NAME REGEX
  tr -d '\r' <"$work/$1.log" | grep -qE "$2"
  check $? "$1: output has /$2/"
}

ping_check() { # ping_check LABEL
  local out
  out=$(in_ns ping -c 50 -i 0.02 -W 1 "$guest_ip" 2>&1)
  echo "$out" | grep -q ' 0% packet loss'
  check $? "$1: ping 50 x: $(echo "$out" | grep -E 'packet loss|rtt' | tr '\n' ' ')"
}

expect_exit() { # expect_exit NAME STATUS 'CMDLINE' [QEMU ARGS...]
  local name=$1 want=$2 log=$work/$1.log
  shift 2
  qemu "$log" "$@"
  local s=0
  timeout 60 tail --pid="$qemu_pid" -f /dev/null
  wait "$qemu_pid" || s=$?
  qemu_pid=""
  local line
  line=$(tr -d '\r' <"$log" | grep -E '^testguest: (error|exit)' | tr '\n' ' ')
  [ "$s" = $(((want << 1 | 1) & 255)) ]
  check $? "$name: exit $want ($line)"
}

say "guest $elf, namespace $ns, work directory $work"

# 1. Everything on an empty disk (firmware: SeaBIOS unless --fast).
if boot boot1 "ip=$guest_ip/24 seed=1 echo kv dirtier=64,10" "${bios[@]}" "${nic[@]}" "${blk[@]}"; then
  expect_line boot1 "^testguest: virtio-net at 00:0[0-9a-f]\.[0-7]$"
  expect_line boot1 "^testguest: net up $guest_ip/24 mac $guest_mac$"
  expect_line boot1 "^testguest: virtio-blk at 00:0[0-9a-f]\.[0-7] capacity 2048 sectors$"
  expect_line boot1 "^testguest: kv loaded 0 keys$"
  expect_line boot1 "^testguest: serving echo kv dirtier$"
  ping_check boot1
  py echo-tcp 1048576 1
  py echo-tcp 10485760 1
  py echo-tcp 4194304 8
  py echo-udp 300
  py latency 1000
  py kv-set 200
  py kv-check 200
  py kv-proto
  py garbage "$tap" "$garbage_seconds"
  ping_check "boot1 after garbage"
  py netstat
  shutdown boot1
fi

# 2. A torn SET on the disk, then a restart from it (qboot: the guest assigns the BARs).
py kv-tear "$disk" key5
if boot boot2 "idle=hlt ip=$guest_ip/24 echo=tsc kv dirtier=16,50" "${qboot[@]}" "${nic[@]}" "${blk[@]}"; then
  expect_line boot2 "^testguest: kv loaded 202 keys$"
  expect_line boot2 "^testguest: warning: kv: ignored 1 damaged records$"
  py kv-check 200
  py tsc-check
  ping_check boot2
  py idle-check "$qemu_pid"
  shutdown boot2
fi

# 3. Failures end the VM with a documented status.
expect_exit no-disk 110 "ip=$guest_ip/24 kv" "${qboot[@]}" "${nic[@]}"
expect_exit no-nic 110 "ip=$guest_ip/24 echo" "${qboot[@]}"
expect_exit bad-ip 103 "ip=10.0.0/24 echo" "${qboot[@]}" "${nic[@]}"
expect_exit no-ip 103 "echo" "${qboot[@]}" "${nic[@]}"

if [ "$failed" = 0 ]; then
  say "all checks passed"
  exit 0
fi
say "$failed check(s) failed"
exit 1
