// A fixture for the feed parser tests: parses one feed into a RuleSet with a silent
// Diagnostics, then answers "which rule did name X get" from the finalized records.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "dns_name.h"
#include "feed.h"
#include "rule_set.h"

namespace dnsverdict::testing {

class ParsedFeed {
 public:
  ParsedFeed(FeedFormat format, std::string_view content, const FeedDefaults& defaults = {},
             std::string_view file = "feed.txt")
      : diagnostics_(1000, nullptr) {
    SourceRecord source;
    source.file = std::string(file);
    source.format = std::string(format_name(format));
    std::uint16_t id = rules_.add_source(source);
    added_ = parse_feed(format, file, content, defaults, id, rules_, diagnostics_);
  }
  ParsedFeed(const ParsedFeed&) = delete;
  ParsedFeed& operator=(const ParsedFeed&) = delete;

  std::size_t added() const { return added_; }
  std::size_t errors() const { return diagnostics_.errors(); }
  const std::string& messages() const { return diagnostics_.messages(); }
  std::uint64_t skipped(const std::string& trigger) const {
    auto it = rules_.skipped().find(trigger);
    return it == rules_.skipped().end() ? 0 : it->second;
  }
  RuleSet& rules() { return rules_; }

  // The record of `name` after finalize(); nullptr when the name has none.
  const RuleSlots* find(std::string_view name) {
    rules_.finalize();
    std::string key, error;
    EXPECT_TRUE(text_to_key(name, key, error)) << name << ": " << error;
    for (const FinalRecord& record : rules_.records()) {
      if (record.key != key) continue;
      found_ = rules_.slots(record);
      return &found_;
    }
    return nullptr;
  }
  // The rule for the name itself (exact or subtree rule on it), or nullptr.
  const Rule* self(std::string_view name) {
    const RuleSlots* slots = find(name);
    return slots != nullptr && slots->self ? &*slots->self : nullptr;
  }
  // The rule for names below `name` (subtree or wildcard rule on it), or nullptr.
  const Rule* below(std::string_view name) {
    const RuleSlots* slots = find(name);
    return slots != nullptr && slots->below ? &*slots->below : nullptr;
  }
  // The address rule of `prefix` ("10.0.0.0/8") after finalize(), or nullptr.
  const Rule* address(std::string_view prefix_text) {
    rules_.finalize();
    IpPrefix prefix;
    std::string error;
    EXPECT_TRUE(parse_ip_prefix(prefix_text, prefix, error)) << prefix_text << ": " << error;
    for (const FinalAddressRecord& record : rules_.address_records()) {
      if (!(record.prefix == prefix)) continue;
      found_ = rules_.slots(record);
      return &*found_.self;
    }
    return nullptr;
  }
  std::size_t address_count() {
    rules_.finalize();
    return rules_.address_records().size();
  }
  std::size_t record_count() {
    rules_.finalize();
    return rules_.records().size();
  }

 private:
  RuleSet rules_;
  RuleSlots found_;  // what find() returned last
  Diagnostics diagnostics_;
  std::size_t added_ = 0;
};

// The wire form of a name, as redirect data holds it.
inline std::string wire(std::string_view text) {
  std::string result, error;
  EXPECT_TRUE(parse_name(text, result, error)) << text << ": " << error;
  return result;
}

// Sinkhole data for the addresses.
inline std::string addresses(std::initializer_list<std::string_view> texts) {
  std::string data;
  for (std::string_view text : texts) EXPECT_TRUE(encode_address(text, data)) << text;
  return data;
}

}  // namespace dnsverdict::testing
