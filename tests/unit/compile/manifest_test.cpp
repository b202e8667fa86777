#include <gtest/gtest.h>

#include <filesystem>

#include "dns_name.h"
#include "feed.h"
#include "store_writer.h"
#include "test_support.h"
#include "verdict_store.h"

namespace dnsverdict {
namespace {

using testing::TempDir;

// The manifest error for `content`, or "" when it was accepted.
std::string manifest_error(const TempDir& folder, const std::string& content) {
  std::string path = folder.write("test.manifest", content);
  try {
    read_manifest(path);
  } catch (const ToolError& error) {
    std::string message = error.what();
    // Drop the folder so expectations read "test.manifest:3: ...".
    return message.substr(message.find("test.manifest"));
  }
  return "";
}

TEST(Manifest, ReadsFeedsAndCampaigns) {
  TempDir folder;
  std::string path = folder.write("feeds.manifest",
                                  "\xEF\xBB\xBF# the feeds\r\n"
                                  "; also a comment\r\n"
                                  "\r\n"
                                  "[campaign lookalike-image-cc]\r\n"
                                  "description = C&C in ASN 37963; a DLL on TCP 2653 = bad\r\n"
                                  "action = sinkhole\r\n"
                                  "sinkhole = 10.66.66.66, fd00::6666\r\n"
                                  "[feed feeds/lookalike.csv]\r\n"
                                  "format = csv\r\n"
                                  "action = drop\r\n"
                                  "category = botnet-cc\r\n"
                                  "campaign = lookalike-image-cc\r\n"
                                  "confidence = 95\r\n"
                                  "kind = exact\r\n"
                                  "expires = 2030-01-01\r\n"
                                  "  [feed /srv/feeds/allow.txt]  \r\n"
                                  "role = allow\r\n"
                                  "[feed -]\r\n");
  Manifest manifest = read_manifest(path);
  ASSERT_EQ(manifest.campaigns.size(), 1u);
  const CampaignRecord& campaign = manifest.campaigns[0];
  EXPECT_EQ(campaign.name, "lookalike-image-cc");
  EXPECT_EQ(campaign.description, "C&C in ASN 37963; a DLL on TCP 2653 = bad");
  EXPECT_EQ(campaign.default_action, Action::kSinkhole);
  EXPECT_EQ(addresses_to_text(campaign.sinkhole), "10.66.66.66,fd00::6666");

  ASSERT_EQ(manifest.feeds.size(), 3u);
  const FeedSource& csv = manifest.feeds[0];
  EXPECT_EQ(csv.path, folder.path() + "/feeds/lookalike.csv");
  EXPECT_EQ(csv.format, FeedFormat::kCsv);
  EXPECT_EQ(csv.defaults.action, Action::kDrop);
  EXPECT_EQ(csv.defaults.category, "botnet-cc");
  EXPECT_EQ(csv.defaults.campaign, "lookalike-image-cc");
  EXPECT_EQ(csv.defaults.confidence, 95);
  EXPECT_EQ(csv.defaults.list_kind, RuleKind::kExact);
  EXPECT_EQ(csv.defaults.expires, 1893456000);
  EXPECT_FALSE(csv.defaults.allowlist);

  const FeedSource& allow = manifest.feeds[1];
  EXPECT_EQ(allow.path, "/srv/feeds/allow.txt");
  EXPECT_EQ(allow.format, FeedFormat::kAuto);
  EXPECT_TRUE(allow.defaults.allowlist);
  EXPECT_EQ(allow.defaults.action, std::nullopt);
  EXPECT_EQ(allow.defaults.list_kind, RuleKind::kSubtree);
  EXPECT_EQ(allow.defaults.confidence, 100);

  EXPECT_EQ(manifest.feeds[2].path, "-");
}

TEST(Manifest, ReportsTheFileAndLineOfEachMistake) {
  TempDir folder;
  struct Case {
    const char* content;
    const char* message;
  } cases[] = {
      {"# x\nformat = csv\n", "test.manifest:2: \"format\" outside a [feed] or [campaign] section"},
      {"[feeds a.txt]\n",
       "test.manifest:1: unknown section \"[feeds]\" (expected [feed PATH] or "
       "[campaign NAME])"},
      {"[feed a.txt\n", "test.manifest:1: a section header must end with ']'"},
      {"[feed]\n", "test.manifest:1: [feed] needs a path: [feed PATH]"},
      {"[campaign ]\n", "test.manifest:1: [campaign] needs a name: [campaign NAME]"},
      {"[feed a.txt]\nformat csv\n",
       "test.manifest:2: expected \"key = value\", found \"format csv\""},
      {"[feed a.txt]\nformat =\n", "test.manifest:2: \"format\" has no value"},
      {"[feed a.txt]\n= csv\n", "test.manifest:2: a key is missing before '='"},
      {"[feed a.txt]\nformat = yaml\n",
       "test.manifest:2: unknown format \"yaml\" (auto, rpz, hosts, domains, adblock, csv, jsonl)"},
      {"[feed a.txt]\nformat = csv\nformat = rpz\n",
       "test.manifest:3: \"format\" given twice in this section"},
      {"[feed a.txt]\naction = explode\n", "test.manifest:2: unknown action \"explode\""},
      {"[feed a.txt]\naction = redirect\n",
       "test.manifest:2: a feed's default action cannot be redirect: each redirect needs its own "
       "target (an RPZ CNAME, or a redirect column in CSV/JSON Lines)"},
      {"[feed a.txt]\nconfidence = 101\n",
       "test.manifest:2: confidence \"101\" is not an integer from 0 to 100"},
      {"[feed a.txt]\nrole = maybe\n",
       "test.manifest:2: role \"maybe\" is neither block nor allow"},
      {"[feed a.txt]\nkind = prefix\n",
       "test.manifest:2: unknown kind \"prefix\" (exact, subtree or wildcard)"},
      {"[feed a.txt]\nexpires = soon\n",
       "test.manifest:2: invalid timestamp \"soon\" (expected unix seconds, 2024-01-02 or "
       "2024-01-02T03:04:05Z)"},
      {"[feed a.txt]\ncolour = red\n",
       "test.manifest:2: unknown feed key \"colour\" (format, action, category, campaign, "
       "confidence, role, kind, expires, min-ratio, url, ca-file, primary, zone, tsig, timeout, max-size)"},
      {"\n[feed a.txt]\nrole = allow\naction = drop\n[feed b.txt]\n",
       "test.manifest:2: feed with role allow has action drop: allowlist entries always allow"},
      {"[campaign x]\n[campaign x]\n", "test.manifest:2: campaign \"x\" described twice"},
      {"[campaign x]\nsinkhole = 10.0.0.1, nowhere\n",
       "test.manifest:2: sinkhole: \"nowhere\" is not an IPv4 or IPv6 address"},
      {"[campaign x]\nformat = csv\n",
       "test.manifest:2: unknown campaign key \"format\" (description, action, sinkhole)"},
  };
  for (const Case& test : cases)
    EXPECT_EQ(manifest_error(folder, test.content), test.message) << test.content;
}

TEST(Manifest, ReadsTheKeysOfFetchedFeeds) {
  TempDir folder;
  std::string path = folder.write("feeds.manifest",
                                  "[feed blocklist]\n"
                                  "url = https://feeds.example/list.txt\n"
                                  "ca-file = ca.pem\n"
                                  "timeout = 20\n"
                                  "max-size = 64M\n"
                                  "min-ratio = 0.8\n"
                                  "[feed rpz.example]\n"
                                  "primary = 192.0.2.1@5353\n"
                                  "tsig = xfr-key:hmac-sha256:/etc/keys/xfr.secret\n"
                                  "[feed other]\n"
                                  "primary = 2001:db8::1\n"
                                  "zone = rpz.other.\n"
                                  "[feed local.txt]\n");
  Manifest manifest = read_manifest(path);
  ASSERT_EQ(manifest.feeds.size(), 4u);
  const FeedSource& list = manifest.feeds[0];
  EXPECT_EQ(list.path, "https://feeds.example/list.txt");
  EXPECT_EQ(list.fetch.url, "https://feeds.example/list.txt");
  EXPECT_EQ(list.fetch.ca_file, folder.path() + "/ca.pem");
  EXPECT_EQ(list.fetch.timeout_seconds, 20);
  EXPECT_EQ(list.fetch.max_bytes, 64u << 20);
  EXPECT_DOUBLE_EQ(list.min_ratio, 0.8);
  EXPECT_TRUE(list.fetched());
  const FeedSource& zone = manifest.feeds[1];
  EXPECT_EQ(zone.fetch.zone, "rpz.example.");  // the section's name
  EXPECT_EQ(zone.fetch.primary, "192.0.2.1@5353");
  EXPECT_EQ(zone.fetch.tsig, "xfr-key:hmac-sha256:/etc/keys/xfr.secret");
  EXPECT_EQ(zone.path, "rpz.example. from 192.0.2.1@5353");
  EXPECT_EQ(manifest.feeds[2].fetch.zone, "rpz.other.");
  EXPECT_EQ(manifest.feeds[2].path, "rpz.other. from 2001:db8::1");
  EXPECT_FALSE(manifest.feeds[3].fetched());
  EXPECT_DOUBLE_EQ(manifest.feeds[3].min_ratio, 0.5);
}

TEST(Manifest, ReportsMistakesInTheKeysOfFetchedFeeds) {
  TempDir folder;
  EXPECT_EQ(manifest_error(folder, "[feed x]\nurl = ftp://x/y\n"),
            "test.manifest:2: url \"ftp://x/y\" is neither https:// nor http://");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nprimary = ns.example\n"),
            "test.manifest:2: primary \"ns.example\" is not ADDRESS or ADDRESS@PORT");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nprimary = 192.0.2.1@0\n"),
            "test.manifest:2: primary \"192.0.2.1@0\": the port is not a number from 1 to 65535");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nprimary = 192.0.2.1\ntsig = key:hmac-sha256\n"),
            "test.manifest:3: tsig \"key:hmac-sha256\" is not NAME:ALGORITHM:SECRET-FILE");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nurl = https://x/\nprimary = 192.0.2.1\n"),
            "test.manifest:1: a feed has either a url or a primary, not both");
  EXPECT_EQ(manifest_error(folder, "[feed x]\ntsig = k:hmac-sha256:f\n[feed y]\n"),
            "test.manifest:1: \"tsig\" needs a primary to transfer the zone from");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nca-file = ca.pem\n"),
            "test.manifest:1: ca-file needs a url");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nmin-ratio = 2\n"),
            "test.manifest:2: min-ratio \"2\" is not a number from 0 to 1");
  EXPECT_EQ(manifest_error(folder, "[feed x]\nmax-size = lots\n"),
            "test.manifest:2: max-size \"lots\" is not a size (bytes, or with K, M, G)");
  EXPECT_EQ(manifest_error(folder, "[feed x]\ntimeout = 0\n"),
            "test.manifest:2: timeout \"0\" is not a number of seconds from 1 to 3600");
  EXPECT_EQ(manifest_error(folder, "[campaign Alpha]\n[campaign alpha]\n"),
            "test.manifest:2: campaign \"alpha\" described twice");
}

TEST(Manifest, ReportsAMissingFile) {
  TempDir folder;
  try {
    read_manifest(folder.file("absent.manifest"));
    FAIL() << "no error";
  } catch (const ToolError& error) {
    EXPECT_NE(std::string(error.what()).find("absent.manifest: cannot open"), std::string::npos)
        << error.what();
  }
}

// The sample feeds in conf/ compile cleanly and mean what their comments say.
class SampleFeeds : public ::testing::Test {
 protected:
  static std::string conf_folder() {
    // tests/unit/compile/ -> conf/
    return (std::filesystem::path(__FILE__).parent_path() / "../../../conf")
        .lexically_normal()
        .string();
  }

  void SetUp() override {
    Manifest manifest = read_manifest(conf_folder() + "/feeds.manifest");
    std::vector<testing::TestFeed> feeds;
    for (const FeedSource& source : manifest.feeds) {
      ASSERT_TRUE(std::filesystem::exists(source.path)) << source.path;
      feeds.push_back({source.format, testing::read_file(source.path), source.defaults,
                       std::filesystem::path(source.path).filename().string()});
    }
    RuleSet rules = testing::parse_feeds(feeds, &diagnostics_);
    for (const CampaignRecord& campaign : manifest.campaigns) rules.describe_campaign(campaign);
    rules.finalize();
    skipped_ = rules.skipped();
    write_store(rules, folder_.file("verdicts.mdb"), {});
    store_ = VerdictStore::open(folder_.file("verdicts.mdb"));
  }

  LookupResult lookup(std::string_view name) {
    std::string wire, error;
    EXPECT_TRUE(parse_name(name, wire, error)) << error;
    return store_->lookup_wire(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(),
                               1700000000);
  }

  TempDir folder_;
  Diagnostics diagnostics_{1000, nullptr};
  std::map<std::string, std::uint64_t> skipped_;
  std::shared_ptr<const VerdictStore> store_;
};

TEST_F(SampleFeeds, CompileWithoutErrors) {
  EXPECT_EQ(diagnostics_.errors(), 0u) << diagnostics_.messages();
  EXPECT_EQ(diagnostics_.warnings(), 0u) << diagnostics_.messages();
  EXPECT_EQ(skipped_.count("rpz-ip"), 0u);
}

TEST_F(SampleFeeds, SinkholeTheCampaignsCommandAndControlAddresses) {
  EXPECT_EQ(store_->address_rule_count(4), 4u);  // three C&C servers, one rpz-ip trigger
  for (const char* text : {"47.100.164.28", "47.116.142.94", "39.98.228.46"}) {
    IpPrefix address;
    std::string error;
    ASSERT_TRUE(parse_ip_prefix(text, address, error)) << error;
    AddressLookupResult result = store_->lookup_address(address.bytes.data(), 4, 1700000000);
    ASSERT_TRUE(result.hit()) << text;
    EXPECT_EQ(result.rule.action, Action::kSinkhole) << text;
    EXPECT_EQ(result.prefix_length, 32) << text;
    ASSERT_NE(store_->campaign(result.rule.campaign), nullptr);
    EXPECT_EQ(store_->campaign(result.rule.campaign)->name, "lookalike-image-cc");
  }
  std::uint8_t rpz_ip[4] = {192, 0, 2, 200};
  EXPECT_EQ(store_->lookup_address(rpz_ip, 4, 1700000000).rule.action, Action::kNxdomain);
}

TEST_F(SampleFeeds, SinkholeTheLookalikeImageDomains) {
  for (const char* name : {"baidugif.com", "img.qqjpeg.com", "163pics.com", "x.163image.com"}) {
    LookupResult result = lookup(name);
    ASSERT_TRUE(result.hit()) << name;
    EXPECT_EQ(result.rule.action, Action::kSinkhole) << name;
    EXPECT_EQ(result.rule.confidence, 95) << name;
    const CampaignRecord* campaign = store_->campaign(result.rule.campaign);
    ASSERT_NE(campaign, nullptr) << name;
    EXPECT_EQ(campaign->name, "lookalike-image-cc");
    EXPECT_NE(campaign->description.find("ASN 37963"), std::string::npos);
    EXPECT_EQ(addresses_to_text(campaign->sinkhole), "10.66.66.66,fd00::6666");
    EXPECT_EQ(store_->category(result.rule.category), "botnet-cc");
  }
}

TEST_F(SampleFeeds, ApplyEveryRpzAction) {
  struct Expected {
    const char* name;
    Action action;
  } cases[] = {
      {"nxdomain.example.test", Action::kNxdomain}, {"nodata.example.test", Action::kNodata},
      {"passthru.example.test", Action::kAllow},    {"drop.example.test", Action::kDrop},
      {"tcp-only.example.test", Action::kTcpOnly},  {"sinkhole.example.test", Action::kSinkhole},
      {"redirect.example.test", Action::kRedirect}, {"a.wildcard.example.test", Action::kNxdomain},
      {"wildcard.example.test", Action::kAllow}};
  for (const auto& expected : cases) {
    LookupResult result = lookup(expected.name);
    ASSERT_TRUE(result.hit()) << expected.name;
    EXPECT_EQ(result.rule.action, expected.action) << expected.name;
  }
  EXPECT_EQ(addresses_to_text(lookup("sinkhole.example.test").rule.data),
            "192.0.2.53,2001:db8::53");
}

TEST_F(SampleFeeds, ListsBlockLogTagAndAllow) {
  EXPECT_EQ(lookup("ads.example.com").rule.action, Action::kNxdomain);
  EXPECT_EQ(lookup("metrics.tracker.example.net").rule.action, Action::kNxdomain);
  EXPECT_FALSE(lookup("localhost").hit());
  EXPECT_EQ(lookup("deep.bad.example").rule.action, Action::kNxdomain);
  EXPECT_TRUE(lookup("xn--bcher-kva.example").hit());
  EXPECT_EQ(lookup("suspicious.test").rule.action, Action::kLog);
  EXPECT_EQ(lookup("adult.example").rule.action, Action::kTag);
  EXPECT_FALSE(lookup("www.adult.example").hit());  // kind = exact
  // The allowlist reopens one host under a blocked subtree and one under a wildcard.
  EXPECT_EQ(lookup("cdn.example.org").rule.action, Action::kNxdomain);
  EXPECT_EQ(lookup("static.cdn.example.org").rule.action, Action::kAllow);
  EXPECT_EQ(lookup("img.static.cdn.example.org").rule.action, Action::kAllow);
  EXPECT_EQ(lookup("other.fastflux.example.net").rule.action, Action::kNxdomain);
  EXPECT_EQ(lookup("status.fastflux.example.net").rule.action, Action::kAllow);
}

}  // namespace
}  // namespace dnsverdict
