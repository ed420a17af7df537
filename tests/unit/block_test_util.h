// SPDX-License-Identifier: GPL-2.0-or-later
//
// Helpers for the block layer tests: temporary directories, running qemu-img/qemu-io, and
// option dictionaries written the way the command line spells them. Tests that need qemu-img
// fail (never skip) when it is missing: scripts/install-deps.sh installs qemu-utils.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "block/blockdev.h"

namespace colo::block::testing {

// A directory under $TMPDIR (or /tmp) removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/colovm-block-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()))
      path_ = buf.data();
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int status = -1;  // exit code, or -1 if it could not run
  std::string output;
};

// Runs a shell command, capturing stdout and stderr.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f)
    return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    r.output.append(buf, n);
  int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline bool have_tool(const char* name) {
  return run_command(std::string("command -v ") + name).status == 0;
}

// Fails the calling test if qemu-img/qemu-io are missing.
#define ASSERT_QEMU_TOOLS()                                                               \
  do {                                                                                    \
    ASSERT_TRUE(::colo::block::testing::have_tool("qemu-img") &&                          \
                ::colo::block::testing::have_tool("qemu-io"))                             \
        << "qemu-img and qemu-io are required: run scripts/install-deps.sh (qemu-utils)"; \
  } while (0)

// Runs a command and fails the test (returning its output) if it does not exit 0.
inline std::string must_run(const std::string& cmd) {
  CommandResult r = run_command(cmd);
  EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
  return r.output;
}

inline std::string qemu_img_create(const std::string& path, const std::string& format,
                                   const std::string& size, const std::string& options = "") {
  std::string cmd = "qemu-img create -q -f " + format;
  if (!options.empty())
    cmd += " -o " + shell_quote(options);
  cmd += " " + shell_quote(path) + " " + size;
  return must_run(cmd);
}

// e.g. qemu_io(path, "qcow2", "write -P 0xab 0 64k").
inline std::string qemu_io(const std::string& path, const std::string& format,
                           const std::string& command) {
  return must_run("qemu-io -f " + format + " -c " + shell_quote(command) + " " + shell_quote(path));
}

struct CheckResult {
  bool ran = false;
  int check_errors = 0;
  int corruptions = 0;
  int leaks = 0;
  std::string output;
};

// `qemu-img check --output=json`.
inline CheckResult qemu_img_check(const std::string& path) {
  CheckResult c;
  CommandResult r =
      run_command("qemu-img check -f qcow2 --output=json " + shell_quote(path) + " 2>/dev/null");
  c.output = r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return c;
  c.ran = true;
  c.check_errors = j.value("check-errors", 0);
  c.corruptions = j.value("corruptions", 0);
  c.leaks = j.value("leaks", 0);
  return c;
}

#define EXPECT_QCOW2_CLEAN(path)                                        \
  do {                                                                  \
    auto colo_check_ = ::colo::block::testing::qemu_img_check(path);    \
    EXPECT_TRUE(colo_check_.ran) << colo_check_.output;                 \
    EXPECT_EQ(colo_check_.check_errors, 0) << colo_check_.output;       \
    EXPECT_EQ(colo_check_.corruptions, 0) << colo_check_.output;        \
    EXPECT_EQ(colo_check_.leaks, 0) << colo_check_.output;              \
    auto colo_human_ = ::colo::block::testing::run_command(             \
        "qemu-img check " + ::colo::block::testing::shell_quote(path)); \
    EXPECT_EQ(colo_human_.status, 0) << colo_human_.output;             \
  } while (0)

// `qemu-img compare` of two images; true if their guest contents are equal.
inline bool qemu_img_compare(const std::string& a, const std::string& fmt_a, const std::string& b,
                             const std::string& fmt_b, std::string* output = nullptr) {
  CommandResult r = run_command("qemu-img compare -f " + fmt_a + " -F " + fmt_b + " " +
                                shell_quote(a) + " " + shell_quote(b));
  if (output)
    *output = r.output;
  return r.status == 0;
}

inline std::vector<uint8_t> read_host_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

inline void write_host_file(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Overwrites bytes of a host file in place.
inline void patch_file(const std::string& path, uint64_t offset,
                       const std::vector<uint8_t>& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline std::vector<uint8_t> be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}
inline std::vector<uint8_t> be64(uint64_t v) {
  std::vector<uint8_t> hi = be32(static_cast<uint32_t>(v >> 32));
  std::vector<uint8_t> lo = be32(static_cast<uint32_t>(v));
  hi.insert(hi.end(), lo.begin(), lo.end());
  return hi;
}
inline uint64_t read_be64_at(const std::string& path, uint64_t offset) {
  std::vector<uint8_t> d = read_host_file(path);
  uint64_t v = 0;
  for (int i = 0; i < 8 && offset + i < d.size(); i++)
    v = v << 8 | d[offset + i];
  return v;
}

// The guest contents of an image as qemu-img sees them (converted to raw).
inline std::vector<uint8_t> qemu_img_contents(const std::string& path, const std::string& format,
                                              const std::string& scratch) {
  must_run("qemu-img convert -f " + format + " -O raw " + shell_quote(path) + " " +
           shell_quote(scratch));
  return read_host_file(scratch);
}

inline uint64_t host_file_size(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// "driver=qcow2,file.driver=file" -> {"driver": "qcow2", "file.driver": "file"} (",," escapes a
// comma; enough for tests).
inline KeyvalDict kv(const std::string& text) {
  KeyvalDict d;
  std::string key, value, cur;
  bool in_value = false;
  auto flush = [&] {
    if (in_value) {
      d[key] = cur;
    } else if (!cur.empty()) {
      d[cur] = "on";
    }
    cur.clear();
    in_value = false;
  };
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (c == ',' && i + 1 < text.size() && text[i + 1] == ',') {
      cur += ',';
      i++;
    } else if (c == ',') {
      flush();
    } else if (c == '=' && !in_value) {
      key = cur;
      cur.clear();
      in_value = true;
    } else {
      cur += c;
    }
  }
  flush();
  return d;
}

// Deterministic pseudo-random bytes.
inline std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t r = rng();
    memcpy(&v[i], &r, 8);
  }
  for (; i < n; i++)
    v[i] = static_cast<uint8_t>(rng() >> 24);
  return v;
}

inline std::vector<uint8_t> pattern(size_t n, uint8_t byte) {
  return std::vector<uint8_t>(n, byte);
}

// Reads `len` bytes at `offset` of a node, failing the test on error.
inline std::vector<uint8_t> read_node(BlockNode& node, uint64_t offset, size_t len) {
  std::vector<uint8_t> buf(len, 0xcc);
  Status st = node.read(offset, buf);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message());
  return buf;
}

// Opens with blockdev_open in `graph`, failing the test on error.
inline std::shared_ptr<BlockNode> open_node(BlockGraph& graph, const std::string& options) {
  auto r = graph.blockdev_open(kv(options));
  EXPECT_TRUE(r.ok()) << options << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : nullptr;
}

// Opens a qcow2 image file as node `name` (read-write unless `extra` says otherwise).
inline std::shared_ptr<BlockNode> open_qcow2(BlockGraph& graph, const std::string& name,
                                             const std::string& path,
                                             const std::string& extra = "") {
  std::string opts = "driver=qcow2,node-name=" + name + ",file.driver=file,file.filename=" + path;
  if (!extra.empty())
    opts += "," + extra;
  return open_node(graph, opts);
}

inline std::string error_of(const Status& st) {
  return st.ok() ? "" : st.error().message();
}
template <typename T>
std::string error_of(const Result<T>& r) {
  return r.ok() ? "" : r.error().message();
}

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    auto colo_st_ = (expr);                                                    \
    ASSERT_TRUE(colo_st_.ok()) << #expr << ": " << colo_st_.error().message(); \
  } while (0)
#define EXPECT_OK(expr)                                                        \
  do {                                                                         \
    auto colo_st_ = (expr);                                                    \
    EXPECT_TRUE(colo_st_.ok()) << #expr << ": " << colo_st_.error().message(); \
  } while (0)

}  // namespace colo::block::testing
