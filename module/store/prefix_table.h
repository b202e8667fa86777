// The store's address rules: one table of IPv4 and IPv6 prefixes, a single LMDB value read in
// place (like the rule heap), answering "the longest listed prefix that holds this address"
// with one binary search and a walk up the prefixes that enclose the one found.
//
// Layout: a 48-octet header — magic "DVPREFX1", u32 version (1), u32 reserved, u64 IPv4 entry
// count, u64 IPv6 entry count, u64 record bytes, u64 reserved — then the entries, 32 octets
// each, the IPv4 ones first, each family sorted by (network, length); then the records.
// Entry: 16 octets network (network order; IPv4 in the first 4, the rest zero; host bits
// zero), u8 prefix length, 3 reserved, u32 parent, u32 record offset, u32 record length
// (little-endian). `parent` is the index of the nearest prefix of the same family that
// encloses this one (0xffffffff: none); listed prefixes nest or are disjoint, so it always
// sorts before the entry. A record is a rule record (store_format.h) with the self slot.
//
// Why this finds the longest match: take the last entry E whose network is <= the address.
// Any listed prefix P holding the address starts at or before E and holds E's start too, so
// P encloses E (or is E): the matches are on E's chain of parents, longest first.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ip_prefix.h"

namespace dnsverdict {

inline constexpr std::size_t kPrefixTableHeaderSize = 48;
inline constexpr std::size_t kPrefixEntrySize = 32;
inline constexpr std::uint32_t kNoParent = 0xffffffffu;

class PrefixTableView {
 public:
  // Validates the header and sizes; false (and an empty view) if malformed. Sizes are kept
  // in the view, outside the mapping: a zeroed mapping (store_guard.h) reads as no match.
  bool attach(std::string_view table) noexcept;
  bool empty() const noexcept { return v4_count_ + v6_count_ == 0; }
  std::uint64_t v4_count() const noexcept { return v4_count_; }
  std::uint64_t v6_count() const noexcept { return v6_count_; }

  // Calls accept(record, prefix length) for each listed prefix of `family` (4 or 6) holding
  // `address` (4 or 16 octets), longest first, until accept returns true. Returns false
  // when the table is found malformed on the way.
  template <typename Accept>
  bool find(int family, const std::uint8_t* address, Accept&& accept) const noexcept;

  // Calls visit(prefix, record) for every entry, IPv4 then IPv6, in order; false if malformed.
  template <typename Visit>
  bool for_each(Visit&& visit) const;

 private:
  struct Key {
    std::uint64_t high, low;
  };
  static Key load_key(const unsigned char* bytes) noexcept {
    std::uint64_t high, low;
    std::memcpy(&high, bytes, 8);
    std::memcpy(&low, bytes + 8, 8);
    return {__builtin_bswap64(high), __builtin_bswap64(low)};
  }
  static bool holds(Key network, unsigned length, Key address) noexcept {
    if (length == 0) return true;
    if (length <= 64) {
      std::uint64_t mask = ~std::uint64_t{0} << (64 - length);
      return ((address.high ^ network.high) & mask) == 0;
    }
    std::uint64_t mask = length == 128 ? ~std::uint64_t{0} : ~std::uint64_t{0} << (128 - length);
    return address.high == network.high && ((address.low ^ network.low) & mask) == 0;
  }
  const unsigned char* entry(std::uint64_t index) const noexcept {
    return entries_ + index * kPrefixEntrySize;
  }
  template <typename T>
  static T field(const unsigned char* entry, std::size_t offset) noexcept {
    T value;
    std::memcpy(&value, entry + offset, sizeof value);
    return value;
  }

  const unsigned char* entries_ = nullptr;
  std::uint64_t v4_count_ = 0;
  std::uint64_t v6_count_ = 0;
  std::string_view records_;
};

// One prefix and its record, for the builder.
struct PrefixTableEntry {
  IpPrefix prefix;  // host bits zero
  std::string_view record;
};

// Builds the table. `entries` must be sorted by prefix_order and hold each prefix once;
// throws std::invalid_argument otherwise, std::length_error past 4 GiB of records.
std::string build_prefix_table(const std::vector<PrefixTableEntry>& entries);
// The table's order: family (4 first), then network, then length (shorter first).
bool prefix_order(const IpPrefix& a, const IpPrefix& b) noexcept;

template <typename Accept>
bool PrefixTableView::find(int family, const std::uint8_t* address, Accept&& accept) const noexcept {
  std::uint64_t begin = family == 4 ? 0 : v4_count_;
  std::uint64_t end = family == 4 ? v4_count_ : v4_count_ + v6_count_;
  unsigned max_length = family == 4 ? 32 : 128;
  unsigned char padded[16] = {};
  std::memcpy(padded, address, family == 4 ? 4 : 16);
  Key target = load_key(padded);
  // The last entry whose network is <= the address.
  std::uint64_t low = begin, high = end;
  while (low < high) {
    std::uint64_t middle = low + (high - low) / 2;
    Key key = load_key(entry(middle));
    if (key.high < target.high || (key.high == target.high && key.low <= target.low)) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  if (low == begin) return true;
  std::uint64_t index = low - 1;
  while (true) {
    const unsigned char* current = entry(index);
    unsigned length = current[16];
    if (length > max_length) return false;
    if (holds(load_key(current), length, target)) {
      auto offset = field<std::uint32_t>(current, 24);
      auto size = field<std::uint32_t>(current, 28);
      if (offset > records_.size() || size > records_.size() - offset) return false;
      // A zero-length record is never written: it is a zeroed (faulted) mapping.
      if (size != 0 && accept(records_.substr(offset, size), static_cast<std::uint8_t>(length)))
        return true;
    }
    auto parent = field<std::uint32_t>(current, 20);
    if (parent == kNoParent) return true;
    // Parents sort before their children: this also ends the walk in a damaged table.
    if (parent < begin || parent >= index) return false;
    index = parent;
  }
}

template <typename Visit>
bool PrefixTableView::for_each(Visit&& visit) const {
  for (std::uint64_t index = 0; index < v4_count_ + v6_count_; ++index) {
    const unsigned char* current = entry(index);
    IpPrefix prefix;
    prefix.family = index < v4_count_ ? 4 : 6;
    prefix.length = current[16];
    std::memcpy(prefix.bytes.data(), current, 16);
    auto offset = field<std::uint32_t>(current, 24);
    auto size = field<std::uint32_t>(current, 28);
    if (prefix.length > prefix.max_length() || offset > records_.size() ||
        size > records_.size() - offset)
      return false;
    visit(prefix, records_.substr(offset, size));
  }
  return true;
}

}  // namespace dnsverdict
