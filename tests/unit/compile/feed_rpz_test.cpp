#include <gtest/gtest.h>

#include "feed.h"
#include "feed_test_support.h"

namespace dnsverdict {
namespace {

using testing::addresses;
using testing::ParsedFeed;
using testing::wire;

constexpr std::string_view kZone = R"(; an RPZ zone with every action
$TTL 300
$ORIGIN rpz.example.
@   IN  SOA ns.rpz.example. hostmaster.rpz.example. (
        2024010201 ; serial
        3600 600 86400 300 )
    IN  NS  ns.rpz.example.
nx.test             CNAME .
nodata.test     60  CNAME *.
ok.test         IN  CNAME rpz-passthru.
dropped.test    60 IN CNAME rpz-drop.
slow.test       IN 60 CNAME rpz-tcp-only.
sink.test           A     192.0.2.1
                    AAAA  2001:db8::1
                    A     192.0.2.2
garden.test         CNAME walled.garden.example.
relative.test       CNAME landing
*.wild.test         CNAME .
Absolute.TEST.rpz.example.  CNAME .
32.1.2.0.192.rpz-ip     CNAME .
ns.bad.test.rpz-nsdname CNAME .
24.0.2.0.198.rpz-client-ip CNAME rpz-drop.
32.1.2.0.192.rpz-nsip   CNAME .
text.test           TXT   "hello ; not a comment"
)";

TEST(FeedRpz, MapsEveryPolicyToItsAction) {
  ParsedFeed feed(FeedFormat::kRpz, kZone);
  EXPECT_EQ(feed.messages(), "");
  EXPECT_EQ(feed.added(), 13u);  // with the rpz-ip, rpz-nsdname and rpz-nsip triggers
  struct Expected {
    const char* name;
    Action action;
  } cases[] = {{"nx.test", Action::kNxdomain},     {"nodata.test", Action::kNodata},
               {"ok.test", Action::kAllow},        {"dropped.test", Action::kDrop},
               {"slow.test", Action::kTcpOnly},    {"sink.test", Action::kSinkhole},
               {"garden.test", Action::kRedirect}, {"absolute.test", Action::kNxdomain}};
  for (const auto& expected : cases) {
    const Rule* rule = feed.self(expected.name);
    ASSERT_NE(rule, nullptr) << expected.name;
    EXPECT_EQ(rule->action, expected.action) << expected.name;
    EXPECT_EQ(rule->kind, RuleKind::kExact) << expected.name;
    EXPECT_EQ(feed.below(expected.name), nullptr) << expected.name;
  }
}

TEST(FeedRpz, AccumulatesAddressesOfOneOwner) {
  ParsedFeed feed(FeedFormat::kRpz, kZone);
  const Rule* sink = feed.self("sink.test");
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->data, addresses({"192.0.2.1", "2001:db8::1", "192.0.2.2"}));
}

TEST(FeedRpz, RedirectsToAbsoluteAndOriginRelativeTargets) {
  ParsedFeed feed(FeedFormat::kRpz, kZone);
  ASSERT_NE(feed.self("garden.test"), nullptr);
  EXPECT_EQ(feed.self("garden.test")->data, wire("walled.garden.example"));
  ASSERT_NE(feed.self("relative.test"), nullptr);
  EXPECT_EQ(feed.self("relative.test")->action, Action::kRedirect);
  EXPECT_EQ(feed.self("relative.test")->data, wire("landing.rpz.example"));
}

TEST(FeedRpz, WildcardOwnerCoversOnlyNamesBelow) {
  ParsedFeed feed(FeedFormat::kRpz, kZone);
  EXPECT_EQ(feed.self("wild.test"), nullptr);
  const Rule* below = feed.below("wild.test");
  ASSERT_NE(below, nullptr);
  EXPECT_EQ(below->kind, RuleKind::kWildcard);
  EXPECT_EQ(below->action, Action::kNxdomain);
}

TEST(FeedRpz, CountsTriggersTheStoreCannotHold) {
  ParsedFeed feed(FeedFormat::kRpz, kZone);
  EXPECT_EQ(feed.skipped("rpz-ip"), 0u);
  EXPECT_EQ(feed.skipped("rpz-nsdname"), 0u);
  EXPECT_EQ(feed.skipped("rpz-client-ip"), 1u);
  EXPECT_EQ(feed.skipped("rpz-nsip"), 0u);
  EXPECT_EQ(feed.skipped("local-data TXT"), 1u);
  // None of them became a rule under some other name (the name-server rules are two).
  EXPECT_EQ(feed.record_count(), 12u);
}

TEST(FeedRpz, NameServerTriggersBecomeNameRulesUnderTheirOwnerNames) {
  ParsedFeed feed(FeedFormat::kRpz, R"($ORIGIN rpz.example.
ns.bad.test.rpz-nsdname        CNAME .
*.hoster.test.rpz-nsdname      CNAME rpz-drop.
32.1.2.0.192.rpz-nsip          CNAME .
24.1.2.0.198.rpz-nsip          CNAME .
64.0.zz.db8.2001.RPZ-NSIP      CNAME rpz-passthru.
)");
  const Rule* by_name = feed.self("ns.bad.test.rpz-nsdname");
  ASSERT_NE(by_name, nullptr) << feed.messages();
  EXPECT_EQ(by_name->action, Action::kNxdomain);
  EXPECT_EQ(by_name->kind, RuleKind::kExact);
  const Rule* wildcard = feed.below("hoster.test.rpz-nsdname");
  ASSERT_NE(wildcard, nullptr);
  EXPECT_EQ(wildcard->kind, RuleKind::kWildcard);
  EXPECT_EQ(wildcard->action, Action::kDrop);
  ASSERT_NE(feed.self("32.1.2.0.192.rpz-nsip"), nullptr);
  // Written the one way the module builds it: host bits cleared, "zz" for the zero words.
  EXPECT_NE(feed.messages().find("has host bits set"), std::string::npos) << feed.messages();
  ASSERT_NE(feed.self("24.0.2.0.198.rpz-nsip"), nullptr);
  ASSERT_NE(feed.self("64.zz.db8.2001.rpz-nsip"), nullptr);
  EXPECT_EQ(feed.self("64.zz.db8.2001.rpz-nsip")->action, Action::kAllow);
}

TEST(FeedRpz, NameServerAddressTriggersAreNoWildcards) {
  ParsedFeed feed(FeedFormat::kRpz, "$ORIGIN rpz.example.\n*.32.1.2.0.192.rpz-nsip CNAME .\n");
  EXPECT_NE(feed.messages().find("an rpz-nsip trigger cannot be a wildcard"), std::string::npos)
      << feed.messages();
}

TEST(FeedRpz, IpTriggersBecomeAddressRules) {
  ParsedFeed feed(FeedFormat::kRpz, R"($ORIGIN rpz.example.
32.28.164.100.47.rpz-ip       CNAME .
24.0.142.116.47.rpz-ip        CNAME rpz-drop.
128.1.zz.db8.2001.rpz-ip      CNAME rpz-passthru.
48.zz.1.db8.2001.RPZ-IP       A     192.0.2.66
                              AAAA  2001:db8::66
16.7.7.10.10.rpz-ip           CNAME .
33.1.2.3.4.rpz-ip             CNAME .
*.8.0.0.0.10.rpz-ip           CNAME .
0.zz.rpz-ip                   CNAME *.
)", {}, "ip.rpz");
  EXPECT_EQ(feed.added(), 6u);
  EXPECT_EQ(feed.errors(), 2u);
  EXPECT_EQ(feed.messages(),
            "ip.rpz:7: warning: owner \"16.7.7.10.10.rpz-ip\": 10.10.7.7/16 has host bits set: "
            "read as 10.10.0.0/16\n"
            "ip.rpz:8: owner \"33.1.2.3.4.rpz-ip\": rpz-ip: bad prefix length \"33\" (0-32 for IPv4)\n"
            "ip.rpz:9: owner \"*.8.0.0.0.10.rpz-ip\": an rpz-ip trigger cannot be a wildcard\n");
  EXPECT_EQ(feed.skipped("rpz-ip"), 0u);
  EXPECT_EQ(feed.record_count(), 0u);
  EXPECT_EQ(feed.address_count(), 6u);
  ASSERT_NE(feed.address("47.100.164.28/32"), nullptr);
  EXPECT_EQ(feed.address("47.100.164.28/32")->action, Action::kNxdomain);
  ASSERT_NE(feed.address("47.116.142.0/24"), nullptr);
  EXPECT_EQ(feed.address("47.116.142.0/24")->action, Action::kDrop);
  ASSERT_NE(feed.address("2001:db8::1/128"), nullptr);
  EXPECT_EQ(feed.address("2001:db8::1/128")->action, Action::kAllow);
  const Rule* sinkhole = feed.address("2001:db8:1::/48");
  ASSERT_NE(sinkhole, nullptr);
  EXPECT_EQ(sinkhole->action, Action::kSinkhole);
  EXPECT_EQ(sinkhole->data, addresses({"192.0.2.66", "2001:db8::66"}));
  ASSERT_NE(feed.address("10.10.0.0/16"), nullptr);
  ASSERT_NE(feed.address("::/0"), nullptr);
  EXPECT_EQ(feed.address("::/0")->action, Action::kNodata);
}

TEST(FeedRpz, ExactAndWildcardOwnersShareOneRecord) {
  ParsedFeed feed(FeedFormat::kRpz,
                  "$ORIGIN rpz.example.\n"
                  "bad.test CNAME .\n"
                  "*.bad.test CNAME rpz-drop.\n");
  ASSERT_NE(feed.self("bad.test"), nullptr);
  ASSERT_NE(feed.below("bad.test"), nullptr);
  EXPECT_EQ(feed.self("bad.test")->action, Action::kNxdomain);
  EXPECT_EQ(feed.below("bad.test")->action, Action::kDrop);
}

TEST(FeedRpz, TakesTheOriginFromTheSoaOwner) {
  ParsedFeed feed(FeedFormat::kRpz,
                  "rpz.example. 300 IN SOA ns.example. admin.example. 1 3600 600 86400 300\n"
                  "  NS ns.example.\n"
                  "bad.test.rpz.example. CNAME .\n"
                  "other.test CNAME .\n");
  EXPECT_EQ(feed.messages(), "");
  EXPECT_NE(feed.self("bad.test"), nullptr);
  EXPECT_NE(feed.self("other.test"), nullptr);
}

TEST(FeedRpz, TakesNamesAsTheyAreWithoutAnOrigin) {
  ParsedFeed feed(FeedFormat::kRpz, "bad.test. CNAME .\nrelative.test CNAME rpz-drop.\n");
  EXPECT_EQ(feed.messages(), "");
  EXPECT_NE(feed.self("bad.test"), nullptr);
  EXPECT_NE(feed.self("relative.test"), nullptr);
}

TEST(FeedRpz, HandlesCrlfBomAndCase) {
  ParsedFeed feed(FeedFormat::kRpz,
                  "\xEF\xBB\xBF$origin RPZ.Example.\r\n"
                  "Bad.TEST in cname .\r\n"
                  "Sink.Test a 192.0.2.9\r\n");
  EXPECT_EQ(feed.messages(), "");
  ASSERT_NE(feed.self("bad.test"), nullptr);
  ASSERT_NE(feed.self("sink.test"), nullptr);
  EXPECT_EQ(feed.self("sink.test")->data, addresses({"192.0.2.9"}));
}

TEST(FeedRpz, LegacyPassthruIsACnameToTheNameItself) {
  ParsedFeed feed(FeedFormat::kRpz, "$ORIGIN rpz.example.\nok.test CNAME ok.test.\n");
  ASSERT_NE(feed.self("ok.test"), nullptr);
  EXPECT_EQ(feed.self("ok.test")->action, Action::kAllow);
}

TEST(FeedRpz, CountsWildcardCnameTargets) {
  ParsedFeed feed(FeedFormat::kRpz, "$ORIGIN rpz.example.\nx.test CNAME *.garden.example.\n");
  EXPECT_EQ(feed.added(), 0u);
  EXPECT_EQ(feed.skipped("rpz cname *.target"), 1u);
}

TEST(FeedRpz, AppliesSourceDefaultsAndAllowlistRole) {
  FeedDefaults defaults;
  defaults.campaign = "spring";
  defaults.category = "phishing";
  defaults.confidence = 70;
  defaults.expires = 2000000000;
  ParsedFeed feed(FeedFormat::kRpz, "$ORIGIN rpz.example.\nbad.test CNAME .\n", defaults);
  const Rule* rule = feed.self("bad.test");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(feed.rules().campaigns().at(rule->campaign).name, "spring");
  EXPECT_EQ(feed.rules().categories().at(rule->category), "phishing");
  EXPECT_EQ(rule->confidence, 70);
  EXPECT_EQ(rule->expires, 2000000000);

  FeedDefaults allow;
  allow.allowlist = true;
  ParsedFeed allowlist(FeedFormat::kRpz, "$ORIGIN rpz.example.\nbad.test CNAME .\n", allow);
  ASSERT_NE(allowlist.self("bad.test"), nullptr);
  EXPECT_EQ(allowlist.self("bad.test")->action, Action::kAllow);
  EXPECT_EQ(allowlist.self("bad.test")->flags & kFlagAllowlist, kFlagAllowlist);
}

TEST(FeedRpz, ReportsErrorsWithTheirLines) {
  ParsedFeed feed(FeedFormat::kRpz,
                  "$ORIGIN rpz.example.\n"             // 1
                  "$INCLUDE other.zone\n"              // 2
                  "outside.test.elsewhere. CNAME .\n"  // 3
                  "a..test CNAME .\n"                  // 4
                  "v4.test AAAA 192.0.2.1\n"           // 5
                  "v6.test A 2001:db8::1\n"            // 6
                  "both.test A 192.0.2.1\n"            // 7
                  "both.test CNAME .\n"                // 8
                  "notype.test 300 IN\n"               // 9
                  "@ CNAME .\n"                        // 10
                  "chaos.test CH CNAME .\n"            // 11
                  "$FOO bar\n"                         // 12
                  "good.test CNAME .\n");              // 13
  EXPECT_EQ(feed.errors(), 10u) << feed.messages();
  const std::string& messages = feed.messages();
  EXPECT_NE(messages.find("feed.txt:2: $INCLUDE is not supported"), std::string::npos) << messages;
  EXPECT_NE(
      messages.find("feed.txt:3: owner \"outside.test.elsewhere.\" is outside the zone origin "
                    "rpz.example."),
      std::string::npos)
      << messages;
  EXPECT_NE(messages.find("feed.txt:4: owner \"a..test\": empty label"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:5: \"192.0.2.1\" is not an IPv6 address"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:6: \"2001:db8::1\" is not an IPv4 address"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:8: \"both.test\" has a CNAME besides"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:9: record for \"notype.test\" has no type"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:10: CNAME record at the zone apex"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:11: class CH is not IN"), std::string::npos);
  EXPECT_NE(messages.find("feed.txt:12: unknown directive $FOO"), std::string::npos);
  EXPECT_NE(feed.self("good.test"), nullptr);
  EXPECT_NE(feed.self("both.test"), nullptr);  // the A record stands
}

TEST(FeedRpz, ReportsUnbalancedParentheses) {
  ParsedFeed feed(FeedFormat::kRpz, "$ORIGIN rpz.example.\n@ SOA ns. admin. ( 1 2 3\n4 5\n");
  EXPECT_EQ(feed.errors(), 1u);
  EXPECT_NE(feed.messages().find("feed.txt:2: unbalanced '('"), std::string::npos)
      << feed.messages();
}

TEST(FeedRpz, SurvivesAHugeLine) {
  std::string zone = "$ORIGIN rpz.example.\nbad.test CNAME .\n";
  zone += std::string(100 * 1024, 'x') + " CNAME .\n";
  zone += "(" + std::string(100 * 1024, 'y') + "\n";
  zone += "later.test CNAME .\n";
  ParsedFeed feed(FeedFormat::kRpz, zone);
  EXPECT_EQ(feed.errors(), 2u) << feed.messages();
  EXPECT_NE(feed.messages().find("feed.txt:3: line is 102408 octets long"), std::string::npos)
      << feed.messages();
  EXPECT_NE(feed.self("bad.test"), nullptr);
  EXPECT_NE(feed.self("later.test"), nullptr);
}

}  // namespace
}  // namespace dnsverdict
