// SPDX-License-Identifier: GPL-2.0-or-later
#include "tests/support/qmp-client.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <thread>

namespace colo::test {

namespace {

using Clock = std::chrono::steady_clock;

int try_connect(const sockaddr* addr, socklen_t len, int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, addr, len) == 0)
    return fd;
  close(fd);
  return -1;
}

}  // namespace

std::unique_ptr<QmpClient> QmpClient::connect_unix(const std::string& path,
                                                   std::chrono::milliseconds timeout) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof(un.sun_path))
    return nullptr;
  memcpy(un.sun_path, path.c_str(), path.size() + 1);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int fd = try_connect(reinterpret_cast<sockaddr*>(&un), sizeof(un), AF_UNIX);
    if (fd >= 0)
      return std::unique_ptr<QmpClient>(new QmpClient(fd));
    if (Clock::now() >= deadline)
      return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::unique_ptr<QmpClient> QmpClient::connect_tcp(int port, std::chrono::milliseconds timeout) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(static_cast<uint16_t>(port));
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int fd = try_connect(reinterpret_cast<sockaddr*>(&in), sizeof(in), AF_INET);
    if (fd >= 0)
      return std::unique_ptr<QmpClient>(new QmpClient(fd));
    if (Clock::now() >= deadline)
      return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

QmpClient::~QmpClient() {
  close(fd_);
}

bool QmpClient::send_raw(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool QmpClient::send(const nlohmann::json& request) {
  return send_raw(request.dump() + "\n");
}

std::optional<std::string> QmpClient::read_line(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      last_line_ = line;
      return line;
    }
    if (eof_)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return std::nullopt;
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

std::optional<nlohmann::json> QmpClient::read_message(std::chrono::milliseconds timeout) {
  auto line = read_line(timeout);
  if (!line)
    return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(*line, nullptr, false);
  if (j.is_discarded())
    return nlohmann::json{{"unparsable", *line}};
  return j;
}

std::optional<nlohmann::json> QmpClient::greeting(std::chrono::milliseconds timeout) {
  if (!greeting_)
    greeting_ = read_message(timeout);
  return greeting_;
}

bool QmpClient::negotiate(bool oob, std::chrono::milliseconds timeout) {
  auto g = greeting(timeout);
  if (!g || !g->contains("QMP"))
    return false;
  nlohmann::json args = oob ? nlohmann::json{{"enable", {"oob"}}} : nlohmann::json(nullptr);
  auto r = execute("qmp_capabilities", args, timeout);
  return r && r->contains("return");
}

std::optional<nlohmann::json> QmpClient::read_reply(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto m = read_message(std::max(left, std::chrono::milliseconds(0)));
    if (!m)
      return std::nullopt;
    if (m->contains("event")) {
      events_.push_back(*m);
      continue;
    }
    return m;
  }
}

std::optional<nlohmann::json> QmpClient::execute(const std::string& name,
                                                 const nlohmann::json& args,
                                                 std::chrono::milliseconds timeout) {
  nlohmann::json req{{"execute", name}};
  if (!args.is_null())
    req["arguments"] = args;
  if (!send(req))
    return std::nullopt;
  return read_reply(timeout);
}

std::optional<nlohmann::json> QmpClient::wait_event(const std::string& name,
                                                    std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if ((*it)["event"] == name) {
        nlohmann::json e = *it;
        events_.erase(it);
        return e;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto m = read_message(std::max(left, std::chrono::milliseconds(0)));
    if (!m)
      return std::nullopt;
    if (m->contains("event"))
      events_.push_back(*m);
  }
}

bool QmpClient::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto line = read_line(left);
    if (!line && eof_)
      return true;
    if (!line)
      return false;
  }
  return eof_;
}

namespace {

std::string type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      return "object";
    case nlohmann::json::value_t::array:
      return "array";
    case nlohmann::json::value_t::string:
      return "string";
    case nlohmann::json::value_t::boolean:
      return "bool";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "int";
    case nlohmann::json::value_t::number_float:
      return "number";
    default:
      return "null";
  }
}

// A canonical description of a value's shape.
std::string shape(const nlohmann::json& j) {
  if (j.is_object()) {
    std::map<std::string, std::string> members;
    for (const auto& [k, v] : j.items())
      members[k] = shape(v);
    std::string out = "{";
    for (const auto& [k, v] : members)
      out += k + ":" + v + ",";
    return out + "}";
  }
  if (j.is_array()) {
    std::set<std::string> elements;
    for (const auto& e : j)
      elements.insert(shape(e));
    std::string out = "[";
    for (const auto& e : elements)
      out += e + "|";
    return out + "]";
  }
  return type_name(j);
}

}  // namespace

std::string json_shape_diff(const nlohmann::json& a, const nlohmann::json& b,
                            const std::string& path) {
  std::string where = path.empty() ? "<root>" : path;
  if (type_name(a) != type_name(b)) {
    return where + ": " + type_name(a) + " vs " + type_name(b);
  }
  if (a.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k))
        return where + ": member '" + k + "' only in the first";
      std::string d = json_shape_diff(v, b[k], path + "." + k);
      if (!d.empty())
        return d;
    }
    for (const auto& [k, v] : b.items()) {
      if (!a.contains(k))
        return where + ": member '" + k + "' only in the second";
    }
    return "";
  }
  if (a.is_array()) {
    std::set<std::string> sa, sb;
    for (const auto& e : a)
      sa.insert(shape(e));
    for (const auto& e : b)
      sb.insert(shape(e));
    if (sa != sb) {
      // Report the first element pair that differs, for a readable message.
      if (!a.empty() && !b.empty()) {
        std::string d = json_shape_diff(a[0], b[0], path + "[0]");
        if (!d.empty())
          return d;
      }
      return where + ": array elements differ in shape";
    }
  }
  return "";
}

}  // namespace colo::test
