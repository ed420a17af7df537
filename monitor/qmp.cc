// SPDX-License-Identifier: GPL-2.0-or-later
//
// A QMP monitor: QEMU's monitor/qmp.c. Input is parsed on the chardev's context (the
// monitor-io thread); "exec-oob" requests run there at once, the others are queued for the main
// loop. While kQmpMaxQueuedRequests requests wait (or one, without "oob"), the monitor stops
// reading its chardev: a client that floods it only fills its own socket buffer.
#include "monitor/monitor-internal.h"

#include "system/vm.h"
#include "util/main-loop.h"

namespace colo {

namespace {

std::optional<qapi::RunState> current_run_state() {
  VirtualMachine* vm = monitor_vm();
  if (vm == nullptr)
    return std::nullopt;
  return vm->runstate().state();
}

}  // namespace

QmpDispatchOptions QmpMonitor::dispatch_options() const {
  QmpDispatchOptions opts;
  opts.negotiating = !session_.negotiated.load();
  opts.oob_enabled = session_.oob_enabled.load();
  opts.run_state = current_run_state();
  return opts;
}

void QmpMonitor::send(uint64_t generation, const std::string& text) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (generation != generation_)
    return;  // that client is gone
  std::string line = text + "\r\n";
  (void)chr_->write_str(line);
}

void QmpMonitor::send_event(const std::string& text) {
  if (!session_.negotiated.load())
    return;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(send_mutex_);
    generation = generation_;
  }
  send(generation, text);
}

void QmpMonitor::new_session(bool connected) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(send_mutex_);
    generation = ++generation_;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.clear();
  }
  session_.negotiated.store(false);
  session_.oob_enabled.store(false);
  session_.oob_offered.store(use_io_thread_);
  streamer_.reset();
  backlog_.clear();
  bool was_suspended = suspended_;
  suspended_ = false;
  if (connected)
    send(generation, qmp_greeting_text(use_io_thread_));
  if (was_suspended)
    chr_->frontend_ready();
}

void QmpMonitor::event(ChardevEvent ev) {
  switch (ev) {
    case ChardevEvent::kOpened:
      new_session(true);
      break;
    case ChardevEvent::kClosed:
      new_session(false);
      break;
    default:
      break;
  }
}

void QmpMonitor::receive(std::span<const uint8_t> data) {
  backlog_.insert(backlog_.end(), data.begin(), data.end());
  pump();
}

void QmpMonitor::pump() {
  while (!backlog_.empty() && !suspended_) {
    std::vector<uint8_t> data;
    data.swap(backlog_);
    size_t used = streamer_.feed(data, [this](Result<nlohmann::json> message) {
      return handle_message(std::move(message));
    });
    if (used < data.size()) {
      backlog_.insert(backlog_.begin(), data.begin() + static_cast<ptrdiff_t>(used), data.end());
    }
  }
}

bool QmpMonitor::should_suspend_locked() const {
  if (!session_.oob_enabled.load())
    return !queue_.empty();
  return queue_.size() >= kQmpMaxQueuedRequests;
}

bool QmpMonitor::handle_message(Result<nlohmann::json> message) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(send_mutex_);
    generation = generation_;
  }
  if (message.ok() && qmp_request_is_oob(*message)) {
    // Out of band: right here, on the I/O thread, whatever the main loop is doing.
    QmpContext ctx(&session_, true);
    QmpResponse rsp = qmp_dispatch(*message, ctx, dispatch_options());
    if (!rsp.suppressed)
      send(generation, qmp_response_text(rsp));
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({generation, std::move(message)});
    suspended_ = should_suspend_locked();
  }
  run_on_main_loop([this] { dispatch_one(); });
  return !suspended_;
}

void QmpMonitor::dispatch_one() {
  std::optional<Request> req;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty())
      return;
    req.emplace(std::move(queue_.front()));
    queue_.pop_front();
  }
  QmpResponse rsp;
  if (!req->message.ok()) {
    rsp.result = std::move(req->message).error();  // a parse error, in its place in the stream
  } else {
    QmpContext ctx(&session_, false);
    rsp = qmp_dispatch(*req->message, ctx, dispatch_options());
  }
  if (!rsp.suppressed)
    send(req->generation, qmp_response_text(rsp));
  chr_->run_in_context([this] { maybe_resume(); });
}

void QmpMonitor::maybe_resume() {
  if (!suspended_)
    return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (should_suspend_locked())
      return;
  }
  suspended_ = false;
  pump();
  if (!suspended_)
    chr_->frontend_ready();
}

}  // namespace colo
