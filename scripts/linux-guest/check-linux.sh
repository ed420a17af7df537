#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The check-linux lane: boot Debian's cloud kernel + the busybox initramfs
# (scripts/linux-guest/build.sh) under the VMM under test and check it against
# qemu-system-x86_64. See scripts/linux-guest/README.md for what is checked.
#
#   scripts/linux-guest/check-linux.sh [options] [VMM]     (VMM default: build/colovm)
#
#   --cache DIR          kernel/initramfs cache (default build/linux-guest)
#   --timeout SEC        time limit of each KVM run (default 1800)
#   --stop-regex ERE     what the VMM prints on stderr at a KVM internal error
#                        (default 'KVM internal error|internal[- ]error', case-insensitive)
#   --fresh-reference    rerun the QEMU KVM reference even if a cached result matches
#   --skip-tcg           skip the TCG self-check of the guest image
#   --tcg-only           only build and run the TCG self-check
#   --accel NAME         accelerator of the "KVM" runs (default kvm); with
#                        --accel tcg and qemu-system-x86_64 as the VMM, the
#                        hardware-KVM path of this script can be exercised here
#
# Logs of the last run are kept in CACHE/check-linux/. Exit status 0 when all
# checks passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

cache=$root/build/linux-guest
vmm=$root/build/colovm
timeout=1800
stop_regex='KVM internal error|internal[- ]error'
fresh_ref=0
run_tcg=1
run_kvm=1
accel=kvm
qemu='qemu-system-x86_64'

usage() { sed -n '4,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --cache) cache=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --stop-regex) stop_regex=$2; shift 2 ;;
    --fresh-reference) fresh_ref=1; shift ;;
    --skip-tcg) run_tcg=0; shift ;;
    --tcg-only) run_kvm=0; shift ;;
    --accel) accel=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "check-linux: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) vmm=$1; shift ;;
  esac
done
if [[ $vmm != */* ]]; then
  vmm=$(command -v "$vmm" || echo "$vmm")
fi

# ---------------------------------------------------------------- settings
mem=512
smp=1
# kvm-pvm cannot run cmpxchg16b or xsave/xrstor at ring 0: mask both, and tell
# the kernel not to use xsave (README: "the reference configuration").
cpu=qemu64,-cx16,-xsave
base_append="console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr noxsave panic=-1"
guest_ip=10.0.2.15
host_ip=10.0.2.2
prefix=24
port=7777
mac=52:54:00:12:34:56
tap=lgtap0
net_append="colovm.ip=$guest_ip/$prefix colovm.gw=$host_ip colovm.port=$port"
tcg_limit=180

# ---------------------------------------------------------------- plumbing
passed=0
failed=0
declare -a failures=()
pass() { passed=$((passed + 1)); echo "check-linux: PASS $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); echo "check-linux: FAIL $*"; }
note() { echo "check-linux: $*"; }

pids=()
netns=""
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
    fi
  done
  for p in "${pids[@]}"; do
    local i=0
    while kill -0 "$p" 2>/dev/null && [[ $i -lt 50 ]]; do
      sleep 0.1
      i=$((i + 1))
    done
    kill -KILL "$p" 2>/dev/null || true
  done
  pids=()
  if [[ -n $netns ]]; then
    ip netns del "$netns" 2>/dev/null || true
    netns=""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Stop one process we started: TERM, then KILL after 5 s.
stop_pid() {
  local p=$1 i=0
  kill -TERM "$p" 2>/dev/null || return 0
  while kill -0 "$p" 2>/dev/null && [[ $i -lt 50 ]]; do
    sleep 0.1
    i=$((i + 1))
  done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# watch_run DIR LIMIT STOP_ERE UNTIL_ERE -- CMD...
# Runs CMD with stdout/stderr in DIR/{stdout,stderr} (the console is whatever
# -serial file: names, DIR/console.log by convention) and polls every 0.5 s:
#   stderr matches STOP_ERE (case-insensitive)  -> result "stop"
#   console matches UNTIL_ERE                    -> result "until"
#   the process exited                           -> result "exit"
#   LIMIT seconds passed                         -> result "timeout"
# On return the process is still running for "stop", "until" and "timeout"
# (stop it with stop_pid "$run_pid"). Sets run_result, run_pid, run_rc,
# run_seconds.
watch_run() {
  local dir=$1 limit=$2 stop_re=$3 until_re=$4
  shift 5
  local start
  start=$(now)
  "$@" </dev/null >"$dir/stdout" 2>"$dir/stderr" &
  run_pid=$!
  pids+=("$run_pid")
  run_rc=""
  while :; do
    if [[ -n $stop_re ]] && grep -Eqi -- "$stop_re" "$dir/stderr"; then
      run_result=stop
      break
    fi
    if [[ -n $until_re && -f $dir/console.log ]] && grep -Eqa -- "$until_re" "$dir/console.log"; then
      run_result=until
      break
    fi
    if ! kill -0 "$run_pid" 2>/dev/null; then
      run_rc=0
      wait "$run_pid" || run_rc=$?
      run_result="exit"
      break
    fi
    if awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      run_result=timeout
      break
    fi
    sleep 0.5
  done
  run_seconds=$(elapsed "$start")
}

# The network namespace with the tap device the guest's virtio-net uses.
setup_netns() {
  netns=colovm-lg-$$
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  ip -n "$netns" tuntap add dev "$tap" mode tap
  ip -n "$netns" addr add "$host_ip/$prefix" dev "$tap"
  ip -n "$netns" link set "$tap" up
}
teardown_netns() {
  if [[ -n $netns ]]; then
    ip netns del "$netns"
    netns=""
  fi
}

# A fresh 8 MiB raw disk with the host's token line in sector 0.
make_disk() {
  local img=$1 token=$2
  rm -f "$img"
  truncate -s 8M "$img"
  printf 'colovm-host-token %s\n' "$token" | dd of="$img" conv=notrunc status=none
}

# Check the service (echo over the tap, from inside the namespace) and the
# disk block the guest wrote; $1 is a label for the results.
check_service_and_disk() {
  local label=$1 dir=$2 img=$3 token=$4 reply ok=0 i
  local probe="colovm-probe-$token"
  for i in 1 2 3 4 5; do
    # shellcheck disable=SC2016 # expanded by the inner bash
    if reply=$(ip netns exec "$netns" timeout 10 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "%s\n" "$2" >&3
        head -n 2 <&3' "$guest_ip" "$port" "$probe" 2>>"$dir/client.log"); then
      printf '%s\n' "$reply" > "$dir/client-reply.txt"
      if [[ $reply == "colovm-linux-guest echo"$'\n'"$probe" ]]; then
        ok=1
        break
      fi
    fi
    sleep 1
  done
  if [[ $ok == 1 ]]; then
    pass "$label: TCP echo on $guest_ip:$port answered over the tap"
  else
    fail "$label: no echo from $guest_ip:$port over the tap (see $dir/client.log)"
  fi
  local got want="colovm-linux-guest disk colovm-host-token $token"
  got=$(dd if="$img" bs=4096 skip=256 count=1 status=none | head -n 1 | tr -d '\0')
  if [[ $got == "$want" ]]; then
    pass "$label: disk block at 1 MiB read back on the host"
  else
    fail "$label: disk block at 1 MiB is '${got:0:80}', want '$want'"
  fi
}

markers_ok() {
  local console=$1 m
  for m in "init reached" "modules loaded [0-9]+" "net up ${guest_ip//./\\.}" \
           "disk written /dev/vda" "service ready tcp $port"; do
    if ! grep -Eqa "^colovm-linux-guest: $m\s*$" "$console"; then
      echo "missing marker 'colovm-linux-guest: $m'"
      return 1
    fi
  done
  if grep -a "colovm-linux-guest: FAIL" "$console"; then
    return 1
  fi
}

# A full boot with virtio-net on the tap and virtio-blk on a fresh disk:
# markers, echo over the tap, disk bytes. $1 label, $2 dir, $3... VMM command
# (accelerator and CPU options included).
full_boot_check() {
  local label=$1 dir=$2 limit=$3
  shift 3
  local token img=$dir/disk.img why
  token=$$-$RANDOM$RANDOM
  mkdir -p "$dir"
  make_disk "$img" "$token"
  setup_netns
  watch_run "$dir" "$limit" "$stop_regex" "colovm-linux-guest: (done|FAIL)" -- \
    ip netns exec "$netns" "$@" -m "$mem" -smp "$smp" \
    -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio.gz" \
    -append "$base_append $net_append" \
    -serial "file:$dir/console.log" -nographic -no-reboot \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=n0,mac=$mac" \
    -drive "file=$img,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0
  note "$label: $run_result after ${run_seconds}s"
  if [[ $run_result == until ]] && why=$(markers_ok "$dir/console.log"); then
    pass "$label: boot markers (init, modules, net, disk, service) in ${run_seconds}s"
    check_service_and_disk "$label" "$dir" "$img" "$token"
  else
    fail "$label: boot did not reach all markers ($run_result after ${run_seconds}s${why:+; $why}); see $dir"
    tail -n 20 "$dir/console.log" 2>/dev/null | sed 's/^/    /' || true
    sed 's/^/    stderr: /' "$dir/stderr" | tail -n 20 || true
  fi
  stop_pid "$run_pid"
  teardown_netns
}

# Options only QEMU needs to match colovm's machine: no default NIC.
qemu_only=(-net none)
vmm_extra=()
if [[ $(basename "$vmm") == qemu-system-* ]]; then
  vmm_extra=("${qemu_only[@]}")
fi

# ---------------------------------------------------------------- 0. image
[[ $(id -u) -eq 0 ]] || { echo "check-linux: must run as root (netns, tap, /dev/kvm)" >&2; exit 2; }
for tool in "$qemu" ip python3 truncate timeout; do
  if ! command -v "$tool" >/dev/null; then
    "$root/scripts/install-deps.sh" --linux
    break
  fi
done
"$here/build.sh" "$cache"
work=$cache/check-linux
rm -rf "$work"
mkdir -p "$work"
note "kernel $(cat "$cache/kernel-release"), logs in $work"

# ---------------------------------------------------------------- 1. TCG self-check
if [[ $run_tcg == 1 ]]; then
  full_boot_check "tcg" "$work/tcg" "$tcg_limit" "$qemu" -accel tcg "${qemu_only[@]}"

  # colovm.poweroff: the guest powers itself off and QEMU (-no-reboot) exits.
  d=$work/tcg-poweroff
  mkdir -p "$d"
  watch_run "$d" "$tcg_limit" "" "" -- "$qemu" -accel tcg "${qemu_only[@]}" -m "$mem" -smp "$smp" \
    -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio.gz" \
    -append "$base_append colovm.poweroff" \
    -serial "file:$d/console.log" -nographic -no-reboot
  if [[ $run_result == exit && $run_rc == 0 ]] &&
     grep -qa 'colovm-linux-guest: powering off' "$d/console.log"; then
    pass "tcg: colovm.poweroff powered the guest off (${run_seconds}s)"
  else
    fail "tcg: colovm.poweroff: $run_result rc=${run_rc:-} after ${run_seconds}s; see $d"
    stop_pid "$run_pid"
  fi
fi

# ---------------------------------------------------------------- 2. KVM runs
# Both KVM runs use the same options (those colovm accepts), no devices, and
# colovm.poweroff so that where the guest can finish booting, it ends the run.
kvm_args() {
  local console=$1
  printf '%s\0' -machine "accel=$accel" -cpu "$cpu" -m "$mem" -smp "$smp" \
    -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio.gz" \
    -append "$base_append colovm.poweroff" \
    -serial "file:$console" -nographic -no-reboot
}

if [[ $run_kvm == 1 ]]; then
  if [[ $accel == kvm && ! -c /dev/kvm ]]; then
    fail "kvm: no /dev/kvm"
    run_kvm=0
  fi
fi
if [[ $run_kvm == 1 ]]; then
  # a. The QEMU reference, cached by QEMU version, kernel, initramfs and options.
  key=$( {
    "$qemu" --version | head -n 1
    sha256sum "$cache/vmlinuz" "$cache/initramfs.cpio.gz" | cut -d' ' -f1
    echo "$cpu $mem $smp $base_append ${qemu_only[*]}"
    if [[ $accel != kvm ]]; then echo "accel=$accel"; fi
    uname -r
  } | sha256sum | cut -c1-16)
  ref=$cache/reference-kvm/$key
  if [[ $fresh_ref == 1 || ! -f $ref/result ]]; then
    rm -rf "$ref" "$ref.tmp"
    mkdir -p "$ref.tmp"
    note "kvm reference: running $qemu, accel $accel (limit ${timeout}s; 4-7 min on kvm-pvm)"
    mapfile -d '' args < <(kvm_args "$ref.tmp/console.log")
    watch_run "$ref.tmp" "$timeout" 'KVM internal error' 'colovm-linux-guest: powering off' -- \
      "$qemu" "${args[@]}" "${qemu_only[@]}"
    r=$run_result
    if [[ $r == until ]]; then
      # Let the guest power off; QEMU exits by itself.
      i=0
      while kill -0 "$run_pid" 2>/dev/null && [[ $i -lt 100 ]]; do sleep 0.1; i=$((i + 1)); done
      r=finished
    fi
    if [[ $r == stop ]]; then
      sleep 1    # let QEMU finish its register dump
    fi
    stop_pid "$run_pid"
    echo "$r" > "$ref.tmp/result"
    echo "$run_seconds" > "$ref.tmp/seconds"
    if [[ $r == stop || $r == finished ]]; then
      mv "$ref.tmp" "$ref"       # only a conclusive reference is cached
    else
      rm -rf "$work/kvm-reference"
      mv "$ref.tmp" "$work/kvm-reference"
      ref=$work/kvm-reference
    fi
  else
    note "kvm reference: cached result in $ref (--fresh-reference to rerun)"
  fi
  ref_result=$(cat "$ref/result")
  ref_seconds=$(cat "$ref/seconds")
  note "kvm reference: $ref_result after ${ref_seconds}s; last console line:"
  grep -a '^\[' "$ref/console.log" | tail -n 1 | sed 's/^/    /' || true
  if [[ $ref != "$work/kvm-reference" ]]; then
    cp -r "$ref" "$work/kvm-reference"
  fi

  case $ref_result in
    stop)
      pass "kvm reference: QEMU stopped with a KVM internal error after ${ref_seconds}s (guest cannot finish booting here)"
      # b. The VMM under test, same options; c. compare the consoles.
      d=$work/kvm-vmm
      mkdir -p "$d"
      note "kvm vmm: running $vmm, accel $accel (limit ${timeout}s)"
      mapfile -d '' args < <(kvm_args "$d/console.log")
      watch_run "$d" "$timeout" "$stop_regex" "" -- "$vmm" "${args[@]}" "${vmm_extra[@]}"
      r=$run_result
      how=paused
      if [[ $r == stop ]]; then
        sleep 1    # let the VMM finish its report
        if ! kill -0 "$run_pid" 2>/dev/null; then
          run_rc=0
          wait "$run_pid" || run_rc=$?
          how="exited with status $run_rc"
        fi
      fi
      stop_pid "$run_pid"
      note "kvm vmm: $r after ${run_seconds}s"
      if [[ $r == stop && ${run_rc:-0} -ge 128 ]]; then
        fail "kvm vmm: reported the internal error but then died of signal $((run_rc - 128))"
      elif [[ $r == stop ]]; then
        pass "kvm vmm: reported the KVM internal error on stderr after ${run_seconds}s ($how)"
        sed 's/^/    stderr: /' "$d/stderr" | head -n 40
        # nokaslr makes the stop address reproducible: QEMU's RIP= must be in
        # the VMM's report too (any format that spells the 16 hex digits).
        rip=$(grep -o 'RIP=[0-9a-f]\{16\}' "$ref/stderr" | head -n 1 | cut -d= -f2 || true)
        if [[ -z $rip ]]; then
          note "kvm vmm: no RIP= in QEMU's report; stop address not compared"
        elif grep -qi "$rip" "$d/stderr"; then
          pass "kvm vmm: stopped at QEMU's RIP $rip"
        else
          fail "kvm vmm: its report does not name QEMU's stop RIP $rip"
        fi
      else
        fail "kvm vmm: no internal-error report on stderr ($r${run_rc:+ rc=$run_rc} after ${run_seconds}s); see $d/stderr"
        tail -n 20 "$d/stderr" | sed 's/^/    stderr: /' || true
      fi
      if [[ ! -s $d/console.log ]]; then
        fail "kvm vmm: no console output in $d/console.log (-serial file:)"
      elif python3 "$here/compare-console.py" "$ref/console.log" "$d/console.log" > "$d/compare.txt"; then
        pass "kvm vmm: console matches QEMU's up to QEMU's stop ($(tail -n 1 "$d/compare.txt"))"
      else
        fail "kvm vmm: console differs from QEMU's (see $d/compare.txt)"
        sed 's/^/    /' "$d/compare.txt" | tail -n 40
      fi
      ;;
    finished)
      pass "kvm reference: QEMU booted the guest to its marker in ${ref_seconds}s (hardware KVM)"
      full_boot_check "kvm vmm" "$work/kvm-vmm" "$timeout" "$vmm" -machine "accel=$accel" -cpu "$cpu" "${vmm_extra[@]}"
      ;;
    *)
      fail "kvm reference: QEMU neither stopped nor finished ($ref_result after ${ref_seconds}s); raise --timeout?"
      tail -n 20 "$ref/console.log" | sed 's/^/    /' || true
      ;;
  esac
fi

for f in "${failures[@]}"; do
  echo "check-linux: failed: $f"
done
echo "check-linux: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
