// Suspects: the planted companion of the simulated campaign must come first, above popular
// names that infected clients also query; the sketches behind the ranking must be right; the
// suspects must come out as a feed that compile reads with action log.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "estimate_report.h"
#include "estimator.h"
#include "log_formats.h"
#include "population_sim.h"
#include "suspects.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

TEST(SuspectsTest, PlantedCompanionRanksAbovePopularNames) {
  testing::SimConfig config;
  config.days = 2;
  config.infected_devices = 120;
  config.clean_clients = 600;  // infected clients are a sixth of the population
  config.companion_share = 0.3;
  testing::SimResult simulation = testing::simulate_population(config);
  testing::TempDir folder;
  std::string store = testing::build_store(
      folder.file("s.store"), {{FeedFormat::kCsv, testing::campaign_feed(config, "lookalike-images")}});
  EstimatorOptions options;
  options.suspects = true;
  Estimator estimator(VerdictStore::open(store), options);
  LogLineParser parser(LogFormat::kUnbound);
  QueryRecord query;
  std::string reason;
  for (const auto& sim_query : simulation.queries) {
    std::string line = testing::unbound_line(sim_query);  // the record's views point into it
    ASSERT_EQ(parser.parse(line, query, reason), ParseStatus::kRecord);
    estimator.add(query);
  }
  const EstimateState& state = estimator.state();
  const EntityStats& campaign = state.entities.at({EntityKind::kCampaign, "lookalike-images"});
  SuspectOptions suspect_options;
  suspect_options.min_score = 0;  // list everything, to see where popular names land
  suspect_options.min_lift = 0;
  suspect_options.top = 100;
  auto suspects = campaign_suspects(state, campaign, suspect_options);
  ASSERT_FALSE(suspects.empty());
  EXPECT_EQ(suspects[0].name, "doubeidong.com");
  EXPECT_GT(suspects[0].jaccard, 0.8);
  EXPECT_GT(suspects[0].correlation, 0.8);
  EXPECT_GT(suspects[0].lift, 10.0);
  // Popular names are asked for by most infected clients too, yet score far below.
  for (std::size_t i = 1; i < suspects.size(); ++i) {
    EXPECT_LT(suspects[i].score, suspects[0].score / 3) << suspects[i].name;
    EXPECT_LT(suspects[i].lift, 2.0) << suspects[i].name;
  }
  // With the default threshold only the companion is listed.
  auto listed = campaign_suspects(state, campaign, SuspectOptions{});
  ASSERT_EQ(listed.size(), 1u);

  // Written as a feed, compile reads it back as a monitor-mode (log) rule of the campaign.
  std::string path = folder.file("suspects.csv");
  std::FILE* out = std::fopen(path.c_str(), "w");
  write_suspects_feed(out, "lookalike-images", listed, true);
  std::fclose(out);
  Diagnostics diagnostics(0, nullptr);
  RuleSet rules = testing::parse_feeds({{FeedFormat::kAuto, testing::read_file(path)}}, &diagnostics);
  rules.finalize();
  ASSERT_EQ(rules.records().size(), 1u);
  EXPECT_EQ(key_to_text(rules.records()[0].key), "doubeidong.com");
  RuleSlots slots = rules.slots(rules.records()[0]);
  ASSERT_TRUE(slots.self);
  EXPECT_EQ(slots.self->action, Action::kLog);
  EXPECT_EQ(rules.campaigns().at(slots.self->campaign).name, "lookalike-images");
}

TEST(SuspectsTest, BottomKJaccardExactBelowKAndCloseAbove) {
  BottomK a, b;
  for (std::uint64_t i = 1; i <= 100; ++i) a.add(i * 0x9E3779B97F4A7C15ull);
  for (std::uint64_t i = 51; i <= 150; ++i) b.add(i * 0x9E3779B97F4A7C15ull);
  EXPECT_DOUBLE_EQ(estimate_jaccard(a, b), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(a.cardinality(), 100.0);
  BottomK big_a, big_b;
  auto mix = [](std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
  };
  for (std::uint64_t i = 0; i < 20000; ++i) big_a.add(mix(i));
  for (std::uint64_t i = 10000; i < 40000; ++i) big_b.add(mix(i));
  EXPECT_NEAR(estimate_jaccard(big_a, big_b), 10000.0 / 40000.0, 0.08);
  EXPECT_NEAR(big_a.cardinality(), 20000.0, 20000.0 * 0.2);
  BottomK merged = big_a;
  merged.merge(big_b);
  EXPECT_NEAR(merged.cardinality(), 40000.0, 40000.0 * 0.2);
  std::string bytes;
  merged.serialize(bytes);
  std::string_view in = bytes;
  BottomK back;
  ASSERT_TRUE(back.deserialize(in));
  EXPECT_EQ(back, merged);
}

TEST(SuspectsTest, RegistrableDomains) {
  std::string out;
  registrable_domain("Xia.DouBeiDong.com.", out);
  EXPECT_EQ(out, "doubeidong.com");
  registrable_domain("img.news.sina.com.cn", out);
  EXPECT_EQ(out, "sina.com.cn");
  registrable_domain("www.bbc.co.uk", out);
  EXPECT_EQ(out, "bbc.co.uk");
  registrable_domain("localhost", out);
  EXPECT_EQ(out, "localhost");
  registrable_domain("a.b.example.de", out);
  EXPECT_EQ(out, "example.de");
}

TEST(SuspectsTest, HourlyCorrelation) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> a{{10, 5}, {11, 0}, {12, 5}, {13, 0}};
  std::vector<std::pair<std::uint32_t, std::uint64_t>> b{{10, 50}, {12, 50}};
  std::vector<std::pair<std::uint32_t, std::uint64_t>> c{{11, 7}, {13, 7}};
  EXPECT_NEAR(hourly_correlation(a, b), 1.0, 1e-9);
  EXPECT_NEAR(hourly_correlation(a, c), -1.0, 1e-9);
  EXPECT_EQ(hourly_correlation(a, {}), 0.0);
}

TEST(SuspectsTest, TableStaysWithinItsLimit) {
  SuspectTable table(100);
  for (int name = 0; name < 1000; ++name)
    for (int q = 0; q <= name % 7; ++q)
      table.add("n" + std::to_string(name) + ".example", static_cast<std::uint64_t>(q + 1), 1);
  EXPECT_LE(table.names().size(), 100u);
  EXPECT_GT(table.evicted(), 0u);
}

}  // namespace
}  // namespace dnsverdict
