// Address rules: longest-prefix matching, families kept apart, expiry, conflicts and
// allowlists, through the real rule set, writer and reader (VerdictStore::lookup_address).
#include "prefix_table.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>

#include "rule_set.h"
#include "store_writer.h"
#include "test_support.h"
#include "verdict_store.h"

namespace dnsverdict {
namespace {

using testing::TempDir;

constexpr std::int64_t kNow = 1'800'000'000;

struct AddressSpec {
  std::string prefix;
  Action action = Action::kNxdomain;
  std::uint8_t confidence = 100;
  std::int64_t expires = 0;
  std::uint16_t source = 1;
  bool allowlist = false;
};

std::shared_ptr<const VerdictStore> build(const std::string& path,
                                          const std::vector<AddressSpec>& specs,
                                          std::vector<std::string> names = {}) {
  RuleSet rules;
  SourceRecord first, second;
  first.file = "first";
  second.file = "second";
  rules.add_source(first);
  rules.add_source(second);
  std::uint32_t line = 0;
  for (const auto& spec : specs) {
    IpPrefix prefix;
    std::string error;
    EXPECT_TRUE(parse_ip_prefix(spec.prefix, prefix, error)) << error;
    RuleDraft draft;
    draft.action = spec.action;
    draft.confidence = spec.confidence;
    draft.expires = spec.expires;
    draft.source = spec.source;
    draft.allowlist = spec.allowlist;
    draft.line = ++line;
    rules.add_address(prefix, std::move(draft));
  }
  for (const auto& name : names) {
    RuleDraft draft;
    std::string error;
    EXPECT_TRUE(text_to_key(name, draft.key, error)) << error;
    draft.source = 1;
    rules.add(std::move(draft));
  }
  rules.finalize();
  write_store(rules, path, {});
  return VerdictStore::open(path);
}

AddressLookupResult find(const VerdictStore& store, const std::string& text,
                         std::int64_t now = kNow) {
  std::uint8_t bytes[16];
  bool v6 = text.find(':') != std::string::npos;
  EXPECT_EQ(::inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), bytes), 1) << text;
  AddressLookupResult result = store.lookup_address(bytes, v6 ? 16 : 4, now);
  EXPECT_NE(result.status, LookupStatus::kError) << text;
  return result;
}

// "nxdomain/24" for a hit, "-" for a miss.
std::string match(const VerdictStore& store, const std::string& address, std::int64_t now = kNow) {
  AddressLookupResult result = find(store, address, now);
  if (!result.hit()) return "-";
  return std::string(action_name(result.rule.action)) + "/" + std::to_string(result.prefix_length);
}

TEST(PrefixTable, LongestIpv4PrefixWins) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"10.0.0.0/8", Action::kLog},
                                         {"10.1.0.0/16", Action::kNxdomain},
                                         {"10.1.2.0/24", Action::kRefuse},
                                         {"10.1.2.3/32", Action::kDrop},
                                         {"192.0.2.0/24", Action::kSinkhole}});
  EXPECT_TRUE(store->has_address_rules());
  EXPECT_EQ(store->address_rule_count(4), 5u);
  EXPECT_EQ(store->address_rule_count(6), 0u);
  EXPECT_EQ(match(*store, "10.1.2.3"), "drop/32");
  EXPECT_EQ(match(*store, "10.1.2.4"), "refuse/24");
  EXPECT_EQ(match(*store, "10.1.3.0"), "nxdomain/16");
  EXPECT_EQ(match(*store, "10.1.0.0"), "nxdomain/16");
  EXPECT_EQ(match(*store, "10.2.0.0"), "log/8");
  EXPECT_EQ(match(*store, "10.255.255.255"), "log/8");
  EXPECT_EQ(match(*store, "9.255.255.255"), "-");
  EXPECT_EQ(match(*store, "11.0.0.0"), "-");
  EXPECT_EQ(match(*store, "192.0.2.255"), "sinkhole/24");
  EXPECT_EQ(match(*store, "192.0.3.0"), "-");
  EXPECT_EQ(match(*store, "0.0.0.0"), "-");
  EXPECT_EQ(match(*store, "255.255.255.255"), "-");
}

TEST(PrefixTable, SiblingsAfterANestedPrefixFindTheirParent) {
  // 10.1.2.3 sorts after 10.1.0.0/24 and 10.1.1.0/24, which do not hold it: the walk goes
  // up to their parent.
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"10.0.0.0/8", Action::kLog},
                                         {"10.1.0.0/24", Action::kNxdomain},
                                         {"10.1.1.0/24", Action::kNxdomain},
                                         {"10.1.1.128/25", Action::kDrop},
                                         {"10.3.0.0/16", Action::kRefuse}});
  EXPECT_EQ(match(*store, "10.1.2.3"), "log/8");
  EXPECT_EQ(match(*store, "10.1.1.200"), "drop/25");
  EXPECT_EQ(match(*store, "10.1.1.127"), "nxdomain/24");
  EXPECT_EQ(match(*store, "10.2.255.255"), "log/8");
  EXPECT_EQ(match(*store, "10.3.9.9"), "refuse/16");
  EXPECT_EQ(match(*store, "10.4.0.0"), "log/8");
}

TEST(PrefixTable, Ipv6PrefixesUpTo128Bits) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"2001:db8::/32", Action::kLog},
                                         {"2001:db8:1::/48", Action::kNxdomain},
                                         {"2001:db8:1::1/128", Action::kDrop},
                                         {"2001:db8:1:0:8000::/65", Action::kRefuse}});
  EXPECT_EQ(store->address_rule_count(6), 4u);
  EXPECT_EQ(match(*store, "2001:db8:1::1"), "drop/128");
  EXPECT_EQ(match(*store, "2001:db8:1::2"), "nxdomain/48");
  EXPECT_EQ(match(*store, "2001:db8:1:0:8000::2"), "refuse/65");
  EXPECT_EQ(match(*store, "2001:db8:1:0:7fff::2"), "nxdomain/48");
  EXPECT_EQ(match(*store, "2001:db8:ffff::"), "log/32");
  EXPECT_EQ(match(*store, "2001:db9::"), "-");
  EXPECT_EQ(match(*store, "::"), "-");
}

TEST(PrefixTable, ZeroLengthPrefixesHoldTheirWholeFamily) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"0.0.0.0/0", Action::kLog}, {"::/0", Action::kTag},
                                         {"198.51.100.7/32", Action::kDrop}});
  EXPECT_EQ(match(*store, "1.2.3.4"), "log/0");
  EXPECT_EQ(match(*store, "255.255.255.255"), "log/0");
  EXPECT_EQ(match(*store, "198.51.100.7"), "drop/32");
  EXPECT_EQ(match(*store, "2001:db8::1"), "tag/0");
  EXPECT_EQ(match(*store, "::"), "tag/0");
}

TEST(PrefixTable, Ipv4AndMappedIpv6AreSeparate) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"192.0.2.0/24", Action::kDrop},
                                         {"::ffff:198.51.100.0/120", Action::kRefuse},
                                         {"::/8", Action::kLog}});
  EXPECT_EQ(match(*store, "192.0.2.1"), "drop/24");
  // The IPv4-mapped form of a listed IPv4 address is another address (of the v6 family).
  EXPECT_EQ(match(*store, "::ffff:192.0.2.1"), "log/8");
  EXPECT_EQ(match(*store, "::ffff:198.51.100.1"), "refuse/120");
  EXPECT_EQ(match(*store, "198.51.100.1"), "-");
  EXPECT_EQ(match(*store, "0.0.0.1"), "-");
}

TEST(PrefixTable, ExpiredRulesAreSkippedAsIfAbsent) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"10.0.0.0/8", Action::kLog},
                                         {"10.1.0.0/16", Action::kNxdomain, 100, kNow + 10},
                                         {"10.1.2.0/24", Action::kDrop, 100, kNow - 10}});
  EXPECT_EQ(match(*store, "10.1.2.3"), "nxdomain/16");
  EXPECT_EQ(match(*store, "10.1.2.3", kNow + 10), "log/8");
  EXPECT_EQ(match(*store, "10.1.2.3", kNow - 11), "drop/24");
}

TEST(PrefixTable, ConflictsForOnePrefixAreResolvedLikeNames) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"),
                     {{"10.0.0.0/8", Action::kLog, 100, 0, 1},
                      {"10.0.0.0/8", Action::kDrop, 100, 0, 2},     // stricter wins
                      {"10.1.0.0/16", Action::kDrop, 50, 0, 1},
                      {"10.1.0.0/16", Action::kNxdomain, 90, 0, 2},  // more confident wins
                      {"10.2.0.0/16", Action::kDrop, 100, 0, 1},
                      {"10.2.0.0/16", Action::kAllow, 10, 0, 2}});  // allow beats block
  EXPECT_EQ(match(*store, "10.0.0.1"), "drop/8");
  EXPECT_EQ(match(*store, "10.1.0.1"), "nxdomain/16");
  EXPECT_EQ(match(*store, "10.2.0.1"), "allow/16");
  EXPECT_EQ(store->info().rule_count, 3u);
}

TEST(PrefixTable, AllowlistedPrefixesDropBlocksInsideThem) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"10.0.0.0/8", Action::kDrop},
                                         {"10.1.0.0/16", Action::kAllow, 100, 0, 2, true},
                                         {"10.1.2.0/24", Action::kNxdomain},
                                         {"10.1.3.0/24", Action::kLog},
                                         {"10.2.0.0/16", Action::kNxdomain}});
  EXPECT_EQ(match(*store, "10.1.2.3"), "allow/16");
  EXPECT_EQ(match(*store, "10.1.3.3"), "log/24");
  EXPECT_EQ(match(*store, "10.2.0.1"), "nxdomain/16");
  EXPECT_EQ(match(*store, "10.3.0.1"), "drop/8");
}

TEST(PrefixTable, NamesAndAddressesLiveSideBySide) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{"47.100.164.28/32"}}, {"evil.test"});
  EXPECT_EQ(store->info().rule_count, 2u);
  EXPECT_EQ(store->info().key_count, 1u);
  EXPECT_EQ(match(*store, "47.100.164.28"), "nxdomain/32");
  std::vector<std::string> listed;
  store->for_each_address([&](const IpPrefix& prefix, const Rule& rule) {
    listed.push_back(format_ip_prefix(prefix) + " " + std::string(action_name(rule.action)));
    return true;
  });
  EXPECT_EQ(listed, std::vector<std::string>{"47.100.164.28/32 nxdomain"});
}

TEST(PrefixTable, StoresWithoutAddressRulesMissAndRejectBadSizes) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {}, {"evil.test"});
  EXPECT_FALSE(store->has_address_rules());
  EXPECT_EQ(match(*store, "47.100.164.28"), "-");
  EXPECT_EQ(store->info().meta.count(meta::kAddressRuleCountV4), 0u);
  std::uint8_t bytes[5] = {};
  EXPECT_EQ(store->lookup_address(bytes, 5, kNow).status, LookupStatus::kError);
  EXPECT_EQ(store->lookup_address(nullptr, 4, kNow).status, LookupStatus::kError);
}

TEST(PrefixTable, ManyRandomPrefixesMatchABruteForceScan) {
  std::vector<AddressSpec> specs;
  std::uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  std::vector<std::pair<std::uint32_t, unsigned>> v4;
  for (int i = 0; i < 2000; ++i) {
    unsigned length = 8 + next() % 25;
    std::uint32_t network = (0x0a000000u | (next() & 0x00ffffffu)) &
                            (length == 0 ? 0 : ~std::uint32_t{0} << (32 - length));
    v4.emplace_back(network, length);
    char text[32];
    std::snprintf(text, sizeof text, "%u.%u.%u.%u/%u", network >> 24, (network >> 16) & 255,
                  (network >> 8) & 255, network & 255, length);
    specs.push_back({text});
  }
  TempDir dir;
  auto store = build(dir.file("s.mdb"), specs);
  for (int i = 0; i < 5000; ++i) {
    std::uint32_t address = 0x0a000000u | (next() & 0x00ffffffu);
    if (i % 2 == 0) address = v4[next() % v4.size()].first | (next() & 0xff);
    int best = -1;
    for (const auto& [network, length] : v4) {
      std::uint32_t mask = ~std::uint32_t{0} << (32 - length);
      if ((address & mask) == network && static_cast<int>(length) > best)
        best = static_cast<int>(length);
    }
    std::uint8_t bytes[4] = {static_cast<std::uint8_t>(address >> 24),
                             static_cast<std::uint8_t>(address >> 16),
                             static_cast<std::uint8_t>(address >> 8),
                             static_cast<std::uint8_t>(address)};
    AddressLookupResult result = store->lookup_address(bytes, 4, kNow);
    ASSERT_EQ(result.hit() ? result.prefix_length : -1, best) << address;
  }
}

TEST(PrefixTable, BuilderRefusesUnsortedOrUnmaskedPrefixes) {
  IpPrefix a, b;
  std::string error;
  ASSERT_TRUE(parse_ip_prefix("10.0.0.0/8", a, error));
  ASSERT_TRUE(parse_ip_prefix("10.1.0.0/8", b, error));
  EXPECT_THROW(build_prefix_table({{b, "x"}}), std::invalid_argument);
  EXPECT_THROW(build_prefix_table({{a, "x"}, {a, "x"}}), std::invalid_argument);
  PrefixTableView view;
  EXPECT_FALSE(view.attach(build_prefix_table({{a, "x"}}).substr(1)));
  EXPECT_TRUE(view.attach(build_prefix_table({{a, "x"}})));
  EXPECT_EQ(view.v4_count(), 1u);
}

}  // namespace
}  // namespace dnsverdict
