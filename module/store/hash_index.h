// The store's rule table: a heap of (name key, record) entries in key order, and an
// open-addressing hash table over it; both are single LMDB values read in place. A hit costs
// about two cache lines (slot, entry) instead of a B-tree descent with a binary search per
// page; iteration walks the heap in key order.
//
// Heap: entries back to back, in key order: u8 key length, key, u16 record length, record.
// Index: a 48-octet header — magic "DVINDEX1", u32 version, u32 reserved, u64 slot count
// (a power of two), u64 entry count, u64 heap size, u64 reserved — then u64 slots. A slot is 0
// when empty, else (fingerprint << 32 | heap offset), with fingerprint = the upper 32 bits
// of the key's filter_hash() (name_hash.h, version 2; version 1 used XXH3-64) with the lowest
// bit set (never 0). Probing is linear from slot
// (hash & (slot count - 1)). The key is always compared, so a fingerprint collision costs a
// probe, never a wrong answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

inline constexpr std::size_t kIndexHeaderSize = 48;

class HashIndexView {
 public:
  // Validates both values' headers and sizes; false (and an empty view) if malformed.
  bool attach(std::string_view index, std::string_view heap) noexcept;
  bool empty() const noexcept { return slots_ == nullptr; }
  // The record stored for `key` (whose filter_hash is `hash`); false when absent.
  bool find(std::string_view key, std::uint64_t hash, std::string_view& record) const noexcept;
  void prefetch(std::uint64_t hash) const noexcept;
  std::uint64_t entry_count() const noexcept { return entries_; }
  std::string_view heap() const noexcept { return heap_; }

 private:
  const unsigned char* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint64_t entries_ = 0;
  std::string_view heap_;
};

// Builds the heap and the index. Keys must be added once each.
class HashIndexBuilder {
 public:
  explicit HashIndexBuilder(std::uint64_t expected_keys);
  // Appends the entry to the heap; throws std::length_error when the heap would exceed the
  // 4 GiB the offsets can address.
  void add(std::string_view key, std::uint64_t hash, std::string_view record);
  void reserve_heap(std::size_t bytes);
  void prefetch_slot(std::uint64_t hash) const noexcept {
    __builtin_prefetch(slots_.data() + (hash & (slots_.size() - 1)), 1);
  }
  // The index value: index_size() octets, written by write_index() to memory of that size
  // (the store writer's LMDB-reserved space), or returned by finish_index().
  std::size_t index_size() const noexcept { return kIndexHeaderSize + slots_.size() * 8; }
  void write_index(char* out) const noexcept;
  std::string finish_index() const;
  const std::string& heap() const noexcept { return heap_; }

 private:
  std::vector<std::uint64_t> slots_;
  std::string heap_;
  std::uint64_t entries_ = 0;
};

// Calls visit(key, record) for each heap entry in order; false if the heap is malformed.
template <typename Visit>
bool for_each_heap_entry(std::string_view heap, Visit&& visit) {
  std::size_t offset = 0;
  while (offset < heap.size()) {
    std::size_t key_size = static_cast<unsigned char>(heap[offset]);
    if (offset + 1 + key_size + 2 > heap.size()) return false;
    std::string_view key = heap.substr(offset + 1, key_size);
    std::uint16_t record_size;
    __builtin_memcpy(&record_size, heap.data() + offset + 1 + key_size, 2);
    std::size_t record_start = offset + 1 + key_size + 2;
    if (record_start + record_size > heap.size()) return false;
    visit(key, heap.substr(record_start, record_size));
    offset = record_start + record_size;
  }
  return true;
}

}  // namespace dnsverdict
