// The hash the store's pre-filter and hash index are keyed with (format version 3).
//
// A name's hash is built label by label from the top-level label down, so one pass over a
// name gives the hash of every ancestor: the state after n labels is the hash of the
// ancestor with n labels. Each label is hashed as its length octet followed by its octets,
// in words of eight octets (little-endian, the last one padded with zero octets); every
// octet is case-folded by setting its 0x20 bit (so 'A' and 'a' hash alike), and each word is
// mixed in with one 64 x 64 -> 128-bit multiply:
//
//   state = seed;  for each word w:  p = ((w | 0x2020..20) ^ state) * kNameHashMultiplier;
//                                    state = low64(p) ^ high64(p)
//
// The same function hashes a store key (dns_name.h: labels top-level first, lowercase) and a
// wire-format name as received (labels leaf first, any case): the label octets are the same
// up to case. The fold also merges a few other pairs of octets ('@' and '`', '_' and 0x7f,
// control octets and 0x20-0x3f; a length octet L and L + 32, whose labels differ in their
// word count): such names share their hashes, which costs a filter false positive or an
// index probe, never a wrong answer (the index compares keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dns_name.h"

namespace dnsverdict {

inline constexpr std::uint64_t kNameHashSeed = 0x646e7376'65726469ull;  // "dnsverdi"
inline constexpr std::uint64_t kNameHashMultiplier = 0x9e3779b9'7f4a7c15ull;

namespace name_hash_detail {

inline std::uint64_t mix(std::uint64_t state, std::uint64_t word) noexcept {
  unsigned __int128 product =
      static_cast<unsigned __int128>(state ^ word) * kNameHashMultiplier;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline constexpr std::uint64_t kFold = 0x2020202020202020ull;

// The `count` (1 to 8) octets at `at`, folded, as a little-endian word, zero above them,
// reading only inside [begin, end) (which holds them): the eight octets that end with them
// when there are eight (always but for a short first label of a wire name), else the eight
// from `at`, else octet by octet.
inline std::uint64_t load_tail(const std::uint8_t* at, std::size_t count, const std::uint8_t* begin,
                               const std::uint8_t* end) noexcept {
  std::uint64_t word;
  if (at + count - begin >= 8) {
    std::memcpy(&word, at + count - 8, 8);
    return (word | kFold) >> (64 - 8 * count);
  }
  if (end - at >= 8) {
    std::memcpy(&word, at, 8);
    return (word | kFold) & (~std::uint64_t{0} >> (64 - 8 * count));
  }
  word = 0;
  for (std::size_t i = 0; i < count; ++i) word |= std::uint64_t{at[i] | 0x20u} << (8 * i);
  return word;
}

}  // namespace name_hash_detail

// The state after mixing in the label at `label` (its length octet first), which lies in
// [begin, end).
inline std::uint64_t name_hash_label(std::uint64_t state, const std::uint8_t* label,
                                     const std::uint8_t* begin, const std::uint8_t* end) noexcept {
  using namespace name_hash_detail;
  std::size_t left = label[0] + 1u;
  const std::uint8_t* at = label;
  for (; left > 8; left -= 8, at += 8) {
    std::uint64_t word;
    std::memcpy(&word, at, 8);
    state = mix(state, word | kFold);
  }
  return mix(state, load_tail(at, left, begin, end));
}

// The hash of every ancestor of a store key: hashes[n - 1] for the key's first n labels.
// Returns the number of labels (at most `most`; `hashes` must hold that many).
// A key that ends inside a label (damaged) is hashed up to its last whole label.
inline std::size_t key_ancestor_hashes(const std::uint8_t* key, std::size_t size,
                                       std::uint64_t* hashes, std::size_t most) noexcept {
  std::uint64_t state = kNameHashSeed;
  std::size_t labels = 0;
  for (std::size_t at = 0; at < size && labels < most; at += key[at] + 1u) {
    if (at + key[at] + 1u > size) break;
    state = name_hash_label(state, key + at, key, key + size);
    hashes[labels++] = state;
  }
  return labels;
}

// Where each label of a wire-format name starts, leaf first (the order of the wire name):
// `starts` must hold kMaxLabels + 1. Returns the number of labels, or -1 when `wire` is not a
// valid uncompressed wire name (make_name_key's rules). Reads only inside [wire, wire + size).
inline int wire_label_starts(const std::uint8_t* wire, std::size_t size,
                             std::uint8_t* starts) noexcept {
  // A label starting inside the first 255 octets is at most the 128th: no label count check
  // (a 128th label is refused at the next octet).
  const std::size_t limit = size < kMaxNameOctets ? size : kMaxNameOctets;
  std::size_t labels = 0, i = 0;
  for (;;) {
    if (i >= limit) return -1;
    std::uint8_t length = wire[i];
    if (length == 0) break;
    if (length > kMaxLabelOctets) return -1;  // compression pointer or reserved label type
    starts[labels++] = static_cast<std::uint8_t>(i);
    i += length + 1u;
  }
  return static_cast<int>(labels);
}

// The hashes of a wire name's ancestors with 1 to `count` labels (count <= labels), from
// the label starts wire_label_starts() found: hashes[n - 1] for n labels.
inline void wire_top_hashes(const std::uint8_t* wire, std::size_t size, const std::uint8_t* starts,
                            std::size_t labels, std::size_t count,
                            std::uint64_t* hashes) noexcept {
  std::uint64_t state = kNameHashSeed;
  const std::uint8_t* end = wire + size;
  for (std::size_t n = 0; n < count; ++n) {
    state = name_hash_label(state, wire + starts[labels - 1 - n], wire, end);
    hashes[n] = state;
  }
}

// The hash of every ancestor of a wire-format name as received (any case): hashes[n - 1]
// for the ancestor with n labels, the same as key_ancestor_hashes() of the name's key.
// `hashes` must hold kMaxLabels. Returns the number of labels, or -1 when `wire` is not a
// valid uncompressed wire name (make_name_key's rules). Reads only inside [wire, wire + size).
inline int wire_ancestor_hashes(const std::uint8_t* wire, std::size_t size,
                                std::uint64_t* hashes) noexcept {
  // The label starts first (the wire name lists labels leaf first), then the hashes from the
  // top-level label down.
  std::uint8_t starts[kMaxLabels + 1];
  int labels = wire_label_starts(wire, size, starts);
  if (labels > 0) {
    wire_top_hashes(wire, size, starts, static_cast<std::size_t>(labels),
                    static_cast<std::size_t>(labels), hashes);
  }
  return labels;
}

}  // namespace dnsverdict
