// The on-disk verdict store: the one definition both the compiler (writer) and the module
// (reader) use. docs/store-format.md describes the same layout in prose.
//
// A store is a single LMDB file (MDB_NOSUBDIR), written once by `dnsverdict compile` and
// never modified afterwards: a new store is a new file renamed over the old one. Named
// databases:
//   "meta"       text key -> text value (format version, build id, counts, ...)
//   "rules"      "heap" -> every (name key, RuleSlots record) entry in key order, and
//                "index" -> the hash index over them (hash_index.h); single values on LMDB
//                overflow pages, read in place
//   "campaigns"  u32 id (big-endian) -> CampaignRecord
//   "categories" u16 id (big-endian) -> category name (text)
//   "sources"    u16 id (big-endian) -> SourceRecord
//   "filter"     "bloom" -> the pre-filter over every name key (bloom_filter.h)
//   "address_rules" "prefixes" -> the IPv4/IPv6 prefix table (prefix_table.h), a single value
//                read in place; absent when the store has no address rules (and in stores
//                written before address rules: the same format version reads both)
// Integers inside records are little-endian; records are read with memcpy, never cast.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace dnsverdict {

// 2: rules as heap + hash index; pre-filter blocks picked by the two-label anchor.
// 3: the pre-filter and the index keyed by name_hash.h (every ancestor's hash in one pass
//    over a name) instead of XXH3-64 of each key.
inline constexpr std::uint32_t kStoreFormatVersion = 3;

namespace db {
inline constexpr const char* kMeta = "meta";
inline constexpr const char* kRules = "rules";
inline constexpr const char* kCampaigns = "campaigns";
inline constexpr const char* kCategories = "categories";
inline constexpr const char* kSources = "sources";
inline constexpr const char* kFilter = "filter";
inline constexpr const char* kAddressRules = "address_rules";
inline constexpr unsigned kCount = 7;
}  // namespace db

namespace meta {
inline constexpr const char* kFormatVersion = "format_version";  // decimal
inline constexpr const char* kBuildTime = "build_time";          // unix seconds, decimal
inline constexpr const char* kBuildId = "build_id";              // 32 hex digits (XXH3-128)
inline constexpr const char* kCompilerVersion = "compiler_version";
inline constexpr const char* kRuleCount = "rule_count";  // rules, as the compiler counts them
inline constexpr const char* kKeyCount = "key_count";    // records in "rules"
// Per-action and per-kind counts: "count.action.<name>", "count.kind.<name>".
inline constexpr const char* kCountActionPrefix = "count.action.";
inline constexpr const char* kCountKindPrefix = "count.kind.";
inline constexpr const char* kSkippedPrefix = "skipped.";  // triggers the compiler does not support yet
// Address rules (prefixes) per family; absent in stores without any.
inline constexpr const char* kAddressRuleCountV4 = "address_rule_count.ipv4";
inline constexpr const char* kAddressRuleCountV6 = "address_rule_count.ipv6";
// Name-server rules (rpz-nsdname and rpz-nsip owners, kept as name rules: address_trigger.h);
// absent in stores without any. The prefix lengths the nsip rules use, longest first,
// comma-separated ("32,24"), per family; the digest (32 hex digits, XXH3-128 over their keys
// and records) changes whenever any of them does.
inline constexpr const char* kNsdnameRuleCount = "name_server_rules.nsdname";
inline constexpr const char* kNsipRuleCount = "name_server_rules.nsip";
inline constexpr const char* kNsipLengthsV4 = "name_server_rules.nsip_lengths.ipv4";
inline constexpr const char* kNsipLengthsV6 = "name_server_rules.nsip_lengths.ipv6";
inline constexpr const char* kNameServerDigest = "name_server_rules.digest";
}  // namespace meta

inline constexpr const char* kFilterKey = "bloom";
inline constexpr const char* kIndexKey = "index";
inline constexpr const char* kHeapKey = "heap";
inline constexpr const char* kPrefixTableKey = "prefixes";

// What a resolver does with a matching query. Values are part of the format.
enum class Action : std::uint8_t {
  kNxdomain = 1,
  kNodata = 2,
  kRefuse = 3,
  kDrop = 4,
  kSinkhole = 5,
  kRedirect = 6,
  kLog = 7,
  kTag = 8,
  kAllow = 9,
  kTcpOnly = 10,  // RPZ rpz-tcp-only.: UDP queries get a truncated answer, TCP passes
};
inline constexpr Action kAllActions[] = {Action::kNxdomain, Action::kNodata,   Action::kRefuse,
                                         Action::kDrop,     Action::kSinkhole, Action::kRedirect,
                                         Action::kLog,      Action::kTag,      Action::kAllow,
                                         Action::kTcpOnly};

// Which names a rule covers. Values are part of the format.
enum class RuleKind : std::uint8_t {
  kExact = 1,     // the name only
  kSubtree = 2,   // the name and every name below it
  kWildcard = 3,  // every name below the name, not the name itself (RPZ "*.name")
};
inline constexpr RuleKind kAllKinds[] = {RuleKind::kExact, RuleKind::kSubtree, RuleKind::kWildcard};

std::string_view action_name(Action action) noexcept;
std::optional<Action> parse_action(std::string_view name) noexcept;  // case-insensitive
std::string_view kind_name(RuleKind kind) noexcept;
std::optional<RuleKind> parse_kind(std::string_view name) noexcept;

// Blocking actions answer instead of the real data; the others let the query resolve.
inline bool is_blocking(Action action) noexcept {
  return action != Action::kLog && action != Action::kTag && action != Action::kAllow;
}
// Strictness used to break ties between rules for one name (higher is stricter).
int action_strictness(Action action) noexcept;

// Rule flags.
inline constexpr std::uint8_t kFlagAllowlist = 1;  // from an allowlist: beats blocks below it

// Rule data: what some actions need besides the action itself.
//   sinkhole: a sequence of addresses, each a family octet (4 or 6) then 4 or 16 octets
//   redirect: the target as a wire-format name
// Empty for other actions and for sinkholes that use the campaign's or default addresses.

// One rule as stored. `data` points into the record it was decoded from.
struct Rule {
  Action action = Action::kNxdomain;
  RuleKind kind = RuleKind::kExact;
  std::uint8_t confidence = 100;  // 0-100
  std::uint8_t flags = 0;
  std::uint16_t category = 0;  // 0: none; else id in "categories"
  std::uint16_t source = 0;    // id in "sources"
  std::uint32_t campaign = 0;  // 0: none; else id in "campaigns"
  std::int64_t first_seen = 0;  // unix seconds, 0: unknown
  std::int64_t expires = 0;     // unix seconds, 0: never
  std::string_view data;

  bool expired(std::int64_t now) const noexcept { return expires != 0 && now >= expires; }
};

// The value stored under one name key: up to two rules.
//   self:  applies to the name itself (from an exact or subtree rule)
//   below: applies to names below it (from a subtree or wildcard rule)
// A subtree rule fills both slots; it is stored once with kSlotBelowIsSelf set.
// Layout: u8 slot bits, then the self rule (if kSlotSelf), then the below rule (if kSlotBelow
// and not kSlotBelowIsSelf). Each rule: u8 action, u8 kind, u8 confidence, u8 flags,
// u16 category, u16 source, u32 campaign, i64 first_seen, i64 expires, u16 data length, data.
inline constexpr std::uint8_t kSlotSelf = 1;
inline constexpr std::uint8_t kSlotBelow = 2;
inline constexpr std::uint8_t kSlotBelowIsSelf = 4;
inline constexpr std::size_t kRuleFixedSize = 30;

struct RuleSlots {
  std::optional<Rule> self;
  std::optional<Rule> below;
};

// Appends the encoded record to `out`. A subtree rule must be passed as both self and below
// (the same values); it is then stored once.
void encode_slots(const RuleSlots& slots, std::string& out);
// Decodes a record; false when it is malformed (truncated, unknown action or kind).
bool decode_slots(std::string_view record, RuleSlots& slots) noexcept;

// "campaigns" value: u8 default action (0: none), u16 name length, name, u16 description
// length, description, u16 sinkhole data length, sinkhole data (same encoding as rule data).
struct CampaignRecord {
  std::string name;
  std::string description;
  std::optional<Action> default_action;
  std::string sinkhole;  // encoded addresses
};
std::string encode_campaign(const CampaignRecord& campaign);
bool decode_campaign(std::string_view value, CampaignRecord& campaign);

// "sources" value: i64 time (file modification, unix seconds), u64 rules, then u16-length
// prefixed strings: file name, format, content hash (hex), role ("block" or "allow").
struct SourceRecord {
  std::string file;
  std::string format;
  std::string content_hash;
  std::string role;
  std::int64_t time = 0;
  std::uint64_t rules = 0;
  // Provenance (appended fields: a store written before them reads with these empty/0).
  std::string origin;   // URL, "ZONE PRIMARY", or the absolute path of a local file
  std::string version;  // "etag \"...\"", "last-modified ...", "serial N", or ""
  std::string status;   // how it arrived: "file", "fetched", "unchanged", "IXFR", "AXFR", or
                        // "last good copy: REASON" when the feed as it is now was not used
  std::uint64_t entries = 0;           // entries the feed compiled to (before conflicts)
  std::uint64_t previous_entries = 0;  // the same for its previous build (0: none known)
  bool has_provenance = false;         // false: a store from before these fields
};
std::string encode_source(const SourceRecord& source);
bool decode_source(std::string_view value, SourceRecord& source);

// Big-endian id keys, so ids iterate in numeric order.
std::string id_key(std::uint32_t id, std::size_t width);
std::uint32_t parse_id_key(std::string_view key) noexcept;

// Sinkhole address data. `encode_address` accepts dotted IPv4 or IPv6 text; false if neither.
bool encode_address(std::string_view text, std::string& data);
// Decoded addresses: text form of each ("192.0.2.1", "2001:db8::1").
std::string addresses_to_text(std::string_view data, std::string_view separator = ",");

}  // namespace dnsverdict
