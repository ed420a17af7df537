// SPDX-License-Identifier: GPL-2.0-or-later
//
// The monitor objects behind monitor/monitor.h: a QMP monitor (protocol state, request queue,
// suspension) and an HMP monitor (readline). Private to monitor/.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "chardev/char.h"
#include "monitor/monitor.h"
#include "util/json-streamer.h"

namespace colo {

class QmpMonitor : public ChardevFrontend {
 public:
  QmpMonitor(Chardev* chr, bool use_io_thread) : chr_(chr), use_io_thread_(use_io_thread) {}

  Chardev* chardev() const { return chr_; }
  bool uses_io_thread() const { return use_io_thread_; }

  // ChardevFrontend: the chardev's context thread (monitor-io, or main).
  size_t can_receive() override { return suspended_ ? 0 : 65536; }
  void receive(std::span<const uint8_t> data) override;
  void event(ChardevEvent ev) override;

  // Runs the oldest queued in-band request (main loop).
  void dispatch_one();
  // Sends an event to the session if it negotiated (any thread).
  void send_event(const std::string& text);

 private:
  struct Request {
    uint64_t generation;
    Result<nlohmann::json> message;
  };

  // Context thread.
  void pump();
  bool handle_message(Result<nlohmann::json> message);
  bool should_suspend_locked() const;
  void maybe_resume();
  void new_session(bool connected);
  QmpDispatchOptions dispatch_options() const;

  // Sends a response of session `generation` (dropped if that session ended). Any thread.
  void send(uint64_t generation, const std::string& text);

  Chardev* chr_;
  bool use_io_thread_;
  QmpSession session_;

  // Context thread only.
  JsonStreamer streamer_;
  std::vector<uint8_t> backlog_;  // received, not yet parsed (while suspended)
  bool suspended_ = false;

  std::mutex mutex_;  // queue_
  std::deque<Request> queue_;

  std::mutex send_mutex_;  // generation_, writes
  uint64_t generation_ = 0;
};

// HMP: QEMU's readline (the same bytes on the wire) and the command table (hmp.cc).
class HmpMonitor : public ChardevFrontend {
 public:
  explicit HmpMonitor(Chardev* chr);
  Chardev* chardev() const { return chr_; }

  size_t can_receive() override { return 4096; }
  void receive(std::span<const uint8_t> data) override;
  void event(ChardevEvent ev) override;

 private:
  void handle_byte(uint8_t ch);
  void update();
  void show_prompt();
  void puts(std::string_view s);  // '\n' -> "\r\n"

  Chardev* chr_;
  bool on_mux_;
  bool banner_shown_ = false;
  bool focused_ = false;
  enum class Esc { kNorm, kEsc, kCsi, kSs3 } esc_ = Esc::kNorm;
  std::string cmd_;
  size_t index_ = 0;
  std::string last_cmd_;
  size_t last_index_ = 0;
  std::vector<std::string> history_;
  size_t hist_pos_ = 0;
};

}  // namespace colo
