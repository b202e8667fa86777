// The inspection commands (lookup, info, dump) run as the real `dnsverdict` program against
// stores built through the real compiler code: what they print, and their exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "store_format.h"
#include "test_support.h"

extern char** environ;

namespace dnsverdict {
namespace {

using testing::TempDir;
using testing::TestFeed;

using testing::CliRun;
using testing::run_cli;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& candidate : lines_of(text))
    if (candidate == line) return true;
  return false;
}

// The records of an RPZ dump: no comments, no SOA (its serial is the build time).
std::string rpz_records(const std::string& zone) {
  std::string records;
  for (const auto& line : lines_of(zone)) {
    if (line.empty() || line[0] == ';' || line.find(" SOA ") != std::string::npos) continue;
    records += line.substr(0, line.find(" ;")) + "\n";
  }
  return records;
}

FeedDefaults list_defaults(Action action, std::string campaign = {}, std::string category = {}) {
  FeedDefaults defaults;
  defaults.action = action;
  defaults.campaign = std::move(campaign);
  defaults.category = std::move(category);
  return defaults;
}

const std::string kRpzFeed =
    "$TTL 300\n"
    "$ORIGIN rpz.test.\n"
    "@ SOA localhost. hostmaster.localhost. 1 3600 600 604800 300\n"
    "@ NS localhost.\n"
    "exact.example CNAME .\n"
    "*.wild.example CNAME .\n"
    "nodata.example CNAME *.\n"
    "drop.example CNAME rpz-drop.\n"
    "tcp.example CNAME rpz-tcp-only.\n"
    "pass.example CNAME rpz-passthru.\n"
    "sink.example A 192.0.2.1\n"
    "sink.example AAAA 2001:db8::1\n"
    "redirect.example CNAME walled.garden.example.\n"
    "both.example CNAME .\n"
    "*.both.example CNAME *.\n"
    "mail.evil.example A 192.0.2.53\n";

class CliInspect : public ::testing::Test {
 protected:
  // lookup grades rules with the module config at $DNSVERDICT_CONFIG: one in the test's own
  // folder (missing unless a test writes it), never the host's.
  void SetUp() override { setenv("DNSVERDICT_CONFIG", dir_.file("dnsverdict.conf").c_str(), 1); }
  void TearDown() override { unsetenv("DNSVERDICT_CONFIG"); }
  std::string build(const std::vector<TestFeed>& feeds, const std::string& name = "store.mdb") {
    return testing::build_store(dir_.file(name), feeds);
  }
  // A store with RPZ rules of every kind, a subtree blocklist under a campaign and category,
  // and an allowlist.
  std::string build_mixed() {
    TestFeed rpz{FeedFormat::kRpz, kRpzFeed, {}, "policy.rpz"};
    TestFeed list{FeedFormat::kDomains, "evil.example\n",
                  list_defaults(Action::kNxdomain, "fancy", "malware"), "list.txt"};
    FeedDefaults allow;
    allow.allowlist = true;
    TestFeed allowlist{FeedFormat::kDomains, "good.evil.example\n", allow, "allow.txt"};
    return build({rpz, list, allowlist});
  }
  CliRun run(std::vector<std::string> args) { return run_cli(dir_, std::move(args)); }

  TempDir dir_;
};

// ---- lookup -----------------------------------------------------------------------------

TEST_F(CliInspect, LookupReportsExactRulesAndMisses) {
  std::string store = build_mixed();
  CliRun result = run({"lookup", store, "exact.example", "www.exact.example", "unlisted.test"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "exact.example: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  matched     exact.example (exact rule)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  source      policy.rpz (rpz, block)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "www.exact.example: no rule")) << result.out;
  EXPECT_TRUE(has_line(result.out, "unlisted.test: no rule")) << result.out;
}

TEST_F(CliInspect, LookupReportsSubtreeRulesWithCampaignAndCategory) {
  std::string store = build_mixed();
  CliRun result = run({"lookup", store, "evil.example", "a.b.evil.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "evil.example: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "a.b.evil.example: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  matched     evil.example (subtree rule)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  campaign    fancy")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  category    malware")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  source      list.txt (domains, block)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  confidence  100")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  expires     never")) << result.out;
}

TEST_F(CliInspect, LookupReportsWildcardsBelowTheNameOnly) {
  std::string store = build_mixed();
  CliRun result = run({"lookup", store, "wild.example", "x.y.wild.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "wild.example: no rule")) << result.out;
  EXPECT_TRUE(has_line(result.out, "x.y.wild.example: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  matched     wild.example (wildcard rule)")) << result.out;
}

TEST_F(CliInspect, LookupMostSpecificRuleWins) {
  std::string store = build_mixed();
  CliRun result = run({"lookup", store, "mail.evil.example", "www.mail.evil.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "mail.evil.example: sinkhole (answers with sinkhole addresses)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "  answer      192.0.2.53 (the rule's addresses)"))
      << result.out;
  // The sinkhole rule is exact: below it the blocklist's subtree rule applies again.
  EXPECT_TRUE(has_line(result.out, "www.mail.evil.example: nxdomain (answers NXDOMAIN)"))
      << result.out;
}

TEST_F(CliInspect, LookupSaysWhenANameIsAllowlisted) {
  std::string store = build_mixed();
  CliRun result = run({"lookup", store, "good.evil.example", "pass.example", "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  EXPECT_NE(lines[0].find("\"action\":\"allow\",\"blocking\":false,\"allowlist\":true"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"action\":\"allow\",\"blocking\":false,\"allowlist\":false"),
            std::string::npos)
      << lines[1];

  result = run({"lookup", store, "good.evil.example"});
  EXPECT_TRUE(has_line(result.out,
                       "good.evil.example: allow (resolves normally: allowlisted, passes whatever "
                       "blocks it)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "  source      allow.txt (domains, allow)")) << result.out;
}

TEST_F(CliInspect, LookupSkipsExpiredRulesAndSaysSo) {
  FeedDefaults expiring = list_defaults(Action::kDrop);
  expiring.expires = 1700000000;  // 2023-11-14T22:13:20Z
  std::string store = build({{FeedFormat::kDomains, "old.example\n", expiring, "old.txt"},
                             {FeedFormat::kDomains, "example\n", list_defaults(Action::kLog)}});
  CliRun result = run({"lookup", store, "www.old.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "www.old.example: log (resolves normally, the query is logged)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out,
                       "  expired     not applied: the subtree drop rule on old.example expired "
                       "2023-11-14T22:13:20Z"))
      << result.out;

  // Before the expiry the rule applies.
  result = run({"lookup", "--at", "2023-11-01", store, "www.old.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "www.old.example: drop (drops the query, no answer)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "  expires     2023-11-14T22:13:20Z")) << result.out;
  result = run({"lookup", "--at=1699999999", "--json", store, "www.old.example"});
  EXPECT_NE(result.out.find("\"at\":\"2023-11-14T22:13:19Z\",\"match\":true,\"action\":\"drop\""),
            std::string::npos)
      << result.out;
  result = run({"lookup", "--at", "+1d", store, "old.example", "--json"});
  EXPECT_NE(result.out.find("\"expired_rule\":{\"owner\":\"old.example\",\"kind\":\"subtree\","
                            "\"action\":\"drop\",\"expires\":\"2023-11-14T22:13:20Z\"}"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(run({"lookup", "--at", "yesterday", store, "old.example"}).status, 2);
  // The times of every command: a bare offset looks back, as `stats --since 48h`.
  for (const char* at : {"7d", "-7d", "now", "2023-11-14T22:13Z"})
    EXPECT_EQ(run({"lookup", "--at", at, store, "old.example"}).status, 0) << at;
  result = run({"lookup", "--at", "-3000d", "--json", store, "old.example"});
  EXPECT_NE(result.out.find("\"action\":\"drop\""), std::string::npos) << result.out;
}

TEST_F(CliInspect, LookupJsonGivesOneObjectPerName) {
  std::string store = build_mixed();
  CliRun result =
      run({"lookup", "--json", store, "sink.example", "redirect.example", "nowhere.test"});
  ASSERT_EQ(result.status, 0) << result.err;
  auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  EXPECT_NE(lines[0].find("\"name\":\"sink.example\""), std::string::npos) << lines[0];
  EXPECT_NE(
      lines[0].find("\"addresses\":[\"192.0.2.1\",\"2001:db8::1\"],\"addresses_from\":\"rule\""),
      std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"action\":\"redirect\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"target\":\"walled.garden.example\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"name\":\"nowhere.test\""), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("\"match\":false"), std::string::npos) << lines[2];
  for (const auto& line : lines) {
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
  }
}

TEST_F(CliInspect, LookupNormalisesNamesLikeFeeds) {
  std::string store = build({{FeedFormat::kDomains, "Evil.Example.\nbücher.example\n",
                              list_defaults(Action::kNxdomain)}});
  CliRun result = run({"lookup", store, "WWW.EVIL.example.", "BÜCHER.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "www.evil.example: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "xn--bcher-kva.example: nxdomain (answers NXDOMAIN)"))
      << result.out;
}

TEST_F(CliInspect, LookupOfAnInvalidNameIsAnErrorButTheOthersRun) {
  std::string store = build_mixed();
  std::string long_label(64, 'a');
  CliRun result = run({"lookup", store, long_label + ".example", "exact.example"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find(long_label + ".example: error: "), std::string::npos) << result.out;
  EXPECT_TRUE(has_line(result.out, "exact.example: nxdomain (answers NXDOMAIN)")) << result.out;
}

FeedDefaults graded_defaults(Action action, std::uint8_t confidence) {
  FeedDefaults defaults = list_defaults(action);
  defaults.confidence = confidence;
  return defaults;
}

// Rules below the module's confidence thresholds: the resolver tags or only logs them.
class CliLookupGrading : public CliInspect {
 protected:
  std::string build_graded() {
    return build({{FeedFormat::kDomains, "mid.example\n", graded_defaults(Action::kNxdomain, 65)},
                  {FeedFormat::kDomains, "low.example\n", graded_defaults(Action::kNxdomain, 30)},
                  {FeedFormat::kDomains, "high.example\n", graded_defaults(Action::kNxdomain, 90)},
                  {FeedFormat::kDomains, "sink.example\n", graded_defaults(Action::kSinkhole, 60)}});
  }
};

TEST_F(CliLookupGrading, WithoutAConfigFileTheBuiltInThresholdsApplyAndLookupSaysSo) {
  std::string store = build_graded();
  CliRun result = run({"lookup", store, "www.mid.example", "low.example", "high.example",
                       "sink.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "www.mid.example: tag (resolves normally, the query is tagged)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out,
                       "  rule action nxdomain (not applied: confidence 65 is below "
                       "confidence-block 80)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "low.example: log (resolves normally, the query is logged)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out,
                       "  rule action nxdomain (not applied: confidence 30 is below "
                       "confidence-tag 50)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "high.example: nxdomain (answers NXDOMAIN)")) << result.out;
  // A tagged sinkhole rule answers with the real addresses: no sinkhole answer line.
  EXPECT_TRUE(has_line(result.out, "sink.example: tag (resolves normally, the query is tagged)"))
      << result.out;
  EXPECT_EQ(result.out.find("  answer"), std::string::npos) << result.out;
  EXPECT_EQ(result.err,
            "dnsverdict lookup: note: " + dir_.file("dnsverdict.conf") +
                " does not exist: grading with the built-in thresholds (confidence-tag 50, "
                "confidence-block 80)\n");
}

TEST_F(CliLookupGrading, ThresholdsComeFromTheModuleConfig) {
  std::string store = build_graded();
  // $DNSVERDICT_CONFIG, as the module reads it.
  dir_.write("dnsverdict.conf", "confidence-tag: 20\nconfidence-block: 60\n");
  CliRun result = run({"lookup", store, "mid.example", "low.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_TRUE(has_line(result.out, "mid.example: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "low.example: tag (resolves normally, the query is tagged)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out,
                       "  rule action nxdomain (not applied: confidence 30 is below "
                       "confidence-block 60)"))
      << result.out;

  // --config wins over $DNSVERDICT_CONFIG.
  std::string strict = dir_.write("strict.conf", "confidence-tag: 0\nconfidence-block: 0\n");
  result = run({"lookup", "--config", strict, store, "low.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "low.example: nxdomain (answers NXDOMAIN)")) << result.out;
}

TEST_F(CliLookupGrading, JsonGivesTheAppliedAndTheRuleAction) {
  std::string store = build_graded();
  CliRun result = run({"lookup", "--json", store, "mid.example", "high.example", "low.example"});
  ASSERT_EQ(result.status, 0) << result.err;
  auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  EXPECT_NE(lines[0].find("\"action\":\"tag\",\"blocking\":false,\"allowlist\":false,"
                          "\"rule_action\":\"nxdomain\",\"note\":\"below-block-threshold\","),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"action\":\"nxdomain\",\"blocking\":true,\"allowlist\":false,"
                          "\"rule_action\":\"nxdomain\",\"owner\":"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("\"action\":\"log\",\"blocking\":false,\"allowlist\":false,"
                          "\"rule_action\":\"nxdomain\",\"note\":\"below-tag-threshold\","),
            std::string::npos)
      << lines[2];
}

TEST_F(CliLookupGrading, ClientGroupsGradeAsTheModuleDoesForThatClient) {
  FeedDefaults adult = list_defaults(Action::kNxdomain);
  adult.category = "Adult";
  FeedDefaults malware = list_defaults(Action::kNxdomain);
  malware.category = "malware";
  std::string store = build({{FeedFormat::kDomains, "adult.example\n", adult},
                             {FeedFormat::kDomains, "malware.example\n", malware}});
  std::string conf = dir_.write("groups.conf",
                                "client-group: kids 10.4.0.0/16\n"
                                "client-group: pilot 10.3.0.0/16\ngroup-mode: pilot monitor\n"
                                "group-categories: default malware\n"
                                "group-categories: kids malware adult\nexempt: 10.2.0.1\n");
  CliRun ungrouped = run({"lookup", "--config", conf, store, "adult.example"});
  ASSERT_EQ(ungrouped.status, 0) << ungrouped.err;
  EXPECT_TRUE(has_line(ungrouped.out, "adult.example: allow (resolves normally: the rule does "
                                      "not apply to this client)"))
      << ungrouped.out;
  EXPECT_TRUE(has_line(ungrouped.out, "  rule action nxdomain (not applied: not among client "
                                      "group default's categories and campaigns)"))
      << ungrouped.out;
  EXPECT_TRUE(has_line(ungrouped.out, "  group       default (a client in no group)"))
      << ungrouped.out;
  CliRun kids = run({"lookup", "--config", conf, "--client", "10.4.1.1", store, "adult.example"});
  EXPECT_TRUE(has_line(kids.out, "adult.example: nxdomain (answers NXDOMAIN)")) << kids.out;
  EXPECT_TRUE(has_line(kids.out, "  group       kids (client 10.4.1.1)")) << kids.out;
  CliRun pilot = run({"lookup", "--config", conf, "--client", "10.3.0.9", "--json", store,
                      "malware.example"});
  EXPECT_NE(pilot.out.find("\"action\":\"log\",\"blocking\":false,\"allowlist\":false,"
                           "\"rule_action\":\"nxdomain\",\"note\":\"monitor-group\","
                           "\"group\":\"pilot\""),
            std::string::npos)
      << pilot.out;
  CliRun exempt = run({"lookup", "--config", conf, "--client", "10.2.0.1", store,
                       "malware.example"});
  EXPECT_TRUE(has_line(exempt.out, "  rule action nxdomain (not applied: the client is exempt)"))
      << exempt.out;
  CliRun bad = run({"lookup", "--config", conf, "--client", "ten", store, "adult.example"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--client: not an IPv4 or IPv6 address: 'ten'"), std::string::npos);
}

TEST_F(CliLookupGrading, AnUnusableConfigIsAnError) {
  std::string store = build_graded();
  std::string bad = dir_.write("bad.conf", "\nconfidence-block: 120\n");
  CliRun result = run({"lookup", "--config", bad, store, "mid.example"});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, "dnsverdict lookup: " + bad + ":2: confidence-block: expected 0 to 101\n");
  EXPECT_EQ(result.out, "");

  // A file named with --config must exist; only the default one ($DNSVERDICT_CONFIG, else
  // /etc/dnsverdict/dnsverdict.conf) may be missing.
  result = run({"lookup", "--config", dir_.file("missing.conf"), store, "mid.example"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find(dir_.file("missing.conf") + ": cannot read"), std::string::npos)
      << result.err;
}

// ---- errors and usage, every command --------------------------------------------------

TEST_F(CliInspect, AMissingOrBrokenStoreIsAOneLineErrorNamingThePath) {
  std::string missing = dir_.file("missing.mdb");
  std::string broken = dir_.write("broken.mdb", std::string(8192, 'x'));
  for (const std::string& path : {missing, broken}) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"lookup", path, "a.example"}, {"info", path}, {"dump", path}}) {
      CliRun result = run(args);
      EXPECT_EQ(result.status, 1) << args[0] << " " << path;
      EXPECT_NE(result.err.find(path), std::string::npos) << result.err;
      EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
      EXPECT_EQ(result.out, "");
    }
  }
}

TEST_F(CliInspect, HelpAndUsageErrors) {
  std::string store = build_mixed();
  for (const char* command : {"lookup", "info", "dump"}) {
    CliRun help = run({command, "--help"});
    EXPECT_EQ(help.status, 0) << command;
    EXPECT_EQ(help.out.rfind(std::string("usage: dnsverdict ") + command, 0), 0u) << help.out;
    EXPECT_NE(help.out.find("exit codes: 0"), std::string::npos) << help.out;
    EXPECT_EQ(run({command}).status, 2) << command;
    EXPECT_EQ(run({command, store, "--bogus"}).status, 2) << command;
  }
  EXPECT_EQ(run({"lookup", store}).status, 2);
  EXPECT_EQ(run({"info", store, store}).status, 2);
  EXPECT_EQ(run({"dump", "--format", "bind", store}).status, 2);
  EXPECT_EQ(run({"dump", "--origin", "bad..origin", store}).status, 2);
}

// ---- info ---------------------------------------------------------------------------------

TEST_F(CliInspect, InfoReportsMetadataCountsAndSources) {
  std::string store = build_mixed();
  CliRun result = run({"info", store});
  ASSERT_EQ(result.status, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_TRUE(has_line(out, "store             " + store)) << out;
  EXPECT_TRUE(has_line(out, "format version    " + std::to_string(kStoreFormatVersion))) << out;
  // 11 RPZ rules (sink.example's A and AAAA are one rule), the list's subtree, the allowlist;
  // both.example's two rules share a name.
  EXPECT_TRUE(has_line(out, "rules             13 under 12 names")) << out;
  EXPECT_NE(out.find("bytes per rule"), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "  nxdomain  4")) << out;
  EXPECT_TRUE(has_line(out, "  sinkhole  2")) << out;
  EXPECT_TRUE(has_line(out, "  allow     2")) << out;
  EXPECT_TRUE(has_line(out, "  exact     9")) << out;
  EXPECT_TRUE(has_line(out, "  subtree   2")) << out;
  EXPECT_TRUE(has_line(out, "  wildcard  2")) << out;
  EXPECT_NE(out.find("policy.rpz  rpz"), std::string::npos) << out;
  EXPECT_NE(out.find("allow.txt   domains  allow"), std::string::npos) << out;
  EXPECT_NE(out.find("fancy"), std::string::npos) << out;
  EXPECT_NE(out.find("malware"), std::string::npos) << out;

  result = run({"info", "--json", store});
  ASSERT_EQ(result.status, 0) << result.err;
  ASSERT_EQ(lines_of(result.out).size(), 1u);
  const std::string& json = result.out;
  EXPECT_EQ(json.rfind("{\"path\":", 0), 0u) << json;
  EXPECT_NE(json.find("\"format_version\":" + std::to_string(kStoreFormatVersion) + ","),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"rules\":13,\"keys\":12,"), std::string::npos) << json;
  EXPECT_NE(
      json.find("\"actions\":{\"nxdomain\":4,\"nodata\":2,\"refuse\":0,\"drop\":1,"
                "\"sinkhole\":2,\"redirect\":1,\"log\":0,\"tag\":0,\"allow\":2,\"tcp-only\":1}"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find("\"kinds\":{\"exact\":9,\"subtree\":2,\"wildcard\":2}"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"file\":\"policy.rpz\",\"format\":\"rpz\",\"role\":\"block\",\"rules\":11"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"name\":\"fancy\",\"default_action\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"categories\":[{\"id\":1,\"name\":\"malware\"}]"), std::string::npos)
      << json;
}

TEST_F(CliInspect, InfoListsSkippedTriggers) {
  std::string store = build({{FeedFormat::kRpz,
                              "$ORIGIN rpz.test.\n"
                              "@ SOA localhost. h.localhost. 1 1 1 1 1\n"
                              "24.1.2.0.192.rpz-ip CNAME .\n"
                              "ns.evil.rpz-nsdname CNAME .\n"
                              "32.zz.1.rpz-client-ip CNAME .\n"
                              "a.example CNAME .\n"}});
  CliRun result = run({"info", store});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("skipped triggers"), std::string::npos) << result.out;
  EXPECT_TRUE(has_line(result.out, "  rpz-client-ip  1")) << result.out;
  EXPECT_EQ(result.out.find("  rpz-nsdname"), std::string::npos) << result.out;  // kept
  EXPECT_TRUE(has_line(result.out, "name-server rules 1 by name, 0 by address")) << result.out;
  EXPECT_TRUE(has_line(result.out, "address rules     1 IPv4, 0 IPv6 prefixes")) << result.out;
  CliRun json = run({"info", "--json", store});
  EXPECT_NE(json.out.find("\"address_rules\":{\"ipv4\":1,\"ipv6\":0}"), std::string::npos)
      << json.out;
}

// ---- address rules ------------------------------------------------------------------------

constexpr const char* kAddressFeed =
    "domain,ip,action,campaign,confidence,expires\n"
    ",47.100.164.28,sinkhole,lookalike,95,\n"
    ",47.100.0.0/16,log,,100,\n"
    ",10.0.0.0/8,drop,,40,\n"
    ",10.1.0.0/16,refuse,,100,2020-01-01\n"
    ",2001:db8::/32,nxdomain,,100,\n"
    "evil.example,,nxdomain,,100,\n";

TEST_F(CliInspect, LookupFindsTheLongestAddressRule) {
  std::string store = build({{FeedFormat::kCsv, kAddressFeed, {}, "addresses.csv"}});
  CliRun result = run({"lookup", store, "47.100.164.28", "47.100.1.1", "2001:db8::1", "192.0.2.1",
                       "::ffff:47.100.164.28"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "47.100.164.28: sinkhole (answers with sinkhole addresses)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "  matched     47.100.164.28/32 (address rule)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  campaign    lookalike")) << result.out;
  EXPECT_TRUE(has_line(result.out, "47.100.1.1: log (resolves normally, the query is logged)"))
      << result.out;
  EXPECT_TRUE(has_line(result.out, "  matched     47.100.0.0/16 (address rule)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "2001:db8::1: nxdomain (answers NXDOMAIN)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "  matched     2001:db8::/32 (address rule)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "192.0.2.1: no rule")) << result.out;
  EXPECT_TRUE(has_line(result.out, "::ffff:47.100.164.28: no rule")) << result.out;
}

TEST_F(CliInspect, LookupGradesAddressRulesAndReportsExpiredOnes) {
  std::string store = build({{FeedFormat::kCsv, kAddressFeed, {}, "addresses.csv"}});
  CliRun result = run({"lookup", store, "10.1.2.3", "10.0.0.0/8", "10.1.0.0/16", "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  // Confidence 40 is below the default confidence-tag: the module only logs.
  EXPECT_NE(lines[0].find("\"action\":\"log\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"rule_action\":\"drop\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"owner\":\"10.0.0.0/8\",\"kind\":\"address\""), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("\"expired_rule\":{\"owner\":\"10.1.0.0/16\""), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"rules_inside\":1"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"owner\":\"10.0.0.0/8\""), std::string::npos) << lines[2];
  CliRun bad = run({"lookup", store, "10.1.2.3/8", "300.1.1.1"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_TRUE(has_line(bad.out, "10.1.2.3/8: error: host bits set (the network is 10.0.0.0/8)"))
      << bad.out;
}

TEST_F(CliInspect, DumpExportsAddressRules) {
  std::string store = build({{FeedFormat::kCsv, kAddressFeed, {}, "addresses.csv"}});
  CliRun rpz = run({"dump", store});
  ASSERT_EQ(rpz.status, 0) << rpz.err;
  EXPECT_TRUE(has_line(rpz.out, "; 32.28.164.100.47.rpz-ip: sinkhole to the module's default "
                                "addresses (none in the store), left out"))
      << rpz.out;
  EXPECT_TRUE(has_line(rpz.out, "32.zz.db8.2001.rpz-ip CNAME .")) << rpz.out;
  EXPECT_TRUE(has_line(rpz.out, "16.0.0.100.47.rpz-ip CNAME rpz-passthru. ; log: no RPZ "
                                "equivalent, exported as passthru"))
      << rpz.out;
  CliRun csv = run({"dump", "--format", "csv", store});
  ASSERT_EQ(csv.status, 0) << csv.err;
  EXPECT_TRUE(has_line(csv.out, ",47.100.164.28,,sinkhole,,lookalike,95,,,")) << csv.out;
  EXPECT_TRUE(has_line(csv.out, ",2001:db8::/32,,nxdomain,,,100,,,")) << csv.out;
  // The CSV compiles back into the same store.
  std::string again = build({{FeedFormat::kCsv, csv.out, {}, "addresses.csv"}}, "again.mdb");
  CliRun first = run({"dump", "--format", "csv", again});
  EXPECT_EQ(first.out, csv.out);
}

// ---- dump ---------------------------------------------------------------------------------

TEST_F(CliInspect, DumpRpzWritesEveryActionAndKind) {
  std::string store = build_mixed();
  CliRun result = run({"dump", store});
  ASSERT_EQ(result.status, 0) << result.err;
  const std::string& zone = result.out;
  EXPECT_TRUE(has_line(zone, "$ORIGIN rpz.dnsverdict.")) << zone;
  EXPECT_TRUE(has_line(zone, "@ NS localhost.")) << zone;
  for (const char* line :
       {"exact.example CNAME .", "*.wild.example CNAME .", "nodata.example CNAME *.",
        "drop.example CNAME rpz-drop.", "tcp.example CNAME rpz-tcp-only.",
        "pass.example CNAME rpz-passthru.", "sink.example A 192.0.2.1",
        "sink.example AAAA 2001:db8::1", "redirect.example CNAME walled.garden.example.",
        "both.example CNAME .", "*.both.example CNAME *.", "evil.example CNAME .",
        "*.evil.example CNAME .", "good.evil.example CNAME rpz-passthru.",
        "*.good.evil.example CNAME rpz-passthru.", "mail.evil.example A 192.0.2.53"})
    EXPECT_TRUE(has_line(zone, line)) << line << "\n" << zone;
  EXPECT_FALSE(has_line(zone, "wild.example CNAME .")) << zone;
  EXPECT_FALSE(has_line(zone, "*.exact.example CNAME .")) << zone;
}

TEST_F(CliInspect, DumpRpzMarksWhatRpzCannotSay) {
  FeedDefaults expired = list_defaults(Action::kNxdomain);
  expired.expires = 1700000000;
  std::string store =
      build({{FeedFormat::kDomains, "logged.example\n", list_defaults(Action::kLog)},
             {FeedFormat::kDomains, "tagged.example\n", list_defaults(Action::kTag)},
             {FeedFormat::kDomains, "refused.example\n", list_defaults(Action::kRefuse)},
             {FeedFormat::kDomains, "nowhere.example\n", list_defaults(Action::kSinkhole)},
             {FeedFormat::kDomains, "gone.example\n", expired}});
  CliRun result = run({"dump", "--origin", "Zone.Test.", store});
  ASSERT_EQ(result.status, 0) << result.err;
  const std::string& zone = result.out;
  EXPECT_TRUE(has_line(zone, "$ORIGIN zone.test.")) << zone;
  EXPECT_TRUE(has_line(zone,
                       "logged.example CNAME rpz-passthru. ; log: no RPZ equivalent, "
                       "exported as passthru"))
      << zone;
  EXPECT_TRUE(has_line(zone,
                       "*.tagged.example CNAME rpz-passthru. ; tag: no RPZ equivalent, "
                       "exported as passthru"))
      << zone;
  EXPECT_TRUE(has_line(zone,
                       "refused.example CNAME . ; refuse: no RPZ equivalent, exported as "
                       "nxdomain"))
      << zone;
  EXPECT_TRUE(has_line(zone,
                       "; nowhere.example: sinkhole to the module's default addresses "
                       "(none in the store), left out"))
      << zone;
  EXPECT_EQ(zone.find("gone.example"), std::string::npos) << zone;
  EXPECT_TRUE(has_line(zone, "; 1 expired rules left out")) << zone;
  EXPECT_NE(result.err.find("1 expired rules left out"), std::string::npos) << result.err;
}

TEST_F(CliInspect, DumpRpzExportsWhatTheModuleOnlyTagsOrLogsAsPassthruAndSaysSo) {
  FeedDefaults mid = list_defaults(Action::kNxdomain);
  mid.confidence = 65;
  FeedDefaults low = list_defaults(Action::kSinkhole);
  low.confidence = 40;
  std::string store =
      build({{FeedFormat::kDomains, "mid.example\n", mid},
             {FeedFormat::kDomains, "low.example\n", low},
             {FeedFormat::kDomains, "logged.example\n", list_defaults(Action::kLog)},
             {FeedFormat::kDomains, "refused.example\n", list_defaults(Action::kRefuse)},
             {FeedFormat::kDomains, "high.example\n", list_defaults(Action::kNxdomain)}});
  std::string config = dir_.write("dnsverdict.conf", "confidence-tag: 50\nconfidence-block: 80\n");
  CliRun result = run({"dump", "--config", config, store});
  ASSERT_EQ(result.status, 0) << result.err;
  const std::string& zone = result.out;
  EXPECT_TRUE(has_line(zone,
                       "mid.example CNAME rpz-passthru. ; nxdomain at confidence 65: the module "
                       "only tags it (below confidence-block 80), exported as passthru"))
      << zone;
  EXPECT_TRUE(has_line(zone,
                       "*.low.example CNAME rpz-passthru. ; sinkhole at confidence 40: the module "
                       "only logs it (below confidence-tag 50), exported as passthru"))
      << zone;
  EXPECT_TRUE(has_line(zone, "high.example CNAME .")) << zone;
  EXPECT_EQ(result.err,
            "dnsverdict dump: 1 log and tag rules exported as passthru (RPZ cannot log or tag)\n"
            "dnsverdict dump: 2 blocking rules below confidence-block 80 exported as passthru "
            "(the module only tags or logs them)\n"
            "dnsverdict dump: 1 refuse rules exported as nxdomain (RPZ cannot refuse)\n");

  // The thresholds are the module config's: a lower confidence-block blocks mid.example.
  config = dir_.write("lower.conf", "confidence-tag: 30\nconfidence-block: 60\n");
  result = run({"dump", "--config", config, store});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, "mid.example CNAME .")) << result.out;
}

TEST_F(CliInspect, DumpRpzRoundTripsThroughTheRpzParser) {
  std::string store = build_mixed();
  CliRun first = run({"dump", "-o", dir_.file("first.rpz"), store});
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(first.out, "");
  std::string zone = testing::read_file(dir_.file("first.rpz"));

  Diagnostics diagnostics(0, nullptr);
  RuleSet reparsed =
      testing::parse_feeds({{FeedFormat::kRpz, zone, {}, "first.rpz"}}, &diagnostics);
  EXPECT_EQ(diagnostics.errors(), 0u) << diagnostics.messages();
  EXPECT_EQ(diagnostics.warnings(), 0u) << diagnostics.messages();

  std::string second_store =
      testing::build_store(dir_.file("second.mdb"), {{FeedFormat::kRpz, zone, {}, "first.rpz"}});
  CliRun second = run({"dump", second_store});
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(rpz_records(second.out), rpz_records(zone));
}

TEST_F(CliInspect, DumpCsvWritesEveryFieldTheParserReads) {
  std::string store =
      build({{FeedFormat::kCsv,
              "domain,action,category,campaign,confidence,first_seen,expires,data\n"
              "a.example,drop,\"c2, botnet\",Fancy,80,2024-01-02,2030-01-01T00:00:00Z,\n"
              "*.b.example,sinkhole,,,90,,,192.0.2.7;2001:db8::7\n"
              "c.example,redirect,,,,,,Walled.Garden.example.\n",
              {},
              "indicators.csv"}});
  CliRun result = run({"dump", "--format", "csv", store});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out,
            "domain,ip,kind,action,category,campaign,confidence,first_seen,expires,data\n"
            "a.example,,subtree,drop,\"c2, botnet\",Fancy,80,2024-01-02T00:00:00Z,"
            "2030-01-01T00:00:00Z,\n"
            "b.example,,wildcard,sinkhole,,,90,,,192.0.2.7 2001:db8::7\n"
            "c.example,,subtree,redirect,,,100,,,walled.garden.example\n");
}

TEST_F(CliInspect, DumpCsvRoundTripsThroughTheCsvParser) {
  FeedDefaults expiring = list_defaults(Action::kNodata, "", "old");
  expiring.expires = 1700000000;
  FeedDefaults allow;
  allow.allowlist = true;
  std::string store = build({{FeedFormat::kRpz, kRpzFeed, {}, "policy.rpz"},
                             {FeedFormat::kDomains, "evil.example\nexact.example\n",
                              list_defaults(Action::kNodata, "fancy", "malware"), "list.txt"},
                             {FeedFormat::kDomains, "old.example\n", expiring, "old.txt"},
                             {FeedFormat::kDomains, "good.evil.example\n", allow, "allow.txt"}},
                            "mixed.mdb");
  CliRun first = run({"dump", "--format=csv", "-o", dir_.file("first.csv"), store});
  ASSERT_EQ(first.status, 0) << first.err;
  std::string csv = testing::read_file(dir_.file("first.csv"));
  // exact.example holds the RPZ's exact rule for the name (nxdomain is stricter than nodata)
  // and the list's subtree rule below it.
  EXPECT_TRUE(has_line(csv, "exact.example,,exact,nxdomain,,,100,,,")) << csv;
  EXPECT_TRUE(has_line(csv, "exact.example,,subtree,nodata,malware,fancy,100,,,")) << csv;
  EXPECT_TRUE(has_line(csv, "old.example,,subtree,nodata,old,,100,,2023-11-14T22:13:20Z,")) << csv;

  Diagnostics diagnostics(0, nullptr);
  testing::parse_feeds({{FeedFormat::kCsv, csv, {}, "first.csv"}}, &diagnostics);
  EXPECT_EQ(diagnostics.errors() + diagnostics.warnings(), 0u) << diagnostics.messages();

  std::string second_store =
      testing::build_store(dir_.file("second.mdb"), {{FeedFormat::kCsv, csv, {}, "first.csv"}});
  CliRun second = run({"dump", "--format", "csv", second_store});
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.out, csv);
  // The same verdicts, apart from where they came from.
  for (const char* name : {"exact.example", "www.exact.example", "x.evil.example",
                           "good.evil.example", "x.both.example", "sink.example"}) {
    // A fixed --at: two runs a second apart would otherwise differ in "at".
    CliRun before = run({"lookup", "--json", "--at", "2026-01-01", store, name});
    CliRun after = run({"lookup", "--json", "--at", "2026-01-01", second_store, name});
    auto without_source = [](std::string line) {
      std::size_t start = line.find(",\"source\":");
      std::size_t end = line.find(",\"confidence\":");
      if (start != std::string::npos && end != std::string::npos) line.erase(start, end - start);
      std::size_t allowlist = line.find("\"allowlist\":true");
      if (allowlist != std::string::npos) line.replace(allowlist, 16, "\"allowlist\":false");
      return line;
    };
    EXPECT_EQ(without_source(after.out), without_source(before.out)) << name;
  }
}

TEST_F(CliInspect, DumpWritesOutputFilesReadableByOthers) {
  std::string store = build_mixed();
  std::string output = dir_.file("out.rpz");
  ASSERT_EQ(run({"dump", store, "--output=" + output}).status, 0);
  struct stat info;
  ASSERT_EQ(stat(output.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  CliRun result = run({"dump", store, "-o", dir_.file("no/such/folder/out.rpz")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("no/such/folder/out.rpz"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace dnsverdict
