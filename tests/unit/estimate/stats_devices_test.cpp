// The device range of `dnsverdict stats` against populations with known truth (device_sim.h):
// every campaign query of a scenario goes through the module's HitCounters::record_hit, the
// counters are flushed into stats stores every few hours as the module's flusher does, and
// the stores are read and merged as `dnsverdict stats` reads them. The range must hold the
// truth for home NAT, CGNAT and IPv6 privacy addresses, also when two resolvers share the
// clients and their stores are merged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdio>
#include <set>
#include <string>

#include "counters/counters_support.h"
#include "device_sim.h"
#include "hit_counters.h"
#include "stats_devices.h"
#include "stats_store.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

ClientAddress parse_address(const std::string& text) {
  std::uint8_t bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return ClientAddress::from(AF_INET, bytes);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) return ClientAddress::from(AF_INET6, bytes);
  ADD_FAILURE() << "not an address: " << text;
  return {};
}

// One resolver: its counters and its stats store, flushed every `flush_hours`.
struct Resolver {
  HitCounters counters{testing::counting()};
  StatsStore store;
  std::int64_t next_flush = 0;
  Resolver(const std::string& path, const std::string& name)
      : store(StatsStore::open(path, [&] {
          StatsStore::Options options;
          options.resolver = name;
          options.retention_days = 0;
          options.client_key_fingerprint = testing::client_key().fingerprint();
          return options;
        }())) {}
  void flush(std::int64_t now) { store.flush(counters.take_snapshot(), now); }
};

// Feeds the scenario's campaign queries to `resolvers` (alternating query by query) and
// returns the merged stores' device range for campaign "c".
StatsDevices run(const testing::DeviceSimResult& simulation, const testing::TempDir& folder,
                 std::size_t resolver_count) {
  const testing::SimConfig names;
  const std::set<std::string> campaign(names.campaign.begin(), names.campaign.end());
  std::vector<std::unique_ptr<Resolver>> resolvers;
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < resolver_count; ++i) {
    paths.push_back(folder.file("stats" + std::to_string(i) + ".mdb"));
    resolvers.push_back(std::make_unique<Resolver>(paths.back(), "r" + std::to_string(i)));
  }
  constexpr std::int64_t kFlushSeconds = 6 * kSecondsPerHour;
  std::size_t turn = 0;
  for (const auto& query : simulation.queries) {
    if (campaign.count(*query.name) == 0) continue;
    Resolver& resolver = *resolvers[turn++ % resolvers.size()];
    if (resolver.next_flush == 0) resolver.next_flush = query.time + kFlushSeconds;
    if (query.time >= resolver.next_flush) {
      resolver.flush(query.time);
      resolver.next_flush = query.time + kFlushSeconds;
    }
    HitEvent hit;
    hit.rule_key = *query.name;  // the key's form does not matter to the campaign counts
    hit.campaign = "c";
    hit.client = parse_address(query.client);
    hit.time = query.time;
    resolver.counters.record_hit(hit);
  }
  for (auto& resolver : resolvers) resolver->flush(resolver->next_flush);
  StatsQuery query;
  query.rules = false;
  MergedStats merged = merge_stats_stores(paths, query);
  StatsSubject subject;
  subject.campaign = "c";
  return devices_from_stats(merged.subjects.at(subject));
}

class StatsDevicesTest
    : public ::testing::TestWithParam<std::tuple<const char*, std::size_t>> {};

TEST_P(StatsDevicesTest, RangeFromTheStatsStoreHoldsTheTruth) {
  auto [name, resolvers] = GetParam();
  testing::DeviceScenario scenario;
  for (const auto& candidate : testing::device_scenarios())
    if (candidate.name == name) scenario = candidate;
  ASSERT_EQ(scenario.name, name);
  testing::DeviceSimResult simulation = testing::simulate_devices(scenario);
  testing::TempDir folder;
  StatsDevices stats = run(simulation, folder, resolvers);
  const DeviceEstimate& devices = stats.devices;
  double truth = simulation.devices;
  std::string summary = std::string(name) + ": " + std::to_string(devices.low) + " .. " +
                        std::to_string(devices.high) + ", middle " +
                        std::to_string(devices.middle) + "; truth " +
                        std::to_string(simulation.devices) + " devices on " +
                        std::to_string(simulation.addresses) + " addresses; " +
                        std::to_string(stats.beacons.sampled_clients) + " sampled sites";
  std::printf("%s\n", summary.c_str());  // the figures docs/estimation.md quotes
  EXPECT_EQ(stats.hours_without_sites, 0u);
  EXPECT_TRUE(devices.corrected) << summary;
  EXPECT_LE(devices.low, truth) << summary;
  EXPECT_GE(devices.high, truth) << summary;
  EXPECT_NEAR(static_cast<double>(devices.middle), truth, 0.25 * truth) << summary;
  // No site beacons alone: the stats store's site sample keeps each hour's occupied slots, so
  // the period is read from the shared sites as `estimate` reads it.
  if (scenario.name == "cgnat-only") {
    EXPECT_TRUE(stats.beacons.period.found) << stats.beacons.period.reason;
    EXPECT_NEAR(stats.beacons.period.seconds, scenario.beacon_seconds, 0.05 * scenario.beacon_seconds);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, StatsDevicesTest,
    ::testing::Values(std::tuple{"static", std::size_t{1}}, std::tuple{"home-nat", std::size_t{1}},
                      std::tuple{"cgnat", std::size_t{1}}, std::tuple{"ipv6-privacy", std::size_t{1}},
                      std::tuple{"home-nat", std::size_t{2}}, std::tuple{"cgnat", std::size_t{2}},
                      std::tuple{"ipv6-privacy", std::size_t{2}}, std::tuple{"cgnat-only", std::size_t{1}},
                      std::tuple{"cgnat-only", std::size_t{2}}),
    [](const auto& info) {
      std::string name = std::get<0>(info.param);
      for (char& c : name)
        if (c == '-') c = '_';
      return name + "_" + std::to_string(std::get<1>(info.param)) + "_resolvers";
    });

}  // namespace
}  // namespace dnsverdict
