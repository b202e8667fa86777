// DNS names: presentation text <-> wire format, and the store key derived from a name.
//
// A store key is the name's labels in reverse order (top-level domain first), each as a
// length octet followed by the label's octets with ASCII letters lowercased. The key of an
// ancestor is therefore a prefix of its descendants' keys, and every prefix that ends on a
// label boundary is the key of one ancestor: longest-suffix matching is a walk over prefixes.
// The root name has the empty key. All functions here are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dnsverdict {

inline constexpr std::size_t kMaxNameOctets = 255;  // RFC 1035 2.3.4, wire format with root
inline constexpr std::size_t kMaxLabelOctets = 63;
inline constexpr std::size_t kMaxLabels = 127;

// Parses a name in presentation format: labels separated by dots, an optional trailing dot,
// RFC 1035 escapes (\DDD decimal, \X for a literal X). ASCII letters are lowercased.
// Returns true and sets `wire` (absolute, ends with the root octet); on failure returns false
// and sets `error` to a short reason ("empty label", "label longer than 63 octets", ...).
// "." and "" parse as the root name. Non-ASCII octets are kept as they are: IDN conversion
// is the caller's business (see tools/idn.h).
bool parse_name(std::string_view text, std::string& wire, std::string& error);

// Presentation format of a wire name without the trailing dot ("." for the root). Octets
// other than letters, digits, '-', '_' and '*' are escaped (\. \\ \DDD), so the result is
// safe to print and to parse back. `wire` must be a valid wire name.
std::string name_to_text(std::string_view wire);

// Checks a wire-format name as received from the network: labels of at most 63 octets,
// total at most 255, no compression pointers, ends at the root label within `size`.
// Returns the wire length (including the root octet) or 0 when invalid.
std::size_t wire_name_length(const std::uint8_t* wire, std::size_t size) noexcept;

// The store key of a name, with the position where each ancestor's key ends.
// Fixed size, no allocation: built on the query path.
struct NameKey {
  // More octets than a key can use: keys are lowercased eight octets at a time.
  std::uint8_t bytes[kMaxNameOctets + 8];
  std::uint16_t size = 0;        // octets used in `bytes`
  std::uint8_t label_count = 0;  // labels, not counting the root
  // prefix_end[i] is the key length of the ancestor with i + 1 labels; the full name's key
  // is prefix_end[label_count - 1] == size.
  std::uint8_t prefix_end[kMaxLabels];

  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(bytes), size};
  }
  std::string_view prefix(std::size_t labels) const noexcept {
    return {reinterpret_cast<const char*>(bytes), labels == 0 ? 0u : prefix_end[labels - 1]};
  }
};

// Lowercases ASCII letters in place, eight octets at a time; other octets are unchanged.
void ascii_lowercase(char* text, std::size_t size) noexcept;

// Builds the key of a wire-format name (any case). Returns false when the name is not a
// valid uncompressed wire name. Never allocates or throws.
bool make_name_key(const std::uint8_t* wire, std::size_t size, NameKey& key) noexcept;

// The wire name (lowercase) whose key is `key`.
std::string key_to_wire(std::string_view key);

// Presentation text of the name whose key is `key`.
inline std::string key_to_text(std::string_view key) { return name_to_text(key_to_wire(key)); }

// Convenience for the tools: key of a presentation-format name. Returns false with `error`.
bool text_to_key(std::string_view text, std::string& key, std::string& error);

}  // namespace dnsverdict
