// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: chardev/char.h
//
// Character devices: byte streams between a frontend (a UART, a monitor, a network filter) and a
// backend (stdio, a file, a socket). A chardev's I/O runs on one GLib context — the main loop by
// default, or another thread's (a QMP monitor with out-of-band commands, the COLO proxy's
// iothread) set with set_context() before a frontend is attached. Input is delivered to the
// frontend on that context's thread, at most as many bytes as the frontend says it can take, so
// a slow guest UART applies back-pressure instead of losing input. Output (write_all) may be
// called from any thread.
//
//   auto chr = chardev_new_from_option("file:/tmp/serial.log", "serial0");
//   chr->attach_frontend(&uart_frontend);
//   chr->write_all(bytes);
#pragma once

#include <glib.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/keyval.h"

namespace colo {

enum class ChardevEvent {
  kOpened,  // a peer connected (or the backend opened)
  kClosed,  // the peer went away
  kBreak,   // a serial break
  kMuxIn,   // a mux gave this frontend the focus
  kMuxOut,  // a mux took the focus away
};

// What a frontend implements. All callbacks run on the chardev's context thread.
class ChardevFrontend {
 public:
  virtual ~ChardevFrontend() = default;
  // How many bytes the frontend can take now (0 pauses input until frontend_ready()).
  virtual size_t can_receive() = 0;
  virtual void receive(std::span<const uint8_t> data) = 0;
  virtual void event(ChardevEvent ev) {}
};

class Chardev {
 public:
  Chardev(std::string id, std::string backend_type);
  virtual ~Chardev();
  Chardev(const Chardev&) = delete;
  Chardev& operator=(const Chardev&) = delete;

  const std::string& id() const { return id_; }
  const std::string& backend_type() const { return backend_type_; }
  // QEMU's ChardevInfo.filename, e.g. "stdio", "file", "unix:/tmp/qmp.sock,server=on".
  virtual std::string filename() const = 0;

  // Writes all bytes, or drops them when nothing is connected. Thread-safe. An error means the
  // backend failed (disk full, peer gone); callers usually ignore it, as a UART would.
  virtual Status write_all(std::span<const uint8_t> data) = 0;
  Status write_str(std::string_view s) {
    return write_all({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  // Whether a peer is connected (always true for stdio/file/null).
  virtual bool connected() const { return true; }

  // Drops the current peer, if the backend has one (a QMP monitor does this to a client that
  // floods it). Thread-safe.
  virtual void disconnect() {}

  // One frontend at a time (a mux takes several). Call on the context's thread.
  virtual Status attach_frontend(ChardevFrontend* fe);
  virtual void detach_frontend(ChardevFrontend* fe);
  bool frontend_open() const { return frontend_ != nullptr; }
  // A frontend that returned 0 from can_receive() calls this when it can take input again.
  // Thread-safe.
  void frontend_ready();

  // The context whose thread runs this chardev (nullptr: the main loop). Set it before a
  // frontend attaches; backends that cannot move refuse.
  virtual Status set_context(GMainContext* ctx);
  GMainContext* context() const { return context_; }
  // Runs fn on the context's thread, asynchronously. Thread-safe.
  void run_in_context(std::function<void()> fn);

 protected:
  // Backends call these on the context's thread.
  void deliver(std::span<const uint8_t> data);
  void deliver_event(ChardevEvent ev);
  size_t frontend_can_receive();
  // Backends override to start or stop watching their input (context thread).
  virtual void update_input_watch() {}
  // A GSource watching fd on this chardev's context; destroy with remove_source().
  GSource* add_fd_watch(int fd, GIOCondition cond, gboolean (*fn)(gint, GIOCondition, gpointer),
                        void* data);
  GSource* add_timeout(guint ms, GSourceFunc fn, void* data);
  static void remove_source(GSource** src);

  ChardevFrontend* frontend_ = nullptr;

 private:
  std::string id_;
  std::string backend_type_;
  GMainContext* context_ = nullptr;
};

// Creates a chardev from QEMU's -chardev options ({"backend": "file", "id": ..., "path": ...}).
Result<std::unique_ptr<Chardev>> chardev_new(const KeyvalDict& opts);
// Creates a chardev from the legacy syntax of -serial/-monitor/-qmp: "stdio", "null",
// "file:PATH", "unix:PATH,server=on", "tcp:HOST:PORT,server=on", ...
Result<std::unique_ptr<Chardev>> chardev_new_from_option(std::string_view spec, std::string id);

// -chardev BACKEND,id=ID[,mux=on][,...]: creates the chardev and adds it to the registry. With
// mux=on, ID is a mux (several frontends, C-a c) over the backend, registered as ID-base.
Status chardev_add_from_option(std::string_view spec);

// All chardevs of the machine, by id. Main thread only.
class ChardevRegistry {
 public:
  Status add(std::unique_ptr<Chardev> chr);
  Chardev* find(const std::string& id) const;
  Status remove(const std::string& id);
  std::vector<Chardev*> all() const;

 private:
  std::map<std::string, std::unique_ptr<Chardev>> devs_;
};

ChardevRegistry& chardev_registry();

// Backends with a registry of constructors, so new backends (socket, ...) plug in without a switch.
using ChardevConstructor =
    std::function<Result<std::unique_ptr<Chardev>>(const std::string& id, OptionReader& opts)>;
void chardev_register_backend(const std::string& name, ChardevConstructor ctor);

// Restores terminal settings changed by stdio chardevs (safe to call from a signal path).
void chardev_restore_terminal();

// What the mux escape "C-a x" does (set by main: quit the VM). Main thread.
void chardev_set_quit_handler(std::function<void()> handler);

// A mux: several frontends (serial port, monitor) sharing one backend (stdio), as QEMU's
// "mon:stdio" and -nographic. The focused frontend gets the input; everybody's output goes out.
// Escapes (C-a then): h help, x quit, c switch focus, b send break, a a literal C-a.
Result<std::unique_ptr<Chardev>> chardev_new_mux(std::string id, Chardev* backend);

}  // namespace colo
