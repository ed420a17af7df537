// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: accel/kvm.h
//
// The KVM accelerator: the only part of colovm that issues KVM ioctls. Everything else talks to
// these classes, and devices never see them at all (they sit on buses and raise interrupts
// through hw/irq.h interfaces that the machine implements with KvmVm).
//
//   KvmAccel            /dev/kvm: capabilities, supported CPUID, MSR list
//   KvmVm               one VM: memory slots, dirty log, in-kernel irqchip + PIT, MSI, vCPUs
//   KvmVcpu             one vCPU and its thread ("vcpuN"), an explicit run state machine:
//
//        start()          resume()             request pause / error
//   Created -----> Paused -----> Running ---------------------------> Paused
//                    ^  |                                                |
//                    |  +---- finish() ----> Finished <--- finish() -----+
//                    +------------------------------------------------- resume()
//
// Pausing is acknowledged: KvmVm::pause_all() returns once every vCPU thread is out of KVM_RUN
// and parked (immediate_exit + a signal, ~100 us here). That pause is the floor of a COLO
// checkpoint's downtime. Register access (get/set state) runs on the vCPU's own thread while it
// is parked (run_on_vcpu).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "util/error.h"

namespace colo {

struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  uint32_t flags = 0;  // KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1
  uint32_t eax = 0;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
  uint32_t edx = 0;
};
using CpuidTable = std::vector<CpuidEntry>;

struct X86Segment {
  uint64_t base = 0;
  uint32_t limit = 0;
  uint16_t selector = 0;
  uint8_t type = 0;
  uint8_t present = 0, dpl = 0, db = 0, s = 0, l = 0, g = 0, avl = 0;
};

// The architectural state a boot protocol hands to the first instruction of a kernel.
struct X86BootState {
  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rsp = 0, rbp = 0;
  uint64_t rip = 0, rflags = 0x2;
  X86Segment cs, ds, es, fs, gs, ss, tr, ldt;
  uint64_t gdt_base = 0, idt_base = 0;
  uint16_t gdt_limit = 0, idt_limit = 0;
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
};

// What the machine does with vCPU exits. Called on vCPU threads, concurrently from several.
class VcpuExitHandler {
 public:
  virtual ~VcpuExitHandler() = default;
  virtual void pio_read(uint16_t port, std::span<uint8_t> data) = 0;
  virtual void pio_write(uint16_t port, std::span<const uint8_t> data) = 0;
  virtual void mmio_read(uint64_t addr, std::span<uint8_t> data) = 0;
  virtual void mmio_write(uint64_t addr, std::span<const uint8_t> data) = 0;
  // The guest asked for a reset (triple fault or KVM system event).
  virtual void guest_reset(int cpu_index, const char* why) = 0;
  // The guest powered off through a KVM system event.
  virtual void guest_shutdown(int cpu_index) = 0;
  // KVM could not run the guest; `report` holds registers and code bytes. The vCPU has parked
  // itself; the machine stops the others.
  virtual void vcpu_internal_error(int cpu_index, const std::string& report) = 0;
};

struct KvmCapabilities {
  bool immediate_exit = false;
  bool dirty_log_manual_protect = false;
  bool xsave = false;
  bool xcrs = false;
  bool vcpu_events = false;
  bool debugregs = false;
  bool adjust_clock = false;
  bool irqfd = false;
  bool ioeventfd = false;
  bool signal_msi = false;
  int max_vcpus = 1;
  int nr_memslots = 32;
};

class KvmVm;

class KvmAccel {
 public:
  // Opens /dev/kvm (or `path`) and checks the API version and the capabilities colovm needs.
  static Result<std::unique_ptr<KvmAccel>> open(const std::string& path = "/dev/kvm");
  ~KvmAccel();

  const KvmCapabilities& caps() const { return caps_; }
  // KVM_GET_SUPPORTED_CPUID: what `-cpu host` starts from.
  const CpuidTable& supported_cpuid() const { return supported_cpuid_; }
  // KVM_GET_MSR_INDEX_LIST.
  const std::vector<uint32_t>& msr_list() const { return msr_list_; }
  Result<std::unique_ptr<KvmVm>> create_vm(VcpuExitHandler* handler);

 private:
  KvmAccel() = default;
  int fd_ = -1;
  int vcpu_mmap_size_ = 0;
  KvmCapabilities caps_;
  CpuidTable supported_cpuid_;
  std::vector<uint32_t> msr_list_;
  friend class KvmVm;
};

enum class VcpuRunState { kCreated, kPaused, kRunning, kFinished };

// Opaque saved state of a vCPU or of the VM's in-kernel devices (irqchip, PIT, clock).
struct KvmVcpuSnapshot;
struct KvmVmSnapshot;
struct KvmSnapshotDeleter {
  void operator()(KvmVcpuSnapshot* p) const;
  void operator()(KvmVmSnapshot* p) const;
};
using KvmVcpuSnapshotPtr = std::unique_ptr<KvmVcpuSnapshot, KvmSnapshotDeleter>;
using KvmVmSnapshotPtr = std::unique_ptr<KvmVmSnapshot, KvmSnapshotDeleter>;

class KvmVcpu {
 public:
  ~KvmVcpu();
  int index() const { return index_; }
  VcpuRunState run_state() const;
  // The host thread id (gettid) of the vCPU thread; 0 before the thread started.
  pid_t thread_id() const { return thread_id_.load(std::memory_order_acquire); }

  Status set_cpuid(const CpuidTable& table);
  // Register access. These run on the vCPU thread when it exists and is parked.
  Status set_boot_state(const X86BootState& st);
  Result<KvmVcpuSnapshotPtr> save_state();
  Status restore_state(const KvmVcpuSnapshot& snap);
  // Registers + segments + control registers as text (QEMU's "info registers" layout).
  std::string dump_registers();

  // Runs fn on this vCPU's thread while it is parked (or inline before the thread starts).
  Status run_on_vcpu(const std::function<Status()>& fn);

 private:
  friend class KvmVm;
  KvmVcpu(KvmVm* vm, int index, int fd, void* run, size_t run_size);
  void request_pause();
  void wait_parked();
  void thread_main();
  void handle_exit(bool* park);
  void report_internal_error(const char* what);
  std::string code_bytes();
  Status set_msrs(std::span<const std::pair<uint32_t, uint64_t>> msrs);

  KvmVm* vm_;
  int index_;
  int fd_;
  void* run_;  // struct kvm_run, mapped from the vCPU fd
  size_t run_size_;
  std::thread thread_;
  pthread_t pthread_ = 0;
  std::atomic<pid_t> thread_id_{0};

  // Control: guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  enum class Request { kPause, kRun, kFinish } request_ = Request::kPause;
  VcpuRunState state_ = VcpuRunState::kCreated;
  std::vector<std::function<void()>> work_;  // run on the thread while parked
};

// One slot of guest memory as KVM sees it.
struct KvmMemorySlot {
  uint32_t slot = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
  void* hva = nullptr;
  bool dirty_log = false;
};

class KvmVm {
 public:
  ~KvmVm();

  KvmAccel& accel() { return *accel_; }
  VcpuExitHandler* exit_handler() { return handler_; }

  // Guest memory.
  Status set_memory_slot(const KvmMemorySlot& slot);
  Status set_dirty_logging(uint32_t slot, bool on);
  // Fetches and clears KVM's dirty bitmap of a slot: bit n = page (gpa + n * 4096) was written.
  Status get_dirty_log(uint32_t slot, std::vector<uint64_t>& bitmap);
  const std::vector<KvmMemorySlot>& slots() const { return slots_; }
  // Reads guest-physical memory through the slots (for reports; devices use GuestMemory).
  bool read_guest(uint64_t gpa, void* out, size_t len) const;

  // In-kernel PIC + IOAPIC + LAPICs and PIT, with QEMU's GSI routing (GSI 0 -> IOAPIC pin 2).
  Status create_irqchip();
  Status set_irq_line(uint32_t gsi, bool level);
  Status signal_msi(uint64_t address, uint32_t data);

  // KVM_IOEVENTFD: a guest write of `len` bytes to `addr` (I/O port if `pio`) signals `eventfd`
  // in the kernel, without an exit to user space. `datamatch` restricts it to one value.
  Status set_ioeventfd(bool pio, uint64_t addr, uint32_t len, int eventfd,
                       std::optional<uint64_t> datamatch, bool assign);

  // vCPUs.
  Result<KvmVcpu*> create_vcpu(int index);
  std::span<const std::unique_ptr<KvmVcpu>> vcpus() const { return vcpus_; }
  Status start_vcpu_threads();
  // Parks every vCPU and waits for the acknowledgements; returns how long that took. Called on a
  // vCPU thread it only requests the pause and returns at once (no vCPU waits for another).
  std::chrono::nanoseconds pause_all();
  void resume_all();
  // Ends the vCPU threads (they are parked first).
  void finish_all();

  // In-kernel device state (irqchip, PIT) for reset and migration.
  Result<KvmVmSnapshotPtr> save_state();
  Status restore_state(const KvmVmSnapshot& snap);

 private:
  friend class KvmAccel;
  friend class KvmVcpu;
  KvmVm(KvmAccel* accel, int fd, VcpuExitHandler* handler)
      : accel_(accel), fd_(fd), handler_(handler) {}

  KvmAccel* accel_;
  int fd_;
  VcpuExitHandler* handler_;
  std::vector<KvmMemorySlot> slots_;
  std::vector<std::unique_ptr<KvmVcpu>> vcpus_;
  bool irqchip_ = false;
};

}  // namespace colo
