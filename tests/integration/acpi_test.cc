// SPDX-License-Identifier: GPL-2.0-or-later
//
// ACPI on the machine in-process, on real KVM: the tables in guest RAM (and marked dirty), and
// the power button end to end: PcMachine::powerdown() sets PWRBTN_STS, the SCI reaches the
// guest through the in-kernel irqchip, the guest powers off, the VM shuts down with status 0.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "hw/acpi/tables.h"
#include "tests/support/machine-fixture.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

class AcpiMachineTest : public InProcessMachineTest {
 protected:
  void create(const std::string& cmdline, bool acpi = true, int smp = 1) {
    InProcessMachineTest::create(cmdline, [&](PcConfig& m) {
      m.acpi = acpi;
      m.smp = smp;
    });
  }
};

TEST_F(AcpiMachineTest, TablesAreInGuestRamAndMarkedDirty) {
  create("exit=0", true, 2);
  // 128 MiB of RAM: the 64-bit PCI window starts at 4 GiB (32 GiB, as QEMU's q35).
  auto want = build_acpi_tables(
      {.nr_cpus = 2, .pci_mmio64_start = 4ULL << 30, .pci_mmio64_size = 32ULL << 30},
      kAcpiTablesAddr, kAcpiTablesEnd);
  ASSERT_TRUE(want.ok());
  std::vector<uint8_t> got(want->blob.size());
  ASSERT_TRUE(vm_->machine().memory().read(kAcpiTablesAddr, got).ok());
  EXPECT_EQ(got, want->blob);
  AtomicBitmap& host_dirty = vm_->machine().memory().blocks()[0]->host_dirty();
  for (uint64_t gpa = kAcpiTablesAddr; gpa < kAcpiTablesAddr + want->blob.size(); gpa += 4096) {
    EXPECT_TRUE(host_dirty.test(gpa / 4096)) << std::hex << gpa;
  }
}

TEST_F(AcpiMachineTest, ResetRewritesTheTables) {
  create("count");
  ASSERT_TRUE(vm_->start().ok());
  ASSERT_TRUE(wait_serial("count at 0x"));
  vm_->machine().vm().pause_all();
  GuestMemory& mem = vm_->machine().memory();
  ASSERT_TRUE(mem.fill(kAcpiTablesAddr, 0, 4096).ok());  // a guest scribbled over them
  ASSERT_TRUE(vm_->system_reset(ShutdownCause::kHostQmpSystemReset).ok());
  std::vector<uint8_t> rsdp(8);
  ASSERT_TRUE(mem.read(kAcpiTablesAddr, rsdp).ok());
  EXPECT_EQ(std::string(rsdp.begin(), rsdp.end()), "RSD PTR ");
}

TEST_F(AcpiMachineTest, PowerButtonShutsTheGuestDown) {
  create("powerbutton");
  ASSERT_TRUE(vm_->start().ok());
  ASSERT_TRUE(wait_serial("testguest: powerbutton waiting, sci 9"));
  EXPECT_TRUE(vm_->machine().powerdown());
  ASSERT_TRUE(wait_serial("testguest: powerbutton pressed"));
  ASSERT_TRUE(wait_serial("testguest: poweroff via port 0x604"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!vm_->quitting() && std::chrono::steady_clock::now() < deadline) {
    run_main_loop_once();
    g_usleep(1000);
  }
  EXPECT_TRUE(vm_->quitting()) << log_;
  EXPECT_EQ(vm_->exit_status(), 0);
  EXPECT_EQ(vm_->runstate().state(), RunState::kShutdown);
  EXPECT_EQ(log_.find("error"), std::string::npos) << log_;
}

TEST_F(AcpiMachineTest, PowerButtonIsIgnoredUntilTheGuestEnablesIt) {
  create("count");
  ASSERT_TRUE(vm_->start().ok());
  uint64_t counter = wait_count_address();
  ASSERT_NE(counter, 0u);
  EXPECT_TRUE(vm_->machine().powerdown());
  // Nothing listens: the guest counts on, and the VM neither stops nor shuts down.
  uint64_t before = read_u64(counter);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (read_u64(counter) <= before + 1000000 && std::chrono::steady_clock::now() < deadline) {
    run_main_loop_once();
  }
  EXPECT_GT(read_u64(counter), before + 1000000);
  EXPECT_FALSE(vm_->quitting());
  EXPECT_EQ(vm_->runstate().state(), RunState::kRunning);
}

TEST_F(AcpiMachineTest, WithoutAcpiThereIsNoButtonAndNoTables) {
  create("exit=0", false);
  EXPECT_FALSE(vm_->machine().powerdown());
  std::vector<uint8_t> rsdp(8);
  ASSERT_TRUE(vm_->machine().memory().read(kAcpiTablesAddr, rsdp).ok());
  EXPECT_NE(std::string(rsdp.begin(), rsdp.end()), "RSD PTR ");
  // Nothing answers at the PM ports.
  uint8_t v[2] = {0, 0};
  vm_->machine().pio_read(0x604, v);
  EXPECT_EQ(v[0], 0xff);
}

}  // namespace
}  // namespace colo::test
