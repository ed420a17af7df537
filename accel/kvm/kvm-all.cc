// SPDX-License-Identifier: GPL-2.0-or-later
//
// KVM: /dev/kvm, the VM, memory slots, the in-kernel irqchip and PIT.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "accel/kvm/linux-kvm.h"

#include <cerrno>
#include <cstring>

#include "accel/kvm.h"
#include "accel/kvm/kvm-internal.h"
#include "util/log.h"

namespace colo {

namespace {

struct RequiredCap {
  int cap;
  const char* name;
};

constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},       {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},           {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},       {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

int check_extension(int fd, int cap) {
  int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

}  // namespace

Result<std::unique_ptr<KvmAccel>> KvmAccel::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    Error e = errno_error(err, "Could not access KVM kernel module '%s'", path.c_str());
    e.prepend("failed to initialize kvm");
    if (err == ENOENT) {
      e.set_hint(
          "is the kvm module loaded (modprobe kvm_intel or kvm_amd), on a host "
          "with virtualization enabled?");
    } else if (err == EACCES) {
      e.set_hint("add yourself to the 'kvm' group or run as root");
    }
    return e;
  }
  std::unique_ptr<KvmAccel> accel(new KvmAccel());
  accel->fd_ = fd;
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return make_error("failed to initialize kvm: KVM API version %d, expected %d", version,
                      KVM_API_VERSION);
  }
  for (const RequiredCap& c : kRequiredCaps) {
    if (check_extension(fd, c.cap) == 0) {
      return Error(string_printf("kvm does not support %s", c.name), ErrorClass::kKvmMissingCap);
    }
  }
  accel->vcpu_mmap_size_ = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (accel->vcpu_mmap_size_ <= 0)
    return errno_error(errno, "KVM_GET_VCPU_MMAP_SIZE");

  KvmCapabilities& caps = accel->caps_;
  caps.immediate_exit = true;
  caps.dirty_log_manual_protect = check_extension(fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) != 0;
  caps.xsave = check_extension(fd, KVM_CAP_XSAVE) != 0;
  caps.xcrs = check_extension(fd, KVM_CAP_XCRS) != 0;
  caps.vcpu_events = check_extension(fd, KVM_CAP_VCPU_EVENTS) != 0;
  caps.debugregs = check_extension(fd, KVM_CAP_DEBUGREGS) != 0;
  caps.adjust_clock = check_extension(fd, KVM_CAP_ADJUST_CLOCK) != 0;
  caps.irqfd = check_extension(fd, KVM_CAP_IRQFD) != 0;
  caps.ioeventfd = check_extension(fd, KVM_CAP_IOEVENTFD) != 0;
  caps.signal_msi = check_extension(fd, KVM_CAP_SIGNAL_MSI) != 0;
  caps.max_vcpus = check_extension(fd, KVM_CAP_MAX_VCPUS);
  if (caps.max_vcpus <= 0)
    caps.max_vcpus = check_extension(fd, KVM_CAP_NR_VCPUS);
  if (caps.max_vcpus <= 0)
    caps.max_vcpus = 4;
  caps.nr_memslots = check_extension(fd, KVM_CAP_NR_MEMSLOTS);
  if (caps.nr_memslots <= 0)
    caps.nr_memslots = 32;

  // Supported CPUID: grow the buffer until KVM stops answering E2BIG.
  for (int nent = 64; nent <= 4096; nent *= 2) {
    std::vector<uint8_t> buf(sizeof(kvm_cpuid2) + nent * sizeof(kvm_cpuid_entry2));
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
    cpuid->nent = static_cast<uint32_t>(nent);
    if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
      if (errno == E2BIG)
        continue;
      return errno_error(errno, "KVM_GET_SUPPORTED_CPUID");
    }
    for (uint32_t i = 0; i < cpuid->nent; i++) {
      const kvm_cpuid_entry2& e = cpuid->entries[i];
      accel->supported_cpuid_.push_back(
          CpuidEntry{e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx});
    }
    break;
  }
  if (accel->supported_cpuid_.empty())
    return make_error("KVM_GET_SUPPORTED_CPUID: no entries");

  kvm_msr_list probe{};
  probe.nmsrs = 0;
  ioctl(fd, KVM_GET_MSR_INDEX_LIST, &probe);  // E2BIG, fills nmsrs
  if (probe.nmsrs > 0) {
    std::vector<uint8_t> buf(sizeof(kvm_msr_list) + probe.nmsrs * sizeof(uint32_t));
    auto* list = reinterpret_cast<kvm_msr_list*>(buf.data());
    list->nmsrs = probe.nmsrs;
    if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, list) == 0) {
      accel->msr_list_.assign(list->indices, list->indices + list->nmsrs);
    }
  }
  return accel;
}

KvmAccel::~KvmAccel() {
  if (fd_ >= 0)
    close(fd_);
}

Result<std::unique_ptr<KvmVm>> KvmAccel::create_vm(VcpuExitHandler* handler) {
  int vmfd;
  do {
    vmfd = ioctl(fd_, KVM_CREATE_VM, 0);
  } while (vmfd < 0 && errno == EINTR);
  if (vmfd < 0)
    return errno_error(errno, "failed to create a KVM VM");
  std::unique_ptr<KvmVm> vm(new KvmVm(this, vmfd, handler));
  // Needed by Intel VMX for real mode; pages just below the BIOS, as QEMU places them.
  if (ioctl(vmfd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) {
    debug_report("KVM_SET_TSS_ADDR: %s", strerror(errno));
  }
  uint64_t identity = 0xfeffc000;
  if (ioctl(vmfd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
    debug_report("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
  }
  return vm;
}

KvmVm::~KvmVm() {
  finish_all();
  vcpus_.clear();
  if (fd_ >= 0)
    close(fd_);
}

Status KvmVm::set_memory_slot(const KvmMemorySlot& slot) {
  kvm_userspace_memory_region region{};
  region.slot = slot.slot;
  region.flags = slot.dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  region.guest_phys_addr = slot.gpa;
  region.memory_size = slot.size;
  region.userspace_addr = reinterpret_cast<uint64_t>(slot.hva);
  if (ioctl(fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return errno_error(errno, "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx",
                       slot.slot, static_cast<unsigned long long>(slot.gpa),
                       static_cast<unsigned long long>(slot.size));
  }
  for (auto& s : slots_) {
    if (s.slot == slot.slot) {
      s = slot;
      return ok_status();
    }
  }
  slots_.push_back(slot);
  return ok_status();
}

Status KvmVm::set_dirty_logging(uint32_t slot, bool on) {
  for (const auto& s : slots_) {
    if (s.slot != slot)
      continue;
    KvmMemorySlot changed = s;
    changed.dirty_log = on;
    return set_memory_slot(changed);
  }
  return make_error("no KVM memory slot %u", slot);
}

Status KvmVm::get_dirty_log(uint32_t slot, std::vector<uint64_t>& bitmap) {
  const KvmMemorySlot* found = nullptr;
  for (const auto& s : slots_) {
    if (s.slot == slot)
      found = &s;
  }
  if (found == nullptr)
    return make_error("no KVM memory slot %u", slot);
  if (!found->dirty_log)
    return make_error("dirty logging is off for KVM memory slot %u", slot);
  size_t pages = found->size / 4096;
  bitmap.assign((pages + 63) / 64, 0);
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap.data();
  if (ioctl(fd_, KVM_GET_DIRTY_LOG, &log) < 0) {
    return errno_error(errno, "KVM_GET_DIRTY_LOG slot %u", slot);
  }
  return ok_status();
}

bool KvmVm::read_guest(uint64_t gpa, void* out, size_t len) const {
  for (const auto& s : slots_) {
    if (gpa >= s.gpa && gpa - s.gpa < s.size && len <= s.size - (gpa - s.gpa)) {
      memcpy(out, static_cast<const uint8_t*>(s.hva) + (gpa - s.gpa), len);
      return true;
    }
  }
  return false;
}

Status KvmVm::create_irqchip() {
  if (ioctl(fd_, KVM_CREATE_IRQCHIP, 0) < 0)
    return errno_error(errno, "KVM_CREATE_IRQCHIP");
  // QEMU's routing: ISA IRQs 0-15 on the PICs (except the cascade), GSI 0 (the PIT) on IOAPIC
  // pin 2 to match the ISA interrupt override firmware tables declare, GSI n on pin n otherwise.
  std::vector<kvm_irq_routing_entry> entries;
  auto add = [&](uint32_t gsi, uint32_t chip, uint32_t pin) {
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_IRQCHIP;
    e.u.irqchip.irqchip = chip;
    e.u.irqchip.pin = pin;
    entries.push_back(e);
  };
  for (uint32_t i = 0; i < 8; i++) {
    if (i != 2)
      add(i, KVM_IRQCHIP_PIC_MASTER, i);
  }
  for (uint32_t i = 8; i < 16; i++)
    add(i, KVM_IRQCHIP_PIC_SLAVE, i - 8);
  for (uint32_t i = 0; i < 24; i++) {
    if (i == 0) {
      add(i, KVM_IRQCHIP_IOAPIC, 2);
    } else if (i != 2) {
      add(i, KVM_IRQCHIP_IOAPIC, i);
    }
  }
  std::vector<uint8_t> buf(sizeof(kvm_irq_routing) +
                           entries.size() * sizeof(kvm_irq_routing_entry));
  auto* routing = reinterpret_cast<kvm_irq_routing*>(buf.data());
  routing->nr = static_cast<uint32_t>(entries.size());
  memcpy(routing->entries, entries.data(), entries.size() * sizeof(kvm_irq_routing_entry));
  if (ioctl(fd_, KVM_SET_GSI_ROUTING, routing) < 0)
    return errno_error(errno, "KVM_SET_GSI_ROUTING");

  kvm_pit_config pit{};
  // The kernel models port 0x61 (PIT channel 2 gate and output, what guests calibrate
  // their TSC with) only with this flag; without it 0x61 would exit to colovm, where
  // nothing answers it.
  pit.flags = KVM_PIT_SPEAKER_DUMMY;
  if (ioctl(fd_, KVM_CREATE_PIT2, &pit) < 0)
    return errno_error(errno, "KVM_CREATE_PIT2");
  irqchip_ = true;
  return ok_status();
}

Status KvmVm::set_irq_line(uint32_t gsi, bool level) {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  if (ioctl(fd_, KVM_IRQ_LINE, &irq) < 0)
    return errno_error(errno, "KVM_IRQ_LINE gsi %u", gsi);
  return ok_status();
}

Status KvmVm::signal_msi(uint64_t address, uint32_t data) {
  kvm_msi msi{};
  msi.address_lo = static_cast<uint32_t>(address);
  msi.address_hi = static_cast<uint32_t>(address >> 32);
  msi.data = data;
  int r = ioctl(fd_, KVM_SIGNAL_MSI, &msi);
  if (r < 0)
    return errno_error(errno, "KVM_SIGNAL_MSI");
  return ok_status();
}

Status KvmVm::set_ioeventfd(bool pio, uint64_t addr, uint32_t len, int eventfd,
                            std::optional<uint64_t> datamatch, bool assign) {
  kvm_ioeventfd io{};
  io.addr = addr;
  io.len = len;
  io.fd = eventfd;
  io.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN) |
             (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
  io.datamatch = datamatch.value_or(0);
  if (ioctl(fd_, KVM_IOEVENTFD, &io) < 0) {
    return errno_error(errno, "KVM_IOEVENTFD %s 0x%llx+%u", assign ? "assign" : "deassign",
                       static_cast<unsigned long long>(addr), len);
  }
  return ok_status();
}

struct KvmVmSnapshot {
  kvm_irqchip chips[3];
  kvm_pit_state2 pit;
};

void KvmSnapshotDeleter::operator()(KvmVmSnapshot* p) const {
  delete p;
}

Result<KvmVmSnapshotPtr> KvmVm::save_state() {
  KvmVmSnapshotPtr snap(new KvmVmSnapshot());
  for (uint32_t i = 0; i < 3; i++) {
    memset(&snap->chips[i], 0, sizeof(kvm_irqchip));
    snap->chips[i].chip_id = i;
    if (ioctl(fd_, KVM_GET_IRQCHIP, &snap->chips[i]) < 0) {
      return errno_error(errno, "KVM_GET_IRQCHIP %u", i);
    }
  }
  if (ioctl(fd_, KVM_GET_PIT2, &snap->pit) < 0)
    return errno_error(errno, "KVM_GET_PIT2");
  return snap;
}

Status KvmVm::restore_state(const KvmVmSnapshot& snap) {
  for (uint32_t i = 0; i < 3; i++) {
    kvm_irqchip chip = snap.chips[i];
    if (ioctl(fd_, KVM_SET_IRQCHIP, &chip) < 0)
      return errno_error(errno, "KVM_SET_IRQCHIP %u", i);
  }
  kvm_pit_state2 pit = snap.pit;
  if (ioctl(fd_, KVM_SET_PIT2, &pit) < 0)
    return errno_error(errno, "KVM_SET_PIT2");
  return ok_status();
}

Result<KvmVcpu*> KvmVm::create_vcpu(int index) {
  if (index >= accel_->caps_.max_vcpus) {
    return make_error("vCPU %d: this host's KVM supports at most %d vCPUs", index,
                      accel_->caps_.max_vcpus);
  }
  int fd = ioctl(fd_, KVM_CREATE_VCPU, index);
  if (fd < 0)
    return errno_error(errno, "KVM_CREATE_VCPU %d", index);
  size_t size = static_cast<size_t>(accel_->vcpu_mmap_size_);
  void* run = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED) {
    int err = errno;
    close(fd);
    return errno_error(err, "mmap of vCPU %d", index);
  }
  vcpus_.push_back(std::unique_ptr<KvmVcpu>(new KvmVcpu(this, index, fd, run, size)));
  KvmVcpu* vcpu = vcpus_.back().get();
  COLO_TRY(kvm_vcpu_init_defaults(*vcpu, fd, index));
  return vcpu;
}

}  // namespace colo
