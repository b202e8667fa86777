// The store's pre-filter: a blocked Bloom filter over every rule key, read in place from the
// store's memory map. A miss for a name costs one hash per ancestor and, at most, two cache
// lines: the one of its top-level label (hot: there are few) and the one of its two-label
// anchor, shared by every longer ancestor.
//
// Layout (little-endian): a 48-octet header — magic "DVBLOOM1", u32 version (3), u32
// reserved, u64 block count, u64 key count, u64 hash seed, u64 label depths (bit d - 1 set
// when some key has d labels; bit 63 for 64 labels and more) — then `block count`
// blocks of 64 octets (eight u64 words). A key's block is picked by the hash of its anchor
// (its first two labels, or the key itself when it has one label); in that block it sets one
// bit in each word, picked by the hash of the whole key. The hash is name_hash.h's: one pass
// over a name gives every ancestor's, so a query name is checked before its key is built. The header is 48 octets so that,
// behind LMDB's 16-octet overflow-page header, the blocks start on a 64-octet boundary of
// the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "name_hash.h"

namespace dnsverdict {

inline constexpr std::size_t kBloomHeaderSize = 48;
inline constexpr std::size_t kBloomBlockSize = 64;
inline constexpr std::uint64_t kBloomSeed = kNameHashSeed;

// The hash the filter is keyed with (name_hash.h) of a store key.
std::uint64_t filter_hash(std::string_view key) noexcept;
// The same, and the hash of the key's anchor (filter_anchor) in `anchor_hash` and, if given,
// its label count in `labels`: one pass.
std::uint64_t filter_hash(std::string_view key, std::uint64_t& anchor_hash,
                          std::size_t* labels = nullptr) noexcept;
// The anchor of a store key (dns_name.h): its first two labels, or all of it if fewer.
std::string_view filter_anchor(std::string_view key) noexcept;

namespace bloom_detail {

// Lemire's fast range reduction on the upper 32 bits.
inline std::uint64_t block_index(std::uint64_t hash, std::uint64_t blocks) noexcept {
  return ((hash >> 32) * blocks) >> 32;
}

// Odd multipliers that spread the low 32 bits of the hash over the eight words' bit
// positions (as in Parquet's split-block Bloom filter).
inline constexpr std::uint32_t kSalt[8] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                           0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};

inline std::uint64_t bit_in_word(std::uint64_t hash, int word) noexcept {
  auto low = static_cast<std::uint32_t>(hash);
  return std::uint64_t{1} << ((low * kSalt[word]) >> 26);
}

}  // namespace bloom_detail

// A read-only view of a filter in memory it does not own. Thread-safe (read only).
class BloomFilterView {
 public:
  BloomFilterView() = default;
  // Validates the header and size; false (and an empty view) when `bytes` is not a filter.
  bool attach(std::string_view bytes) noexcept;
  bool empty() const noexcept { return blocks_ == nullptr; }
  // `anchor_hash`: filter_hash of the key's anchor; `key_hash`: of the key itself.
  bool may_contain(std::uint64_t anchor_hash, std::uint64_t key_hash) const noexcept {
    return block_may_contain(block(anchor_hash), key_hash);
  }
  // The block of an anchor, then the check of a key in it: a lookup finds the block of its
  // anchor once for all its ancestors.
  const unsigned char* block(std::uint64_t anchor_hash) const noexcept {
    return blocks_ + block_index(anchor_hash) * kBloomBlockSize;
  }
  static bool block_may_contain(const unsigned char* block, std::uint64_t key_hash) noexcept {
    for (int word = 0; word < 8; ++word) {
      std::uint64_t value;
      __builtin_memcpy(&value, block + word * 8, 8);
      if ((value & bit_in_word(key_hash, word)) == 0) return false;
    }
    return true;
  }
  std::uint64_t key_count() const noexcept { return key_count_; }
  std::uint64_t block_count() const noexcept { return block_count_; }
  // Whether some key has `labels` labels (1 and more): a lookup skips the ancestors of a depth
  // no key has.
  bool holds_depth(std::size_t labels) const noexcept {
    return (depths_ >> (labels > 64 ? 63 : labels - 1)) & 1u;
  }
  std::uint64_t depths() const noexcept { return depths_; }

 private:
  // Lemire's fast range reduction on the upper 32 bits.
  std::uint64_t block_index(std::uint64_t hash) const noexcept {
    return bloom_detail::block_index(hash, block_count_);
  }
  static std::uint64_t bit_in_word(std::uint64_t hash, int word) noexcept {
    return bloom_detail::bit_in_word(hash, word);
  }

  const unsigned char* blocks_ = nullptr;
  std::uint64_t block_count_ = 0;
  std::uint64_t key_count_ = 0;
  std::uint64_t depths_ = 0;
};

// Builds a filter for a known number of keys at about `bits_per_key` bits each.
class BloomFilterBuilder {
 public:
  explicit BloomFilterBuilder(std::uint64_t expected_keys, double bits_per_key = 12.0);
  // `labels`: the key's label count (0: not known, then every depth is marked).
  void add(std::uint64_t anchor_hash, std::uint64_t key_hash, std::size_t labels = 0) noexcept;
  // Header and blocks, ready to store: size() octets, written by write() to memory of that
  // size (the store writer's LMDB-reserved space), or returned by finish().
  std::size_t size() const noexcept { return kBloomHeaderSize + words_.size() * 8; }
  void write(char* out) const noexcept;
  std::string finish() const;

 private:
  std::vector<std::uint64_t> words_;
  std::uint64_t block_count_;
  std::uint64_t key_count_ = 0;
  std::uint64_t depths_ = 0;
};

}  // namespace dnsverdict
