// Remembers, for one worker thread, the names of cached answers that the store's filter
// rejected, so that the next answer from Unbound's message cache for the same name, under
// the same store, skips the label walk, the hashing and the filter check.
//
// What is remembered is only "the filter holds no ancestor of this name": it depends on the
// store alone, not on the client, the clock or a rule's expiry (the filter holds every key,
// expired or not). A slot keeps the name's exact wire octets, and a remembered verdict is
// applied only to a name with those very octets: the `hint` (any value that tends to repeat
// for the same name: the module passes the cached answer's address) only picks the slot and
// is never trusted on its own. The store generation a verdict was taken under is kept with
// it; after a swap no earlier verdict matches. A name that differs only in case from the
// remembered one takes the full check (and is remembered as asked).
//
// Two-way set-associative, 8,192 sets of two slots of one cache line each: 1 MiB of address
// space per thread, allocated once per thread and module instance as zero pages, so that only
// the slots used take memory. A new name goes to the set's first slot and moves what was there
// to the second. Names of more than kMaxName octets are not remembered.
//
// Thread safety: none; each thread uses its own PassMemo.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace dnsverdict {

class PassMemo {
 public:
  struct Unmap {
    void operator()(PassMemo* memo) const noexcept;
  };
  using Pointer = std::unique_ptr<PassMemo, Unmap>;
  // A memo of zero pages (mmap); null when the address space cannot be had. Never throws.
  static Pointer allocate() noexcept;

  static constexpr unsigned kSetBits = 13;
  static constexpr std::size_t kSets = std::size_t{1} << kSetBits;
  static constexpr std::size_t kWays = 2;
  static constexpr std::size_t kMaxName = 47;

  // True when `name` (wire format, `length` octets) was remembered under `generation` in the
  // set `hint` picks. Generation 0 never matches (an empty slot).
  bool remembers(const void* hint, const std::uint8_t* name, std::size_t length,
                 std::uint64_t generation) const noexcept {
    const Slot* set = sets_[set_index(hint)];
    for (std::size_t way = 0; way < kWays; ++way) {
      const Slot& slot = set[way];
      if (slot.hint == hint && slot.generation == generation && slot.length == length) {
        return generation != 0 && same_octets(slot.name, name, length);
      }
    }
    return false;
  }

  // Remembers that the filter rejected every ancestor of `name` under `generation`, in the
  // first slot of the set `hint` picks (what it held moves to the second, unless it was
  // this hint's: then it is replaced). A name longer than kMaxName is not remembered.
  void remember(const void* hint, const std::uint8_t* name, std::size_t length,
                std::uint64_t generation) noexcept {
    if (length > kMaxName || length == 0) return;
    Slot* set = sets_[set_index(hint)];
    if (set[0].hint != hint) set[1] = set[0];
    set[0].hint = hint;
    set[0].generation = generation;
    set[0].length = static_cast<std::uint8_t>(length);
    std::memcpy(set[0].name, name, length);
  }

  // The set a hint picks. Addresses a fixed distance apart fall into few sets under one
  // multiply (at 112 octets apart, 2,000 addresses took 665 of 16,384 slots); a second
  // multiply after folding the high half in spreads them like random ones.
  static std::size_t set_index(const void* hint) noexcept {
    std::uint64_t mixed = reinterpret_cast<std::uintptr_t>(hint) * 0x9E3779B97F4A7C15ull;
    mixed ^= mixed >> 32;
    return static_cast<std::size_t>((mixed * 0x9E3779B97F4A7C15ull) >> (64 - kSetBits));
  }

 private:
  // Trivial, so that zero pages are empty slots (generation 0) without a constructor
  // writing every page.
  struct alignas(64) Slot {
    const void* hint;
    std::uint64_t generation;
    std::uint8_t length;
    std::uint8_t name[kMaxName];
  };
  static_assert(sizeof(Slot) == 64, "a slot is one cache line");

  // memcmp of a short name, inline: eight octets at a time, the last word overlapping the
  // one before (a call to memcmp cost more than the comparison).
  static bool same_octets(const std::uint8_t* a, const std::uint8_t* b, std::size_t length) noexcept {
    if (length >= 8) {
      for (std::size_t at = 0; at + 8 < length; at += 8) {
        if (word(a + at) != word(b + at)) return false;
      }
      return word(a + length - 8) == word(b + length - 8);
    }
    for (std::size_t at = 0; at < length; ++at) {
      if (a[at] != b[at]) return false;
    }
    return true;
  }
  static std::uint64_t word(const std::uint8_t* at) noexcept {
    std::uint64_t value;
    std::memcpy(&value, at, sizeof value);
    return value;
  }

  Slot sets_[kSets][kWays];
};

}  // namespace dnsverdict
