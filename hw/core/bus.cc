// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/bus.h"

#include <algorithm>
#include <cstring>

namespace colo {

IoBus::IoBus(std::string name) : name_(std::move(name)), table_(std::make_shared<const Table>()) {}

Status IoBus::map(uint64_t base, uint64_t size, BusDevice* device, std::string label) {
  if (size == 0)
    return make_error("%s: empty mapping for '%s'", name_.c_str(), label.c_str());
  if (base + size < base) {
    return make_error("%s: mapping of '%s' wraps around", name_.c_str(), label.c_str());
  }
  std::lock_guard<std::mutex> lock(update_mutex_);
  auto current = table_.load();
  for (const Mapping& m : *current) {
    if (base < m.base + m.size && m.base < base + size) {
      return make_error("%s: '%s' at 0x%llx+0x%llx overlaps '%s' at 0x%llx+0x%llx", name_.c_str(),
                        label.c_str(), static_cast<unsigned long long>(base),
                        static_cast<unsigned long long>(size), m.label.c_str(),
                        static_cast<unsigned long long>(m.base),
                        static_cast<unsigned long long>(m.size));
    }
  }
  auto next = std::make_shared<Table>(*current);
  next->push_back(Mapping{base, size, device, std::move(label)});
  std::sort(next->begin(), next->end(),
            [](const Mapping& a, const Mapping& b) { return a.base < b.base; });
  table_.store(std::move(next));
  return ok_status();
}

void IoBus::unmap(uint64_t base, BusDevice* device) {
  std::lock_guard<std::mutex> lock(update_mutex_);
  auto next = std::make_shared<Table>(*table_.load());
  std::erase_if(*next, [&](const Mapping& m) { return m.base == base && m.device == device; });
  table_.store(std::move(next));
}

void IoBus::unmap_all(BusDevice* device) {
  std::lock_guard<std::mutex> lock(update_mutex_);
  auto next = std::make_shared<Table>(*table_.load());
  std::erase_if(*next, [&](const Mapping& m) { return m.device == device; });
  table_.store(std::move(next));
}

const IoBus::Mapping* IoBus::lookup(const Table& t, uint64_t addr, size_t len) const {
  auto it = std::upper_bound(t.begin(), t.end(), addr,
                             [](uint64_t a, const Mapping& m) { return a < m.base; });
  if (it == t.begin())
    return nullptr;
  --it;
  if (addr - it->base >= it->size || len > it->size - (addr - it->base))
    return nullptr;
  return &*it;
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) const {
  auto t = table_.load();
  const Mapping* m = lookup(*t, addr, data.size());
  if (m == nullptr) {
    memset(data.data(), 0xff, data.size());
    return false;
  }
  m->device->read(addr - m->base, data);
  return true;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) const {
  auto t = table_.load();
  const Mapping* m = lookup(*t, addr, data.size());
  if (m == nullptr)
    return false;
  m->device->write(addr - m->base, data);
  return true;
}

std::vector<IoBus::Mapping> IoBus::mappings() const {
  return *table_.load();
}

}  // namespace colo
