// Helpers shared by the feed parsers and the manifest reader (internal to tools/): text
// fields, timestamps, confidence values, and the rule every parser starts each line from.
// Pure functions, except reject_long_line (reports), make_rule_template (interns) and add_rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "feed.h"
#include "ip_prefix.h"

namespace dnsverdict {

// Lines longer than this are reported and skipped: no feed format needs them, and a huge
// line is almost always a binary or minified file given by mistake.
inline constexpr std::size_t kMaxLineOctets = 16 * 1024;

inline bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}
std::string_view trim(std::string_view text) noexcept;
bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept;
bool starts_with(std::string_view text, std::string_view prefix) noexcept;
bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) noexcept;
// The first whitespace-separated token of `text`, removed from it (empty when none is left).
std::string_view take_token(std::string_view& text) noexcept;

// A line too long to parse: reports it and returns true.
bool reject_long_line(std::string_view file, std::size_t line_number, std::string_view line,
                      Diagnostics& diagnostics);

// Unix seconds from "1704164645", "2024-01-02" (midnight UTC) or ISO 8601 date-time
// "2024-01-02T03:04:05Z" (also with a space instead of T, fractional seconds, or a +hh:mm
// offset). nullopt with `error` set on anything else.
std::optional<std::int64_t> parse_timestamp(std::string_view text, std::string& error);
// A time on the command line (--at, --since, --until, --expires, --build-time), the one syntax
// of every command: what parse_timestamp accepts, "now", or an offset from `now` in s, m, h
// or d: "+7d" is seven days from now, "-48h" and "48h" are 48 hours ago. nullopt with `error`
// set (naming the forms) on anything else.
std::optional<std::int64_t> parse_time_argument(std::string_view text, std::int64_t now,
                                                std::string& error);
// An integer 0-100.
std::optional<std::uint8_t> parse_confidence(std::string_view text, std::string& error);
// Addresses separated by commas, semicolons or blanks, encoded as sinkhole data.
bool parse_address_list(std::string_view text, std::string& data, std::string& error);

// A leading "*." marks a wildcard: strips it and returns true.
bool strip_wildcard(std::string_view& name) noexcept;

// The rule every line of a source starts from: source, campaign, category, confidence,
// expiry and action from the defaults (nxdomain when the defaults name no action).
RuleDraft make_rule_template(const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules);

// Adds a rule, applying the source's role: an allowlist source's rules all allow.
void add_rule(RuleDraft&& rule, const FeedDefaults& defaults, RuleSet& rules);
// The same for an address rule.
void add_rule(const IpPrefix& prefix, RuleDraft&& rule, const FeedDefaults& defaults,
              RuleSet& rules);

// True when `text` looks like an address or CIDR prefix rather than a name: only hex digits,
// ':', '.' and '/' with a ':' (IPv6), or only decimal digits, '.' and '/' (IPv4; no valid name
// ends in an all-digit label).
bool looks_like_ip_prefix(std::string_view text) noexcept;
// An address or CIDR prefix as a feed gives it (parse_ip_prefix). Host bits past the prefix
// length are cleared with a warning ("10.1.2.3/8 has host bits set: read as 10.0.0.0/8"):
// feeds write both forms and mean the network. False with `error` on anything else.
bool parse_feed_prefix(std::string_view text, std::string_view file, std::size_t line,
                       Diagnostics& diagnostics, IpPrefix& prefix, std::string& error);

}  // namespace dnsverdict
