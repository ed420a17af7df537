// SPDX-License-Identifier: GPL-2.0-or-later
//
// Test support: a QMP client over a unix or TCP socket. Every read has a deadline; events that
// arrive while waiting for a reply are kept, in order, for wait_event().
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace colo::test {

class QmpClient {
 public:
  // Connects, retrying until `timeout` (the server may not listen yet); nullptr on failure.
  static std::unique_ptr<QmpClient> connect_unix(const std::string& path,
                                                 std::chrono::milliseconds timeout);
  static std::unique_ptr<QmpClient> connect_tcp(int port, std::chrono::milliseconds timeout);
  ~QmpClient();

  // The greeting (read on first use).
  std::optional<nlohmann::json> greeting(std::chrono::milliseconds timeout);
  // Reads the greeting and runs qmp_capabilities; false on failure.
  bool negotiate(bool oob, std::chrono::milliseconds timeout);

  bool send_raw(const std::string& bytes);
  bool send(const nlohmann::json& request);
  // The next message of any kind (events included); nullopt on timeout or EOF.
  std::optional<nlohmann::json> read_message(std::chrono::milliseconds timeout);
  // The next reply (a message with "return" or "error"); events seen meanwhile are kept.
  std::optional<nlohmann::json> read_reply(std::chrono::milliseconds timeout);
  // Sends {"execute": name, "arguments": args} and returns the reply.
  std::optional<nlohmann::json> execute(
      const std::string& name, const nlohmann::json& args = nullptr,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits for event `name` (kept or new); nullopt on timeout.
  std::optional<nlohmann::json> wait_event(const std::string& name,
                                           std::chrono::milliseconds timeout);
  // Whether the server closed the connection (reads until EOF or timeout).
  bool wait_closed(std::chrono::milliseconds timeout);
  // The raw text of the last line read.
  const std::string& last_line() const { return last_line_; }
  std::deque<nlohmann::json>& events() { return events_; }

 private:
  explicit QmpClient(int fd) : fd_(fd) {}
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  int fd_;
  std::string buf_;
  std::string last_line_;
  bool eof_ = false;
  std::optional<nlohmann::json> greeting_;
  std::deque<nlohmann::json> events_;
};

// Recursively compares the shape of two JSON values: the same member names and the same JSON
// types (integers of any sign are "int"); arrays by the set of their elements' shapes. Returns
// "" when equal, else where they differ.
std::string json_shape_diff(const nlohmann::json& a, const nlohmann::json& b,
                            const std::string& path = "");

}  // namespace colo::test
