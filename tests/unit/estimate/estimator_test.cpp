// The estimator: exact figures on small inputs, HyperLogLog beyond the budget, rule matching
// as the module does it, and a simulated population with known truth (population_sim.h)
// whose device range must contain the truth.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "estimate_report.h"
#include "device_estimate.h"
#include "estimator.h"
#include "log_formats.h"
#include "population_sim.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

QueryRecord record(std::int64_t time, const char* client, const char* name) {
  QueryRecord query;
  query.time = time;
  EXPECT_TRUE(parse_client_address(client, query.client)) << client;
  query.name = name;
  query.type = "A";
  return query;
}

const EntityStats& entity(const EstimateState& state, EntityKind kind, const std::string& name) {
  auto found = state.entities.find({kind, name});
  if (found == state.entities.end()) throw std::runtime_error("no entity " + name);
  return found->second;
}

class EstimatorTest : public ::testing::Test {
 protected:
  testing::TempDir folder;
  std::shared_ptr<const VerdictStore> store_with(const std::string& feed) {
    return VerdictStore::open(testing::build_store(folder.file("s.store"), {{FeedFormat::kCsv, feed}}));
  }
};

constexpr std::int64_t kDay = 1605225600;  // 2020-11-13T00:00:00Z

TEST_F(EstimatorTest, ExactFiguresPerCampaignAndRule) {
  Estimator estimator(store_with("domain,action,campaign\nbaidugif.com,nxdomain,lookalike\n"
                                 "qqjpeg.com,nxdomain,lookalike\nads.example,nxdomain,\n"),
                      {});
  estimator.add(record(kDay + 10, "192.0.2.1", "baidugif.com."));
  estimator.add(record(kDay + 20, "192.0.2.1", "WWW.BaiduGif.com"));  // subtree, any case
  estimator.add(record(kDay + 3600 + 5, "192.0.2.2", "qqjpeg.com"));
  estimator.add(record(kDay + 3600 + 6, "198.51.100.2", "qqjpeg.com"));
  estimator.add(record(kDay + 86400 + 7, "2001:db8:1:2::1", "qqjpeg.com"));
  estimator.add(record(kDay + 86400 + 8, "2001:db8:1:2::2", "qqjpeg.com"));  // same /56
  estimator.add(record(kDay + 30, "192.0.2.9", "ads.example"));
  estimator.add(record(kDay + 40, "192.0.2.9", "example.org"));
  const EstimateState& state = estimator.state();
  EXPECT_EQ(state.counters.queries, 8u);
  EXPECT_EQ(state.counters.matched, 7u);
  EXPECT_EQ(state.all_clients.count(), 6u);

  const EntityStats& campaign = entity(state, EntityKind::kCampaign, "lookalike");
  EXPECT_EQ(campaign.queries, 6u);
  EXPECT_EQ(campaign.clients.count(), 5u);
  EXPECT_TRUE(campaign.clients.exact());
  EXPECT_EQ(campaign.networks_v4.count(), 2u);  // 192.0.2/24, 198.51.100/24
  EXPECT_EQ(campaign.networks_v6.count(), 1u);
  EXPECT_EQ(campaign.first_seen, kDay + 10);
  EXPECT_EQ(campaign.last_seen, kDay + 86400 + 8);
  ASSERT_EQ(campaign.hours.size(), 3u);
  EXPECT_EQ(campaign.hours.at((kDay + 3600) / 3600).clients.count(), 2u);
  ASSERT_EQ(campaign.days.size(), 2u);
  EXPECT_EQ(campaign.days.at(kDay / 86400).clients.count(), 3u);
  EXPECT_EQ(campaign.days.at(kDay / 86400).queries, 4u);

  const EntityStats& rule = entity(state, EntityKind::kRule, "baidugif.com");
  EXPECT_EQ(rule.queries, 2u);
  EXPECT_EQ(rule.clients.count(), 1u);
  EXPECT_EQ(rule.campaign, "lookalike");
  EXPECT_EQ(rule.action, "nxdomain");
  EXPECT_EQ(entity(state, EntityKind::kCampaign, "(none)").queries, 1u);

  BeaconSummary beacons = summarize_beacons(campaign.beacon);
  DeviceEstimate devices = estimate_devices(campaign, beacons);
  EXPECT_EQ(devices.low, 2u);  // two clients in the 01:00 hour, and two on day 2
  EXPECT_EQ(devices.peak_daily_clients, 3u);
  EXPECT_EQ(devices.middle, 3u);
  EXPECT_EQ(devices.high, 5u);
  EXPECT_EQ(devices.nat_factor, 1.0);  // too few clients to correct for NAT
}

TEST_F(EstimatorTest, AllowRulesAndExpiredRulesAreNotCounted) {
  Estimator estimator(store_with("domain,action,campaign,expires\n"
                                 "163pics.com,nxdomain,c,\n"
                                 "ok.163pics.com,allow,,\n"
                                 "old.example,nxdomain,c,2020-11-13T12:00:00Z\n"),
                      {});
  estimator.add(record(kDay, "192.0.2.1", "x.163pics.com"));
  estimator.add(record(kDay, "192.0.2.1", "ok.163pics.com"));
  estimator.add(record(kDay + 3600, "192.0.2.1", "old.example"));       // before expiry
  estimator.add(record(kDay + 86400, "192.0.2.1", "old.example"));      // after: not applied
  EXPECT_FALSE(estimator.add(record(kDay, "192.0.2.1", "bad..name")));  // counted as invalid
  EXPECT_EQ(estimator.state().counters.matched, 2u);
  EXPECT_EQ(estimator.state().counters.bad_names, 1u);
  EXPECT_EQ(entity(estimator.state(), EntityKind::kCampaign, "c").queries, 2u);
}

TEST_F(EstimatorTest, SketchesBeyondTheMemoryBudgetWithStatedError) {
  EstimatorOptions options;
  options.memory_budget = 1 << 20;  // 512 exact clients per set
  Estimator estimator(store_with("domain,action,campaign\nqqjpeg.com,nxdomain,c\n"), options);
  const int kClients = 20000;
  for (int i = 0; i < kClients; ++i) {
    std::string client = testing::sim_ipv4((10u << 24) + static_cast<std::uint32_t>(i));
    estimator.add(record(kDay + i, client.c_str(), "qqjpeg.com"));
  }
  const EntityStats& campaign = entity(estimator.state(), EntityKind::kCampaign, "c");
  EXPECT_FALSE(campaign.clients.exact());
  EXPECT_NEAR(static_cast<double>(campaign.clients.count()), kClients, kClients * 0.03);
  EXPECT_GT(campaign.clients.standard_error(), 0.0);
  // The beacon sample stays within its limit and says which fraction it keeps.
  EXPECT_LE(campaign.beacon.clients().size(), estimator.state().limits.beacon_sample);
  EXPECT_LT(campaign.beacon.fraction(), 1.0);
}

TEST_F(EstimatorTest, BeaconRatesRevealAddressesSharedByDevices) {
  Estimator estimator(store_with("domain,action,campaign\nqqjpeg.com,nxdomain,c\n"), {});
  // 40 single devices beaconing 6 times an hour, and 5 addresses with 3 devices each.
  for (int client = 0; client < 45; ++client) {
    std::string address = testing::sim_ipv4((10u << 24) + static_cast<std::uint32_t>(client));
    int per_hour = client < 40 ? 6 : 18;
    for (int hour = 0; hour < 10; ++hour)
      for (int i = 0; i < per_hour; ++i)
        estimator.add(record(kDay + hour * 3600 + i * (3600 / per_hour), address.c_str(), "qqjpeg.com"));
  }
  const EntityStats& campaign = entity(estimator.state(), EntityKind::kCampaign, "c");
  BeaconSummary beacons = summarize_beacons(campaign.beacon);
  EXPECT_EQ(beacons.sampled_clients, 45u);
  EXPECT_DOUBLE_EQ(beacons.median_rate, 6.0);
  EXPECT_EQ(beacons.multi_device_clients, 5u);
  EXPECT_DOUBLE_EQ(beacons.devices_per_client, (40.0 + 15.0) / 45.0);
  DeviceEstimate devices = estimate_devices(campaign, beacons);
  EXPECT_EQ(devices.high, 55u);  // the 55 devices behind 45 addresses
}

TEST_F(EstimatorTest, SimulatedPopulationRangeContainsTheTruth) {
  testing::SimConfig config;
  config.days = 3;
  config.infected_devices = 300;
  config.clean_clients = 300;
  testing::SimResult simulation = testing::simulate_population(config);
  Estimator estimator(store_with(testing::campaign_feed(config, "lookalike-images")), {});
  LogLineParser parser(LogFormat::kUnbound);
  QueryRecord query;
  std::string reason;
  for (const auto& sim_query : simulation.queries) {
    std::string line = testing::unbound_line(sim_query);
    ASSERT_EQ(parser.parse(line, query, reason), ParseStatus::kRecord) << line;
    estimator.add(query);
  }
  const EntityStats& campaign = entity(estimator.state(), EntityKind::kCampaign, "lookalike-images");
  BeaconSummary beacons = summarize_beacons(campaign.beacon);
  DeviceEstimate devices = estimate_devices(campaign, beacons);
  std::uint64_t truth = static_cast<std::uint64_t>(simulation.infected_devices);
  // Address churn inflates the footprint; NAT deflates it; the range must hold the truth.
  EXPECT_EQ(campaign.clients.count(), static_cast<std::uint64_t>(simulation.infected_addresses));
  EXPECT_GT(campaign.clients.count(), truth) << "DHCP churn should overstate the footprint";
  EXPECT_LE(devices.low, truth);
  EXPECT_GE(devices.high, truth);
  EXPECT_LE(devices.low, devices.middle);
  EXPECT_LE(devices.middle, devices.high);
  EXPECT_GT(beacons.devices_per_client, 1.0) << "NAT groups should show in beacon rates";
  // The middle figure is the closest of the three for this population.
  double middle_error = std::abs(static_cast<double>(devices.middle) - static_cast<double>(truth));
  EXPECT_LT(middle_error, std::abs(static_cast<double>(devices.high) - static_cast<double>(truth)));
  // Every output form renders.
  ReportOptions report;
  for (auto print : {+[](std::FILE* out, const EstimateState& state, const ReportOptions& options) {
                       print_estimate_table(out, state, options);
                     },
                     +[](std::FILE* out, const EstimateState& state, const ReportOptions& options) {
                       print_estimate_json(out, state, options);
                     }}) {
    char* buffer = nullptr;
    std::size_t size = 0;
    std::FILE* out = open_memstream(&buffer, &size);
    print(out, estimator.state(), report);
    std::fclose(out);
    std::string text(buffer, size);
    std::free(buffer);
    EXPECT_NE(text.find("lookalike-images"), std::string::npos);
  }
}

TEST(QueryNameKeyTest, PlainEscapedAndInvalid) {
  NameKey key;
  std::string scratch;
  ASSERT_TRUE(query_name_key("WWW.Example.COM.", key, scratch));
  EXPECT_EQ(key_to_text(key.view()), "www.example.com");
  ASSERT_TRUE(query_name_key("a\\.b.example", key, scratch));
  EXPECT_EQ(key.label_count, 2);
  EXPECT_FALSE(query_name_key("a..b", key, scratch));
  EXPECT_FALSE(query_name_key(std::string(64, 'x') + ".example", key, scratch));
}

// Found by fuzz_name_text: the fast path disagreed with parse_name on escaped names. A last
// "\." is an escaped dot inside the label, not the root; escaped text may run past 253.
TEST(QueryNameKeyTest, EscapedDotAtTheEndAgreesWithTheFullParser) {
  NameKey key;
  std::string scratch, expected, error;
  ASSERT_TRUE(text_to_key("a.example\\.", expected, error));
  ASSERT_TRUE(query_name_key("a.example\\.", key, scratch));
  EXPECT_EQ(key.view(), expected);
  EXPECT_EQ(key_to_text(key.view()), "a.example\\.");
  // Escaped text longer than 253 characters can still be a name of 255 octets or less.
  std::string long_escaped;
  for (int i = 0; i < 60; ++i) long_escaped += "\\065.";
  ASSERT_GT(long_escaped.size(), 253u);
  ASSERT_TRUE(text_to_key(long_escaped, expected, error)) << error;
  ASSERT_TRUE(query_name_key(long_escaped, key, scratch));
  EXPECT_EQ(key.view(), expected);
}

}  // namespace
}  // namespace dnsverdict
