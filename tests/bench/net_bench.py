#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Network benchmark: colovm next to qemu-system-x86_64, the same test guest, the same devices.

Runs inside a network namespace that holds a tap device with the host address (scripts/bench.sh
creates it). For each VMM in turn (alternating, ROUNDS times, so that a busy moment of the
host does not favour one of them) it boots tests/guest/testguest.elf with `ip=GUEST/24 echo`
on -netdev tap + virtio-net-pci, waits for "serving", and measures against the guest's echo
service (port 7):

  udp rtt    COUNT round trips of a 64-byte UDP datagram (median, p90, p99, mean)
  tcp rtt    COUNT round trips of 64 bytes over one TCP connection (TCP_NODELAY)
  tcp echo   SIZE random bytes sent and echoed back on one connection, content checked
             (MB/s each way)

Prints a side-by-side table and ASCII plots, and writes the raw numbers as JSON. Python
standard library only.

  net_bench.py --colovm BIN --qemu BIN --guest ELF --tap TAP [--out DIR] [--rounds N]
               [--count N] [--size BYTES]
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

GUEST_IP = "10.0.0.2"
GUEST_MAC = "52:54:00:12:34:56"
ECHO = 7


def vmm_command(name, args):
    nic = ["-netdev", f"tap,id=n0,ifname={args.tap},script=no,downscript=no,vhost=off"]
    common = ["-m", "256", "-nographic", "-kernel", args.guest, "-append",
              f"ip={GUEST_IP}/24 echo"]
    if name == "colovm":
        return [args.colovm] + common + nic + [
            "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}"]
    bios = ["-bios", args.qboot] if args.qboot and os.path.exists(args.qboot) else []
    return [args.qemu, "-enable-kvm", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"] + bios + common + nic + [
        "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC},romfile="]


class Vmm:
    """A VMM process with the guest; output collected by a thread."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = []
        self.cv = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.log.write(line + "\n")
            with self.cv:
                self.out.append(line)
                self.cv.notify_all()
        with self.cv:
            self.out.append(None)
            self.cv.notify_all()

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                if any(l is not None and text in l for l in self.out):
                    return True
                if None in self.out:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        self.log.close()


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def udp_rtt(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((GUEST_IP, ECHO))
    payload = bytes(range(64))
    samples, lost = [], 0
    for _ in range(20):  # warm-up (ARP, caches)
        s.send(payload)
        try:
            s.recv(2048)
        except socket.timeout:
            pass
    for _ in range(count):
        t0 = time.perf_counter_ns()
        s.send(payload)
        try:
            data = s.recv(2048)
        except socket.timeout:
            lost += 1
            continue
        t1 = time.perf_counter_ns()
        if data == payload:
            samples.append((t1 - t0) / 1000.0)
    s.close()
    return samples, lost


def tcp_rtt(count):
    s = socket.create_connection((GUEST_IP, ECHO), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = bytes(range(64))
    samples = []
    for i in range(count + 20):
        t0 = time.perf_counter_ns()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            b = s.recv(4096)
            if not b:
                raise RuntimeError("tcp echo closed the connection")
            got += b
        t1 = time.perf_counter_ns()
        if got != payload:
            raise RuntimeError("tcp echo answered different bytes")
        if i >= 20:
            samples.append((t1 - t0) / 1000.0)
    s.close()
    return samples


def tcp_echo(size, seed):
    data = random.Random(seed).randbytes(size)
    s = socket.create_connection((GUEST_IP, ECHO), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    got = bytearray()
    err = []

    def rx():
        try:
            while len(got) < size:
                b = s.recv(1 << 16)
                if not b:
                    break
                got.extend(b)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=rx)
    t0 = time.perf_counter()
    t.start()
    s.sendall(data)
    t.join()
    t1 = time.perf_counter()
    s.close()
    if err or bytes(got) != data:
        raise RuntimeError(f"tcp echo of {size} bytes: got {len(got)} bytes {err}")
    return size / (t1 - t0) / 1e6


def run_one(name, args, round_no):
    log = os.path.join(args.out, f"net-{name}-{round_no}.log")
    vmm = Vmm(name, vmm_command(name, args), log)
    try:
        t0 = time.monotonic()
        if not vmm.wait_for("testguest: serving", 60):
            raise RuntimeError(f"{name}: the guest did not start serving (see {log})")
        boot = time.monotonic() - t0
        udp, lost = udp_rtt(args.count)
        tcp = tcp_rtt(args.count)
        tput = [tcp_echo(args.size, round_no * 10 + i) for i in range(3)]
        return {"boot_s": boot, "udp_us": udp, "udp_lost": lost, "tcp_us": tcp,
                "echo_mbs": tput}
    finally:
        vmm.stop()


def summary(samples):
    return {"median": statistics.median(samples), "p90": percentile(samples, 90),
            "p99": percentile(samples, 99), "mean": statistics.fmean(samples),
            "min": min(samples), "n": len(samples)}


def bar(value, scale, width=40):
    n = 0 if scale <= 0 else int(round(value / scale * width))
    return "#" * max(0, min(width, n))


def histogram(name_samples, lo=20.0, hi=20000.0, buckets=14):
    """Log-scale latency histogram, one column per VMM."""
    import math
    edges = [lo * (hi / lo) ** (i / buckets) for i in range(buckets + 1)]
    names = list(name_samples)
    lines = ["  %-17s " % "round trip (us)" + "".join("%-22s" % n for n in names)]
    for i in range(buckets):
        a, b = edges[i], edges[i + 1]
        row = "  %7.0f-%-9.0f " % (a, b)
        for n in names:
            s = name_samples[n]
            frac = sum(1 for x in s if a <= x < b or (i == 0 and x < a) or
                       (i == buckets - 1 and x >= b)) / max(1, len(s))
            row += "%-22s" % ("*" * int(math.ceil(frac * 20)) + (" %4.1f%%" % (frac * 100)
                                                                  if frac else ""))
        lines.append(row)
    return "\n".join(lines)


def report(results, args):
    names = ["colovm", "qemu"]
    agg = {}
    for n in names:
        rounds = results[n]
        udp = [x for r in rounds for x in r["udp_us"]]
        tcp = [x for r in rounds for x in r["tcp_us"]]
        tput = [x for r in rounds for x in r["echo_mbs"]]
        agg[n] = {"udp": summary(udp), "tcp": summary(tcp),
                  "udp_lost": sum(r["udp_lost"] for r in rounds),
                  "echo_median": statistics.median(tput), "echo_best": max(tput),
                  "boot_s": statistics.median(r["boot_s"] for r in rounds),
                  "udp_samples": udp, "tcp_samples": tcp}
    out = []
    load = os.getloadavg()
    out.append(f"colovm vs qemu-system-x86_64: test guest echo service over tap + virtio-net")
    out.append(f"{args.rounds} rounds each, alternating; {args.count} round trips per round; "
               f"TCP echo {args.size >> 20} MiB x 3 per round; host load {load[0]:.1f} "
               f"{load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} CPUs")
    out.append("")
    out.append("%-30s %14s %14s %10s" % ("", "colovm", "qemu", "colovm/qemu"))

    def row(label, a, b, fmt="%14.1f", ratio=True):
        r = ("%10.2f" % (a / b)) if ratio and b else ""
        out.append(("%-30s " + fmt + " " + fmt + " %s") % (label, a, b, r))

    c, q = agg["colovm"], agg["qemu"]
    row("UDP 64 B round trip median us", c["udp"]["median"], q["udp"]["median"])
    row("UDP 64 B round trip p90 us", c["udp"]["p90"], q["udp"]["p90"])
    row("UDP 64 B round trip p99 us", c["udp"]["p99"], q["udp"]["p99"])
    row("UDP 64 B round trip mean us", c["udp"]["mean"], q["udp"]["mean"])
    out.append("%-30s %14d %14d" % ("UDP datagrams lost", c["udp_lost"], q["udp_lost"]))
    row("TCP 64 B round trip median us", c["tcp"]["median"], q["tcp"]["median"])
    row("TCP 64 B round trip p99 us", c["tcp"]["p99"], q["tcp"]["p99"])
    row("TCP echo MB/s each way (med)", c["echo_median"], q["echo_median"])
    row("TCP echo MB/s each way (best)", c["echo_best"], q["echo_best"])
    row("boot to serving s", c["boot_s"], q["boot_s"], "%14.2f", ratio=False)
    out.append("")
    out.append("UDP round-trip distribution (share of samples per bucket):")
    out.append(histogram({n: agg[n]["udp_samples"] for n in names}))
    out.append("")
    scale = max(c["echo_best"], q["echo_best"])
    out.append("TCP echo throughput, MB/s each way (median of rounds):")
    for n in names:
        out.append("  %-8s %6.1f %s" % (n, agg[n]["echo_median"], bar(agg[n]["echo_median"],
                                                                          scale)))
    lat_scale = max(c["udp"]["median"], q["udp"]["median"], c["tcp"]["median"],
                    q["tcp"]["median"])
    out.append("Median round trip, us (shorter is better):")
    for kind in ("udp", "tcp"):
        for n in names:
            v = agg[n][kind]["median"]
            out.append("  %-3s %-8s %6.0f %s" % (kind, n, v, bar(v, lat_scale)))
    text = "\n".join(out)
    print(text)
    with open(os.path.join(args.out, "net.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "net.json"), "w") as f:
        json.dump({"args": vars(args), "results": results,
                   "summary": {n: {k: v for k, v in agg[n].items() if not k.endswith("samples")}
                               for n in names}}, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--colovm", required=True)
    p.add_argument("--qemu", default="qemu-system-x86_64")
    p.add_argument("--qboot", default="/usr/share/qemu/qboot.rom")
    p.add_argument("--guest", required=True)
    p.add_argument("--tap", required=True)
    p.add_argument("--out", default=".")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=8 << 20)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = {"colovm": [], "qemu": []}
    for r in range(args.rounds):
        for name in ("colovm", "qemu") if r % 2 == 0 else ("qemu", "colovm"):
            print(f"net-bench: round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
            results[name].append(run_one(name, args, r))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
