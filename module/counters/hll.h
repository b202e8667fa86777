// HyperLogLog: an estimate of how many distinct 64-bit hash values a sketch has seen, in a
// bounded amount of memory, mergeable across threads, hours and resolvers.
//
// Precision is fixed at p = 14 (m = 16384 registers): the standard error of the estimate is
// 1.04 / sqrt(m) = 0.81%, inside the 1% the campaign-level counts need, and every
// sketch anywhere (module, stats store, CLI, `dnsverdict estimate`) can be merged with every
// other without converting precision.
//
// Representation. A sketch starts *sparse*: an open-addressing hash set of (register index,
// rank) pairs, 4 bytes each, holding only the registers that are not zero (the index is
// already uniformly distributed, so it is its own hash; linear probing, at most 3/4 full).
// Most rules see a handful of clients per hour, so most sketches stay at a few dozen bytes.
// Once more than kSparseLimit registers are set (8 KiB of slots), it converts to *dense*:
// one byte per register (16 KiB; 6 bits used). Both forms hold exactly the same
// information (sparse uses the same precision), so converting loses nothing and estimates
// do not jump at the switch.
//
// Input. Feed values that are already uniformly distributed hashes (xxHash XXH3-64 of the
// item); the sketch does not hash again. The top p bits pick the register, the remaining
// 50 bits give the rank (leading zeros + 1, at most 51).
//
// Estimator. Ertl's improved raw estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017, algorithm 6): it replaces the original small-range (linear
// counting) and large-range corrections with one formula that is unbiased over the whole
// range, from 0 to far beyond 2^32, without the empirical bias tables of HyperLogLog++.
//
// Thread safety: none inside. A sketch is a value; guard it (or own it per thread) and
// merge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr std::size_t kRegisters = std::size_t{1} << kPrecision;
  static constexpr int kMaxRank = 64 - kPrecision + 1;  // 51
  // Sparse entries kept before converting to dense (8 KiB of slots vs 16 KiB dense).
  static constexpr std::size_t kSparseLimit = 1024;
  // 1.04 / sqrt(m): the relative standard error of estimate().
  static constexpr double kStandardError = 0.008125;
  // Serialization format version (first byte after the "HLL" magic).
  static constexpr std::uint8_t kFormatVersion = 1;

  HyperLogLog() = default;  // empty, sparse, no heap memory

  // Counts one hashed item. Adding the same hash again changes nothing. Never throws:
  // if memory for a sparse entry or the dense registers cannot be allocated, the value is
  // not counted (the estimate then undercounts; it never overcounts).
  void add_hash(std::uint64_t hash) noexcept;
  // Counts the hash only if that needs no memory the sketch does not hold yet; false when it
  // would have had to grow (the hash is then not counted). For callers at a memory budget.
  bool add_hash_in_place(std::uint64_t hash) noexcept;

  // The estimated number of distinct hashes added (0 for an empty sketch).
  double estimate() const noexcept;

  // Makes this sketch the sketch of the union of both inputs (register-wise maximum).
  // Merging is commutative, associative and idempotent: merging a sketch into itself or
  // twice changes nothing. Throws std::bad_alloc only.
  void merge(const HyperLogLog& other);

  // A compact, versioned, checksummed byte string; the smaller of the sparse and dense
  // (6-bit packed) encodings. Layout (little-endian), documented in docs/stats-format.md:
  //   "HLL" u8 version, u8 precision, u8 encoding (1 sparse, 2 dense),
  //   sparse: u32 count, count x u32 (index << 8 | rank), indexes strictly increasing
  //   dense:  m x 6 bits packed LSB first (12288 bytes)
  //   u32 XXH32 (seed 0) of every byte before it.
  std::string serialize() const;

  // Parses serialize()'s output into `out`. False (and `out` left empty) when the bytes are
  // malformed: wrong magic, version or precision, bad sizes, unordered or out-of-range
  // entries, checksum mismatch.
  static bool deserialize(std::string_view bytes, HyperLogLog& out);

  // Heap and object bytes this sketch holds now.
  std::size_t memory_bytes() const noexcept;

  bool empty() const noexcept { return dense_.empty() && sparse_count_ == 0; }
  bool is_dense() const noexcept { return !dense_.empty(); }
  void clear() noexcept;

  // The register values (0 = never set), for tests and for estimators that need them.
  std::vector<std::uint8_t> registers() const;

  friend bool operator==(const HyperLogLog& a, const HyperLogLog& b) {
    return a.registers() == b.registers();
  }

 private:
  // False when the register is new and `may_grow` is false but storing it needs memory.
  bool set_register(std::uint32_t index, std::uint8_t rank, bool may_grow) noexcept;
  bool grow_sparse() noexcept;
  bool convert_to_dense() noexcept;
  std::vector<std::uint32_t> sorted_entries() const;

  // Sparse slots: 0 = free, else (index << 8 | rank); the size is a power of two.
  std::vector<std::uint32_t> sparse_;
  std::uint32_t sparse_count_ = 0;
  std::vector<std::uint8_t> dense_;  // kRegisters bytes when dense, else empty
};

}  // namespace dnsverdict
