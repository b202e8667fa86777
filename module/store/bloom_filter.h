// The store's pre-filter: a blocked Bloom filter over every rule key, read in place from the
// store's memory map. A miss for a name costs one hash per ancestor and, at most, two cache
// lines: the one of its top-level label (hot: there are few) and the one of its two-label
// anchor, shared by every longer ancestor.
//
// Layout (little-endian): a 48-octet header — magic "DVBLOOM1", u32 version (2), u32
// reserved, u64 block count, u64 key count, u64 hash seed, u64 reserved — then `block count`
// blocks of 64 octets (eight u64 words). A key's block is picked by the hash of its anchor
// (its first two labels, or the key itself when it has one label); in that block it sets one
// bit in each word, picked by the hash of the whole key. The header is 48 octets so that,
// behind LMDB's 16-octet overflow-page header, the blocks start on a 64-octet boundary of
// the file.
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
// The anchor of a store key (dns_name.h): its first two labels, or all of it if fewer.
std::string_view filter_anchor(std::string_view key) noexcept;

// A read-only view of a filter in memory it does not own. Thread-safe (read only).
class BloomFilterView {
 public:
  BloomFilterView() = default;
  // Validates the header and size; false (and an empty view) when `bytes` is not a filter.
  bool attach(std::string_view bytes) noexcept;
  bool empty() const noexcept { return blocks_ == nullptr; }
  // `anchor_hash`: filter_hash of the key's anchor; `key_hash`: of the key itself.
  bool may_contain(std::uint64_t anchor_hash, std::uint64_t key_hash) const noexcept;
  void prefetch(std::uint64_t anchor_hash) const noexcept;
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
  void add(std::uint64_t anchor_hash, std::uint64_t key_hash) noexcept;
  // Header and blocks, ready to store: size() octets, written by write() to memory of that
  // size (the store writer's LMDB-reserved space), or returned by finish().
  std::size_t size() const noexcept { return kBloomHeaderSize + words_.size() * 8; }
  void write(char* out) const noexcept;
  std::string finish() const;

 private:
  std::vector<std::uint64_t> words_;
  std::uint64_t block_count_;
  std::uint64_t key_count_ = 0;
};

}  // namespace dnsverdict
