// SPDX-License-Identifier: GPL-2.0-or-later
//
// KVM vCPUs: the per-vCPU thread, its run/pause state machine, exits, and register state.
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "accel/kvm/linux-kvm.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <map>

#include "accel/kvm.h"
#include "accel/kvm/kvm-internal.h"
#include "util/bytes.h"
#include "util/log.h"
#include "util/thread.h"

namespace colo {

namespace {

constexpr int kKickSignal = SIGUSR1;
thread_local KvmVcpu* current_vcpu = nullptr;

void kick_handler(int) {}

// MSRs saved with the vCPU (when the host's KVM lists them).
constexpr uint32_t kStateMsrs[] = {
    0x10,                                                         // IA32_TSC
    0x3b,                                                         // IA32_TSC_ADJUST
    0x174,                                                        // SYSENTER_CS
    0x175,                                                        // SYSENTER_ESP
    0x176,                                                        // SYSENTER_EIP
    0x1a0,                                                        // IA32_MISC_ENABLE
    0x277,                                                        // IA32_PAT
    0x2ff,                                                        // MTRR default type
    0x200,      0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,  // variable MTRRs
    0x208,      0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
    0x250,      0x258, 0x259,  // fixed MTRRs
    0x268,      0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
    0x6e0,       // TSC deadline
    0xc0000081,  // STAR
    0xc0000082,  // LSTAR
    0xc0000083,  // CSTAR
    0xc0000084,  // SFMASK
    0xc0000102,  // KERNEL_GS_BASE
    0xc0000103,  // TSC_AUX
    0x4b564d00,  // KVM wall clock (new)
    0x4b564d01,  // KVM system time (new)
    0x4b564d02,  // KVM async PF
    0x4b564d03,  // KVM steal time
    0x4b564d04,  // KVM PV EOI
    0x11,        // KVM wall clock (old)
    0x12,        // KVM system time (old)
};

kvm_segment to_kvm(const X86Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = s.present;
  k.dpl = s.dpl;
  k.db = s.db;
  k.s = s.s;
  k.l = s.l;
  k.g = s.g;
  k.avl = s.avl;
  k.unusable = s.present ? 0 : 1;
  return k;
}

std::string format_segment(const char* name, const kvm_segment& s) {
  uint32_t flags = (static_cast<uint32_t>(s.type) << 8) | (static_cast<uint32_t>(s.s) << 12) |
                   (static_cast<uint32_t>(s.dpl) << 13) | (static_cast<uint32_t>(s.present) << 15) |
                   (static_cast<uint32_t>(s.avl) << 20) | (static_cast<uint32_t>(s.l) << 21) |
                   (static_cast<uint32_t>(s.db) << 22) | (static_cast<uint32_t>(s.g) << 23);
  return string_printf("%-3s=%04x %016llx %08x %08x DPL=%u\n", name, s.selector,
                       static_cast<unsigned long long>(s.base), s.limit, flags, s.dpl);
}

}  // namespace

void kvm_install_kick_signal() {
  static bool installed = false;
  if (installed)
    return;
  installed = true;
  struct sigaction sa {};
  sa.sa_handler = kick_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(kKickSignal, &sa, nullptr);
}

int kvm_kick_signal() {
  return kKickSignal;
}

struct KvmVcpuSnapshot {
  kvm_regs regs;
  kvm_sregs sregs;
  kvm_fpu fpu;
  std::vector<uint8_t> xsave;  // struct kvm_xsave (it ends in a flexible array)
  bool has_xcrs = false;
  kvm_xcrs xcrs;
  std::vector<std::pair<uint32_t, uint64_t>> msrs;
  kvm_lapic_state lapic;
  bool has_events = false;
  kvm_vcpu_events events;
  kvm_mp_state mp_state;
  bool has_debugregs = false;
  kvm_debugregs debugregs;
};

void KvmSnapshotDeleter::operator()(KvmVcpuSnapshot* p) const {
  delete p;
}

KvmVcpu::KvmVcpu(KvmVm* vm, int index, int fd, void* run, size_t run_size)
    : vm_(vm), index_(index), fd_(fd), run_(run), run_size_(run_size) {}

KvmVcpu::~KvmVcpu() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      request_ = Request::kFinish;
      static_cast<kvm_run*>(run_)->immediate_exit = 1;
    }
    cv_.notify_all();
    pthread_kill(pthread_, kKickSignal);
    thread_.join();
  }
  munmap(run_, run_size_);
  close(fd_);
}

VcpuRunState KvmVcpu::run_state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

Status kvm_vcpu_init_defaults(KvmVcpu& vcpu, int fd, int index) {
  (void)vcpu;
  // LAPIC: the BSP accepts PIC interrupts through LINT0 (ExtINT) and NMIs through LINT1, as
  // firmware leaves it; APs keep them masked.
  kvm_lapic_state lapic{};
  if (ioctl(fd, KVM_GET_LAPIC, &lapic) == 0) {
    if (index == 0) {
      store_le32(lapic.regs + 0x350, 0x700);  // LVT LINT0: ExtINT
      store_le32(lapic.regs + 0x360, 0x400);  // LVT LINT1: NMI
    }
    if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
      return errno_error(errno, "KVM_SET_LAPIC");
  }
  return ok_status();
}

Status KvmVcpu::set_cpuid(const CpuidTable& table) {
  std::vector<uint8_t> buf(sizeof(kvm_cpuid2) + table.size() * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
  cpuid->nent = static_cast<uint32_t>(table.size());
  for (size_t i = 0; i < table.size(); i++) {
    kvm_cpuid_entry2& e = cpuid->entries[i];
    e.function = table[i].function;
    e.index = table[i].index;
    e.flags = table[i].flags;
    e.eax = table[i].eax;
    e.ebx = table[i].ebx;
    e.ecx = table[i].ecx;
    e.edx = table[i].edx;
  }
  if (ioctl(fd_, KVM_SET_CPUID2, cpuid) < 0)
    return errno_error(errno, "KVM_SET_CPUID2");
  // Power-on MSR values firmware would set: fast strings; MTRRs enabled with write-back default.
  std::pair<uint32_t, uint64_t> msrs[] = {{0x1a0, 1}, {0x2ff, 0x806}};
  COLO_TRY(set_msrs(msrs));
  return ok_status();
}

Status KvmVcpu::set_msrs(std::span<const std::pair<uint32_t, uint64_t>> msrs) {
  if (msrs.empty())
    return ok_status();
  std::vector<uint8_t> buf(sizeof(kvm_msrs) + msrs.size() * sizeof(kvm_msr_entry));
  auto* m = reinterpret_cast<kvm_msrs*>(buf.data());
  m->nmsrs = static_cast<uint32_t>(msrs.size());
  for (size_t i = 0; i < msrs.size(); i++) {
    m->entries[i].index = msrs[i].first;
    m->entries[i].data = msrs[i].second;
  }
  int r = ioctl(fd_, KVM_SET_MSRS, m);
  if (r < 0)
    return errno_error(errno, "KVM_SET_MSRS");
  if (static_cast<size_t>(r) != msrs.size()) {
    // KVM stops at the first MSR it refuses; report it but keep going (as QEMU warns).
    debug_report("vCPU %d: KVM_SET_MSRS refused MSR 0x%x", index_, msrs[r].first);
  }
  return ok_status();
}

Status KvmVcpu::set_boot_state(const X86BootState& st) {
  return run_on_vcpu([&]() -> Status {
    kvm_sregs sregs{};
    if (ioctl(fd_, KVM_GET_SREGS, &sregs) < 0)
      return errno_error(errno, "KVM_GET_SREGS");
    sregs.cs = to_kvm(st.cs);
    sregs.ds = to_kvm(st.ds);
    sregs.es = to_kvm(st.es);
    sregs.fs = to_kvm(st.fs);
    sregs.gs = to_kvm(st.gs);
    sregs.ss = to_kvm(st.ss);
    sregs.tr = to_kvm(st.tr);
    sregs.ldt = to_kvm(st.ldt);
    sregs.gdt.base = st.gdt_base;
    sregs.gdt.limit = st.gdt_limit;
    sregs.idt.base = st.idt_base;
    sregs.idt.limit = st.idt_limit;
    sregs.cr0 = st.cr0;
    sregs.cr3 = st.cr3;
    sregs.cr4 = st.cr4;
    sregs.efer = st.efer;
    if (ioctl(fd_, KVM_SET_SREGS, &sregs) < 0)
      return errno_error(errno, "KVM_SET_SREGS");
    kvm_regs regs{};
    regs.rax = st.rax;
    regs.rbx = st.rbx;
    regs.rcx = st.rcx;
    regs.rdx = st.rdx;
    regs.rsi = st.rsi;
    regs.rdi = st.rdi;
    regs.rsp = st.rsp;
    regs.rbp = st.rbp;
    regs.rip = st.rip;
    regs.rflags = st.rflags;
    if (ioctl(fd_, KVM_SET_REGS, &regs) < 0)
      return errno_error(errno, "KVM_SET_REGS");
    kvm_mp_state mp{};
    mp.mp_state = KVM_MP_STATE_RUNNABLE;
    if (ioctl(fd_, KVM_SET_MP_STATE, &mp) < 0)
      return errno_error(errno, "KVM_SET_MP_STATE");
    return ok_status();
  });
}

Result<KvmVcpuSnapshotPtr> KvmVcpu::save_state() {
  KvmVcpuSnapshotPtr snap(new KvmVcpuSnapshot());
  const KvmCapabilities& caps = vm_->accel().caps();
  Status st = run_on_vcpu([&]() -> Status {
    if (ioctl(fd_, KVM_GET_REGS, &snap->regs) < 0)
      return errno_error(errno, "KVM_GET_REGS");
    if (ioctl(fd_, KVM_GET_SREGS, &snap->sregs) < 0)
      return errno_error(errno, "KVM_GET_SREGS");
    if (caps.xsave) {
      snap->xsave.assign(sizeof(kvm_xsave), 0);
      if (ioctl(fd_, KVM_GET_XSAVE, snap->xsave.data()) < 0) {
        return errno_error(errno, "KVM_GET_XSAVE");
      }
    } else if (ioctl(fd_, KVM_GET_FPU, &snap->fpu) < 0) {
      return errno_error(errno, "KVM_GET_FPU");
    }
    if (caps.xcrs && ioctl(fd_, KVM_GET_XCRS, &snap->xcrs) == 0)
      snap->has_xcrs = true;
    if (ioctl(fd_, KVM_GET_LAPIC, &snap->lapic) < 0)
      return errno_error(errno, "KVM_GET_LAPIC");
    if (caps.vcpu_events && ioctl(fd_, KVM_GET_VCPU_EVENTS, &snap->events) == 0) {
      snap->has_events = true;
    }
    if (ioctl(fd_, KVM_GET_MP_STATE, &snap->mp_state) < 0) {
      return errno_error(errno, "KVM_GET_MP_STATE");
    }
    if (caps.debugregs && ioctl(fd_, KVM_GET_DEBUGREGS, &snap->debugregs) == 0) {
      snap->has_debugregs = true;
    }
    // MSRs: those both listed by the host and known to us, read one batch.
    const auto& listed = vm_->accel().msr_list();
    std::vector<uint32_t> wanted;
    for (uint32_t idx : kStateMsrs) {
      if (std::find(listed.begin(), listed.end(), idx) != listed.end())
        wanted.push_back(idx);
    }
    std::vector<uint8_t> buf(sizeof(kvm_msrs) + wanted.size() * sizeof(kvm_msr_entry));
    auto* m = reinterpret_cast<kvm_msrs*>(buf.data());
    m->nmsrs = static_cast<uint32_t>(wanted.size());
    for (size_t i = 0; i < wanted.size(); i++)
      m->entries[i].index = wanted[i];
    int n = ioctl(fd_, KVM_GET_MSRS, m);
    if (n < 0)
      return errno_error(errno, "KVM_GET_MSRS");
    for (int i = 0; i < n; i++)
      snap->msrs.emplace_back(m->entries[i].index, m->entries[i].data);
    return ok_status();
  });
  COLO_TRY(std::move(st));
  return snap;
}

Status KvmVcpu::restore_state(const KvmVcpuSnapshot& snap) {
  return run_on_vcpu([&]() -> Status {
    kvm_sregs sregs = snap.sregs;
    if (ioctl(fd_, KVM_SET_SREGS, &sregs) < 0)
      return errno_error(errno, "KVM_SET_SREGS");
    kvm_regs regs = snap.regs;
    if (ioctl(fd_, KVM_SET_REGS, &regs) < 0)
      return errno_error(errno, "KVM_SET_REGS");
    if (!snap.xsave.empty()) {
      std::vector<uint8_t> xsave = snap.xsave;
      if (ioctl(fd_, KVM_SET_XSAVE, xsave.data()) < 0)
        return errno_error(errno, "KVM_SET_XSAVE");
    } else {
      kvm_fpu fpu = snap.fpu;
      if (ioctl(fd_, KVM_SET_FPU, &fpu) < 0)
        return errno_error(errno, "KVM_SET_FPU");
    }
    if (snap.has_xcrs) {
      kvm_xcrs xcrs = snap.xcrs;
      if (ioctl(fd_, KVM_SET_XCRS, &xcrs) < 0)
        return errno_error(errno, "KVM_SET_XCRS");
    }
    COLO_TRY(set_msrs(snap.msrs));
    kvm_lapic_state lapic = snap.lapic;
    if (ioctl(fd_, KVM_SET_LAPIC, &lapic) < 0)
      return errno_error(errno, "KVM_SET_LAPIC");
    if (snap.has_events) {
      kvm_vcpu_events events = snap.events;
      if (ioctl(fd_, KVM_SET_VCPU_EVENTS, &events) < 0) {
        return errno_error(errno, "KVM_SET_VCPU_EVENTS");
      }
    }
    kvm_mp_state mp = snap.mp_state;
    if (ioctl(fd_, KVM_SET_MP_STATE, &mp) < 0)
      return errno_error(errno, "KVM_SET_MP_STATE");
    if (snap.has_debugregs) {
      kvm_debugregs dr = snap.debugregs;
      if (ioctl(fd_, KVM_SET_DEBUGREGS, &dr) < 0)
        return errno_error(errno, "KVM_SET_DEBUGREGS");
    }
    return ok_status();
  });
}

std::string KvmVcpu::dump_registers() {
  kvm_regs r{};
  kvm_sregs s{};
  if (ioctl(fd_, KVM_GET_REGS, &r) < 0 || ioctl(fd_, KVM_GET_SREGS, &s) < 0) {
    return string_printf("(registers unavailable: %s)\n", strerror(errno));
  }
  auto x = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::string out;
  out += string_printf("RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", x(r.rax), x(r.rbx),
                       x(r.rcx), x(r.rdx));
  out += string_printf("RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", x(r.rsi), x(r.rdi),
                       x(r.rbp), x(r.rsp));
  out += string_printf("R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", x(r.r8), x(r.r9),
                       x(r.r10), x(r.r11));
  out += string_printf("R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", x(r.r12), x(r.r13),
                       x(r.r14), x(r.r15));
  out += string_printf("RIP=%016llx RFL=%08llx CPL=%u\n", x(r.rip), x(r.rflags), s.cs.dpl);
  out += format_segment("ES", s.es);
  out += format_segment("CS", s.cs);
  out += format_segment("SS", s.ss);
  out += format_segment("DS", s.ds);
  out += format_segment("FS", s.fs);
  out += format_segment("GS", s.gs);
  out += format_segment("LDT", s.ldt);
  out += format_segment("TR", s.tr);
  out += string_printf("GDT=     %016llx %08x\n", x(s.gdt.base), s.gdt.limit);
  out += string_printf("IDT=     %016llx %08x\n", x(s.idt.base), s.idt.limit);
  out += string_printf("CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx\n", x(s.cr0), x(s.cr2),
                       x(s.cr3), x(s.cr4));
  out += string_printf("EFER=%016llx APIC_BASE=%016llx\n", x(s.efer), x(s.apic_base));
  return out;
}

std::string KvmVcpu::code_bytes() {
  kvm_regs r{};
  kvm_sregs s{};
  if (ioctl(fd_, KVM_GET_REGS, &r) < 0 || ioctl(fd_, KVM_GET_SREGS, &s) < 0) {
    return "Code=<unavailable>";
  }
  uint64_t rip_linear = s.cs.base + r.rip;
  std::map<uint64_t, int64_t> page_gpa;  // linear page -> physical page or -1
  std::string out = "Code=";
  constexpr int kBefore = 16;
  constexpr int kAfter = 16;
  for (int off = -kBefore; off < kAfter; off++) {
    uint64_t lin = rip_linear + static_cast<uint64_t>(off);
    uint64_t page = lin & ~0xfffULL;
    auto it = page_gpa.find(page);
    if (it == page_gpa.end()) {
      kvm_translation tr{};
      tr.linear_address = page;
      int64_t phys = -1;
      if (ioctl(fd_, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
        phys = static_cast<int64_t>(tr.physical_address & ~0xfffULL);
      } else if (!(s.cr0 & 0x80000000ULL)) {
        phys = static_cast<int64_t>(page);  // paging off: linear == physical
      }
      it = page_gpa.emplace(page, phys).first;
    }
    uint8_t byte = 0;
    bool ok = it->second >= 0 &&
              vm_->read_guest(static_cast<uint64_t>(it->second) + (lin & 0xfff), &byte, 1);
    if (off == 0)
      out += '<';
    out += ok ? string_printf("%02x", byte) : std::string("??");
    if (off == 0)
      out += '>';
    if (off != kAfter - 1)
      out += ' ';
  }
  return out;
}

void KvmVcpu::report_internal_error(const char* what) {
  std::string report = what;
  if (!report.empty() && report.back() != '\n')
    report += '\n';
  report += dump_registers();
  report += code_bytes();
  report += '\n';
  vm_->exit_handler()->vcpu_internal_error(index_, report);
}

void KvmVcpu::handle_exit(bool* park) {
  auto* run = static_cast<kvm_run*>(run_);
  VcpuExitHandler* h = vm_->exit_handler();
  switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      uint8_t* data = static_cast<uint8_t*>(run_) + run->io.data_offset;
      for (uint32_t i = 0; i < run->io.count; i++) {
        uint8_t* p = data + static_cast<size_t>(i) * run->io.size;
        if (run->io.direction == KVM_EXIT_IO_IN) {
          h->pio_read(run->io.port, {p, run->io.size});
        } else {
          h->pio_write(run->io.port, {p, run->io.size});
        }
      }
      break;
    }
    case KVM_EXIT_MMIO:
      if (run->mmio.is_write) {
        h->mmio_write(run->mmio.phys_addr, {run->mmio.data, run->mmio.len});
      } else {
        h->mmio_read(run->mmio.phys_addr, {run->mmio.data, run->mmio.len});
      }
      break;
    case KVM_EXIT_INTR:
    case KVM_EXIT_HLT:
      break;
    case KVM_EXIT_SHUTDOWN:
      h->guest_reset(index_, "triple fault");
      *park = true;
      break;
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          h->guest_shutdown(index_);
          break;
        case KVM_SYSTEM_EVENT_RESET:
          h->guest_reset(index_, "system event");
          break;
        default:
          report_internal_error(
              string_printf("KVM system event %u (guest crash)", run->system_event.type).c_str());
          break;
      }
      *park = true;
      break;
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string what = string_printf("KVM internal error. Suberror: %u", run->internal.suberror);
      for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++) {
        what += string_printf("\nextra data[%u]: 0x%016llx", i,
                              static_cast<unsigned long long>(run->internal.data[i]));
      }
      if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
        what += "\nemulation failure";
      report_internal_error(what.c_str());
      *park = true;
      break;
    }
    case KVM_EXIT_FAIL_ENTRY:
      report_internal_error(string_printf("KVM: entry failed, hardware error 0x%llx",
                                          static_cast<unsigned long long>(
                                              run->fail_entry.hardware_entry_failure_reason))
                                .c_str());
      *park = true;
      break;
    default:
      report_internal_error(
          string_printf("KVM: unhandled exit reason %u", run->exit_reason).c_str());
      *park = true;
      break;
  }
}

void KvmVcpu::thread_main() {
  set_thread_name(string_printf("vcpu%d", index_));
  thread_id_.store(static_cast<pid_t>(gettid()), std::memory_order_release);
  current_vcpu = this;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kKickSignal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  auto* run = static_cast<kvm_run*>(run_);

  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (request_ != Request::kRun || !work_.empty()) {
      if (request_ == Request::kFinish) {
        state_ = VcpuRunState::kFinished;
        cv_.notify_all();
        return;
      }
      if (request_ == Request::kPause && state_ != VcpuRunState::kPaused) {
        state_ = VcpuRunState::kPaused;
        cv_.notify_all();
      }
      while (!work_.empty()) {
        auto work = std::move(work_.front());
        work_.erase(work_.begin());
        lock.unlock();
        work();
        lock.lock();
      }
      if (request_ != Request::kRun) {
        cv_.wait(lock, [&] { return request_ != Request::kPause || !work_.empty(); });
        continue;
      }
    }
    // Only here, under the lock and with a run request, is immediate_exit cleared: a pause
    // request sets it under the same lock, so it can never be lost.
    run->immediate_exit = 0;
    if (state_ != VcpuRunState::kRunning) {
      state_ = VcpuRunState::kRunning;
      cv_.notify_all();
    }
    lock.unlock();

    bool park = false;
    int r = ioctl(fd_, KVM_RUN, 0);
    if (r < 0) {
      if (errno != EINTR && errno != EAGAIN) {
        report_internal_error(string_printf("KVM_RUN failed: %s", strerror(errno)).c_str());
        park = true;
      }
    } else {
      handle_exit(&park);
    }

    lock.lock();
    if (park && request_ == Request::kRun)
      request_ = Request::kPause;
  }
}

Status KvmVcpu::run_on_vcpu(const std::function<Status()>& fn) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (state_ == VcpuRunState::kCreated || current_vcpu == this) {
    lock.unlock();
    return fn();
  }
  if (state_ == VcpuRunState::kFinished)
    return make_error("vCPU %d has finished", index_);
  if (request_ == Request::kRun) {
    return make_error("vCPU %d is running; pause it first", index_);
  }
  std::promise<Status> done;
  auto fut = done.get_future();
  work_.push_back([&] { done.set_value(fn()); });
  cv_.notify_all();
  lock.unlock();
  return fut.get();
}

void KvmVcpu::request_pause() {
  bool kick = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (request_ == Request::kRun) {
      request_ = Request::kPause;
      static_cast<kvm_run*>(run_)->immediate_exit = 1;
      kick = state_ == VcpuRunState::kRunning;
    }
  }
  if (kick && current_vcpu != this)
    pthread_kill(pthread_, kKickSignal);
}

void KvmVcpu::wait_parked() {
  if (current_vcpu == this)
    return;  // parks itself once its exit handler returns
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return state_ != VcpuRunState::kRunning || request_ == Request::kRun; });
}

Status KvmVm::start_vcpu_threads() {
  kvm_install_kick_signal();
  for (auto& v : vcpus_) {
    if (v->thread_.joinable())
      continue;
    v->thread_ = std::thread(&KvmVcpu::thread_main, v.get());
    v->pthread_ = v->thread_.native_handle();
    std::unique_lock<std::mutex> lock(v->mutex_);
    v->cv_.wait(lock, [&] { return v->state_ != VcpuRunState::kCreated; });
  }
  return ok_status();
}

std::chrono::nanoseconds KvmVm::pause_all() {
  auto start = std::chrono::steady_clock::now();
  for (auto& v : vcpus_)
    v->request_pause();
  // A vCPU thread only asks: waiting here for the others could deadlock with another vCPU that
  // is waiting for this one. The main loop, which acts on the request, waits.
  if (current_vcpu != nullptr)
    return std::chrono::nanoseconds(0);
  for (auto& v : vcpus_)
    v->wait_parked();
  return std::chrono::steady_clock::now() - start;
}

void KvmVm::resume_all() {
  for (auto& v : vcpus_) {
    std::lock_guard<std::mutex> lock(v->mutex_);
    if (v->request_ == KvmVcpu::Request::kPause)
      v->request_ = KvmVcpu::Request::kRun;
    v->cv_.notify_all();
  }
}

void KvmVm::finish_all() {
  for (auto& v : vcpus_) {
    if (!v->thread_.joinable())
      continue;
    {
      std::lock_guard<std::mutex> lock(v->mutex_);
      v->request_ = KvmVcpu::Request::kFinish;
      static_cast<kvm_run*>(v->run_)->immediate_exit = 1;
      v->cv_.notify_all();
    }
    if (current_vcpu != v.get()) {
      pthread_kill(v->pthread_, kKickSignal);
      v->thread_.join();
    }
  }
}

}  // namespace colo
