#include "hash_index.h"

#include <cstring>
#include <stdexcept>

#include "huge_pages.h"

namespace dnsverdict {
namespace {

constexpr char kMagic[8] = {'D', 'V', 'I', 'N', 'D', 'E', 'X', '1'};
constexpr std::uint32_t kVersion = 2;  // 1: slots by XXH3-64 of the key

inline std::uint32_t fingerprint(std::uint64_t hash) noexcept {
  return static_cast<std::uint32_t>(hash >> 32) | 1u;
}

inline std::uint64_t load_slot(const unsigned char* slots, std::uint64_t i) noexcept {
  std::uint64_t value;
  std::memcpy(&value, slots + i * 8, 8);
  return value;
}

}  // namespace

bool HashIndexView::attach(std::string_view index, std::string_view heap) noexcept {
  slots_ = nullptr;
  if (index.size() < kIndexHeaderSize || std::memcmp(index.data(), kMagic, 8) != 0) return false;
  std::uint32_t version;
  std::uint64_t slot_count, entries, heap_size;
  std::memcpy(&version, index.data() + 8, 4);
  std::memcpy(&slot_count, index.data() + 16, 8);
  std::memcpy(&entries, index.data() + 24, 8);
  std::memcpy(&heap_size, index.data() + 32, 8);
  if (version != kVersion || slot_count == 0 || (slot_count & (slot_count - 1)) != 0 ||
      entries >= slot_count || slot_count > (std::uint64_t{1} << 40) ||
      index.size() != kIndexHeaderSize + slot_count * 8 || heap.size() != heap_size)
    return false;
  slots_ = reinterpret_cast<const unsigned char*>(index.data()) + kIndexHeaderSize;
  mask_ = slot_count - 1;
  entries_ = entries;
  heap_ = heap;
  return true;
}

void HashIndexView::prefetch(std::uint64_t hash) const noexcept {
  __builtin_prefetch(slots_ + (hash & mask_) * 8);
}

bool HashIndexView::find(std::string_view key, std::uint64_t hash,
                         std::string_view& record) const noexcept {
  const std::uint32_t wanted = fingerprint(hash);
  // At most every slot once: a damaged index can't make this loop forever.
  for (std::uint64_t probe = 0, i = hash & mask_; probe <= mask_; ++probe, i = (i + 1) & mask_) {
    std::uint64_t slot = load_slot(slots_, i);
    if (slot == 0) return false;
    if (static_cast<std::uint32_t>(slot >> 32) != wanted) continue;
    std::uint64_t offset = slot & 0xffffffffu;
    if (offset >= heap_.size()) return false;
    std::size_t key_size = static_cast<unsigned char>(heap_[offset]);
    if (offset + 1 + key_size + 2 > heap_.size()) return false;
    if (key_size != key.size() || std::memcmp(heap_.data() + offset + 1, key.data(), key_size) != 0)
      continue;
    std::uint16_t record_size;
    std::memcpy(&record_size, heap_.data() + offset + 1 + key_size, 2);
    std::uint64_t record_start = offset + 1 + key_size + 2;
    if (record_start + record_size > heap_.size()) return false;
    record = heap_.substr(record_start, record_size);
    return true;
  }
  return false;
}

HashIndexBuilder::HashIndexBuilder(std::uint64_t expected_keys, char* heap, std::size_t heap_size)
    : heap_(heap), heap_size_(heap_size) {
  if (heap_size > kMaxHeapSize) throw std::length_error("the store's record heap would exceed 4 GiB");
  std::uint64_t slots = slot_count_for(expected_keys);
  reserve_huge(slots_, slots);
  slots_.assign(slots, 0);
}

std::size_t HashIndexBuilder::add_entry(std::string_view key, std::string_view record) {
  const std::size_t offset = heap_used_;
  put_entry(offset, key, record);
  heap_used_ = offset + heap_entry_size(key.size(), record.size());
  return offset;
}

void HashIndexBuilder::put_entry(std::size_t offset, std::string_view key,
                                 std::string_view record) {
  if (key.size() > 255 || record.size() > 0xffff) throw std::length_error("index entry too large");
  if (offset > heap_size_ || heap_entry_size(key.size(), record.size()) > heap_size_ - offset)
    throw std::length_error("the entry does not fit in the heap");
  char* out = heap_ + offset;
  *out++ = static_cast<char>(key.size());
  std::memcpy(out, key.data(), key.size());
  out += key.size();
  auto record_size = static_cast<std::uint16_t>(record.size());
  std::memcpy(out, &record_size, 2);
  std::memcpy(out + 2, record.data(), record.size());
}

void HashIndexBuilder::add_slot(std::uint64_t hash, std::size_t offset) {
  if (entries_ + 1 >= slots_.size()) throw std::length_error("index full");
  std::uint64_t mask = slots_.size() - 1;
  std::uint64_t i = hash & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = (std::uint64_t{fingerprint(hash)} << 32) | offset;
  ++entries_;
}

void HashIndexBuilder::write_index(char* out) const noexcept {
  std::uint64_t slot_count = slots_.size(), heap_size = heap_used_;
  std::memset(out, 0, kIndexHeaderSize);
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, &kVersion, 4);
  std::memcpy(out + 16, &slot_count, 8);
  std::memcpy(out + 24, &entries_, 8);
  std::memcpy(out + 32, &heap_size, 8);
  std::memcpy(out + kIndexHeaderSize, slots_.data(), slots_.size() * 8);
}

std::string HashIndexBuilder::finish_index() const {
  std::string out(index_size(), '\0');
  write_index(out.data());
  return out;
}

}  // namespace dnsverdict
