// The store's pre-filter: a blocked Bloom filter over every key in the "rules" database,
// read in place from the store's memory map. A miss for a name costs one hash and one cache
// line per ancestor (probes are prefetched together) and no B-tree descent.
//
// Layout (little-endian): a 48-octet header — magic "DVBLOOM1", u32 version, u32 reserved,
// u64 block count, u64 key count, u64 hash seed, u64 reserved — then `block count` blocks of
// 64 octets (eight u64 words). A key sets one bit in each word of the block its hash picks.
// The header is 48 octets so that, behind LMDB's 16-octet overflow-page header, the blocks
// start on a 64-octet boundary of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

inline constexpr std::size_t kBloomHeaderSize = 48;
inline constexpr std::size_t kBloomBlockSize = 64;
inline constexpr std::uint64_t kBloomSeed = 0x646e7376'65726469ull;  // "dnsverdi"

// The hash the filter is keyed with (XXH3-64 of the key with kBloomSeed).
std::uint64_t filter_hash(std::string_view key) noexcept;

// A read-only view of a filter in memory it does not own. Thread-safe (read only).
class BloomFilterView {
 public:
  BloomFilterView() = default;
  // Validates the header and size; false (and an empty view) when `bytes` is not a filter.
  bool attach(std::string_view bytes) noexcept;
  bool empty() const noexcept { return blocks_ == nullptr; }
  bool may_contain(std::uint64_t hash) const noexcept;
  void prefetch(std::uint64_t hash) const noexcept;
  std::uint64_t key_count() const noexcept { return key_count_; }
  std::uint64_t block_count() const noexcept { return block_count_; }

 private:
  const unsigned char* blocks_ = nullptr;
  std::uint64_t block_count_ = 0;
  std::uint64_t key_count_ = 0;
};

// Builds a filter for a known number of keys at about `bits_per_key` bits each.
class BloomFilterBuilder {
 public:
  explicit BloomFilterBuilder(std::uint64_t expected_keys, double bits_per_key = 12.0);
  void add(std::uint64_t hash) noexcept;
  // Header and blocks, ready to store.
  std::string finish() const;

 private:
  std::vector<std::uint64_t> words_;
  std::uint64_t block_count_;
  std::uint64_t key_count_ = 0;
};

}  // namespace dnsverdict
