#include "host_set.h"

#include <xxhash.h>

#include "dns_name.h"

namespace dnsverdict {

HostSet::HostSet(std::size_t capacity) {
  std::size_t size = 64;
  while (size < capacity) size <<= 1;
  slots_ = std::make_unique<std::atomic<std::uint64_t>[]>(size);
  for (std::size_t i = 0; i < size; ++i) slots_[i].store(0, std::memory_order_relaxed);
  mask_ = size - 1;
}

std::uint64_t HostSet::hash_name(const std::uint8_t* wire, std::size_t size) noexcept {
  char lower[256];
  if (size > sizeof(lower)) size = sizeof(lower);
  for (std::size_t i = 0; i < size; ++i) lower[i] = static_cast<char>(wire[i]);
  ascii_lowercase(lower, size);
  return XXH3_64bits(lower, size);
}

bool HostSet::add(std::uint64_t hash) noexcept {
  const std::uint64_t value = stored(hash);
  if (full_.load()) return false;
  for (std::size_t probe = 0; probe < kMaxProbe; ++probe) {
    std::atomic<std::uint64_t>& slot = slots_[(value + probe) & mask_];
    std::uint64_t seen = slot.load();
    if (seen == value) return false;
    if (seen != 0) continue;
    if (slot.compare_exchange_strong(seen, value)) {
      if (size_.fetch_add(1) + 1 > capacity() / 2) full_.store(true);
      return true;
    }
    if (seen == value) return false;  // another thread added it just now
  }
  full_.store(true);
  return false;
}

bool HostSet::holds(std::uint64_t hash) const noexcept {
  const std::uint64_t value = stored(hash);
  for (std::size_t probe = 0; probe < kMaxProbe; ++probe) {
    std::uint64_t seen = slots_[(value + probe) & mask_].load();
    if (seen == value) return true;
    if (seen == 0) return false;
  }
  return false;
}

}  // namespace dnsverdict
