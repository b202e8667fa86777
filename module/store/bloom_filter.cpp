#include "bloom_filter.h"

#include <cmath>
#include <cstring>

namespace dnsverdict {
namespace {

constexpr char kMagic[8] = {'D', 'V', 'B', 'L', 'O', 'O', 'M', '1'};
constexpr std::uint32_t kVersion = 3;  // 2: XXH3-64 of each key

using bloom_detail::bit_in_word;
using bloom_detail::block_index;

}  // namespace

std::uint64_t filter_hash(std::string_view key) noexcept {
  std::uint64_t anchor_hash;
  return filter_hash(key, anchor_hash);
}

std::uint64_t filter_hash(std::string_view key, std::uint64_t& anchor_hash,
                          std::size_t* label_count) noexcept {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(key.data());
  const std::uint8_t* end = bytes + key.size();
  std::uint64_t state = kNameHashSeed;
  anchor_hash = state;
  std::size_t labels = 0;
  for (std::size_t at = 0; at < key.size(); at += bytes[at] + 1u) {
    if (at + bytes[at] + 1u > key.size()) break;  // not a key: hashed up to its last label
    state = name_hash_label(state, bytes + at, bytes, end);
    if (++labels <= 2) anchor_hash = state;
  }
  if (label_count != nullptr) *label_count = labels;
  return state;
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
  std::memcpy(&depths_, bytes.data() + 40, 8);
  return true;
}

BloomFilterBuilder::BloomFilterBuilder(std::uint64_t expected_keys, double bits_per_key) {
  double bits = std::max(1.0, static_cast<double>(expected_keys)) * bits_per_key;
  block_count_ = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(bits / 512.0)));
  words_.assign(block_count_ * 8, 0);
}

void BloomFilterBuilder::add(std::uint64_t anchor_hash, std::uint64_t key_hash,
                             std::size_t labels) noexcept {
  depths_ |= labels == 0 ? ~std::uint64_t{0} : std::uint64_t{1} << (labels > 64 ? 63 : labels - 1);
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
  std::memcpy(out + 40, &depths_, 8);
  std::memcpy(out + kBloomHeaderSize, words_.data(), words_.size() * 8);
}

std::string BloomFilterBuilder::finish() const {
  std::string out(size(), '\0');
  write(out.data());
  return out;
}

}  // namespace dnsverdict
