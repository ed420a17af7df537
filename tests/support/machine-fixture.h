// SPDX-License-Identifier: GPL-2.0-or-later
//
// A fixture for tests that run the machine in-process on real KVM (no colovm process): the
// test guest with serial0 in a file, the main loop turned by hand, guest RAM read directly.
#ifndef COLOVM_TESTS_SUPPORT_MACHINE_FIXTURE_H
#define COLOVM_TESTS_SUPPORT_MACHINE_FIXTURE_H

#include <glib.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>

#include "chardev/char.h"
#include "system/vm.h"
#include "tests/support/process.h"
#include "util/main-loop.h"

namespace colo::test {

class InProcessMachineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_KVM();
    main_loop_init();
    auto accel = KvmAccel::open();
    ASSERT_TRUE(accel.ok()) << accel.error().message();
    accel_ = std::move(*accel);
  }

  void TearDown() override {
    vm_.reset();
    serial_.reset();
  }

  // Creates the VM: the test guest with `cmdline`, 128 MiB, serial0 into serial.log; `adjust`
  // may change the rest of the configuration.
  void create(const std::string& cmdline, const std::function<void(PcConfig&)>& adjust = nullptr) {
    auto chr = chardev_new_from_option("file:" + dir_.file("serial.log"), "serial0");
    ASSERT_TRUE(chr.ok()) << chr.error().message();
    serial_ = std::move(*chr);
    VmConfig cfg;
    cfg.machine.kernel = test_guest();
    cfg.machine.cmdline = cmdline;
    cfg.machine.ram_size = 128ULL << 20;
    cfg.machine.serial[0] = serial_.get();
    if (adjust)
      adjust(cfg.machine);
    auto vm = VirtualMachine::create(cfg, *accel_);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    vm_ = std::move(*vm);
  }

  void run_main_loop_once() {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
  }

  // Waits (turning the main loop) until the serial log matches `re`; the match is in match_.
  // The log is read while the guest still writes it, one port write per character: a pattern
  // that captures a number must also match what ends it, or it may capture only a prefix.
  bool wait_serial(const std::string& re,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::regex rx(re);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      run_main_loop_once();
      log_ = read_text_file(dir_.file("serial.log"));
      if (std::regex_search(log_, match_, rx))
        return true;
      g_usleep(1000);
    }
    ADD_FAILURE() << "serial output never matched '" << re << "':\n" << log_;
    return false;
  }

  // Waits for the `count` job's announcement; returns the counter's guest-physical address,
  // or 0 (with a failure recorded) if it never came.
  uint64_t wait_count_address() {
    if (!wait_serial("count at 0x([0-9a-f]+)\r?\n"))
      return 0;
    return std::stoull(match_[1].str(), nullptr, 16);
  }

  uint64_t read_u64(uint64_t gpa) {
    auto* p = reinterpret_cast<volatile uint64_t*>(vm_->machine().memory().host_ptr(gpa, 8));
    EXPECT_NE(p, nullptr) << "0x" << std::hex << gpa << " is not guest RAM";
    return p == nullptr ? 0 : *p;
  }

  // Waits until the counter at `gpa` exceeds `than`.
  bool counter_moves_past(uint64_t gpa, uint64_t than,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (read_u64(gpa) > than)
        return true;
      g_usleep(100);
    }
    return false;
  }

  TempDir dir_;
  std::string log_;
  std::smatch match_;
  std::unique_ptr<KvmAccel> accel_;
  std::unique_ptr<Chardev> serial_;
  std::unique_ptr<VirtualMachine> vm_;
};

}  // namespace colo::test

#endif
