#include <gtest/gtest.h>

#include "feed.h"
#include "feed_test_support.h"

namespace dnsverdict {
namespace {

using testing::addresses;
using testing::ParsedFeed;

// ---- hosts ----

TEST(FeedHosts, BlocksNamesOfNullAddresses) {
  ParsedFeed feed(FeedFormat::kHosts,
                  "# StevenBlack-style hosts file\r\n"
                  "127.0.0.1 localhost\r\n"
                  "127.0.0.1 localhost.localdomain\r\n"
                  "255.255.255.255 broadcasthost\r\n"
                  "::1 localhost ip6-localhost ip6-loopback\r\n"
                  "fe80::1%lo0 localhost\r\n"
                  "0.0.0.0 0.0.0.0\r\n"
                  "\r\n"
                  "0.0.0.0 Ads.Example.COM.   # inline comment\r\n"
                  "127.0.0.1\ttrack.example  metrics.example\r\n"
                  ":: v6.test\r\n"
                  "0.0.0.0 ads.example.com\r\n");
  EXPECT_EQ(feed.messages(), "");
  EXPECT_EQ(feed.added(), 5u);
  EXPECT_EQ(feed.record_count(), 4u);
  EXPECT_EQ(feed.rules().duplicates(), 1u);
  for (const char* name : {"ads.example.com", "track.example", "metrics.example", "v6.test"}) {
    const Rule* rule = feed.self(name);
    ASSERT_NE(rule, nullptr) << name;
    EXPECT_EQ(rule->action, Action::kNxdomain) << name;
    EXPECT_EQ(rule->kind, RuleKind::kSubtree) << name;
    EXPECT_NE(feed.below(name), nullptr) << name;
  }
  EXPECT_EQ(feed.find("localhost"), nullptr);
}

TEST(FeedHosts, OtherAddressesBecomeSinkholesUnlessTheSourceNamesAnAction) {
  ParsedFeed feed(FeedFormat::kHosts, "192.0.2.66 cc.test\n");
  ASSERT_NE(feed.self("cc.test"), nullptr);
  EXPECT_EQ(feed.self("cc.test")->action, Action::kSinkhole);
  EXPECT_EQ(feed.self("cc.test")->data, addresses({"192.0.2.66"}));

  FeedDefaults defaults;
  defaults.action = Action::kDrop;
  ParsedFeed dropped(FeedFormat::kHosts, "192.0.2.66 cc.test\n", defaults);
  ASSERT_NE(dropped.self("cc.test"), nullptr);
  EXPECT_EQ(dropped.self("cc.test")->action, Action::kDrop);
  EXPECT_EQ(dropped.self("cc.test")->data, "");
}

TEST(FeedHosts, ReportsBadLinesWithTheirNumbers) {
  ParsedFeed feed(FeedFormat::kHosts,
                  "0.0.0.0 good.test\n"
                  "ads.test\n"
                  "0.0.0.0\n"
                  "0.0.0.0 ok.test bad..test\n");
  EXPECT_EQ(feed.errors(), 3u);
  EXPECT_EQ(feed.messages(),
            "feed.txt:2: \"ads.test\" is not an address (hosts lines are \"ADDRESS NAME...\")\n"
            "feed.txt:3: address \"0.0.0.0\" without a name\n"
            "feed.txt:4: \"bad..test\": empty label\n");
  EXPECT_NE(feed.self("ok.test"), nullptr);
}

// ---- plain domain lists ----

TEST(FeedDomains, ParsesNamesCommentsAndWildcards) {
  ParsedFeed feed(FeedFormat::kDomains,
                  "\xEF\xBB\xBF# comment\n"
                  "; another\n"
                  "! and another\n"
                  "\n"
                  "   \n"
                  "Bad.Example.\n"
                  "trailing.example   # why\n"
                  "*.wild.example\n"
                  "bücher.example\n"
                  "bad.example\n");
  EXPECT_EQ(feed.messages(), "");
  EXPECT_EQ(feed.added(), 5u);
  EXPECT_EQ(feed.record_count(), 4u);
  EXPECT_EQ(feed.rules().duplicates(), 1u);
  ASSERT_NE(feed.self("bad.example"), nullptr);
  EXPECT_EQ(feed.self("bad.example")->kind, RuleKind::kSubtree);
  EXPECT_NE(feed.self("trailing.example"), nullptr);
  EXPECT_NE(feed.self("xn--bcher-kva.example"), nullptr);
  EXPECT_EQ(feed.self("wild.example"), nullptr);
  ASSERT_NE(feed.below("wild.example"), nullptr);
  EXPECT_EQ(feed.below("wild.example")->kind, RuleKind::kWildcard);
}

TEST(FeedDomains, UsesTheSourceDefaults) {
  FeedDefaults defaults;
  defaults.action = Action::kLog;
  defaults.list_kind = RuleKind::kExact;
  defaults.category = "watch";
  defaults.campaign = "spring";
  defaults.confidence = 40;
  defaults.expires = 1900000000;
  ParsedFeed feed(FeedFormat::kDomains, "seen.example\n", defaults);
  const Rule* rule = feed.self("seen.example");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->action, Action::kLog);
  EXPECT_EQ(rule->kind, RuleKind::kExact);
  EXPECT_EQ(feed.below("seen.example"), nullptr);
  EXPECT_EQ(feed.rules().categories().at(rule->category), "watch");
  EXPECT_EQ(feed.rules().campaigns().at(rule->campaign).name, "spring");
  EXPECT_EQ(rule->confidence, 40);
  EXPECT_EQ(rule->expires, 1900000000);
}

TEST(FeedDomains, AllowlistEntriesAllow) {
  FeedDefaults defaults;
  defaults.allowlist = true;
  ParsedFeed feed(FeedFormat::kDomains, "ok.example\n", defaults);
  ASSERT_NE(feed.self("ok.example"), nullptr);
  EXPECT_EQ(feed.self("ok.example")->action, Action::kAllow);
  EXPECT_EQ(feed.self("ok.example")->flags, kFlagAllowlist);
}

TEST(FeedDomains, ReportsInvalidNamesWithTheirLines) {
  ParsedFeed feed(FeedFormat::kDomains,
                  "good.example\r\n"
                  "two names.example\r\n"
                  "a..example\r\n" +
                      std::string(64, 'x') +
                      ".example\r\n"
                      "http://evil.example/path\r\n"
                      "later.example\r\n");
  EXPECT_EQ(feed.errors(), 4u);
  EXPECT_EQ(feed.messages(),
            "feed.txt:2: expected one name per line, found \"names.example\" after \"two\"\n"
            "feed.txt:3: \"a..example\": empty label\n"
            "feed.txt:4: \"" +
                std::string(64, 'x') +
                ".example\": label longer than 63 octets\n"
                "feed.txt:5: \"http://evil.example/path\": invalid character in name: ':'\n");
  EXPECT_NE(feed.self("later.example"), nullptr);
}

TEST(FeedDomains, AddressesAndPrefixesBecomeAddressRules) {
  FeedDefaults defaults;
  defaults.action = Action::kDrop;
  ParsedFeed feed(FeedFormat::kDomains,
                  "47.100.164.28\n"
                  "39.98.228.0/24   # the C&C range\n"
                  "2001:db8::/32\n"
                  "10.1.2.3/8\n"
                  "evil.test\n"
                  "10.0.0.0/33\n"
                  "1.2.3\n",
                  defaults);
  EXPECT_EQ(feed.added(), 5u);
  EXPECT_EQ(feed.messages(),
            "feed.txt:4: warning: 10.1.2.3/8 has host bits set: read as 10.0.0.0/8\n"
            "feed.txt:6: bad prefix length \"33\" (0-32 for IPv4)\n"
            "feed.txt:7: not an IP address or prefix: \"1.2.3\"\n");
  EXPECT_EQ(feed.address_count(), 4u);
  for (const char* prefix : {"47.100.164.28/32", "39.98.228.0/24", "2001:db8::/32", "10.0.0.0/8"}) {
    ASSERT_NE(feed.address(prefix), nullptr) << prefix;
    EXPECT_EQ(feed.address(prefix)->action, Action::kDrop) << prefix;
  }
  EXPECT_NE(feed.self("evil.test"), nullptr);
}

TEST(FeedDomains, AllowlistedPrefixesAllow) {
  FeedDefaults defaults;
  defaults.allowlist = true;
  ParsedFeed feed(FeedFormat::kDomains, "192.0.2.0/24\n", defaults);
  ASSERT_NE(feed.address("192.0.2.0/24"), nullptr);
  EXPECT_EQ(feed.address("192.0.2.0/24")->action, Action::kAllow);
  EXPECT_EQ(feed.address("192.0.2.0/24")->flags, kFlagAllowlist);
}

TEST(FeedDomains, AHugeLineIsOneError) {
  std::string content = "before.example\n" + std::string(100 * 1024, 'a') + "\nafter.example\n";
  ParsedFeed feed(FeedFormat::kDomains, content);
  EXPECT_EQ(feed.errors(), 1u);
  EXPECT_EQ(feed.messages(), "feed.txt:2: line is 102400 octets long (limit 16384); skipped\n");
  EXPECT_EQ(feed.added(), 2u);
}

// ---- adblock ----

TEST(FeedAdblock, ParsesBlockAndAllowRules) {
  ParsedFeed feed(FeedFormat::kAdblock,
                  "[Adblock Plus 2.0]\n"
                  "! Title: test list\n"
                  "||ads.example^\n"
                  "||Tracker.Example^$third-party\n"
                  "||important.example^$important\n"
                  "||end.example^|\n"
                  "@@||ok.ads.example^\n"
                  "||*.wild.example^\n");
  EXPECT_EQ(feed.messages(), "");
  EXPECT_EQ(feed.added(), 6u);
  for (const char* name : {"ads.example", "tracker.example", "important.example", "end.example"}) {
    ASSERT_NE(feed.self(name), nullptr) << name;
    EXPECT_EQ(feed.self(name)->action, Action::kNxdomain) << name;
    EXPECT_EQ(feed.self(name)->kind, RuleKind::kSubtree) << name;
  }
  ASSERT_NE(feed.self("ok.ads.example"), nullptr);
  EXPECT_EQ(feed.self("ok.ads.example")->action, Action::kAllow);
  ASSERT_NE(feed.below("wild.example"), nullptr);
  EXPECT_EQ(feed.below("wild.example")->kind, RuleKind::kWildcard);
}

TEST(FeedAdblock, CountsWhatDnsCannotExpress) {
  ParsedFeed feed(FeedFormat::kAdblock,
                  "example.com##.banner\n"
                  "##.ad-box\n"
                  "example.com#@#.ad\n"
                  "example.com#$#abort-on-property-read x\n"
                  "||ads.example^/banner.js\n"
                  "||ads.example/path\n"
                  "/banner\\d+/\n"
                  "|https://ads.example\n"
                  "ads-*.example\n"
                  "||ads*.example^\n"
                  "||ads.example^$dnstype=AAAA\n"
                  "||ads.example^$client=192.0.2.1\n");
  EXPECT_EQ(feed.errors(), 0u) << feed.messages();
  EXPECT_EQ(feed.added(), 0u);
  EXPECT_EQ(feed.skipped("adblock cosmetic"), 4u);
  EXPECT_EQ(feed.skipped("adblock pattern"), 6u);
  EXPECT_EQ(feed.skipped("adblock option"), 2u);
}

TEST(FeedAdblock, ReportsInvalidNames) {
  ParsedFeed feed(FeedFormat::kAdblock, "! x\n||a..example^\n||good.example^\n");
  EXPECT_EQ(feed.messages(), "feed.txt:2: \"a..example\": empty label\n");
  EXPECT_NE(feed.self("good.example"), nullptr);
}

}  // namespace
}  // namespace dnsverdict
