#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Network checks against the test guest's services (net-selftest.sh runs them).

Runs inside the network namespace that holds the guest's tap device. Python standard
library only. Every subcommand prints one result line per measurement, starting with
"ok" or "FAIL", and exits non-zero if anything failed.

  echo-tcp SIZE [CONNS]     CONNS parallel connections each echo SIZE random bytes
  echo-udp COUNT            COUNT datagrams of 1..1472 bytes, content checked
  latency COUNT             TCP 64-byte round trips (echo) and UDP round trips
  kv-set N [PREFIX]         SET PREFIXi = value-i for i < N
  kv-check N [PREFIX]       GET them back (and checks a few misses)
  kv-proto                  protocol corner cases (DEL, COUNT, long lines, QUIT)
  tsc-check                 the echo=tsc answer format
  garbage IFACE SECONDS     malformed frames, SYN flood, RSTs, while 8 echo streams run
  netstat                   prints the guest's counters (UDP port 9999)
  idle-check QEMU_PID [S]   idle=hlt: the dirtier ticks and QEMU stays mostly idle
  kv-tear DISK KEY          (offline) writes a torn newer record of KEY into a free slot
  kv-dump DISK              (offline) lists the records on a KV disk image
"""

import os
import random
import socket
import statistics
import struct
import sys
import threading
import time

GUEST = os.environ.get("GUEST_IP", "10.0.0.2")
HOST = os.environ.get("HOST_IP", "10.0.0.1")
GUEST_MAC = bytes.fromhex(os.environ.get("GUEST_MAC", "52:54:00:12:34:56").replace(":", ""))
ECHO, KV, NETSTAT = 7, 6379, 9999
failures = 0


def report(ok, text):
    global failures
    if not ok:
        failures += 1
    print(("ok   " if ok else "FAIL ") + text, flush=True)


# --- TCP / UDP echo ---------------------------------------------------------------------

def echo_stream(size, seed, result, idx, timeout=60):
    data = random.Random(seed).randbytes(size)
    got = bytearray()
    try:
        s = socket.create_connection((GUEST, ECHO), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def rx():
            while len(got) < size:
                b = s.recv(1 << 16)
                if not b:
                    break
                got.extend(b)

        t = threading.Thread(target=rx)
        t0 = time.monotonic()
        t.start()
        s.sendall(data)
        t.join(timeout)
        dt = time.monotonic() - t0
        s.shutdown(socket.SHUT_WR)
        tail = s.recv(16)  # the guest closes after echoing everything
        s.close()
        result[idx] = (bytes(got) == data and tail == b"", dt, len(got))
    except OSError as e:
        result[idx] = (False, 0.0, len(got), str(e))


def cmd_echo_tcp(size, conns=1):
    size, conns = int(size), int(conns)
    result = [None] * conns
    threads = [threading.Thread(target=echo_stream, args=(size, 1000 + i, result, i))
               for i in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    good = all(r and r[0] for r in result)
    report(good, "tcp echo %d x %d bytes: %s, %.3f s, %.1f MB/s each way"
           % (conns, size, "content verified" if good else "BROKEN %r" % (result,), dt,
              conns * size / dt / 1e6))


def cmd_echo_udp(count):
    rnd = random.Random(7)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1.0)
    bad = lost = 0
    for i in range(int(count)):
        n = rnd.choice([1, 2, 17, 64, 512, 1000, 1471, 1472, rnd.randint(1, 1472)])
        msg = rnd.randbytes(n)
        for attempt in range(3):
            u.sendto(msg, (GUEST, ECHO))
            try:
                r, addr = u.recvfrom(4096)
                if r != msg or addr != (GUEST, ECHO):
                    bad += 1
                break
            except socket.timeout:
                lost += 1
    report(bad == 0 and lost <= 2, "udp echo %s datagrams of 1..1472 bytes: %d wrong, %d lost"
           % (count, bad, lost))


def cmd_latency(count):
    count = int(count)
    s = socket.create_connection((GUEST, ECHO), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * 64
    rtts = []
    for _ in range(count):
        t0 = time.perf_counter()
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            got += s.recv(1024)
        rtts.append(time.perf_counter() - t0)
    s.close()
    rtts.sort()
    report(True, "tcp 64-byte round trip: median %.0f us, p99 %.0f us (%d samples)"
           % (statistics.median(rtts) * 1e6, rtts[int(len(rtts) * 0.99)] * 1e6, count))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    rtts = []
    for _ in range(count):
        t0 = time.perf_counter()
        u.sendto(msg, (GUEST, ECHO))
        u.recvfrom(2048)
        rtts.append(time.perf_counter() - t0)
    rtts.sort()
    report(True, "udp 64-byte round trip: median %.0f us, p99 %.0f us"
           % (statistics.median(rtts) * 1e6, rtts[int(len(rtts) * 0.99)] * 1e6))


def cmd_tsc_check():
    s = socket.create_connection((GUEST, ECHO), timeout=5)
    f = s.makefile("rwb")
    stamps = []
    ok = True
    for line in [b"first line", b"second", b""]:
        f.write(line + b"\n")
        f.flush()
        r = f.readline()
        ok &= len(r) == 17 + len(line) + 1 and r[16:17] == b" " and r[17:] == line + b"\n"
        stamps.append(int(r[:16], 16))
    s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(b"dgram", (GUEST, ECHO))
    r = u.recv(2048)
    ok &= len(r) == 22 and r[17:] == b"dgram"
    ok &= stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    report(ok, "echo=tsc answers '<16 hex TSC> <line>' (tsc %s)" % " ".join(map(hex, stamps)))


# --- KV ---------------------------------------------------------------------------------

class Kv:
    def __init__(self):
        self.s = socket.create_connection((GUEST, KV), timeout=10)
        self.f = self.s.makefile("rwb")

    def cmd(self, line):
        self.f.write(line + b"\n")
        self.f.flush()
        return self.f.readline()

    def close(self):
        self.s.close()


def kv_value(prefix, i):
    return ("value-%d-%s" % (i, "v" * (i % 50))).encode()


def cmd_kv_set(n, prefix="key"):
    kv = Kv()
    bad = 0
    times = []
    for i in range(int(n)):
        t0 = time.perf_counter()
        r = kv.cmd(b"SET %s%d %s" % (prefix.encode(), i, kv_value(prefix, i)))
        times.append(time.perf_counter() - t0)
        bad += r != b"OK\n"
    kv.close()
    report(bad == 0, "kv SET %s keys: %d bad answers, median %.2f ms per SET (disk write + flush)"
           % (n, bad, statistics.median(times) * 1e3))


def cmd_kv_check(n, prefix="key"):
    kv = Kv()
    bad = 0
    times = []
    for i in range(int(n)):
        t0 = time.perf_counter()
        r = kv.cmd(b"GET %s%d" % (prefix.encode(), i))
        times.append(time.perf_counter() - t0)
        bad += r != b"VALUE " + kv_value(prefix, i) + b"\n"
    bad += kv.cmd(b"GET %s-missing" % prefix.encode()) != b"NONE\n"
    kv.close()
    report(bad == 0, "kv GET %s keys: %d wrong, median %.3f ms per GET"
           % (n, bad, statistics.median(times) * 1e3))


def cmd_kv_proto():
    kv = Kv()
    checks = [
        (b"SET proto-a 1", b"OK\n"),
        (b"set proto-a two words", b"OK\n"),
        (b"GET proto-a", b"VALUE two words\n"),
        (b"SET proto-e ", b"OK\n"),
        (b"GET proto-e", b"VALUE \n"),
        (b"DEL proto-e", b"OK\n"),
        (b"DEL proto-e", b"NONE\n"),
        (b"GET proto-e", b"NONE\n"),
        (b"SET " + b"k" * 65 + b" v", b"ERR bad key\n"),
        (b"SET proto-big " + b"v" * 417, b"ERR value too long\n"),
        (b"SET proto-max " + b"v" * 416, b"OK\n"),
        (b"GET proto-max", b"VALUE " + b"v" * 416 + b"\n"),
        (b"SET onlykey", b"ERR usage: SET key value\n"),
        (b"FLY me", b"ERR unknown command\n"),
        (b"PING\r", b"PONG\n"),
    ]
    bad = [(c, r) for c, want in checks if (r := kv.cmd(c)) != want]
    count = kv.cmd(b"COUNT")
    bad += [] if count.startswith(b"COUNT ") else [(b"COUNT", count)]
    bye = kv.cmd(b"QUIT")
    eof = kv.f.read()
    bad += [] if (bye, eof) == (b"BYE\n", b"") else [(b"QUIT", bye + eof)]
    kv.close()
    kv = Kv()
    kv.f.write(b"x" * 600 + b"\n")
    kv.f.flush()
    r = kv.f.read()
    bad += [] if r == b"ERR line too long\n" else [(b"long line", r)]
    kv.close()
    report(not bad, "kv protocol corner cases%s" % (": %r" % bad if bad else ""))


# --- garbage ----------------------------------------------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return socket.inet_aton(a)


def ip_packet(proto, payload, src=HOST, dst=GUEST, ihl=5, total=None, frag=0x4000,
              ttl=64, bad_csum=False, options=b""):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total if total is not None
                      else 20 + len(options) + len(payload), random.getrandbits(16), frag, ttl,
                      proto, 0, ip4(src), ip4(dst)) + options
    c = csum(hdr[:ihl * 4] if ihl * 4 <= len(hdr) else hdr)
    if bad_csum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def tcp_segment(sport, dport, seq, ack, flags, wnd=65535, data=b"", src=HOST, dst=GUEST,
                doff=5, options=b"", bad_csum=False):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      doff << 4, flags, wnd, 0, 0) + options
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(hdr) + len(data))
    c = csum(pseudo + hdr + data)
    if bad_csum:
        c ^= 0x1234
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + data


def udp_datagram(sport, dport, data, src=HOST, dst=GUEST, length=None, bad_csum=False):
    ln = 8 + len(data) if length is None else length
    hdr = struct.pack("!HHHH", sport, dport, ln, 0)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, 8 + len(data))
    c = csum(pseudo + hdr + data) or 0xFFFF
    if bad_csum:
        c ^= 0x4321
    return hdr[:6] + struct.pack("!H", c) + data


class Wire:
    def __init__(self, iface):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.s.bind((iface, 0))
        self.mac = bytes.fromhex(open("/sys/class/net/%s/address" % iface).read().strip()
                                 .replace(":", ""))
        self.sent = 0

    def frame(self, payload, etype=0x0800, dst=GUEST_MAC):
        self.s.send(dst + self.mac + struct.pack("!H", etype) + payload)
        self.sent += 1


def garbage_round(w, rnd, live_ports):
    """One round of every kind of malformed or hostile frame."""
    R = rnd.randbytes
    # random bytes: to our MAC with random ethertypes, broadcast, and as IP/ARP payload
    for _ in range(20):
        w.frame(R(rnd.randint(0, 1500)), etype=rnd.getrandbits(16))
        w.frame(R(rnd.randint(0, 1500)), etype=0x0800)
        w.frame(R(rnd.randint(0, 60)), etype=0x0806)
        w.frame(R(rnd.randint(0, 100)), etype=0x0800, dst=b"\xff" * 6)
    w.frame(b"", etype=0x0800)  # a bare Ethernet header (the kernel sends nothing shorter)
    w.frame(b"", etype=0x0806)
    # truncated and inconsistent IP headers
    good_tcp = tcp_segment(40000, ECHO, 1, 0, 0x02)
    pkt = ip_packet(6, good_tcp)
    for n in range(1, 40, 3):
        w.frame(pkt[:n])
    w.frame(ip_packet(6, good_tcp, total=2000))         # total length beyond the frame
    w.frame(ip_packet(6, good_tcp, total=10))           # total length below the header
    w.frame(ip_packet(6, good_tcp, ihl=3))              # header length below 20
    w.frame(ip_packet(6, good_tcp, ihl=15))             # header length beyond the data
    w.frame(ip_packet(6, good_tcp, bad_csum=True))      # bad header checksum
    w.frame(ip_packet(6, good_tcp, frag=0x2000))        # more fragments
    w.frame(ip_packet(6, good_tcp, frag=0x0010))        # a later fragment
    w.frame(ip_packet(6, good_tcp, src="10.0.0.255"))   # broadcast source
    w.frame(ip_packet(6, good_tcp, src="224.0.0.1"))    # multicast source
    w.frame(ip_packet(6, good_tcp, dst="10.0.0.77"))    # not for the guest
    w.frame(ip_packet(99, R(40)))                       # unknown protocol
    w.frame(ip_packet(1, struct.pack("!BBHHH", 8, 0, 0, 1, 1) + R(30)))   # ICMP bad checksum
    w.frame(ip_packet(1, b"\x08"))                      # ICMP too short
    # IP options are skipped: a valid ping with a NOP/EOL option block
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"opt"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    w.frame(ip_packet(1, icmp, ihl=6, options=b"\x01\x01\x01\x00"))
    # broken UDP
    w.frame(ip_packet(17, udp_datagram(5555, ECHO, b"bad sum", bad_csum=True)))
    w.frame(ip_packet(17, udp_datagram(5555, ECHO, b"too long", length=300)))
    w.frame(ip_packet(17, udp_datagram(5555, ECHO, b"short", length=3)))
    w.frame(ip_packet(17, b"\x15\xb3"))
    w.frame(ip_packet(17, udp_datagram(0, ECHO, b"port 0")))
    w.frame(ip_packet(17, udp_datagram(5555, 4444, b"closed port")))
    # broken TCP
    for n in (0, 1, 10, 19):
        w.frame(ip_packet(6, good_tcp[:n]))
    w.frame(ip_packet(6, tcp_segment(40001, ECHO, 5, 0, 0x02, bad_csum=True)))
    w.frame(ip_packet(6, tcp_segment(40001, ECHO, 5, 0, 0x02, doff=15)))   # options beyond
    w.frame(ip_packet(6, tcp_segment(40001, ECHO, 5, 0, 0x02, doff=2)))    # offset < 20
    w.frame(ip_packet(6, tcp_segment(40001, ECHO, 5, 0, 0x02, doff=7,
                                     options=b"\x02\x09\x05" + b"\x08\x00\x01\x02\x03")))
    w.frame(ip_packet(6, tcp_segment(40001, ECHO, 5, 0, 0x02, doff=6,
                                     options=b"\x02\x04\x00\x01")))    # MSS 1 (clamped)
    for flags in (0x03, 0x06, 0x07, 0x3F, 0xFF, 0x00, 0x01, 0x08, 0x20, 0x29):
        w.frame(ip_packet(6, tcp_segment(rnd.randint(1024, 65535), rnd.choice([ECHO, KV, 81]),
                                         rnd.getrandbits(32), rnd.getrandbits(32), flags,
                                         data=R(rnd.randint(0, 50)))))
    # RSTs and stray ACKs for random ports and for the live connections' ports
    for _ in range(30):
        w.frame(ip_packet(6, tcp_segment(rnd.randint(1024, 65535), rnd.randint(1, 65535),
                                         rnd.getrandbits(32), rnd.getrandbits(32),
                                         rnd.choice([0x04, 0x14, 0x10, 0x11]))))
    for port in live_ports:
        for flags in (0x04, 0x14, 0x02, 0x12, 0x10, 0x11, 0x18):
            w.frame(ip_packet(6, tcp_segment(port, ECHO, rnd.getrandbits(32),
                                             rnd.getrandbits(32), flags, wnd=rnd.getrandbits(16),
                                             data=R(rnd.choice([0, 0, 100])))))
    # ARP oddities: wrong sizes, unknown op, a request from a multicast MAC
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, w.mac, ip4(HOST), b"\0" * 6,
                      ip4(GUEST))
    w.frame(arp[:20], etype=0x0806)
    w.frame(arp[:4] + b"\x08\x04" + arp[6:], etype=0x0806)
    w.frame(arp[:6] + b"\x00\x07" + arp[8:], etype=0x0806)
    w.frame(arp[:8] + b"\x01\x00\x5e\x00\x00\x01" + arp[14:], etype=0x0806)


def syn_flood(w, rnd, count):
    # from the host's address (its kernel answers the SYN-ACKs with RST), from absent
    # hosts on the subnet (never resolved) and from outside the subnet (no route)
    for i in range(count):
        src = HOST if i % 3 else rnd.choice(["10.0.0.%d" % rnd.randint(50, 99), "192.0.2.1"])
        w.frame(ip_packet(6, tcp_segment(rnd.randint(1024, 65535), rnd.choice([ECHO, KV]),
                                         rnd.getrandbits(32), 0, 0x02, src=src,
                                         doff=6, options=b"\x02\x04\x05\xb4"), src=src))


def cmd_garbage(iface, seconds, streams=8, size=4 << 20):
    seconds, streams, size = float(seconds), int(streams), int(size)
    w = Wire(iface)
    rnd = random.Random(1234)
    # the echo streams the garbage must not disturb; their ports get targeted RSTs
    result = [None] * streams
    threads = [threading.Thread(target=echo_stream, args=(size, 50 + i, result, i, 120))
               for i in range(streams)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    live_ports = []  # the echo streams' local ports, from /proc/net/tcp
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                local, remote = line.split()[1:3]
                if int(remote.split(":")[1], 16) == ECHO:
                    live_ports.append(int(local.split(":")[1], 16))
    except OSError:
        pass
    end = time.monotonic() + seconds
    rounds = flood = 0
    while time.monotonic() < end:
        garbage_round(w, rnd, live_ports)
        syn_flood(w, rnd, 100)
        flood += 100
        rounds += 1
        time.sleep(0.05)
    for t in threads:
        t.join()
    good = all(r and r[0] for r in result)
    report(good, "%d echo streams of %d bytes during %.0f s of garbage (%d frames, %d SYNs, "
           "%d live ports targeted): %s" % (streams, size, seconds, w.sent, flood,
                                             len(live_ports),
                                             "all verified" if good else "BROKEN %r" % result))
    # afterwards: still answering, and new connections still possible
    time.sleep(0.5)
    cmd_echo_tcp(1 << 20, 8)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(b"after", (GUEST, ECHO))
    try:
        report(u.recv(100) == b"after", "udp echo after the garbage")
    except socket.timeout:
        report(False, "udp echo after the garbage: no answer")
    kv = Kv()
    report(kv.cmd(b"PING") == b"PONG\n", "kv answers after the garbage")
    kv.close()


def netstat():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(b"?", (GUEST, NETSTAT))
    text = u.recv(2000).decode().strip()
    return text, {k: int(v) for k, v in (f.split("=") for f in text.split())}


def cmd_netstat():
    print("netstat " + netstat()[0], flush=True)


def cmd_idle_check(pid, seconds=3):
    """idle=hlt: the dirtier keeps ticking on PIT wakeups and QEMU's CPU use stays low."""
    seconds = float(seconds)
    hz = os.sysconf("SC_CLK_TCK")

    def cpu():
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / hz

    g0, c0, t0 = netstat()[1]["dirtier_gen"], cpu(), time.monotonic()
    time.sleep(seconds)
    g1, c1, t1 = netstat()[1]["dirtier_gen"], cpu(), time.monotonic()
    load = (c1 - c0) / (t1 - t0)
    report(g1 - g0 >= seconds * 10 and load < 0.25,
           "idle=hlt: dirtier ticks %d in %.1f s (every 50 ms), QEMU uses %.0f%% of a CPU"
           % (g1 - g0, t1 - t0, load * 100))


# --- the KV disk format (README.md "The KV disk format") -----------------------------------

SECTOR = 512


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def kv_records(img):
    """(slot, kind, generation, key, value, valid) for every non-empty slot."""
    hdr = img[:SECTOR]
    assert hdr[:8] == b"TGKVSTO1" and struct.unpack_from("<Q", hdr, 504)[0] == fnv1a64(hdr[:504])
    nslots = struct.unpack_from("<I", hdr, 12)[0]
    out = []
    for i in range(nslots):
        r = img[SECTOR * (1 + i):SECTOR * (2 + i)]
        if r == bytes(SECTOR):
            continue
        magic, kind, gen, klen, vlen = struct.unpack_from("<IIQHH", r)
        valid = (magic == 0x3152564B and struct.unpack_from("<Q", r, 504)[0] == fnv1a64(r[:504])
                 and kind in (1, 2) and 1 <= klen <= 64 and vlen <= 416 and gen != 0)
        out.append((i, kind, gen, r[24:24 + klen], r[88:88 + vlen], valid))
    return nslots, out


def cmd_kv_dump(disk):
    img = open(disk, "rb").read()
    nslots, recs = kv_records(img)
    print("slots %d, %d records" % (nslots, len(recs)))
    for r in sorted(recs, key=lambda r: r[2]):
        print("slot %4d %s gen %d key %r value %r%s" % (r[0], "live" if r[1] == 1 else "tomb",
                                                      r[2], r[3], r[4], "" if r[5] else " BAD"))


def cmd_kv_tear(disk, key):
    """A SET of KEY that was torn: the newest generation, a new value, a stale checksum."""
    img = bytearray(open(disk, "rb").read())
    nslots, recs = kv_records(img)
    used = {r[0] for r in recs}
    free = next(i for i in range(nslots) if i not in used)
    top = max(r[2] for r in recs)
    cur = max((r for r in recs if r[3] == key.encode() and r[5]), key=lambda r: r[2])
    off = SECTOR * (1 + cur[0])
    rec = bytearray(img[off:off + SECTOR])
    struct.pack_into("<Q", rec, 8, top + 1)
    rec[88:88 + 4] = b"TORN"  # the new value only partly written; checksum not updated
    img[SECTOR * (1 + free):SECTOR * (2 + free)] = rec
    open(disk, "wb").write(img)
    report(True, "tore a SET of %s into slot %d (generation %d)" % (key, free, top + 1))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd = "cmd_" + sys.argv[1].replace("-", "_")
    if cmd not in globals():
        print("unknown subcommand " + sys.argv[1], file=sys.stderr)
        return 2
    globals()[cmd](*sys.argv[2:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
