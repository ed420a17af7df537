// SPDX-License-Identifier: GPL-2.0-or-later
//
// The mux: several frontends on one backend, switched with C-a c (QEMU's "mon:stdio").
#include <vector>

#include "chardev/char.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr uint8_t kEscape = 0x01;  // C-a

std::function<void()>& quit_handler() {
  static auto* h = new std::function<void()>();
  return *h;
}

class MuxChardev : public Chardev, public ChardevFrontend {
 public:
  MuxChardev(std::string id, Chardev* backend) : Chardev(std::move(id), "mux"), backend_(backend) {}
  ~MuxChardev() override { backend_->detach_frontend(this); }

  Status attach_backend() { return backend_->attach_frontend(this); }

  std::string filename() const override { return backend_->filename(); }
  Status write_all(std::span<const uint8_t> data) override { return backend_->write_all(data); }
  bool connected() const override { return backend_->connected(); }

  Status attach_frontend(ChardevFrontend* fe) override {
    if (fe == nullptr)
      return ok_status();
    frontends_.push_back(fe);
    if (connected())
      fe->event(ChardevEvent::kOpened);
    // The first frontend (the serial port) has the focus until C-a c moves it.
    if (frontends_.size() == 1)
      set_focus(0);
    backend_->frontend_ready();
    return ok_status();
  }

  void detach_frontend(ChardevFrontend* fe) override {
    for (size_t i = 0; i < frontends_.size(); i++) {
      if (frontends_[i] != fe)
        continue;
      frontends_.erase(frontends_.begin() + static_cast<ptrdiff_t>(i));
      if (frontends_.empty()) {
        frontend_ = nullptr;
        focus_ = 0;
      } else {
        focus_ = 0;
        frontend_ = frontends_[0];
      }
      return;
    }
  }

  Status set_context(GMainContext* ctx) override {
    if (ctx != nullptr)
      return make_error("a mux chardev runs on the main loop only");
    return ok_status();
  }

  // ChardevFrontend (of the backend).
  size_t can_receive() override {
    if (escape_)
      return 1;
    return frontend_ != nullptr ? std::max<size_t>(frontend_->can_receive(), 0) : 1;
  }

  void receive(std::span<const uint8_t> data) override {
    for (uint8_t b : data) {
      if (escape_) {
        escape_ = false;
        handle_escape(b);
        continue;
      }
      if (b == kEscape) {
        escape_ = true;
        continue;
      }
      if (frontend_ != nullptr && frontend_->can_receive() > 0)
        frontend_->receive({&b, 1});
    }
  }

  void event(ChardevEvent ev) override {
    for (ChardevFrontend* fe : frontends_)
      fe->event(ev);
  }

 private:
  void set_focus(size_t i) {
    if (frontends_.empty())
      return;
    if (frontend_ != nullptr)
      frontend_->event(ChardevEvent::kMuxOut);
    focus_ = i % frontends_.size();
    frontend_ = frontends_[focus_];
    frontend_->event(ChardevEvent::kMuxIn);
  }

  void handle_escape(uint8_t b) {
    switch (b) {
      case 'h':
      case '?': {
        static const char kHelp[] =
            "\r\nC-a h    print this help\r\n"
            "C-a x    exit colovm\r\n"
            "C-a c    switch between console and monitor\r\n"
            "C-a b    send break\r\n"
            "C-a C-a  send C-a\r\n";
        (void)backend_->write_str(kHelp);
        break;
      }
      case 'x':
        (void)backend_->write_str("colovm: terminating on C-a x\r\n");
        if (quit_handler())
          quit_handler()();
        break;
      case 'c':
        set_focus(focus_ + 1);
        break;
      case 'b':
        if (frontend_ != nullptr)
          frontend_->event(ChardevEvent::kBreak);
        break;
      case kEscape:
        if (frontend_ != nullptr && frontend_->can_receive() > 0)
          frontend_->receive({&b, 1});
        break;
      default:
        break;  // unknown escapes are swallowed, as in QEMU
    }
  }

  Chardev* backend_;
  std::vector<ChardevFrontend*> frontends_;
  size_t focus_ = 0;
  bool escape_ = false;
};

}  // namespace

void chardev_set_quit_handler(std::function<void()> handler) {
  quit_handler() = std::move(handler);
}

Result<std::unique_ptr<Chardev>> chardev_new_mux(std::string id, Chardev* backend) {
  auto mux = std::make_unique<MuxChardev>(std::move(id), backend);
  COLO_TRY(mux->attach_backend());
  return std::unique_ptr<Chardev>(std::move(mux));
}

}  // namespace colo
