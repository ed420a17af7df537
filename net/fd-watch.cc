// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/backends.h"

namespace colo {

struct FdWatch::Source {
  GSource base;
  FdWatch* owner;
};

gboolean FdWatch::dispatch(GSource* source, GSourceFunc, gpointer) {
  auto* s = reinterpret_cast<Source*>(source);
  FdWatch* w = s->owner;
  if (w == nullptr || w->tag_ == nullptr)
    return G_SOURCE_CONTINUE;
  GIOCondition rev = g_source_query_unix_fd(source, w->tag_);
  // Errors and hang-ups are reported whatever the mask; the owner decides.
  if (rev != 0)
    w->fn_(rev);
  return G_SOURCE_CONTINUE;
}

void FdWatch::start(GMainContext* ctx, int fd, GIOCondition events, Fn fn) {
  stop();
  static GSourceFuncs funcs = {nullptr, nullptr, &FdWatch::dispatch, nullptr, nullptr, nullptr};
  source_ = g_source_new(&funcs, sizeof(Source));
  reinterpret_cast<Source*>(source_)->owner = this;
  fn_ = std::move(fn);
  events_ = events;
  tag_ = g_source_add_unix_fd(source_, fd, events);
  g_source_attach(source_, ctx != nullptr ? ctx : g_main_context_default());
}

void FdWatch::set_events(GIOCondition events) {
  if (source_ == nullptr || events == events_)
    return;
  events_ = events;
  g_source_modify_unix_fd(source_, tag_, events);
}

void FdWatch::stop() {
  if (source_ == nullptr)
    return;
  reinterpret_cast<Source*>(source_)->owner = nullptr;
  g_source_destroy(source_);
  g_source_unref(source_);
  source_ = nullptr;
  tag_ = nullptr;
  events_ = GIOCondition(0);
}

}  // namespace colo
