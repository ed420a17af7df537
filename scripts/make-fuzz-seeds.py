#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the small hand-made seed inputs of the fuzz targets in tests/fuzz/corpus/.

Run from the source tree: scripts/make-fuzz-seeds.py. The seeds are committed; rerun only when
a format changes."""
import os
import struct

root = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fuzz', 'corpus')


def write(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def pvh_elf64():
    # ELF64 header, 2 program headers (PT_LOAD, PT_NOTE), a note and 64 bytes of code.
    note = struct.pack('<III', 4, 4, 18) + b'Xen\0' + struct.pack('<I', 0x100000 + 0x40)
    code = b'\xf4' * 64
    phoff = 64
    data_off = phoff + 2 * 56
    load = struct.pack('<IIQQQQQQ', 1, 5, data_off, 0x100000, 0x100000,
                       len(note) + len(code), 0x2000, 0x1000)
    notep = struct.pack('<IIQQQQQQ', 4, 4, data_off, 0x100000, 0x100000, len(note), len(note), 4)
    ehdr = b'\x7fELF' + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, 0x100040, phoff, 0, 0, 64, 56, 2, 64, 0, 0)
    return ehdr + load + notep + note + code


def bzimage():
    img = bytearray(0x1400)
    img[0x1f1] = 1
    img[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', img, 0x206, 0x020f)
    img[0x211] = 0x01
    struct.pack_into('<I', img, 0x22c, 0x37ffffff)
    img[0x234] = 1
    struct.pack_into('<H', img, 0x236, 0x1)
    struct.pack_into('<I', img, 0x238, 2047)
    struct.pack_into('<I', img, 0x260, 0x10000)
    return bytes(img)


write('kernel-loader', 'pvh-elf64', pvh_elf64())
write('kernel-loader', 'bzimage', bzimage())
write('keyval', 'blockdev', b'driver=qcow2,node-name=d0,file.driver=file,file.filename=a,,b.img')
write('keyval', 'netdev', b'tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off')
write('keyval', 'sizes', b'size=1.5G,maxmem=4T,slots=0x10,flag')
# vmstate: first byte = (device << 2) | version. Serial state v1 is 29 bytes.
write('vmstate', 'serial-v1', bytes([0x01]) + bytes([0, 12, 0, 3, 0, 0x60, 0xb0, 0, 0xc1, 0]) +
      bytes(16) + bytes([0, 0]))
write('vmstate', 'rtc-v1', bytes([0x05]) + bytes(128) + bytes([0x0a]) + bytes(8))
