// Helpers shared by the inspection commands (lookup, info, dump): the few text forms they
// print alike (times, JSON strings, rule data).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "dns_name.h"
#include "store_format.h"
#include "verdict_store.h"

namespace dnsverdict {
struct ModuleConfig;
}

namespace dnsverdict::inspect {

// The module config whose confidence thresholds lookup and dump grade with: FILE when given,
// else the module's own ($DNSVERDICT_CONFIG, else /etc/dnsverdict/dnsverdict.conf); when that
// does not exist, the built-in thresholds, and a note on standard error naming `command`.
// Throws ToolError for a config that cannot be used. (cmd_lookup.cpp)
ModuleConfig grading_config(const std::string& path, const char* command);

// UTC time in ISO 8601 ("2024-05-01T12:00:00Z").
inline std::string format_time(std::int64_t unix_seconds) {
  std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  if (gmtime_r(&time, &parts) == nullptr) return std::to_string(unix_seconds);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// A JSON string literal, quotes included. Bytes >= 0x80 pass through: names are ASCII (IDN is
// stored as A-labels) and feed-provided text is UTF-8.
inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// A unix time as JSON: the ISO 8601 string, or null for 0 (unknown first-seen, no expiry).
inline std::string json_time(std::int64_t unix_seconds) {
  return unix_seconds == 0 ? "null" : json_string(format_time(unix_seconds));
}

// The presentation form of a redirect target stored as a wire name ("" when malformed).
inline std::string redirect_target_text(std::string_view data) {
  if (data.empty() || wire_name_length(reinterpret_cast<const std::uint8_t*>(data.data()),
                                       data.size()) != data.size())
    return {};
  return name_to_text(data);
}

// The sinkhole addresses a rule answers with: its own data, else its campaign's. Empty when
// neither has any (the module then answers with its configured default addresses).
inline std::string_view sinkhole_data(const VerdictStore& store, const Rule& rule) {
  if (!rule.data.empty()) return rule.data;
  if (const CampaignRecord* campaign = store.campaign(rule.campaign)) return campaign->sinkhole;
  return {};
}

}  // namespace dnsverdict::inspect
