#include "hll.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

namespace dnsverdict {
namespace {

constexpr int kRankBits = 64 - HyperLogLog::kPrecision;  // q in Ertl's paper
constexpr std::uint8_t kEncodingSparse = 1;
constexpr std::uint8_t kEncodingDense = 2;
constexpr std::size_t kHeaderSize = 6;  // "HLL", version, precision, encoding
constexpr std::size_t kChecksumSize = 4;
constexpr std::size_t kPackedDenseSize = HyperLogLog::kRegisters * 6 / 8;

inline std::uint32_t entry_index(std::uint32_t entry) noexcept {
  return entry >> 8;
}
inline std::uint8_t entry_rank(std::uint32_t entry) noexcept {
  return static_cast<std::uint8_t>(entry & 0xff);
}
inline std::uint32_t make_entry(std::uint32_t index, std::uint8_t rank) noexcept {
  return index << 8 | rank;
}

void put_u32(std::string& out, std::uint32_t value) {
  char bytes[4] = {static_cast<char>(value), static_cast<char>(value >> 8),
                   static_cast<char>(value >> 16), static_cast<char>(value >> 24)};
  out.append(bytes, 4);
}
std::uint32_t get_u32(const char* bytes) noexcept {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);
  return std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
         std::uint32_t{b[3]} << 24;
}

// Ertl's sigma and tau series (2017, algorithm 6), iterated until they stop changing.
double sigma(double x) noexcept {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  double previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (z != previous);
  return z;
}

double tau(double x) noexcept {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  double previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (z != previous);
  return z / 3.0;
}

}  // namespace

namespace {
inline std::uint32_t hash_index(std::uint64_t hash) noexcept {
  return static_cast<std::uint32_t>(hash >> kRankBits);
}
inline std::uint8_t hash_rank(std::uint64_t hash) noexcept {
  std::uint64_t rest = hash << HyperLogLog::kPrecision;
  return static_cast<std::uint8_t>(rest == 0 ? HyperLogLog::kMaxRank : __builtin_clzll(rest) + 1);
}
}  // namespace

void HyperLogLog::add_hash(std::uint64_t hash) noexcept {
  set_register(hash_index(hash), hash_rank(hash), true);
}

bool HyperLogLog::add_hash_in_place(std::uint64_t hash) noexcept {
  return set_register(hash_index(hash), hash_rank(hash), false);
}

bool HyperLogLog::set_register(std::uint32_t index, std::uint8_t rank, bool may_grow) noexcept {
  if (!dense_.empty()) {
    if (dense_[index] < rank) dense_[index] = rank;
    return true;
  }
  if (!sparse_.empty()) {
    const std::size_t mask = sparse_.size() - 1;
    for (std::size_t slot = index & mask;; slot = (slot + 1) & mask) {
      std::uint32_t entry = sparse_[slot];
      if (entry == 0) break;
      if (entry_index(entry) == index) {
        if (entry_rank(entry) < rank) sparse_[slot] = make_entry(index, rank);
        return true;
      }
    }
  }
  // A register not set before.
  if (sparse_count_ >= kSparseLimit) {
    if (!may_grow || !convert_to_dense()) return false;
    dense_[index] = rank;
    return true;
  }
  if ((sparse_count_ + 1) * 4 > sparse_.size() * 3 && (!may_grow || !grow_sparse()))
    return false;
  const std::size_t mask = sparse_.size() - 1;
  std::size_t slot = index & mask;
  while (sparse_[slot] != 0) slot = (slot + 1) & mask;
  sparse_[slot] = make_entry(index, rank);
  ++sparse_count_;
  return true;
}

bool HyperLogLog::grow_sparse() noexcept {
  std::vector<std::uint32_t> slots;
  try {
    slots.assign(sparse_.empty() ? 8 : sparse_.size() * 2, 0);
  } catch (const std::bad_alloc&) {
    return false;
  }
  const std::size_t mask = slots.size() - 1;
  for (std::uint32_t entry : sparse_) {
    if (entry == 0) continue;
    std::size_t slot = entry_index(entry) & mask;
    while (slots[slot] != 0) slot = (slot + 1) & mask;
    slots[slot] = entry;
  }
  sparse_.swap(slots);
  return true;
}

bool HyperLogLog::convert_to_dense() noexcept {
  try {
    dense_.assign(kRegisters, 0);
  } catch (const std::bad_alloc&) {
    return false;
  }
  for (std::uint32_t entry : sparse_)
    if (entry != 0) dense_[entry_index(entry)] = entry_rank(entry);
  std::vector<std::uint32_t>().swap(sparse_);
  sparse_count_ = 0;
  return true;
}

std::vector<std::uint32_t> HyperLogLog::sorted_entries() const {
  std::vector<std::uint32_t> entries;
  if (!dense_.empty()) {
    for (std::uint32_t i = 0; i < kRegisters; ++i)
      if (dense_[i] != 0) entries.push_back(make_entry(i, dense_[i]));
    return entries;
  }
  entries.reserve(sparse_count_);
  for (std::uint32_t entry : sparse_)
    if (entry != 0) entries.push_back(entry);
  std::sort(entries.begin(), entries.end());
  return entries;
}

double HyperLogLog::estimate() const noexcept {
  // Histogram of register values: C[k] = registers holding k.
  double histogram[kMaxRank + 1] = {};
  if (!dense_.empty()) {
    std::uint32_t counts[kMaxRank + 1] = {};
    for (std::uint8_t value : dense_) ++counts[value];
    for (int k = 0; k <= kMaxRank; ++k) histogram[k] = counts[k];
  } else {
    histogram[0] = static_cast<double>(kRegisters - sparse_count_);
    for (std::uint32_t entry : sparse_)
      if (entry != 0) histogram[entry_rank(entry)] += 1;
  }
  const double m = static_cast<double>(kRegisters);
  if (histogram[0] == m) return 0.0;
  double z = m * tau(1.0 - histogram[kRankBits + 1] / m);
  for (int k = kRankBits; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * sigma(histogram[0] / m);
  const double alpha_infinity = 1.0 / (2.0 * std::log(2.0));
  return alpha_infinity * m * m / z;
}

void HyperLogLog::merge(const HyperLogLog& other) {
  if (&other == this || other.empty()) return;
  if (!other.dense_.empty()) {
    if (dense_.empty()) {
      std::vector<std::uint8_t> registers = other.dense_;
      for (std::uint32_t entry : sparse_)
        if (entry != 0)
          registers[entry_index(entry)] =
              std::max(registers[entry_index(entry)], entry_rank(entry));
      dense_.swap(registers);
      std::vector<std::uint32_t>().swap(sparse_);
      sparse_count_ = 0;
      return;
    }
    for (std::size_t i = 0; i < kRegisters; ++i) dense_[i] = std::max(dense_[i], other.dense_[i]);
    return;
  }
  if (dense_.empty() && sparse_count_ + other.sparse_count_ > kSparseLimit && !convert_to_dense())
    throw std::bad_alloc();
  std::uint32_t before = sparse_count_;
  for (std::uint32_t entry : other.sparse_)
    if (entry != 0) set_register(entry_index(entry), entry_rank(entry), true);
  // set_register() drops a value only when memory runs out.
  if (dense_.empty() && sparse_count_ < before) throw std::bad_alloc();
}

std::string HyperLogLog::serialize() const {
  std::string out = "HLL";
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(kPrecision));
  std::size_t set_registers =
      dense_.empty()
          ? sparse_count_
          : kRegisters - static_cast<std::size_t>(std::count(dense_.begin(), dense_.end(), 0));
  if (set_registers * 4 + 4 < kPackedDenseSize) {
    out.push_back(static_cast<char>(kEncodingSparse));
    put_u32(out, static_cast<std::uint32_t>(set_registers));
    for (std::uint32_t entry : sorted_entries()) put_u32(out, entry);
  } else {
    out.push_back(static_cast<char>(kEncodingDense));
    std::vector<std::uint8_t> values = registers();
    std::size_t start = out.size();
    out.resize(start + kPackedDenseSize, '\0');
    auto* packed = reinterpret_cast<unsigned char*>(&out[start]);
    for (std::size_t i = 0; i < kRegisters; ++i) {
      std::size_t bit = i * 6;
      unsigned value = static_cast<unsigned>(values[i]) << (bit % 8);
      packed[bit / 8] |= static_cast<unsigned char>(value);
      if (bit % 8 > 2) packed[bit / 8 + 1] |= static_cast<unsigned char>(value >> 8);
    }
  }
  put_u32(out, XXH32(out.data(), out.size(), 0));
  return out;
}

bool HyperLogLog::deserialize(std::string_view bytes, HyperLogLog& out) {
  out.clear();
  if (bytes.size() < kHeaderSize + kChecksumSize || bytes.substr(0, 3) != "HLL") return false;
  if (static_cast<std::uint8_t>(bytes[3]) != kFormatVersion ||
      static_cast<std::uint8_t>(bytes[4]) != kPrecision)
    return false;
  std::size_t body_end = bytes.size() - kChecksumSize;
  if (XXH32(bytes.data(), body_end, 0) != get_u32(bytes.data() + body_end)) return false;
  auto encoding = static_cast<std::uint8_t>(bytes[5]);
  std::string_view body = bytes.substr(kHeaderSize, body_end - kHeaderSize);
  HyperLogLog sketch;
  if (encoding == kEncodingSparse) {
    if (body.size() < 4) return false;
    std::uint32_t count = get_u32(body.data());
    if (count > kRegisters || body.size() != 4 + std::size_t{count} * 4) return false;
    if (count > kSparseLimit) sketch.dense_.assign(kRegisters, 0);
    std::uint32_t previous = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t entry = get_u32(body.data() + 4 + std::size_t{i} * 4);
      std::uint8_t rank = entry_rank(entry);
      if (entry_index(entry) >= kRegisters || rank == 0 || rank > kMaxRank) return false;
      if (i > 0 && entry_index(entry) <= entry_index(previous)) return false;
      previous = entry;
      sketch.set_register(entry_index(entry), rank, true);
    }
    if (sketch.sparse_count_ + (sketch.dense_.empty() ? 0 : count) != count) return false;
  } else if (encoding == kEncodingDense) {
    if (body.size() != kPackedDenseSize) return false;
    const auto* packed = reinterpret_cast<const unsigned char*>(body.data());
    sketch.dense_.assign(kRegisters, 0);
    for (std::size_t i = 0; i < kRegisters; ++i) {
      std::size_t bit = i * 6;
      unsigned value = packed[bit / 8] >> (bit % 8);
      if (bit % 8 > 2) value |= static_cast<unsigned>(packed[bit / 8 + 1]) << (8 - bit % 8);
      value &= 0x3f;
      if (value > static_cast<unsigned>(kMaxRank)) return false;
      sketch.dense_[i] = static_cast<std::uint8_t>(value);
    }
  } else {
    return false;
  }
  out = std::move(sketch);
  return true;
}

std::size_t HyperLogLog::memory_bytes() const noexcept {
  return sizeof(*this) + sparse_.capacity() * sizeof(std::uint32_t) + dense_.capacity();
}

void HyperLogLog::clear() noexcept {
  std::vector<std::uint32_t>().swap(sparse_);
  sparse_count_ = 0;
  std::vector<std::uint8_t>().swap(dense_);
}

std::vector<std::uint8_t> HyperLogLog::registers() const {
  if (!dense_.empty()) return dense_;
  std::vector<std::uint8_t> values(kRegisters, 0);
  for (std::uint32_t entry : sparse_)
    if (entry != 0) values[entry_index(entry)] = entry_rank(entry);
  return values;
}

}  // namespace dnsverdict
