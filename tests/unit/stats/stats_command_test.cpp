// `dnsverdict stats` run as the real program on stats stores written through the real
// counters and stats store: merged stores give the union, filters, JSON/CSV/SVG, the caveat.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "dns_name.h"
#include "hit_counters.h"
#include "stats_store.h"
#include "counters/counters_support.h"
#include "test_support.h"

extern char** environ;

namespace dnsverdict {
namespace {

using testing::TempDir;

constexpr std::int64_t kStart = 1767225600;  // 2026-01-01T00:00:00Z

using testing::CliRun;
using testing::run_program;

CliRun stats(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "stats");
  return testing::run_cli(dir, std::move(args));
}

std::string key_of(const std::string& name) {
  std::string key, error;
  EXPECT_TRUE(text_to_key(name, key, error)) << error;
  return key;
}

// A demo of three days on two resolvers, hour by hour through the real counters and flush:
//   img-lookalikes: four look-alike image domains; the infected population grows from 200
//     to 2,000 devices; each hour 30-60% of them are online (a daily cycle); every device's
//     address changes once a day (DHCP), so the footprint exceeds any hour's count.
//   bank-phish: 120 devices, active for 30 hours in the middle.
//   crypto-miner: 300 always-on devices in four /24s, stable addresses.
// Devices ask resolver a or b by device number; one in ten asks both.
void build_demo(const std::string& folder) {
  HitCounters counters_a(testing::counting()), counters_b(testing::counting());
  StatsStore::Options options;
  options.map_size = std::size_t{256} << 20;
  options.retention_days = 0;
  options.resolver = "resolver-a";
  StatsStore store_a = StatsStore::open(folder + "/a.stats", options);
  options.resolver = "resolver-b";
  StatsStore store_b = StatsStore::open(folder + "/b.stats", options);
  const std::string img[] = {key_of("img-cdn-1.example"), key_of("imgcdn.example.net"),
                             key_of("img-static.example.org"), key_of("images-cdn.example")};
  const std::string bank[] = {key_of("secure-bank-login.example"), key_of("bank-verify.example")};
  const std::string miner = key_of("pool.miner.example");
  std::mt19937 random(42);
  auto ask = [&](std::uint32_t device, std::uint32_t address, const std::string& key, RuleKind kind,
                 const char* campaign, std::int64_t time) {
    std::uint32_t network_order = htonl(address);
    HitEvent hit;
    hit.rule_key = key;
    hit.kind = kind;
    hit.campaign = campaign;
    hit.client = ClientAddress::from(AF_INET, &network_order);
    hit.time = time;
    bool both = device % 10 == 0;
    if (both || device % 2 == 0) counters_a.record_hit(hit);
    if (both || device % 2 == 1) counters_b.record_hit(hit);
  };
  for (int hour = 0; hour < 72; ++hour) {
    const std::int64_t base = kStart + hour * kSecondsPerHour;
    const int day = hour / 24;
    const double cycle = 0.45 + 0.15 * std::sin((hour % 24 - 8) * 3.14159265 / 12);
    const std::uint32_t infected = 200 + static_cast<std::uint32_t>(1800.0 * hour / 71);
    for (std::uint32_t device = 0; device < infected; ++device) {
      if (std::uniform_real_distribution<>(0, 1)(random) > cycle) continue;
      // DHCP: a new address from a 10.64.0.0/10 pool each day.
      std::uint32_t address = 0x0A400000 + (device * 2654435761u + day * 40503u) % 0x3FFFFF;
      for (int q = 0; q < 3; ++q)
        ask(device, address, img[(device + q) % 4], RuleKind::kSubtree, "img-lookalikes",
            base + random() % 3600);
    }
    if (hour >= 20 && hour < 50)
      for (std::uint32_t device = 0; device < 120; ++device)
        if (random() % 3 == 0)
          ask(device, 0xC0A80000 + device * 7, bank[device % 2], RuleKind::kExact, "bank-phish",
              base + random() % 3600);
    for (std::uint32_t device = 0; device < 300; ++device)
      if (random() % 4 != 0)
        ask(device, 0xAC100000 + (device % 3) * 256 + device, miner, RuleKind::kSubtree,
            "crypto-miner", base + random() % 3600);
    store_a.flush(counters_a.take_snapshot(), base + kSecondsPerHour);
    store_b.flush(counters_b.take_snapshot(), base + kSecondsPerHour);
  }
}

// Stores built once for all tests (in $DNSVERDICT_STATS_DEMO_DIR when set, to look at them).
class StatsCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    demo_ = new TempDir();
    const char* keep = std::getenv("DNSVERDICT_STATS_DEMO_DIR");
    folder_ = keep != nullptr ? keep : demo_->path();
    build_demo(folder_);
  }
  static void TearDownTestSuite() {
    delete demo_;
    demo_ = nullptr;
  }
  static std::string a() { return folder_ + "/a.stats"; }
  static std::string b() { return folder_ + "/b.stats"; }

  TempDir dir_;
  static TempDir* demo_;
  static std::string folder_;
};
TempDir* StatsCommand::demo_ = nullptr;
std::string StatsCommand::folder_;

// A number after `"key":` in JSON text, from position `from`.
long long json_number(const std::string& json, const std::string& key, std::size_t from = 0) {
  std::size_t position = json.find("\"" + key + "\":", from);
  if (position == std::string::npos) return -1;
  return std::atoll(json.c_str() + position + key.size() + 3);
}

TEST_F(StatsCommand, TextNamesEverythingAndSaysWhatTheNumbersMean) {
  CliRun run = stats(dir_, {a(), b()});
  ASSERT_EQ(run.status, 0) << run.err;
  for (const char* expected :
       {"resolvers     resolver-a, resolver-b",
        "hours (UTC)   2026-01-01T00:00Z .. 2026-01-04T00:00Z", "not devices", "NAT", "DHCP",
        "1,247,642", "183,000", "6.8x", "48,500", "3,000", "campaigns (3)", "img-lookalikes",
        "bank-phish", "crypto-miner", "rules (7)", "img-cdn-1.example", "pool.miner.example",
        "footprint"})
    EXPECT_NE(run.out.find(expected), std::string::npos) << expected << "\n" << run.out;
  // The largest footprint comes first.
  EXPECT_LT(run.out.find("img-lookalikes"), run.out.find("crypto-miner"));
}

// Merged stores give the union: the miner's 300 stable devices are 300 addresses whichever
// resolver(s) saw them, never 300 + the overlap.
TEST_F(StatsCommand, TwoStoresGiveTheUnionNotTheSum) {
  auto footprint = [&](std::vector<std::string> stores) {
    stores.insert(stores.end(), {"--campaign", "crypto-miner", "--json"});
    CliRun run = stats(dir_, stores);
    EXPECT_EQ(run.status, 0) << run.err;
    return json_number(run.out, "footprint");
  };
  long long only_a = footprint({a()}), only_b = footprint({b()}), both = footprint({a(), b()});
  EXPECT_NEAR(only_a, 150, 3);  // even devices (every tenth is even)
  EXPECT_NEAR(only_b, 180, 3);  // odd devices + every tenth
  EXPECT_NEAR(both, 300, 3);
  EXPECT_LT(both, only_a + only_b - 20);
  // The same store twice counts once.
  EXPECT_EQ(footprint({a(), a()}), only_a);
}

TEST_F(StatsCommand, FootprintExceedsHourlyPeakUnderDhcpChurn) {
  CliRun run = stats(dir_, {a(), b(), "--campaign", "img-lookalikes", "--json"});
  ASSERT_EQ(run.status, 0) << run.err;
  std::size_t peak = run.out.find("\"peak_hour\"");
  long long peak_hour = json_number(run.out, "estimate", peak);
  long long footprint = json_number(run.out, "footprint");
  // Three days of new addresses for up to 2,000 devices: well over any hour.
  EXPECT_GT(footprint, 2 * peak_hour) << run.out.substr(0, 600);
  EXPECT_LT(peak_hour, 2000 * 0.62);
}

TEST_F(StatsCommand, WindowCampaignAndTop) {
  CliRun run = stats(dir_, {a(), b(), "--since", "2026-01-02", "--until", "2026-01-02T12:00Z",
                            "--campaign", "bank-phish", "--csv"});
  ASSERT_EQ(run.status, 0) << run.err;
  std::vector<std::string> rows;
  for (std::size_t start = 0, end; start < run.out.size(); start = end + 1) {
    end = run.out.find('\n', start);
    rows.push_back(run.out.substr(start, end - start));
  }
  ASSERT_EQ(rows.size(), 4u) << run.out;  // header, the campaign, its two rules
  EXPECT_EQ(rows[0].rfind("scope,campaign,rule,kind,queries,", 0), 0u);
  EXPECT_EQ(rows[1].rfind("campaign,bank-phish,,,", 0), 0u) << rows[1];
  EXPECT_NE(rows[2].find(",exact,"), std::string::npos);
  EXPECT_NE(rows[1].find("2026-01-02T00:"), std::string::npos);  // first seen in the window
  EXPECT_EQ(rows[1].find("2026-01-01T"), std::string::npos);

  run = stats(dir_, {a(), b(), "--top", "2"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("rules (7, top 2 by footprint)"), std::string::npos) << run.out;

  run = stats(dir_, {a(), "--since", "2027-01-01"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("no hits in the selected window"), std::string::npos);
}

TEST_F(StatsCommand, JsonIsValid) {
  CliRun run = stats(dir_, {a(), b(), "--json"});
  ASSERT_EQ(run.status, 0) << run.err;
  std::string path = dir_.write("out.json", run.out);
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 not installed";
  CliRun check = run_program(dir_.path(), {"python3", "-c",
                                           "import json,sys; d=json.load(open(sys.argv[1])); "
                                           "assert len(d['campaigns'])==3 and d['rules_total']==7; "
                                           "assert len(d['campaigns'][0]['hourly'])==72; "
                                           "assert d['resolvers']==['resolver-a','resolver-b']",
                                           path});
  EXPECT_EQ(check.status, 0) << check.err;
}

TEST_F(StatsCommand, SvgTimelineIsWellFormed) {
  std::string svg = dir_.file("timeline.svg");
  CliRun run = stats(dir_, {a(), b(), "--svg", svg});
  ASSERT_EQ(run.status, 0) << run.err;
  std::string text = testing::read_file(svg);
  EXPECT_EQ(text.rfind("<svg ", 0), 0u);
  std::size_t lines = 0;
  for (std::size_t at = text.find("<polyline"); at != std::string::npos;
       at = text.find("<polyline", at + 1))
    ++lines;
  EXPECT_EQ(lines, 3u);
  EXPECT_NE(text.find("not devices"), std::string::npos);
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 not installed";
  CliRun check = run_program(
      dir_.path(),
      {"python3", "-c", "import sys, xml.etree.ElementTree as e; e.parse(sys.argv[1])", svg});
  EXPECT_EQ(check.status, 0) << check.err;
}

TEST_F(StatsCommand, UsageAndErrors) {
  EXPECT_EQ(stats(dir_, {}).status, 2);
  EXPECT_EQ(stats(dir_, {a(), "--since", "yesterday"}).status, 2);
  // The times of every command: offsets before now with or without a sign, and now.
  for (const char* since : {"48h", "-48h", "7d", "now", "2026-01-02T12:00Z"})
    EXPECT_EQ(stats(dir_, {a(), "--since", since}).status, 0) << since;
  // A verdict store is named for what it is.
  std::string verdicts = testing::build_store(
      dir_.file("verdicts.mdb"), {{FeedFormat::kDomains, "evil.example\n"}});
  CliRun wrong = stats(dir_, {verdicts});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_EQ(wrong.err, "dnsverdict stats: " + verdicts +
                           ": a verdict store (written by dnsverdict compile), not a stats store "
                           "(the module's stats-store file)\n");
  EXPECT_EQ(stats(dir_, {a(), "--json", "--csv"}).status, 2);
  EXPECT_EQ(stats(dir_, {a(), "--bogus"}).status, 2);
  CliRun missing = stats(dir_, {dir_.file("missing.stats")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("missing.stats"), std::string::npos) << missing.err;
  CliRun help = stats(dir_, {"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("not devices"), std::string::npos);
}

// Stores whose clients were hashed with different keys cannot be merged: the same client
// would count once per store. The message names both stores and fingerprints.
TEST_F(StatsCommand, RefusesStoresOfDifferentKeys) {
  StatsStore::Options options;
  options.map_size = std::size_t{16} << 20;
  options.client_key_fingerprint = ClientHashKey::random().fingerprint();
  const std::string other = dir_.file("other-key.stats");
  {
    StatsStore store = StatsStore::open(other, options);
    HitCounters counters(testing::counting());
    HitEvent hit;
    const std::string key = key_of("img-cdn-1.example");
    hit.rule_key = key;
    hit.campaign = "img-lookalikes";
    hit.time = kStart;
    counters.record_hit(hit);
    store.flush(counters.take_snapshot(), kStart + 60);
  }
  CliRun run = stats(dir_, {a(), other});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("different keys"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(options.client_key_fingerprint), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("other-key.stats"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace dnsverdict
