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

// Builds the heap and the index. Keys must be added once each. The heap is written straight
// into memory the caller provides (the store writer's LMDB-reserved space), whose size the
// caller computes beforehand: the sum of heap_entry_size() over the entries.
class HashIndexBuilder {
 public:
  // The largest heap the slots' 32-bit offsets address.
  static constexpr std::size_t kMaxHeapSize = 0xffffffffu;
  // Throws std::length_error when `heap_size` exceeds kMaxHeapSize.
  HashIndexBuilder(std::uint64_t expected_keys, char* heap, std::size_t heap_size);
  static constexpr std::size_t heap_entry_size(std::size_t key_size, std::size_t record_size) {
    return 1 + key_size + 2 + record_size;
  }
  // Appends the entry to the heap and its slot to the index; throws std::length_error when the
  // key or record is too large for an entry, when the entry does not fit in the heap given,
  // or when the index is full.
  void add(std::string_view key, std::uint64_t hash, std::string_view record) {
    add_slot(hash, add_entry(key, record));
  }
  // add() in two halves, which two threads may call at once: add_entry() appends the entry
  // and returns its offset (the sum of the heap_entry_size() of the entries before it), and
  // add_slot() adds the slot of the entry at `offset`.
  std::size_t add_entry(std::string_view key, std::string_view record);
  void add_slot(std::uint64_t hash, std::size_t offset);
  // The heap filled by two threads at once instead of by add_entry(): put_entry() writes the
  // entry at `offset` (the sum of the heap_entry_size() of the entries before it; the calls
  // must tile the heap), then heap_complete() takes the whole heap as written. put_entry()
  // throws as add_entry().
  void put_entry(std::size_t offset, std::string_view key, std::string_view record);
  void heap_complete() noexcept { heap_used_ = heap_size_; }
  void prefetch_slot(std::uint64_t hash) const noexcept {
    __builtin_prefetch(slots_.data() + (hash & (slots_.size() - 1)), 1);
  }
  // The index value: index_size() octets, written by write_index() to memory of that size
  // (the store writer's LMDB-reserved space), or returned by finish_index().
  std::size_t index_size() const noexcept { return kIndexHeaderSize + slots_.size() * 8; }
  static std::size_t index_size_for(std::uint64_t expected_keys) noexcept {
    return kIndexHeaderSize + slot_count_for(expected_keys) * 8;
  }
  void write_index(char* out) const noexcept;
  std::string finish_index() const;
  // The heap written so far.
  std::string_view heap() const noexcept { return {heap_, heap_used_}; }

 private:
  // Load factor at most 0.5..0.75: short probe runs, mostly inside one cache line.
  static std::uint64_t slot_count_for(std::uint64_t expected_keys) noexcept {
    std::uint64_t slots = 16;
    while (slots < expected_keys + expected_keys / 3 + 1) slots <<= 1;
    return slots;
  }

  std::vector<std::uint64_t> slots_;
  char* heap_;
  std::size_t heap_size_;
  std::size_t heap_used_ = 0;
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
