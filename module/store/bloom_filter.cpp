#include "bloom_filter.h"

// Inlined: the keys are short and hashed on every query; a call into libxxhash costs more
// than the hash itself.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cmath>
#include <cstring>

namespace dnsverdict {
namespace {

constexpr char kMagic[8] = {'D', 'V', 'B', 'L', 'O', 'O', 'M', '1'};
constexpr std::uint32_t kVersion = 2;

// Odd multipliers that spread the low 32 bits of the hash over the eight words' bit
// positions (as in Parquet's split-block Bloom filter).
constexpr std::uint32_t kSalt[8] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                    0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};

inline std::uint64_t block_index(std::uint64_t hash, std::uint64_t blocks) noexcept {
  // Lemire's fast range reduction on the upper 32 bits.
  return ((hash >> 32) * blocks) >> 32;
}

inline std::uint64_t bit_in_word(std::uint64_t hash, int word) noexcept {
  auto low = static_cast<std::uint32_t>(hash);
  return std::uint64_t{1} << ((low * kSalt[word]) >> 26);
}

}  // namespace

std::uint64_t filter_hash(std::string_view key) noexcept {
  return XXH3_64bits_withSeed(key.data(), key.size(), kBloomSeed);
}

std::string_view filter_anchor(std::string_view key) noexcept {
  std::size_t end = 0;
  for (int label = 0; label < 2 && end < key.size(); ++label)
    end += static_cast<std::uint8_t>(key[end]) + 1u;
  return key.substr(0, end);
}

bool BloomFilterView::attach(std::string_view bytes) noexcept {
  blocks_ = nullptr;
  if (bytes.size() < kBloomHeaderSize || std::memcmp(bytes.data(), kMagic, 8) != 0) return false;
  std::uint32_t version;
  std::uint64_t blocks, keys;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&blocks, bytes.data() + 16, 8);
  std::memcpy(&keys, bytes.data() + 24, 8);
  if (version != kVersion || blocks == 0 || blocks >= (std::uint64_t{1} << 32) ||
      bytes.size() != kBloomHeaderSize + blocks * kBloomBlockSize)
    return false;
  blocks_ = reinterpret_cast<const unsigned char*>(bytes.data()) + kBloomHeaderSize;
  block_count_ = blocks;
  key_count_ = keys;
  return true;
}

bool BloomFilterView::may_contain(std::uint64_t anchor_hash,
                                  std::uint64_t key_hash) const noexcept {
  const unsigned char* block = blocks_ + block_index(anchor_hash, block_count_) * kBloomBlockSize;
  for (int word = 0; word < 8; ++word) {
    std::uint64_t value;
    std::memcpy(&value, block + word * 8, 8);
    if ((value & bit_in_word(key_hash, word)) == 0) return false;
  }
  return true;
}

void BloomFilterView::prefetch(std::uint64_t anchor_hash) const noexcept {
  __builtin_prefetch(blocks_ + block_index(anchor_hash, block_count_) * kBloomBlockSize);
}

BloomFilterBuilder::BloomFilterBuilder(std::uint64_t expected_keys, double bits_per_key) {
  double bits = std::max(1.0, static_cast<double>(expected_keys)) * bits_per_key;
  block_count_ = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(bits / 512.0)));
  words_.assign(block_count_ * 8, 0);
}

void BloomFilterBuilder::add(std::uint64_t anchor_hash, std::uint64_t key_hash) noexcept {
  std::uint64_t* block = words_.data() + block_index(anchor_hash, block_count_) * 8;
  for (int word = 0; word < 8; ++word) block[word] |= bit_in_word(key_hash, word);
  ++key_count_;
}

void BloomFilterBuilder::write(char* out) const noexcept {
  std::memset(out, 0, kBloomHeaderSize);
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, &kVersion, 4);
  std::memcpy(out + 16, &block_count_, 8);
  std::memcpy(out + 24, &key_count_, 8);
  std::uint64_t seed = kBloomSeed;
  std::memcpy(out + 32, &seed, 8);
  std::memcpy(out + kBloomHeaderSize, words_.data(), words_.size() * 8);
}

std::string BloomFilterBuilder::finish() const {
  std::string out(size(), '\0');
  write(out.data());
  return out;
}

}  // namespace dnsverdict
