// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/i386/pc.h
//
// The x86 PC machine: RAM around the 32-bit PCI hole, the in-kernel PIC/IOAPIC/LAPIC/PIT, COM
// ports, the PCI host bridge, the reset and debug-exit ports, an RTC, the ACPI PM device, and
// direct kernel boot (Linux bzImage or PVH ELF) with an e820 map, MP table and ACPI tables
// instead of firmware.
//
// Threads: vCPU threads call the VcpuExitHandler methods, which dispatch to the PIO/MMIO buses.
// Everything else (creation, reset, teardown) happens on the main thread with the vCPUs parked.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "accel/kvm.h"
#include "chardev/char.h"
#include "hw/acpi/pm.h"
#include "hw/bus.h"
#include "hw/char/serial.h"
#include "hw/i386/boot.h"
#include "hw/i386/cpu-model.h"
#include "hw/i386/pc-devices.h"
#include "hw/ioeventfd.h"
#include "hw/machine-events.h"
#include "hw/pci/pci.h"
#include "hw/qdev.h"
#include "system/guest-memory.h"

namespace colo {

struct PcConfig {
  uint64_t ram_size = 128ULL << 20;
  uint64_t max_ram_below_4g = kPciHoleStart;  // RAM above this goes above 4 GiB
  int smp = 1;
  std::string cpu_model = "qemu64";
  std::string kernel;  // path
  std::string initrd;  // path, optional
  std::string cmdline;
  std::array<Chardev*, 4> serial{};  // COM1..COM4 backends (null: port absent)
  bool debug_exit = true;
  bool acpi = true;                 // ACPI tables and the ACPI PM device (power button, soft-off)
  std::vector<KeyvalDict> devices;  // -device, in command-line order
  block::BlockGraph* blocks = nullptr;  // disks the devices may use (-drive, -blockdev)
  NetdevRegistry* netdevs = nullptr;    // network backends (-netdev)
};

// One interrupt line of the in-kernel irqchip.
class GsiLine : public IrqLine {
 public:
  GsiLine(KvmVm* vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool level) override;

 private:
  KvmVm* vm_;
  uint32_t gsi_;
};

class PcMachine : public VcpuExitHandler, public MsiSink, public IoEventNotifier {
 public:
  static Result<std::unique_ptr<PcMachine>> create(const PcConfig& cfg, KvmAccel& accel,
                                                   MachineEvents* events);
  ~PcMachine() override;

  // Loads the kernel and points the BSP at it. Called once at start and on every reset.
  Status boot();
  // Full system reset: devices, in-kernel irqchip and vCPUs back to power-on state, then boot().
  // The vCPUs must be parked.
  Status reset();
  // Presses the ACPI power button (QMP system_powerdown); the guest decides what to do. False
  // if the machine has no ACPI (acpi=off), where there is no button to press, as in QEMU.
  bool powerdown();

  KvmVm& vm() { return *vm_; }
  GuestMemory& memory() { return memory_; }
  IoBus& pio() { return pio_; }
  IoBus& mmio() { return mmio_; }
  PciBus& pci() { return *pci_; }
  const CpuModel& cpu_model() const { return cpu_; }
  const PcConfig& config() const { return cfg_; }
  IrqLine* gsi(uint32_t n) { return n < gsis_.size() ? gsis_[n].get() : nullptr; }
  // Devices created with -device, in creation order.
  const std::vector<std::unique_ptr<Device>>& devices() const { return devices_; }
  // Pauses / resumes the worker threads of every device (checkpoints, migration).
  void pause_devices();
  void resume_devices();

  // MsiSink: message-signalled interrupts from PCI devices.
  void send_msi(uint64_t address, uint32_t data) override;
  // IoEventNotifier: guest writes that signal an eventfd in KVM.
  Status add_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int eventfd,
                       std::optional<uint64_t> datamatch) override;
  Status remove_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int eventfd,
                          std::optional<uint64_t> datamatch) override;

  // VcpuExitHandler.
  void pio_read(uint16_t port, std::span<uint8_t> data) override;
  void pio_write(uint16_t port, std::span<const uint8_t> data) override;
  void mmio_read(uint64_t addr, std::span<uint8_t> data) override;
  void mmio_write(uint64_t addr, std::span<const uint8_t> data) override;
  void guest_reset(int cpu_index, const char* why) override;
  void guest_shutdown(int cpu_index) override;
  void vcpu_internal_error(int cpu_index, const std::string& report) override;

 private:
  PcMachine(const PcConfig& cfg, MachineEvents* events, CpuModel cpu)
      : cfg_(cfg), events_(events), cpu_(std::move(cpu)), pio_("io"), mmio_("memory") {}
  Status init(KvmAccel& accel);
  Status init_memory();
  Status init_devices();
  // Where 64-bit BARs go: above RAM, 1 GiB aligned (the ACPI _CRS declares the window).
  uint64_t pci_mmio64_start() const;
  void note_unassigned(const char* kind, uint64_t addr, size_t size, bool write);

  PcConfig cfg_;
  MachineEvents* events_;
  CpuModel cpu_;
  GuestMemory memory_;
  uint64_t below_4g_ = 0;
  uint64_t above_4g_ = 0;
  std::unique_ptr<KvmVm> vm_;
  IoBus pio_;
  IoBus mmio_;
  std::vector<std::unique_ptr<GsiLine>> gsis_;
  std::vector<uint8_t> kernel_image_;
  std::vector<uint8_t> initrd_image_;
  KernelFormat kernel_format_ = KernelFormat::kPvhElf;

  // Power-on state of the in-kernel devices and vCPUs, restored on reset.
  KvmVmSnapshotPtr vm_reset_state_;
  std::vector<KvmVcpuSnapshotPtr> vcpu_reset_state_;

  // Devices.
  std::vector<std::unique_ptr<Serial>> serials_;
  std::unique_ptr<DebugExit> debug_exit_;
  std::unique_ptr<ResetControl> reset_cf9_;
  std::unique_ptr<ResetControl> port_a_;
  std::unique_ptr<I8042> i8042_;
  std::unique_ptr<Rtc> rtc_;
  std::unique_ptr<IgnoredPort> ignored_;
  std::unique_ptr<AcpiPm> acpi_pm_;
  std::unique_ptr<PciBus> pci_;
  std::unique_ptr<PciHostConf1> pci_conf1_;
  std::unique_ptr<PciHostBridge> pci_host_;
  std::vector<std::unique_ptr<Device>> devices_;

  std::mutex unassigned_mutex_;
  std::vector<uint64_t> unassigned_seen_;
};

// Reads a whole file (kernel, initrd) with a size limit; errors name the file.
Result<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size);

}  // namespace colo
