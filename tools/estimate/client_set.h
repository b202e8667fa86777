// A set of distinct clients (64-bit hashes of their addresses) that is exact up to a limit
// and a HyperLogLog sketch (module/counters/hll.h, ±0.81%) beyond it.
//
// Why this shape: most campaigns and most hours see few clients, and for them an analyst
// wants the exact count; a few see millions, and for them a bounded sketch is the only way to
// stay within --memory-budget. The switch depends only on the number of distinct hashes,
// never on the order they arrive in, so a set built from shards and merged is the same set
// (exact: the same hashes; sketched: the same registers) as one built in a single run: that
// is what makes `dnsverdict merge` equal to one run.
//
// Thread safety: none; a value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hll.h"

namespace dnsverdict {

class ClientSet {
 public:
  // `exact_limit`: distinct hashes kept exactly; one more switches to the sketch for good.
  explicit ClientSet(std::uint32_t exact_limit = 1u << 16) : limit_(exact_limit) {}
  ClientSet(const ClientSet& other);
  ClientSet& operator=(const ClientSet& other);
  ClientSet(ClientSet&&) noexcept = default;
  ClientSet& operator=(ClientSet&&) noexcept = default;

  void add(std::uint64_t hash);
  // The union of both sets; the result is exact only if the union fits the limit.
  void merge(const ClientSet& other);

  // Distinct clients: exact, or the sketch's estimate rounded.
  std::uint64_t count() const noexcept;
  bool exact() const noexcept { return sketch_ == nullptr; }
  // Relative standard error of count(): 0 when exact.
  double standard_error() const noexcept { return exact() ? 0 : HyperLogLog::kStandardError; }
  bool contains(std::uint64_t hash) const noexcept;  // exact sets only (false otherwise)
  std::uint32_t exact_limit() const noexcept { return limit_; }
  std::size_t memory_bytes() const noexcept;

  // Every hash of an exact set, in no particular order.
  template <typename Visit>
  void for_each(Visit visit) const {
    if (has_zero_) visit(std::uint64_t{0});
    for (std::uint64_t slot : slots_)
      if (slot != 0) visit(slot);
  }

  // Appends a self-describing encoding (sketch_file.h's byte order) / reads one back.
  void serialize(std::string& out) const;
  // Reads what serialize() wrote at `in`, advancing it. False when malformed.
  bool deserialize(std::string_view& in);

  friend bool operator==(const ClientSet& a, const ClientSet& b);

 private:
  void insert_exact(std::uint64_t hash);
  void grow();
  void switch_to_sketch();

  std::uint32_t limit_;
  // Open addressing, linear probing, power-of-two size; 0 marks an empty slot (the hash 0
  // itself is kept in has_zero_).
  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
  bool has_zero_ = false;
  std::unique_ptr<HyperLogLog> sketch_;
};

}  // namespace dnsverdict
