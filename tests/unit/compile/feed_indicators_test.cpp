#include <gtest/gtest.h>

#include "feed.h"
#include "feed_test_support.h"

namespace dnsverdict {
namespace {

using testing::addresses;
using testing::ParsedFeed;
using testing::wire;

// ---- CSV ----

TEST(FeedCsv, ReadsEveryColumn) {
  ParsedFeed feed(FeedFormat::kCsv,
                  "\xEF\xBB\xBF"
                  "Domain,Action,Category,Campaign,Confidence,First-Seen,Expires,Kind,"
                  "Sinkhole,Redirect,Notes\r\n"
                  "cc.example,sinkhole,botnet-cc,lookalike,95,2024-01-02,2030-01-01T00:00:00Z,"
                  "subtree,\"10.66.66.66,fd00::6666\",,\"a note, with a comma\"\r\n"
                  "phish.example,redirect,phishing,,80,1704164645,,exact,,warn.example.,\r\n"
                  "*.wild.example,DROP,,,,,,,,,\r\n");
  EXPECT_EQ(feed.errors(), 0u) << feed.messages();
  EXPECT_EQ(feed.added(), 3u);

  const Rule* cc = feed.self("cc.example");
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->action, Action::kSinkhole);
  EXPECT_EQ(cc->kind, RuleKind::kSubtree);
  EXPECT_EQ(feed.rules().categories().at(cc->category), "botnet-cc");
  EXPECT_EQ(feed.rules().campaigns().at(cc->campaign).name, "lookalike");
  EXPECT_EQ(cc->confidence, 95);
  EXPECT_EQ(cc->first_seen, 1704153600);
  EXPECT_EQ(cc->expires, 1893456000);
  EXPECT_EQ(cc->data, addresses({"10.66.66.66", "fd00::6666"}));

  const Rule* phish = feed.self("phish.example");
  ASSERT_NE(phish, nullptr);
  EXPECT_EQ(phish->action, Action::kRedirect);
  EXPECT_EQ(phish->kind, RuleKind::kExact);
  EXPECT_EQ(phish->data, wire("warn.example"));
  EXPECT_EQ(phish->campaign, 0u);
  EXPECT_EQ(phish->first_seen, 1704164645);

  const Rule* wild = feed.below("wild.example");
  ASSERT_NE(wild, nullptr);
  EXPECT_EQ(wild->kind, RuleKind::kWildcard);
  EXPECT_EQ(wild->action, Action::kDrop);
  EXPECT_EQ(wild->confidence, 100);
  // The unknown column is mentioned once, as a warning.
  EXPECT_NE(feed.messages().find("feed.txt:1: warning: column \"Notes\" is not a known field"),
            std::string::npos);
}

TEST(FeedCsv, MissingColumnsTakeTheDefaults) {
  FeedDefaults defaults;
  defaults.action = Action::kSinkhole;
  defaults.campaign = "lookalike-image-cc";
  defaults.category = "botnet-cc";
  defaults.confidence = 90;
  ParsedFeed feed(FeedFormat::kCsv, "domain\nbaidugif.com\n", defaults);
  const Rule* rule = feed.self("baidugif.com");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->action, Action::kSinkhole);
  EXPECT_EQ(rule->kind, RuleKind::kSubtree);
  EXPECT_EQ(rule->confidence, 90);
  EXPECT_EQ(rule->data, "");  // the campaign's sinkhole answers
  EXPECT_EQ(feed.rules().campaigns().at(rule->campaign).name, "lookalike-image-cc");
}

TEST(FeedCsv, HandlesQuotingAcrossLines) {
  ParsedFeed feed(FeedFormat::kCsv,
                  "\"domain\",\"campaign\"\n"
                  "\"quoted.example\",\"say \"\"hi\"\"\"\n"
                  "multi.example,\"first line\n"
                  "second line\"\n"
                  "after.example,x\n");
  EXPECT_EQ(feed.errors(), 0u) << feed.messages();
  ASSERT_NE(feed.self("quoted.example"), nullptr);
  EXPECT_EQ(feed.rules().campaigns().at(feed.self("quoted.example")->campaign).name, "say \"hi\"");
  ASSERT_NE(feed.self("multi.example"), nullptr);
  EXPECT_EQ(feed.rules().campaigns().at(feed.self("multi.example")->campaign).name,
            "first line\nsecond line");
  EXPECT_NE(feed.self("after.example"), nullptr);
}

TEST(FeedCsv, ReportsBadValuesWithTheirLines) {
  ParsedFeed feed(FeedFormat::kCsv,
                  "domain,action,confidence,first_seen,kind,data\n"  // 1
                  "ok.example,,,,,\n"                                // 2
                  "bad..example,,,,,\n"                              // 3
                  "x.example,explode,,,,\n"                          // 4
                  "x.example,,101,,,\n"                              // 5
                  "x.example,,,last week,,\n"                        // 6
                  "x.example,,,,everything,\n"                       // 7
                  "x.example,redirect,,,,\n"                         // 8
                  "x.example,sinkhole,,,,not-an-ip\n"                // 9
                  "x.example,nxdomain,,,,10.0.0.1\n"                 // 10
                  "x.example,,\n"                                    // 11
                  "\"x.example\"junk,,,,,\n"                         // 12
                  ",,,,,\n"                                          // 13
                  "*.y.example,,,,exact,\n"                          // 14
                  "z.example,,,,,\n");                               // 15
  EXPECT_EQ(feed.errors(), 12u) << feed.messages();
  EXPECT_EQ(feed.messages(),
            "feed.txt:3: \"bad..example\": empty label\n"
            "feed.txt:4: unknown action \"explode\"\n"
            "feed.txt:5: confidence \"101\" is not an integer from 0 to 100\n"
            "feed.txt:6: first_seen: invalid timestamp \"last week\" (expected unix seconds, "
            "2024-01-02 or 2024-01-02T03:04:05Z)\n"
            "feed.txt:7: unknown kind \"everything\" (exact, subtree or wildcard)\n"
            "feed.txt:8: redirect without a target (a redirect or data field)\n"
            "feed.txt:9: \"not-an-ip\" is not an IPv4 or IPv6 address\n"
            "feed.txt:10: data given for action nxdomain, which takes none\n"
            "feed.txt:11: 3 fields, but the header names 6 columns\n"
            "feed.txt:12: text after the closing quote of field 1\n"
            "feed.txt:13: no domain or ip\n"
            "feed.txt:14: \"*.\" name with kind exact\n");
  EXPECT_NE(feed.self("ok.example"), nullptr);
  EXPECT_NE(feed.self("z.example"), nullptr);
}

TEST(FeedCsv, RequiresADomainColumn) {
  ParsedFeed feed(FeedFormat::kCsv, "# exported\nname,action\nbad.example,drop\n");
  EXPECT_EQ(feed.added(), 0u);
  EXPECT_EQ(feed.errors(), 1u);
  EXPECT_NE(feed.messages().find("feed.txt:2: the header row has no \"domain\" or \"ip\" column"),
            std::string::npos)
      << feed.messages();
}

TEST(FeedCsv, IpAndCidrColumnsGiveAddressRules) {
  ParsedFeed feed(FeedFormat::kCsv,
                  "domain,ip,action,campaign,confidence\n"
                  ",47.100.164.28,sinkhole,cc,95\n"
                  ",2001:db8::/32,drop,,\n"
                  "evil.test,,,,\n"
                  "both.test,10.0.0.1,,,\n"
                  ",10.0.0.0/40,,,\n"
                  ",,,,\n");
  EXPECT_EQ(feed.added(), 3u);
  EXPECT_EQ(feed.messages(),
            "feed.txt:5: both a domain and an ip: one indicator per line\n"
            "feed.txt:6: ip: bad prefix length \"40\" (0-32 for IPv4)\n"
            "feed.txt:7: no domain or ip\n");
  const Rule* cc = feed.address("47.100.164.28/32");
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->action, Action::kSinkhole);
  EXPECT_EQ(cc->confidence, 95);
  EXPECT_NE(cc->campaign, 0u);
  ASSERT_NE(feed.address("2001:db8::/32"), nullptr);
  EXPECT_EQ(feed.address("2001:db8::/32")->action, Action::kDrop);
  EXPECT_NE(feed.self("evil.test"), nullptr);

  ParsedFeed cidr(FeedFormat::kCsv, "CIDR,action\n10.9.0.0/16,log\n");
  ASSERT_NE(cidr.address("10.9.0.0/16"), nullptr);
  EXPECT_EQ(cidr.address("10.9.0.0/16")->action, Action::kLog);
  EXPECT_EQ(detect_format("ip,action\n10.9.0.0/16,log\n"), FeedFormat::kCsv);
}

TEST(FeedJsonl, IpFieldGivesAnAddressRule) {
  ParsedFeed feed(FeedFormat::kJsonl,
                  "{\"ip\": \"39.98.228.46\", \"action\": \"drop\", \"expires\": 1900000000}\n"
                  "{\"cidr\": \"fd00::/8\"}\n");
  EXPECT_EQ(feed.messages(), "");
  ASSERT_NE(feed.address("39.98.228.46/32"), nullptr);
  EXPECT_EQ(feed.address("39.98.228.46/32")->expires, 1900000000);
  ASSERT_NE(feed.address("fd00::/8"), nullptr);
}

TEST(FeedCsv, ReportsAnUnterminatedQuote) {
  ParsedFeed feed(FeedFormat::kCsv, "domain\n\"open.example\n");
  EXPECT_EQ(feed.messages(), "feed.txt:2: unterminated quoted field\n");
}

TEST(FeedCsv, AHugeLineIsOneError) {
  ParsedFeed feed(FeedFormat::kCsv, "domain,campaign\nbefore.example,x\n" +
                                        std::string(100 * 1024, 'q') + ",x\nafter.example,x\n");
  EXPECT_EQ(feed.errors(), 1u) << feed.messages();
  EXPECT_NE(feed.messages().find("feed.txt:3: line is"), std::string::npos);
  EXPECT_NE(feed.self("after.example"), nullptr);
}

// ---- JSON Lines ----

TEST(FeedJsonl, ReadsTheSameFieldsAsCsv) {
  ParsedFeed feed(FeedFormat::kJsonl,
                  "{\"domain\": \"cc.example\", \"action\": \"sinkhole\", \"sinkhole\": "
                  "[\"ignored\"]}\n"
                  "{\"domain\":\"bücher.example\",\"confidence\":75,\"category\":\"phishing\","
                  "\"first_seen\":\"2024-01-02T03:04:05Z\",\"expires\":1893456000,\"extra\":true,"
                  "\"campaign\":null}\r\n"
                  "\n"
                  "  { \"domain\" : \"\\u0062ad.example\" , \"kind\" : \"exact\" , "
                  "\"redirect\" : \"warn.example\" }  \n");
  EXPECT_EQ(feed.errors(), 1u) << feed.messages();
  EXPECT_EQ(feed.added(), 2u);
  EXPECT_NE(feed.messages().find("feed.txt:1: invalid JSON object: field \"sinkhole\" has a nested "
                                 "value"),
            std::string::npos)
      << feed.messages();

  const Rule* idn = feed.self("xn--bcher-kva.example");
  ASSERT_NE(idn, nullptr);
  EXPECT_EQ(idn->confidence, 75);
  EXPECT_EQ(idn->first_seen, 1704164645);
  EXPECT_EQ(idn->expires, 1893456000);
  EXPECT_EQ(idn->campaign, 0u);
  EXPECT_EQ(feed.rules().categories().at(idn->category), "phishing");

  const Rule* bad = feed.self("bad.example");
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->kind, RuleKind::kExact);
  EXPECT_EQ(bad->action, Action::kRedirect);
  EXPECT_EQ(bad->data, wire("warn.example"));
}

TEST(FeedJsonl, RejectsAnythingButOneFlatObjectPerLine) {
  const char* bad_lines[] = {
      "[\"x.example\"]",
      "{\"domain\": \"x.example\"",
      "{\"domain\": \"x.example\"} trailing",
      "{\"domain\": 'x.example'}",
      "{\"domain\": \"x.example\", }",
      "{\"domain\": \"x.example\", \"domain\": \"y.example\"}",
      "{\"domain\": \"x.example\", \"confidence\": 01}",
      "{\"domain\": \"x.example\", \"confidence\": 1.}",
      "{\"domain\": \"x\\q.example\"}",
      "{\"domain\": \"\\ud800.example\"}",
      "{\"domain\": \"x.example\", \"meta\": {\"a\": 1}}",
      "{\"domain\": \"x.example\", \"confidence\": true}",
      "{\"domain\": \"x.example\", \"confidence\": 9.5}",
      "{domain: \"x.example\"}",
  };
  std::string content;
  for (const char* line : bad_lines) content += std::string(line) + "\n";
  content += "{\"domain\": \"good.example\"}\n";
  ParsedFeed feed(FeedFormat::kJsonl, content);
  EXPECT_EQ(feed.errors(), std::size(bad_lines)) << feed.messages();
  EXPECT_EQ(feed.added(), 1u);
  EXPECT_NE(feed.self("good.example"), nullptr);
  // Every message names its own line.
  for (std::size_t i = 1; i <= std::size(bad_lines); ++i)
    EXPECT_NE(feed.messages().find("feed.txt:" + std::to_string(i) + ": "), std::string::npos)
        << i << "\n"
        << feed.messages();
}

TEST(FeedJsonl, AppliesTheAllowlistRole) {
  FeedDefaults defaults;
  defaults.allowlist = true;
  ParsedFeed feed(FeedFormat::kJsonl, "{\"domain\": \"ok.example\", \"action\": \"drop\"}\n",
                  defaults);
  ASSERT_NE(feed.self("ok.example"), nullptr);
  EXPECT_EQ(feed.self("ok.example")->action, Action::kAllow);
}

}  // namespace
}  // namespace dnsverdict
