// Address triggers: the addresses in an answer, and the names address and name-server rules
// go by.
//
// An address rule matches the A and AAAA records of an answer (RPZ's IP trigger). The hit
// log, the counters and `dnsverdict stats` know a rule by a name key; an address rule's is
// the key of its RPZ owner name, so that operators see the rule as their feed wrote it:
// the prefix length, then the address's octets (IPv4) or 16-bit words (IPv6, lowercase hex,
// "zz" for the longest run of two or more zero words) from last to first, then "rpz-ip".
// 10.66.1.0/24 is "24.0.1.66.10.rpz-ip", 2001:db8::/32 is "32.zz.db8.2001.rpz-ip".
// Name-server rules (RPZ's NSDNAME and NSIP triggers) are name rules under reserved top-level
// labels, as an RPZ zone writes them: "ns.example.rpz-nsdname" lists the name server
// ns.example, "32.1.0.0.127.rpz-nsip" its address 127.0.0.1.
// Pure functions, no allocation: they run on the query path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns_name.h"

namespace dnsverdict {

inline constexpr std::string_view kRpzIpLabel = "rpz-ip";
inline constexpr std::string_view kRpzNsdnameLabel = "rpz-nsdname";
inline constexpr std::string_view kRpzNsipLabel = "rpz-nsip";

// The name key of the address rule covering `address` (4 or 16 octets) with `prefix_length`
// (0-32 or 0-128): the address is masked to the prefix first. False for another size or a
// longer prefix. `label` is the trigger: kRpzIpLabel (an answer's address) or kRpzNsipLabel
// (a name server's address).
bool address_rule_key(const std::uint8_t* address, std::size_t size, unsigned prefix_length,
                      NameKey& key, std::string_view label = kRpzIpLabel) noexcept;

// The name key under which a name-server name rule lists `wire` (a wire name, any case):
// the name with kRpzNsdnameLabel as its top-level label. False when that is too long.
bool name_server_rule_key(const std::uint8_t* wire, std::size_t size, NameKey& key) noexcept;

// The address an A (4 octets) or AAAA (16 octets) record's RDATA holds, as Unbound packs it:
// a 2-octet length, then the data. Null when `rdata` is not that.
inline const std::uint8_t* rdata_address(const std::uint8_t* rdata, std::size_t size,
                                         std::size_t address_size) noexcept {
  if (size != 2 + address_size) return nullptr;
  if (rdata[0] != 0 || rdata[1] != address_size) return nullptr;
  return rdata + 2;
}

}  // namespace dnsverdict
