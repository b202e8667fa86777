// IPv4 and IPv6 prefixes as the store's address rules hold them: parsing and printing their
// text forms ("192.0.2.0/24", "2001:db8::/32") and RPZ's rpz-ip owner labels
// ("24.0.2.0.192", "32.zz.db8.2001"). Shared by the compiler, which reads them from feeds,
// and the tools, which print them; the store itself holds them as prefix_table.h says.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dnsverdict {

struct IpPrefix {
  std::uint8_t family = 4;  // 4 or 6
  std::uint8_t length = 0;  // 0-32 (IPv4) or 0-128 (IPv6)
  // Network order; IPv4 in the first 4 octets, the rest zero.
  std::array<std::uint8_t, 16> bytes{};

  std::uint8_t max_length() const noexcept { return family == 4 ? 32 : 128; }
  std::size_t address_size() const noexcept { return family == 4 ? 4 : 16; }
  bool operator==(const IpPrefix& other) const noexcept {
    return family == other.family && length == other.length && bytes == other.bytes;
  }
};

// Parses an address ("192.0.2.1", "2001:db8::1": a full-length prefix) or a prefix in CIDR
// notation ("192.0.2.0/24"). Host bits are kept as written (see mask_host_bits). False with
// a reason for anything else.
bool parse_ip_prefix(std::string_view text, IpPrefix& prefix, std::string& error);
// Clears the bits past the prefix length; true when some were set.
bool mask_host_bits(IpPrefix& prefix) noexcept;
// True when `outer` holds every address of `inner` (same family, not longer; host bits zero).
bool prefix_encloses(const IpPrefix& outer, const IpPrefix& inner) noexcept;
// "192.0.2.0/24", "2001:db8::/32"; with `always_length` false a full-length prefix prints
// as its bare address.
std::string format_ip_prefix(const IpPrefix& prefix, bool always_length = true);

// RPZ rpz-ip owner labels, the part of the owner name before ".rpz-ip": the prefix length,
// then the address in reverse — IPv4 as four decimal octets, IPv6 as eight hexadecimal
// 16-bit words in which "zz" stands for one run of zero words (draft-vixie-dnsop-dns-rpz,
// as BIND and Unbound read it). Labels are case-insensitive.
bool parse_rpz_ip_labels(std::string_view labels, IpPrefix& prefix, std::string& error);
// The labels for `prefix` (canonical: the longest run of two or more zero words is "zz").
std::string rpz_ip_labels(const IpPrefix& prefix);

}  // namespace dnsverdict
