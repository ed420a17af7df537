// SPDX-License-Identifier: GPL-2.0-or-later
//
// The machine in-process, on real KVM: vCPU pause/resume acknowledgements against a counter the
// guest increments in RAM, and KVM dirty logging against the pages the guest really wrote.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "tests/support/machine-fixture.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

using MachineTest = InProcessMachineTest;

TEST_F(MachineTest, PauseIsAcknowledgedAndResumeContinues) {
  create("count");
  ASSERT_TRUE(vm_->start().ok());
  uint64_t counter = wait_count_address();
  ASSERT_NE(counter, 0u);
  ASSERT_TRUE(counter_moves_past(counter, read_u64(counter)));

  std::vector<double> pause_us;
  for (int round = 0; round < 50; round++) {
    auto took = vm_->machine().vm().pause_all();
    pause_us.push_back(std::chrono::duration<double, std::micro>(took).count());
    for (const auto& v : vm_->machine().vm().vcpus()) {
      EXPECT_EQ(v->run_state(), VcpuRunState::kPaused);
    }
    // Parked means parked: the guest's counter does not move while we watch it.
    uint64_t frozen = read_u64(counter);
    auto until = std::chrono::steady_clock::now() + 5ms;
    while (std::chrono::steady_clock::now() < until)
      ASSERT_EQ(read_u64(counter), frozen);
    vm_->machine().vm().resume_all();
    ASSERT_TRUE(counter_moves_past(counter, frozen)) << "round " << round;
  }
  std::sort(pause_us.begin(), pause_us.end());
  RecordProperty("pause_median_us", static_cast<int>(pause_us[pause_us.size() / 2]));
  printf("pause_all: median %.0f us, max %.0f us over %zu pauses\n", pause_us[pause_us.size() / 2],
         pause_us.back(), pause_us.size());
}

TEST_F(MachineTest, StopAndContChangeTheRunState) {
  create("count");
  EXPECT_EQ(vm_->runstate().state(), RunState::kPrelaunch);
  ASSERT_TRUE(vm_->start().ok());
  EXPECT_EQ(vm_->runstate().state(), RunState::kRunning);
  uint64_t counter = wait_count_address();
  ASSERT_NE(counter, 0u);
  std::vector<std::pair<RunState, RunState>> seen;
  vm_->runstate().add_listener([&](RunState from, RunState to) { seen.emplace_back(from, to); });
  ASSERT_TRUE(vm_->stop().ok());
  EXPECT_EQ(vm_->runstate().state(), RunState::kPaused);
  uint64_t frozen = read_u64(counter);
  ASSERT_TRUE(vm_->start().ok());
  EXPECT_TRUE(counter_moves_past(counter, frozen));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(RunState::kRunning, RunState::kPaused));
  EXPECT_EQ(seen[1], std::make_pair(RunState::kPaused, RunState::kRunning));
}

TEST_F(MachineTest, RegistersCanBeReadOnlyWhileParked) {
  create("count");
  ASSERT_TRUE(vm_->start().ok());
  ASSERT_TRUE(wait_serial("count at 0x"));
  KvmVcpu* vcpu = vm_->machine().vm().vcpus()[0].get();
  Status running = vcpu->run_on_vcpu([] { return ok_status(); });
  EXPECT_FALSE(running.ok());
  vm_->machine().vm().pause_all();
  auto snap = vcpu->save_state();
  ASSERT_TRUE(snap.ok()) << snap.error().message();
  // Restoring what was saved is accepted, and the guest continues from it.
  ASSERT_TRUE(vcpu->restore_state(**snap).ok());
  vm_->machine().vm().resume_all();
}

// splitmix64's finaliser, the test guest's dirty pattern (tests/guest/README.md).
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

TEST_F(MachineTest, DirtyLogRecordsExactlyWhatTheGuestWrote) {
  create("dirty=1000");
  KvmVm& kvm = vm_->machine().vm();
  ASSERT_TRUE(kvm.set_dirty_logging(0, true).ok());
  ASSERT_TRUE(vm_->start().ok());
  ASSERT_TRUE(wait_serial("testguest: idle"));
  kvm.pause_all();
  std::vector<uint64_t> bitmap;
  ASSERT_TRUE(kvm.get_dirty_log(0, bitmap).ok());
  auto dirty = [&](uint64_t page) { return (bitmap[page / 64] >> (page % 64)) & 1; };

  // The pages holding round 1 of the pattern are exactly the ones the guest wrote.
  GuestMemory& mem = vm_->machine().memory();
  size_t written = 0, missed = 0;
  for (uint64_t gpa = 0; gpa < (128ULL << 20); gpa += 4096) {
    uint64_t first = *reinterpret_cast<uint64_t*>(mem.host_ptr(gpa, 8));
    if (first != mix(gpa | (1ULL << 52)))
      continue;
    written++;
    // Verify the whole page, then that KVM saw the write.
    for (uint64_t off = 0; off < 4096; off += 8) {
      ASSERT_EQ(*reinterpret_cast<uint64_t*>(mem.host_ptr(gpa + off, 8)),
                mix((gpa + off) | (1ULL << 52)));
    }
    if (!dirty(gpa / 4096))
      missed++;
  }
  EXPECT_EQ(written, 1000u);
  EXPECT_EQ(missed, 0u);
  // A second harvest after the guest stopped writing finds (almost) nothing new: the log was
  // cleared by the first one.
  std::vector<uint64_t> again;
  ASSERT_TRUE(kvm.get_dirty_log(0, again).ok());
  size_t redirtied = 0;
  for (uint64_t w : again)
    redirtied += static_cast<size_t>(__builtin_popcountll(w));
  EXPECT_EQ(redirtied, 0u);
  kvm.resume_all();
}

TEST_F(MachineTest, HostWritesAreMarkedDirty) {
  create("exit=0");
  // The boot loader wrote the kernel at 1 MiB, the start info and the MP table: all through
  // GuestMemory, so all of them are in the host-dirty bitmap that migration will read.
  AtomicBitmap& host_dirty = vm_->machine().memory().blocks()[0]->host_dirty();
  EXPECT_TRUE(host_dirty.test(0x100000 / 4096));  // kernel
  EXPECT_TRUE(host_dirty.test(0x6000 / 4096));    // PVH start info
  EXPECT_TRUE(host_dirty.test(0xf0000 / 4096));   // MP table
  EXPECT_FALSE(host_dirty.test(0x4000000 / 4096));
}

}  // namespace
}  // namespace colo::test
