#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmarks: colovm next to qemu-system-x86_64 running the same test guest with the same
# devices. `make bench` runs this after building. Results (tables, plots, raw JSON, VMM logs)
# go to BUILD/bench/.
#
#   scripts/bench.sh [BUILD] [BENCH...]      BUILD defaults to build; BENCH: net (default: all)
#
# net  round-trip latency (UDP and TCP, 64 bytes, 1000 round trips per round) and TCP echo
#      throughput (8 MiB) between the host and the guest's echo service, over a tap device in
#      a network namespace of its own (removed on exit). Needs root, /dev/kvm, /dev/net/tun,
#      iproute2, python3 and qemu-system-x86_64 (scripts/install-deps.sh installs them).
#      Knobs: NET_BENCH_ROUNDS (3), NET_BENCH_COUNT (1000), NET_BENCH_SIZE (8388608).
#
# A benchmark whose requirements are missing is reported as SKIPPED; the exit status is
# non-zero if one that ran failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(net)
case $build in /*) ;; *) build=$repo/$build ;; esac
out=$build/bench
mkdir -p "$out"

say() { echo "bench: $*" >&2; }

ns=""
cleanup() {
  if [ -n "$ns" ]; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    ns=""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_net() {
  local missing=""
  [ "$(id -u)" = 0 ] || missing+=" root"
  [ -c /dev/kvm ] || missing+=" /dev/kvm"
  [ -c /dev/net/tun ] || missing+=" /dev/net/tun"
  for tool in ip python3 qemu-system-x86_64; do
    command -v "$tool" >/dev/null || missing+=" $tool"
  done
  for f in "$build/colovm" "$build/tests/guest/testguest.elf"; do
    [ -e "$f" ] || missing+=" $f"
  done
  if [ -n "$missing" ]; then
    say "net: SKIPPED: needs$missing"
    return 2
  fi
  local tap=cvbench0
  ns=colovm-bench-$$
  ip netns add "$ns" &&
    ip -n "$ns" link set lo up &&
    ip -n "$ns" tuntap add dev "$tap" mode tap &&
    ip -n "$ns" addr add 10.0.0.1/24 dev "$tap" &&
    ip -n "$ns" link set "$tap" up || { say "net: could not set up the namespace"; return 1; }
  ip netns exec "$ns" python3 "$repo/tests/bench/net_bench.py" \
    --colovm "$build/colovm" --guest "$build/tests/guest/testguest.elf" --tap "$tap" \
    --out "$out" --rounds "${NET_BENCH_ROUNDS:-3}" --count "${NET_BENCH_COUNT:-1000}" \
    --size "${NET_BENCH_SIZE:-8388608}"
  local st=$?
  cleanup
  [ $st = 0 ] && say "net: results in $out/net.txt and $out/net.json"
  return $st
}

failed=0
for b in "${benches[@]}"; do
  case $b in
    net) bench_net; st=$? ;;
    *) say "unknown benchmark '$b' (have: net)"; st=1 ;;
  esac
  if [ "$st" != 0 ] && [ "$st" != 2 ]; then failed=1; fi
done
exit $failed
