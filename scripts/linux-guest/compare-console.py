#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compare the kernel messages of two serial-console logs of the same boot.

    compare-console.py REFERENCE.log UNDER_TEST.log

REFERENCE is qemu-system-x86_64's console up to its stop (a KVM internal error
on kvm-pvm), UNDER_TEST the VMM's. Exit 0 when the VMM's console shows the
same kernel messages up to the reference's last one. The rules (also in
scripts/linux-guest/README.md):

 1. Only kernel messages count: lines with a printk "[    1.234567] " stamp;
    the stamp is dropped. Firmware output (SeaBIOS, iPXE, the real-mode boot
    code) and escape sequences before the stamp are ignored.
 2. Machine-dependent messages are not compared (MACHINE below): they describe
    the virtual machine the VMM builds (e820 map and what follows from it,
    SMBIOS/DMI, ACPI/MP tables, timers, paravirt clock, interrupt routing),
    the host CPU (mitigations, TLB sizes, idle routine, TSC MHz, BogoMIPS) or
    are printed at a timing-dependent place (random: crng init done).
    Differences among them are listed for information.
 3. In the other messages, numbers (0x... hex, then every run of decimal
    digits) are replaced by '#',
    except in EXACT messages, whose numbers follow from the command line
    (-smp, -append) and the kernel itself and are compared verbatim.
 4. The compared messages of the VMM must begin with exactly the compared
    messages of the reference, in order; the reference's last kernel message
    (its stop point) must appear in the VMM's log. The VMM may get further:
    its messages after that point are listed for information.
 5. No oops-like message (WARNING:, BUG:, Oops, Call Trace, Kernel panic,
    general protection fault, invalid opcode) may appear in the VMM's log
    unless the reference has it too.
"""
import difflib
import re
import sys

STAMP = re.compile(r"\[\s*\d+\.\d+\] (.*)")

MACHINE = [re.compile(p) for p in (
    # The e820 map and what the kernel derives from it.
    r"^BIOS-provided physical RAM map", r"^BIOS-e820:", r"^e820:",
    r"^user-defined physical RAM map", r"^user: \[mem", r"^last_pfn",
    r"^x86/PAT:", r"^RAMDISK:", r"^No NUMA configuration", r"^Faking a node",
    r"^NODE_DATA", r"^Zone ranges", r"^(DMA|DMA32|Normal|Device)\s",
    r"^Movable zone start", r"^Early memory node ranges", r"^node\s+\d+: \[mem",
    r"^Initmem setup node", r"^On node \d+, zone",
    r"^PM: hibernation: Registered nosave memory",
    r"^\[mem \S+\] available for PCI devices",
    # Firmware tables: SMBIOS/DMI, ACPI, MP table.
    r"^SMBIOS", r"^DMI:", r"^DMI not present", r"^ACPI", r"^IOAPIC\[",
    r"^Intel MultiProcessor", r"^MPTABLE", r"^found SMP MP-table", r"^MP-BIOS",
    r"^Processor #", r"^I/O APIC", r"^mpc:", r"^check: Scanning",
    # Hypervisor interface and clocks.
    r"^Hypervisor detected", r"^Booting paravirtualized kernel", r"^kvm-clock",
    r"^kvm-guest", r"^clocksource:", r"^tsc:", r"^Calibrating delay loop",
    r"^hpet", r"^HPET",
    # Interrupt controller and timer set-up.
    r"^APIC:", r"^x2apic", r"^Switched APIC routing", r"^\.\.TIMER",
    r"^Console: colour",
    # Host CPU: model, caches, mitigations, idle routine.
    r"^smpboot: CPU\d+:", r"^process: using", r"^Last level [id]TLB entries",
    r"^x86/cpu:", r"^Spectre", r"^Speculative", r"^MDS:", r"^TAA:", r"^MMIO Stale",
    r"^SRBDS:", r"^RETBleed:", r"^GDS:", r"^SRSO:", r"^ITS:", r"^Register File",
    r"^L1TF:", r"^MMIO", r"^x86/bugs",
    # Printed at a timing-dependent place.
    r"^random: crng init done",
)]

EXACT = [re.compile(p) for p in (
    r"^Linux version ", r"^Command line: ", r"^Kernel command line: ",
    r"^Unknown kernel command line parameters", r"^smpboot: Allowing ",
    r"^setup_percpu: ", r"^SLUB: ", r"^rcu: .*nr_cpu_ids", r"^x86/fpu: ",
    r"^NR_IRQS: ",
)]

OOPS = re.compile(r"WARNING:|BUG:|Oops|Call Trace|Kernel panic|general protection fault|"
                  r"invalid opcode")
HEX = re.compile(r"0x[0-9a-fA-F]+")
DIGITS = re.compile(r"[0-9]+")


def messages(path):
    out = []
    with open(path, "rb") as f:
        for raw in f:
            m = STAMP.search(raw.decode("utf-8", "replace"))
            if m:
                out.append(" ".join(m.group(1).split()))
    return out


def is_machine(msg):
    return any(p.search(msg) for p in MACHINE)


def key(msg):
    if any(p.search(msg) for p in EXACT):
        return msg
    return DIGITS.sub("#", HEX.sub("#", msg))


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        ref = messages(sys.argv[1])
        vmm = messages(sys.argv[2])
    except OSError as e:
        print(f"FAIL: {e}")
        return 1
    if not ref:
        print("FAIL: the reference log has no kernel messages")
        return 1

    ok = True
    stop_msg = ref[-1]
    stop_key = key(stop_msg)
    # The VMM's messages up to (and including) the reference's stop point.
    upto = None
    for i, msg in enumerate(vmm):
        if key(msg) == stop_key:
            upto = i + 1
    if upto is None:
        print(f"FAIL: the VMM never printed the reference's last message: {stop_msg}")
        ok = False
        upto = len(vmm)
    head, beyond = vmm[:upto], vmm[upto:]

    ref_cmp = [key(m) for m in ref if not is_machine(m)]
    vmm_cmp = [key(m) for m in head if not is_machine(m)]
    if ref_cmp != vmm_cmp:
        ok = False
        print(f"FAIL: compared messages differ (reference {len(ref_cmp)}, VMM {len(vmm_cmp)}):")
        for line in difflib.unified_diff(ref_cmp, vmm_cmp, "reference", "vmm", n=2, lineterm=""):
            print("  " + line)

    ref_oops = {key(m) for m in ref if OOPS.search(m)}
    for m in vmm:
        if OOPS.search(m) and key(m) not in ref_oops:
            print(f"FAIL: oops-like message in the VMM's log: {m}")
            ok = False

    ref_mach = [key(m) for m in ref if is_machine(m)]
    vmm_mach = [key(m) for m in head if is_machine(m)]
    if ref_mach != vmm_mach:
        print("info: machine-dependent messages differ (not compared):")
        for line in difflib.unified_diff(ref_mach, vmm_mach, "reference", "vmm", n=0, lineterm=""):
            if not line.startswith("@@"):
                print("  " + line)
    if beyond:
        print(f"info: the VMM got further than the reference: {len(beyond)} more messages, last: "
              f"{beyond[-1]}")

    reached = "reached" if upto == len(head) and key(head[-1] if head else "") == stop_key \
        else "NOT reached"
    summary = (f"{len(ref_cmp)} of the reference's {len(ref)} kernel messages compared, "
               f"{len(ref_mach)} machine-dependent; the reference's last message {reached}: "
               f"'{stop_msg}'")
    print(("ok: " if ok else "FAIL: ") + summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
