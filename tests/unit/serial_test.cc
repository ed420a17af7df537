// SPDX-License-Identifier: GPL-2.0-or-later
//
// The 16550A through its registers, as a guest driver sees it.
#include "hw/char/serial.h"

#include <glib.h>
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "util/main-loop.h"

namespace colo {
namespace {

enum : uint64_t {
  kRbr = 0,
  kThr = 0,
  kDll = 0,
  kIer = 1,
  kDlm = 1,
  kIir = 2,
  kFcr = 2,
  kLcr = 3,
  kMcr = 4,
  kLsr = 5,
  kMsr = 6,
  kScr = 7
};

// A chardev backend that keeps what the UART sends and counts how often the frontend asked for
// more input (frontend_ready() and attach both end in update_input_watch()).
class RecordingChardev : public Chardev {
 public:
  RecordingChardev() : Chardev("serial0", "test") {}
  std::string filename() const override { return "test"; }
  Status write_all(std::span<const uint8_t> data) override {
    std::lock_guard<std::mutex> lock(mutex_);
    out_.append(reinterpret_cast<const char*>(data.data()), data.size());
    return ok_status();
  }
  std::string output() {
    std::lock_guard<std::mutex> lock(mutex_);
    return out_;
  }
  int watch_updates() const { return watch_updates_; }

 protected:
  void update_input_watch() override { watch_updates_++; }

 private:
  std::mutex mutex_;
  std::string out_;
  int watch_updates_ = 0;
};

class RecordingIrq : public IrqLine {
 public:
  void set_level(bool level) override {
    levels.push_back(level);
    this->level = level;
  }
  std::vector<bool> levels;
  bool level = false;
};

class SerialTest : public ::testing::Test {
 protected:
  void SetUp() override { main_loop_init(); }
  void TearDown() override { drain(); }

  // Runs what the device queued for the main loop (frontend_ready calls).
  static void drain() {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
  }
  uint8_t rd(uint64_t offset) { return rd(serial_, offset); }
  static uint8_t rd(Serial& s, uint64_t offset) {
    uint8_t v = 0xee;
    s.read(offset, {&v, 1});
    return v;
  }
  void wr(uint64_t offset, uint8_t value) { serial_.write(offset, {&value, 1}); }
  void receive(std::string_view bytes) {
    serial_.receive({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }
  std::string read_rbr(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; i++)
      s += static_cast<char>(rd(kRbr));
    return s;
  }

  RecordingChardev chr_;
  RecordingIrq irq_;
  Serial serial_{&irq_, &chr_};
};

TEST_F(SerialTest, ResetValues) {
  EXPECT_EQ(rd(kIer), 0x00);
  EXPECT_EQ(rd(kIir), 0x01);  // no interrupt pending, FIFOs off
  EXPECT_EQ(rd(kLcr), 0x00);
  EXPECT_EQ(rd(kMcr), 0x00);
  EXPECT_EQ(rd(kLsr), 0x60);  // THRE | TEMT
  EXPECT_EQ(rd(kMsr), 0xb0);  // DCD | DSR | CTS, no deltas
  EXPECT_EQ(rd(kScr), 0x00);
  EXPECT_EQ(rd(kRbr), 0x00);  // nothing received
  SerialState s = serial_.state();
  EXPECT_EQ(s.divider, 12);
  EXPECT_EQ(s.rx_count, 0);
  EXPECT_TRUE(irq_.levels.empty());
  EXPECT_EQ(chr_.watch_updates(), 1);  // attached once
}

TEST_F(SerialTest, OffsetsWrapAtEightRegisters) {
  wr(kScr, 0x3c);
  EXPECT_EQ(rd(8 + kScr), 0x3c);
  EXPECT_EQ(rd(8 + kLsr), 0x60);
}

TEST_F(SerialTest, ScratchRegister) {
  for (uint8_t v : {0x5a, 0xa5, 0x00, 0xff}) {
    wr(kScr, v);
    EXPECT_EQ(rd(kScr), v);
  }
}

TEST_F(SerialTest, DivisorLatch) {
  wr(kLcr, 0x83);  // DLAB, 8N1
  wr(kDll, 0x01);
  wr(kDlm, 0x00);
  EXPECT_EQ(rd(kDll), 0x01);
  EXPECT_EQ(rd(kDlm), 0x00);
  EXPECT_EQ(serial_.state().divider, 1);  // 115200 baud
  wr(kDlm, 0x12);
  wr(kDll, 0x34);
  EXPECT_EQ(serial_.state().divider, 0x1234);
  EXPECT_EQ(rd(kDll), 0x34);
  EXPECT_EQ(rd(kDlm), 0x12);
  // With DLAB set nothing is transmitted and IER is not touched.
  EXPECT_EQ(chr_.output(), "");
  EXPECT_EQ(serial_.state().ier, 0);
  wr(kLcr, 0x03);
  EXPECT_EQ(rd(kLcr), 0x03);
  EXPECT_EQ(rd(kIer), 0x00);
  wr(kThr, 'x');
  EXPECT_EQ(chr_.output(), "x");
  EXPECT_EQ(serial_.state().divider, 0x1234);
}

TEST_F(SerialTest, LcrAndMcr) {
  wr(kLcr, 0x1b);  // 8 bits, even parity
  EXPECT_EQ(rd(kLcr), 0x1b);
  wr(kMcr, 0x0b);  // DTR | RTS | OUT2
  EXPECT_EQ(rd(kMcr), 0x0b);
  wr(kMcr, 0xff);  // only bits 0-4 exist
  EXPECT_EQ(rd(kMcr), 0x1f);
  // LSR and MSR are read-only.
  wr(kMcr, 0x00);
  wr(kLsr, 0x00);
  EXPECT_EQ(rd(kLsr), 0x60);
}

TEST_F(SerialTest, ThrReachesTheChardev) {
  for (char c : std::string("Hello, world\n")) {
    wr(kThr, static_cast<uint8_t>(c));
    EXPECT_EQ(rd(kLsr), 0x60);  // transmission is instantaneous
  }
  EXPECT_EQ(chr_.output(), "Hello, world\n");
  wr(kThr, 0x00);
  wr(kThr, 0xff);
  EXPECT_EQ(chr_.output(), std::string("Hello, world\n\0\xff", 15));
}

TEST_F(SerialTest, Loopback) {
  wr(kMcr, 0x1f);             // loop, OUT2, OUT1, RTS, DTR
  EXPECT_EQ(rd(kMsr), 0xf0);  // DCD <- OUT2, RI <- OUT1, DSR <- DTR, CTS <- RTS
  EXPECT_EQ(serial_.can_receive(), 0u);
  wr(kThr, 'Z');
  EXPECT_EQ(chr_.output(), "") << "loopback keeps the byte in the UART";
  EXPECT_EQ(rd(kLsr), 0x61);
  EXPECT_EQ(rd(kRbr), 'Z');
  EXPECT_EQ(rd(kLsr), 0x60);
  // Dropping every line: each change shows up as a delta (RI as trailing edge).
  wr(kMcr, 0x10);
  EXPECT_EQ(rd(kMsr), 0x0f);
  EXPECT_EQ(rd(kMsr), 0x00) << "reading MSR clears the deltas";
  wr(kMcr, 0x12);  // RTS -> CTS
  EXPECT_EQ(rd(kMsr), 0x11);
  wr(kMcr, 0x11);  // DTR -> DSR, CTS dropped
  EXPECT_EQ(rd(kMsr), 0x23);
  // Out of loopback the modem lines are up again.
  wr(kMcr, 0x00);
  EXPECT_EQ(rd(kMsr), 0xb9);
  EXPECT_EQ(rd(kMsr), 0xb0);
  wr(kThr, 'y');
  EXPECT_EQ(chr_.output(), "y");
  EXPECT_EQ(serial_.can_receive(), 1u);
}

TEST_F(SerialTest, FifoReceivesSixteenBytesInOrder) {
  int updates = chr_.watch_updates();
  wr(kFcr, 0x01);
  EXPECT_EQ(rd(kIir), 0xc1);  // FIFOs enabled, nothing pending
  EXPECT_EQ(serial_.can_receive(), 16u);
  drain();
  EXPECT_EQ(chr_.watch_updates(), updates + 1) << "more room: input may resume";
  updates = chr_.watch_updates();
  receive("0123456789abcdef");
  EXPECT_EQ(serial_.can_receive(), 0u);
  EXPECT_EQ(rd(kLsr), 0x61);
  EXPECT_EQ(rd(kRbr), '0');
  // Space again: the chardev is told once the main loop runs.
  EXPECT_EQ(chr_.watch_updates(), updates);
  drain();
  EXPECT_EQ(chr_.watch_updates(), updates + 1);
  EXPECT_EQ(serial_.can_receive(), 1u);
  EXPECT_EQ(read_rbr(15), "123456789abcdef");
  EXPECT_EQ(rd(kLsr), 0x60);
  EXPECT_EQ(serial_.can_receive(), 16u);
  drain();
  EXPECT_EQ(chr_.watch_updates(), updates + 1) << "only the full -> not full edge wakes input";
}

TEST_F(SerialTest, FifoWrapsAround) {
  wr(kFcr, 0x01);
  receive("abcdefghij");
  EXPECT_EQ(read_rbr(6), "abcdef");
  EXPECT_EQ(serial_.can_receive(), 12u);
  receive("KLMNOPQRSTUV");
  EXPECT_EQ(serial_.can_receive(), 0u);
  EXPECT_EQ(read_rbr(16), "ghijKLMNOPQRSTUV");
  EXPECT_EQ(rd(kLsr), 0x60);
}

TEST_F(SerialTest, Overrun) {
  wr(kFcr, 0x01);
  receive("0123456789abcdefX");
  EXPECT_EQ(rd(kLsr), 0x63);  // DR | OE | THRE | TEMT
  EXPECT_EQ(rd(kLsr), 0x61) << "reading LSR clears OE";
  EXPECT_EQ(read_rbr(16), "0123456789abcdef");
}

TEST_F(SerialTest, WithoutFifoOneByteAtATime) {
  EXPECT_EQ(serial_.can_receive(), 1u);
  receive("a");
  EXPECT_EQ(serial_.can_receive(), 0u);
  receive("b");
  EXPECT_EQ(rd(kLsr), 0x63);
  EXPECT_EQ(rd(kRbr), 'a');
  EXPECT_EQ(rd(kRbr), 0x00);
}

TEST_F(SerialTest, FcrClearsTheReceiveFifo) {
  wr(kFcr, 0x01);
  receive("xyz");
  drain();
  int updates = chr_.watch_updates();
  wr(kFcr, 0x03);  // enable + clear RX
  EXPECT_EQ(rd(kLsr), 0x60);
  EXPECT_EQ(serial_.state().rx_count, 0);
  EXPECT_EQ(serial_.can_receive(), 16u);
  drain();
  EXPECT_EQ(chr_.watch_updates(), updates + 1);
  // Turning the FIFO off also empties it.
  receive("uv");
  wr(kFcr, 0x00);
  EXPECT_EQ(rd(kLsr), 0x60);
  EXPECT_EQ(rd(kIir), 0x01);
}

TEST_F(SerialTest, IirPriorities) {
  wr(kIer, 0x03);             // RDI | THRI
  EXPECT_EQ(rd(kIir), 0x02);  // THR empty (and reading IIR acknowledges it)
  EXPECT_EQ(rd(kIir), 0x01);
  wr(kThr, 'a');  // THR empty again
  receive("r");
  EXPECT_EQ(rd(kIir), 0x04) << "received data outranks THR empty";
  EXPECT_EQ(rd(kIir), 0x04) << "reading IIR does not acknowledge received data";
  EXPECT_EQ(rd(kRbr), 'r');
  EXPECT_EQ(rd(kIir), 0x02);
  EXPECT_EQ(rd(kIir), 0x01);
  // Line status outranks both.
  wr(kIer, 0x07);
  wr(kThr, 'b');
  receive("st");  // overrun (no FIFO)
  EXPECT_EQ(rd(kIir), 0x06);
  EXPECT_EQ(rd(kLsr), 0x63);
  EXPECT_EQ(rd(kIir), 0x04);
  EXPECT_EQ(rd(kRbr), 's');
  EXPECT_EQ(rd(kIir), 0x02);
  EXPECT_EQ(rd(kIir), 0x01);
}

TEST_F(SerialTest, ModemStatusInterrupt) {
  wr(kIer, 0x08);
  wr(kMcr, 0x10);  // loopback drops every line (RI was already off: no trailing edge)
  EXPECT_EQ(rd(kIir), 0x00);
  EXPECT_TRUE(irq_.level);
  EXPECT_EQ(rd(kMsr), 0x0b);
  EXPECT_EQ(rd(kIir), 0x01);
  EXPECT_FALSE(irq_.level);
}

TEST_F(SerialTest, FifoTriggerLevel) {
  wr(kFcr, 0x81);  // FIFO, trigger at 8 bytes
  wr(kIer, 0x01);
  receive("1234567");
  EXPECT_EQ(rd(kIir), 0xcc) << "below the trigger level: character timeout";
  receive("8");
  EXPECT_EQ(rd(kIir), 0xc4);
  EXPECT_EQ(read_rbr(8), "12345678");
  EXPECT_EQ(rd(kIir), 0xc1);
}

TEST_F(SerialTest, EnablingThriRaisesItWhenThrIsEmpty) {
  wr(kIer, 0x02);
  EXPECT_TRUE(irq_.level);
  EXPECT_EQ(rd(kIir), 0x02);
  EXPECT_FALSE(irq_.level);
  EXPECT_EQ(rd(kIir), 0x01);
  // Writing IER again with THRI already on does not re-raise it.
  wr(kIer, 0x02);
  EXPECT_EQ(rd(kIir), 0x01);
  EXPECT_FALSE(irq_.level);
  // Disable then enable: raised again.
  wr(kIer, 0x00);
  wr(kIer, 0x02);
  EXPECT_EQ(rd(kIir), 0x02);
  // Each transmitted byte leaves THR empty: raised again.
  wr(kThr, 'q');
  EXPECT_TRUE(irq_.level);
  EXPECT_EQ(rd(kIir), 0x02);
  EXPECT_FALSE(irq_.level);
}

TEST_F(SerialTest, IrqLineLevels) {
  wr(kIer, 0x02);  // up: THR empty
  rd(kIir);        // down: acknowledged
  wr(kIer, 0x03);  // still RDI only, nothing received: stays down
  receive("x");    // up: data
  rd(kIir);        // stays up: data still there
  rd(kRbr);        // down
  wr(kThr, 'y');   // up: THR empty
  wr(kIer, 0x00);  // down: masked
  EXPECT_EQ(irq_.levels, (std::vector<bool>{true, false, true, false, true, false}));
  // Masking keeps the condition: unmasking shows it again.
  wr(kIer, 0x02);
  EXPECT_EQ(irq_.levels.back(), true);
  EXPECT_EQ(rd(kIir), 0x02);
  EXPECT_EQ(irq_.levels.back(), false);
}

TEST_F(SerialTest, Reset) {
  wr(kLcr, 0x80);
  wr(kDll, 3);
  wr(kLcr, 0x03);
  wr(kScr, 0x55);
  wr(kFcr, 0x01);
  wr(kIer, 0x01);
  receive("abc");
  ASSERT_TRUE(irq_.level);
  serial_.reset();
  EXPECT_FALSE(irq_.level);
  EXPECT_EQ(irq_.levels.back(), false);
  SerialState s = serial_.state();
  EXPECT_EQ(s.divider, 12);
  EXPECT_EQ(s.rx_count, 0);
  EXPECT_EQ(s.fcr, 0);
  EXPECT_EQ(rd(kLcr), 0x00);
  EXPECT_EQ(rd(kScr), 0x00);
  EXPECT_EQ(rd(kIer), 0x00);
  EXPECT_EQ(rd(kIir), 0x01);
  EXPECT_EQ(rd(kLsr), 0x60);
  EXPECT_EQ(rd(kMsr), 0xb0);
  EXPECT_EQ(serial_.can_receive(), 1u);
}

TEST_F(SerialTest, NoChardevNoIrq) {
  Serial bare(nullptr, nullptr);
  uint8_t v = 'a';
  bare.write(kThr, {&v, 1});
  v = 0x02;
  bare.write(kIer, {&v, 1});
  EXPECT_EQ(rd(bare, kIir), 0x02);
  bare.receive(std::span<const uint8_t>(&v, 1));
  EXPECT_EQ(rd(bare, kRbr), 0x02);
}

// Registers in the order of kSerialVmState: divider (be16), ier, lcr, mcr, lsr, msr, scr, fcr,
// thr_ipending, rx_fifo[16], rx_head, rx_count.
constexpr size_t kStateSize = 2 + 7 + 1 + 16 + 2;
constexpr size_t kRxHeadOffset = 26;
constexpr size_t kRxCountOffset = 27;

TEST_F(SerialTest, SaveLoadRoundTrip) {
  wr(kLcr, 0x80);
  wr(kDll, 0x03);
  wr(kDlm, 0x01);
  wr(kLcr, 0x03);
  wr(kMcr, 0x0b);
  wr(kScr, 0x77);
  wr(kFcr, 0xc1);
  wr(kIer, 0x01);
  receive("ABCDE");
  EXPECT_EQ(read_rbr(2), "AB");

  ByteWriter w;
  serial_.save(w);
  std::vector<uint8_t> bytes = w.take();
  ASSERT_EQ(bytes.size(), kStateSize);
  EXPECT_EQ(bytes[0], 0x01);  // divider, big-endian
  EXPECT_EQ(bytes[1], 0x03);
  EXPECT_EQ(bytes[2], 0x01);  // ier
  EXPECT_EQ(bytes[3], 0x03);  // lcr
  EXPECT_EQ(bytes[4], 0x0b);  // mcr
  EXPECT_EQ(bytes[5], 0x61);  // lsr
  EXPECT_EQ(bytes[7], 0x77);  // scr
  EXPECT_EQ(bytes[8], 0xc1);  // fcr
  EXPECT_EQ(bytes[10], 'A');  // rx_fifo[0]
  EXPECT_EQ(bytes[kRxHeadOffset], 2);
  EXPECT_EQ(bytes[kRxCountOffset], 3);

  RecordingIrq irq2;
  Serial other(&irq2, nullptr);
  ASSERT_TRUE(other.load(bytes, 1).ok());
  SerialState a = serial_.state(), b = other.state();
  EXPECT_EQ(a.divider, b.divider);
  EXPECT_EQ(a.ier, b.ier);
  EXPECT_EQ(a.lcr, b.lcr);
  EXPECT_EQ(a.mcr, b.mcr);
  EXPECT_EQ(a.lsr, b.lsr);
  EXPECT_EQ(a.msr, b.msr);
  EXPECT_EQ(a.scr, b.scr);
  EXPECT_EQ(a.fcr, b.fcr);
  EXPECT_EQ(a.thr_ipending, b.thr_ipending);
  EXPECT_EQ(a.rx_fifo, b.rx_fifo);
  EXPECT_EQ(a.rx_head, b.rx_head);
  EXPECT_EQ(a.rx_count, b.rx_count);
  // The loaded device raises its line for the pending data and carries on where the other was.
  EXPECT_EQ(irq2.levels, std::vector<bool>{true});
  EXPECT_EQ(rd(other, kIir), 0xcc);
  EXPECT_EQ(rd(other, kRbr), 'C');
  EXPECT_EQ(rd(other, kRbr), 'D');
  EXPECT_EQ(rd(other, kRbr), 'E');
  EXPECT_EQ(rd(other, kLsr), 0x60);
  EXPECT_EQ(irq2.levels.back(), false);
  // Saving the loaded device gives the same bytes (before it was read).
  Serial third(nullptr, nullptr);
  ASSERT_TRUE(third.load(bytes, 1).ok());
  ByteWriter w3;
  third.save(w3);
  EXPECT_EQ(w3.buffer(), bytes);
}

TEST_F(SerialTest, CorruptStateRejectedDeviceUnchanged) {
  wr(kFcr, 0x01);
  receive("abc");
  ByteWriter w;
  serial_.save(w);
  const std::vector<uint8_t> good = w.take();

  RecordingIrq irq2;
  Serial other(&irq2, nullptr);
  uint8_t v = 0x42;
  other.write(kScr, {&v, 1});
  SerialState before = other.state();
  auto expect_unchanged = [&] {
    SerialState now = other.state();
    EXPECT_EQ(now.scr, 0x42);
    EXPECT_EQ(now.rx_count, before.rx_count);
    EXPECT_EQ(now.rx_head, before.rx_head);
    EXPECT_EQ(now.fcr, before.fcr);
    EXPECT_EQ(now.lsr, before.lsr);
    EXPECT_TRUE(irq2.levels.empty());
  };

  std::vector<uint8_t> bad = good;
  bad[kRxHeadOffset] = 200;
  Status st = other.load(bad, 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "serial: RX FIFO position 200/3 out of range");
  expect_unchanged();

  bad = good;
  bad[kRxCountOffset] = 17;
  st = other.load(bad, 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "serial: RX FIFO position 0/17 out of range");
  expect_unchanged();

  bad = good;
  bad[9] = 2;  // thr_ipending is a bool
  st = other.load(bad, 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "'serial' field 'thr_ipending': invalid bool value 2");
  expect_unchanged();

  st = other.load(good, 2);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "'serial': unsupported state version 2 (this build reads 1 to 1)");
  expect_unchanged();

  for (size_t len = 0; len < good.size(); len++) {
    st = other.load(std::span<const uint8_t>(good.data(), len), 1);
    EXPECT_FALSE(st.ok()) << len;
  }
  expect_unchanged();
  ASSERT_TRUE(other.load(good, 1).ok());
  EXPECT_EQ(other.state().rx_count, 3);
}

TEST_F(SerialTest, VmStateDescription) {
  EXPECT_STREQ(kSerialVmState.name, "serial");
  EXPECT_EQ(kSerialVmState.version_id, 1);
  EXPECT_EQ(kSerialVmState.minimum_version_id, 1);
  EXPECT_EQ(kSerialVmState.fields.size(), 12u);
}

}  // namespace
}  // namespace colo
