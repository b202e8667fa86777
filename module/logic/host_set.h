// A bounded set of names, shared by every worker thread without a lock: the listed names the
// module has seen as name servers' hosts (glue: blocked_cache.cpp). A blocked answer for such
// a name is never stored in Unbound's message cache, where the iterator would take it as the
// name server's address.
//
// A name is held as a 64-bit hash of its lowercased wire form (0 stands for an empty slot, so
// a name hashing to 0 is held as 1). Two names with the same hash are one: the set may answer
// "held" for a name never added, which only keeps that name's blocked answer out of the cache.
// It never answers "not held" for a name added. Open addressing with linear probing over a
// power-of-two table; a probe ends at an empty slot or after kMaxProbe slots. Nothing is ever
// removed. When an add finds no slot within kMaxProbe (or the table is half full), the set is
// full from then on: full() stays true, and the caller stops using what the set vouches for.
//
// Thread safety: add, holds and full may run on any threads at once; every access is
// sequentially consistent, so that a thread that stores a blocked answer and then finds its
// name not held, and a thread that adds the name and then removes its blocked answers, never
// both miss each other.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace dnsverdict {

class HostSet {
 public:
  static constexpr std::size_t kMaxProbe = 32;

  // A table of `capacity` slots (rounded up to a power of two, at least 64).
  explicit HostSet(std::size_t capacity);

  // The hash the set keeps for a wire name (case-insensitive).
  static std::uint64_t hash_name(const std::uint8_t* wire, std::size_t size) noexcept;

  // Adds the name hash. True when it was not held before; false when it was, or when the set
  // is full (then full() is true).
  bool add(std::uint64_t hash) noexcept;
  bool holds(std::uint64_t hash) const noexcept;
  bool full() const noexcept { return full_.load(); }
  std::size_t size() const noexcept { return size_.load(); }
  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  static std::uint64_t stored(std::uint64_t hash) noexcept { return hash == 0 ? 1 : hash; }

  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;
  std::size_t mask_;
  std::atomic<std::size_t> size_{0};
  std::atomic<bool> full_{false};
};

}  // namespace dnsverdict
