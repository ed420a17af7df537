// SPDX-License-Identifier: GPL-2.0-or-later
//
// Fuzz target: loading device state from a migration stream (hostile input). The first byte
// picks the device and the stream version; the rest is the state. Loading must fail cleanly or
// produce a state that passes the device's own validation.
#include <cstddef>
#include <cstdint>

#include "hw/char/serial.h"
#include "hw/i386/pc-devices.h"
#include "migration/vmstate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  int version = data[0] & 0x3;
  std::span<const uint8_t> state(data + 1, size - 1);
  switch ((data[0] >> 2) & 0x3) {
    case 0: {
      colo::Serial serial(nullptr, nullptr);
      if (serial.load(state, version).ok()) {
        // A loaded UART must be usable: drive every register.
        uint8_t b[1] = {0x55};
        for (uint64_t reg = 0; reg < 8; reg++) {
          serial.write(reg, b);
          serial.read(reg, b);
        }
      }
      break;
    }
    case 1: {
      colo::Rtc rtc;
      if (rtc.load(state, version).ok()) {
        uint8_t b[1];
        rtc.read(1, b);
      }
      break;
    }
    default: {
      colo::ByteWriter out;
      colo::SerialState s;
      colo::ByteReader in(state);
      (void)colo::vmstate_load(colo::kSerialVmState, &s, in, version);
      break;
    }
  }
  return 0;
}
