// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/i386/pc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "hw/acpi/tables.h"
#include "util/keyval.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr uint32_t kRamSlotLow = 0;
constexpr uint32_t kRamSlotHigh = 1;
constexpr uint64_t kMinRam = 8ULL << 20;
constexpr uint64_t kPciMmio64WindowSize = 32ULL << 30;  // as QEMU's q35 pci-hole64-size
constexpr uint16_t kComPorts[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
constexpr uint32_t kComIrqs[4] = {4, 3, 4, 3};

}  // namespace

Result<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno_error(errno, "could not open '%s'", path.c_str());
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int err = errno;
    close(fd);
    return errno_error(err, "could not stat '%s'", path.c_str());
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return make_error("'%s' is not a regular file", path.c_str());
  }
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    close(fd);
    return make_error("'%s' is too large (%s; at most %s fits in guest RAM)", path.c_str(),
                      format_size(static_cast<uint64_t>(st.st_size)).c_str(),
                      format_size(max_size).c_str());
  }
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      return errno_error(err, "could not read '%s'", path.c_str());
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  return data;
}

void GsiLine::set_level(bool level) {
  Status st = vm_->set_irq_line(gsi_, level);
  if (!st.ok())
    debug_report("%s", st.error().message().c_str());
}

Result<std::unique_ptr<PcMachine>> PcMachine::create(const PcConfig& cfg, KvmAccel& accel,
                                                     MachineEvents* events) {
  if (cfg.ram_size < kMinRam) {
    return make_error("at least %s of RAM is needed, %s given", format_size(kMinRam).c_str(),
                      format_size(cfg.ram_size).c_str());
  }
  if (cfg.ram_size % kPageSize != 0)
    return make_error("RAM size must be a multiple of 4 KiB");
  if (cfg.smp < 1 || cfg.smp > std::min(accel.caps().max_vcpus, 255)) {
    return make_error("Invalid SMP CPUs %d. The max CPUs supported by this host is %d", cfg.smp,
                      std::min(accel.caps().max_vcpus, 255));
  }
  COLO_ASSIGN_OR_RETURN(CpuModel cpu, CpuModel::parse(cfg.cpu_model, accel.supported_cpuid()));
  std::unique_ptr<PcMachine> m(new PcMachine(cfg, events, std::move(cpu)));
  COLO_TRY(m->init(accel));
  return m;
}

PcMachine::~PcMachine() {
  if (vm_)
    vm_->finish_all();
  // Devices go before the buses they are mapped on.
  devices_.clear();
}

Status PcMachine::init(KvmAccel& accel) {
  if (cfg_.kernel.empty()) {
    return make_error("no kernel given").set_hint("use -kernel FILE (a Linux bzImage or PVH ELF)");
  }
  below_4g_ = std::min(cfg_.ram_size, std::min(cfg_.max_ram_below_4g, kPciHoleStart));
  above_4g_ = cfg_.ram_size - below_4g_;
  COLO_ASSIGN_OR_RETURN(kernel_image_, read_file(cfg_.kernel, below_4g_));
  COLO_ASSIGN_OR_RETURN(kernel_format_,
                        probe_kernel(kernel_image_).prepend("-kernel " + cfg_.kernel));
  if (!cfg_.initrd.empty()) {
    COLO_ASSIGN_OR_RETURN(initrd_image_, read_file(cfg_.initrd, below_4g_));
  }

  COLO_ASSIGN_OR_RETURN(vm_, accel.create_vm(this));
  COLO_TRY(init_memory());
  COLO_TRY(vm_->create_irqchip());
  for (uint32_t i = 0; i < 24; i++)
    gsis_.push_back(std::make_unique<GsiLine>(vm_.get(), i));
  for (int i = 0; i < cfg_.smp; i++) {
    COLO_ASSIGN_OR_RETURN(KvmVcpu * vcpu, vm_->create_vcpu(i));
    COLO_TRY(vcpu->set_cpuid(cpu_.cpuid_for(i, cfg_.smp)));
  }
  COLO_TRY(init_devices());
  // Power-on state, before any boot protocol touched it.
  COLO_ASSIGN_OR_RETURN(vm_reset_state_, vm_->save_state());
  for (const auto& v : vm_->vcpus()) {
    COLO_ASSIGN_OR_RETURN(auto snap, v->save_state());
    vcpu_reset_state_.push_back(std::move(snap));
  }
  COLO_TRY(boot());
  return vm_->start_vcpu_threads();
}

Status PcMachine::init_memory() {
  COLO_ASSIGN_OR_RETURN(auto block, RamBlock::create("pc.ram", cfg_.ram_size));
  RamBlock* ram = block.get();
  memory_.add_block(std::move(block));
  memory_.add_region({0, below_4g_, ram, 0});
  COLO_TRY(vm_->set_memory_slot({kRamSlotLow, 0, below_4g_, ram->host(), false}));
  if (above_4g_ > 0) {
    memory_.add_region({k4GiB, above_4g_, ram, below_4g_});
    COLO_TRY(
        vm_->set_memory_slot({kRamSlotHigh, k4GiB, above_4g_, ram->host() + below_4g_, false}));
  }
  return ok_status();
}

Status PcMachine::init_devices() {
  for (int i = 0; i < 4; i++) {
    if (cfg_.serial[i] == nullptr)
      continue;
    auto s = std::make_unique<Serial>(gsis_[kComIrqs[i]].get(), cfg_.serial[i]);
    COLO_TRY(pio_.map(kComPorts[i], 8, s.get(), string_printf("serial%d", i)));
    serials_.push_back(std::move(s));
  }
  if (cfg_.debug_exit) {
    debug_exit_ = std::make_unique<DebugExit>(events_);
    COLO_TRY(pio_.map(0xf4, 4, debug_exit_.get(), "isa-debug-exit"));
  }
  reset_cf9_ = std::make_unique<ResetControl>(events_, ResetControl::Port::kCf9);
  port_a_ = std::make_unique<ResetControl>(events_, ResetControl::Port::kPortA);
  COLO_TRY(pio_.map(0x92, 1, port_a_.get(), "port92"));
  i8042_ = std::make_unique<I8042>(events_);
  COLO_TRY(pio_.map(0x60, 5, i8042_.get(), "i8042"));
  rtc_ = std::make_unique<Rtc>();
  COLO_TRY(pio_.map(0x70, 2, rtc_.get(), "mc146818rtc"));
  // CMOS memory-size bytes, as SeaBIOS leaves them (some guests still read them).
  uint64_t ext_kb = below_4g_ > (16ULL << 20) ? (15ULL << 10) : (below_4g_ - kHighMemStart) >> 10;
  rtc_->set_cmos(0x17, static_cast<uint8_t>(ext_kb));
  rtc_->set_cmos(0x18, static_cast<uint8_t>(ext_kb >> 8));
  rtc_->set_cmos(0x30, static_cast<uint8_t>(ext_kb));
  rtc_->set_cmos(0x31, static_cast<uint8_t>(ext_kb >> 8));
  uint64_t above_16m = below_4g_ > (16ULL << 20) ? (below_4g_ - (16ULL << 20)) >> 16 : 0;
  rtc_->set_cmos(0x34, static_cast<uint8_t>(above_16m));
  rtc_->set_cmos(0x35, static_cast<uint8_t>(above_16m >> 8));
  ignored_ = std::make_unique<IgnoredPort>();
  COLO_TRY(pio_.map(0x80, 1, ignored_.get(), "post"));
  COLO_TRY(pio_.map(0xed, 1, ignored_.get(), "io-delay"));
  if (cfg_.acpi) {
    acpi_pm_ = std::make_unique<AcpiPm>(gsis_[kAcpiSciIrq].get(), events_);
    COLO_TRY(pio_.map(kAcpiPmIoBase, AcpiPm::kIoSize, acpi_pm_.get(), "acpi-pm"));
  }

  pci_ = std::make_unique<PciBus>(&pio_, &mmio_, [this](uint32_t gsi) { return this->gsi(gsi); });
  pci_host_ = std::make_unique<PciHostBridge>();
  COLO_TRY(pci_->add_device(pci_host_.get(), 0, 0));
  pci_conf1_ = std::make_unique<PciHostConf1>(pci_.get(), reset_cf9_.get());
  COLO_TRY(pio_.map(0xcf8, 8, pci_conf1_.get(), "pci-conf1"));

  // -device: user devices, then what firmware would do (BAR addresses, decoding on).
  device_register_builtin_types();
  DeviceContext ctx{.memory = &memory_,
                    .pci = pci_.get(),
                    .msi = this,
                    .ioeventfd = this,
                    .events = events_,
                    .blocks = cfg_.blocks,
                    .netdevs = cfg_.netdevs};
  for (const KeyvalDict& opts : cfg_.devices) {
    COLO_ASSIGN_OR_RETURN(auto dev, device_create(opts, ctx).prepend("-device"));
    devices_.push_back(std::move(dev));
  }
  // 32-bit BARs go into the window the ACPI _CRS declares; 64-bit ones that do not fit there
  // go above RAM, 1 GiB aligned.
  uint64_t mmio64 = pci_mmio64_start();
  return pci_->assign_resources(kPciHoleStart, kIoapicAddr, mmio64, 0xc000, 0xffff);
}

void PcMachine::pause_devices() {
  for (auto& d : devices_)
    d->pause();
}

void PcMachine::resume_devices() {
  for (auto& d : devices_)
    d->resume();
}

void PcMachine::send_msi(uint64_t address, uint32_t data) {
  Status st = vm_->signal_msi(address, data);
  if (!st.ok())
    debug_report("%s", st.error().message().c_str());
}

Status PcMachine::add_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int eventfd,
                                std::optional<uint64_t> datamatch) {
  return vm_->set_ioeventfd(space == IoSpace::kPio, addr, len, eventfd, datamatch, true);
}

Status PcMachine::remove_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int eventfd,
                                   std::optional<uint64_t> datamatch) {
  return vm_->set_ioeventfd(space == IoSpace::kPio, addr, len, eventfd, datamatch, false);
}

uint64_t PcMachine::pci_mmio64_start() const {
  return (k4GiB + above_4g_ + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
}

Status PcMachine::boot() {
  std::vector<uint8_t> mptable = build_mptable(
      {.nr_cpus = cfg_.smp, .cpu_signature = cpu_.signature(), .cpu_features = cpu_.features_edx()},
      kBiosAreaStart);
  if (kBiosAreaStart + mptable.size() > kAcpiTablesAddr) {
    return make_error("the MP table (%zu bytes) does not fit below the ACPI tables",
                      mptable.size());
  }
  COLO_TRY(memory_.write(kBiosAreaStart, mptable));
  BootConfig boot;
  if (cfg_.acpi) {
    AcpiConfig acpi_cfg{.nr_cpus = cfg_.smp,
                        .pci_mmio64_start = pci_mmio64_start(),
                        .pci_mmio64_size = kPciMmio64WindowSize};
    COLO_ASSIGN_OR_RETURN(AcpiTables acpi,
                          build_acpi_tables(acpi_cfg, kAcpiTablesAddr, kAcpiTablesEnd));
    COLO_TRY(memory_.write(acpi.base, acpi.blob));
    boot.rsdp_addr = acpi.rsdp_addr;
  }
  boot.kernel = kernel_image_;
  boot.initrd = initrd_image_;
  boot.cmdline = cfg_.cmdline;
  boot.e820 = pc_e820_table(below_4g_, above_4g_);
  boot.below_4g = below_4g_;
  Result<X86BootState> st = kernel_format_ == KernelFormat::kLinuxBzImage
                                ? linux_load(memory_, boot)
                                : pvh_load(memory_, boot);
  COLO_TRY(std::move(st).prepend("-kernel " + cfg_.kernel));
  return vm_->vcpus()[0]->set_boot_state(*st);
}

Status PcMachine::reset() {
  COLO_TRY(vm_->restore_state(*vm_reset_state_));
  for (size_t i = 0; i < vm_->vcpus().size(); i++) {
    COLO_TRY(vm_->vcpus()[i]->restore_state(*vcpu_reset_state_[i]));
  }
  for (auto& s : serials_)
    s->reset();
  reset_cf9_->reset();
  port_a_->reset();
  rtc_->reset();
  if (acpi_pm_)
    acpi_pm_->reset();
  pci_conf1_->reset();
  for (PciDevice* d : pci_->devices())
    d->reset();
  for (auto& d : devices_)
    d->reset();
  return boot();
}

bool PcMachine::powerdown() {
  if (!acpi_pm_)
    return false;
  acpi_pm_->press_power_button();
  return true;
}

void PcMachine::note_unassigned(const char* kind, uint64_t addr, size_t size, bool write) {
  if (!debug_enabled())
    return;
  std::lock_guard<std::mutex> lock(unassigned_mutex_);
  if (std::find(unassigned_seen_.begin(), unassigned_seen_.end(), addr) != unassigned_seen_.end()) {
    return;
  }
  unassigned_seen_.push_back(addr);
  debug_report("unassigned %s %s at 0x%llx (size %zu)", kind, write ? "write" : "read",
               static_cast<unsigned long long>(addr), size);
}

void PcMachine::pio_read(uint16_t port, std::span<uint8_t> data) {
  if (!pio_.read(port, data))
    note_unassigned("port", port, data.size(), false);
}

void PcMachine::pio_write(uint16_t port, std::span<const uint8_t> data) {
  if (!pio_.write(port, data))
    note_unassigned("port", port, data.size(), true);
}

void PcMachine::mmio_read(uint64_t addr, std::span<uint8_t> data) {
  if (!mmio_.read(addr, data))
    note_unassigned("memory", addr, data.size(), false);
}

void PcMachine::mmio_write(uint64_t addr, std::span<const uint8_t> data) {
  if (!mmio_.write(addr, data))
    note_unassigned("memory", addr, data.size(), true);
}

void PcMachine::guest_reset(int cpu_index, const char* why) {
  debug_report("vCPU %d: guest reset (%s)", cpu_index, why);
  events_->request_reset(ShutdownCause::kGuestReset);
}

void PcMachine::guest_shutdown(int cpu_index) {
  events_->request_shutdown(ShutdownCause::kGuestShutdown);
}

void PcMachine::vcpu_internal_error(int cpu_index, const std::string& report) {
  events_->report_internal_error(cpu_index, report);
}

}  // namespace colo
