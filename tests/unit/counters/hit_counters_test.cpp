// Hit counters: hourly buckets, several threads at once, the memory cap under a flood.
#include "hit_counters.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dns_name.h"
#include "counters_support.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

constexpr std::int64_t kHour = 1767225600;  // 2026-01-01T00:00:00Z

std::string key_of(const std::string& name) {
  std::string key, error;
  if (!text_to_key(name, key, error)) ADD_FAILURE() << name << ": " << error;
  return key;
}

ClientAddress ipv4(std::uint32_t host_order) {
  std::uint32_t network_order = htonl(host_order);
  return ClientAddress::from(AF_INET, &network_order);
}

ClientAddress ipv6(const char* text) {
  in6_addr address{};
  EXPECT_EQ(inet_pton(AF_INET6, text, &address), 1);
  return ClientAddress::from(AF_INET6, &address);
}

HitEvent hit(const std::string& key, std::string_view campaign, ClientAddress client,
             std::int64_t time, RuleKind kind = RuleKind::kSubtree) {
  HitEvent event;
  event.rule_key = key;
  event.kind = kind;
  event.campaign = campaign;
  event.client = client;
  event.time = time;
  return event;
}

TEST(HitCounters, HourOf) {
  EXPECT_EQ(hour_of(kHour), kHour);
  EXPECT_EQ(hour_of(kHour + 3599), kHour);
  EXPECT_EQ(hour_of(kHour + 3600), kHour + 3600);
  EXPECT_EQ(hour_of(-1), -3600);
}

TEST(HitCounters, NetworksAreSlash24AndSlash56) {
  ClientHashes a = client_hashes(ipv4(0xC0000201), testing::client_key());  // 192.0.2.1
  ClientHashes b = client_hashes(ipv4(0xC00002FE), testing::client_key());  // 192.0.2.254
  ClientHashes c = client_hashes(ipv4(0xC0000301), testing::client_key());  // 192.0.3.1
  EXPECT_NE(a.address, b.address);
  EXPECT_EQ(a.network, b.network);
  EXPECT_NE(a.network, c.network);
  ClientHashes d = client_hashes(ipv6("2001:db8:0:1100::1"), testing::client_key());
  ClientHashes e = client_hashes(ipv6("2001:db8:0:11ff:ffff::2"), testing::client_key());
  ClientHashes f = client_hashes(ipv6("2001:db8:0:1200::1"), testing::client_key());
  EXPECT_EQ(d.network, e.network);
  EXPECT_NE(d.network, f.network);
}

// The hashes are keyed: the same address under another deployment's key is another hash,
// so a store's sketches tell nothing about an address without the key.
TEST(HitCounters, ClientHashesDependOnTheKey) {
  const ClientHashKey other = *ClientHashKey::parse("f0e0d0c0b0a090807060504030201000");
  for (const ClientAddress& client : {ipv4(0xC0000201), ipv6("2001:db8::1")}) {
    ClientHashes mine = client_hashes(client, testing::client_key());
    ClientHashes again = client_hashes(client, testing::client_key());
    ClientHashes theirs = client_hashes(client, other);
    EXPECT_EQ(mine.address, again.address);
    EXPECT_NE(mine.address, theirs.address);
    EXPECT_NE(mine.network, theirs.network);
  }
  // Counted by two resolvers with different keys, 1,000 clients land in different registers.
  HitCounters::Options options;
  options.client_key = other;
  HitCounters counters_mine(testing::counting()), counters_theirs(options);
  const std::string key = key_of("img.example");
  for (std::uint32_t i = 0; i < 1000; ++i) {
    counters_mine.record_hit(hit(key, "", ipv4(0x0A000000 + i), kHour));
    counters_theirs.record_hit(hit(key, "", ipv4(0x0A000000 + i), kHour));
  }
  EXPECT_NE(counters_mine.take_snapshot().rules.at(0).hours.at(0).clients.registers(),
            counters_theirs.take_snapshot().rules.at(0).hours.at(0).clients.registers());
}

// Without a key the counters count nothing; start_counting() gives them one, once.
TEST(HitCounters, CountNothingUntilTheyHaveAKey) {
  HitCounters counters;
  const std::string key = key_of("img.example");
  counters.record_hit(hit(key, "c", ipv4(1), kHour));
  EXPECT_TRUE(counters.take_snapshot().empty());
  EXPECT_TRUE(counters.start_counting(testing::client_key()));
  EXPECT_TRUE(counters.start_counting(testing::client_key()));
  EXPECT_FALSE(counters.start_counting(ClientHashKey::random()));
  counters.record_hit(hit(key, "c", ipv4(1), kHour));
  EXPECT_EQ(counters.take_snapshot().rules.size(), 1u);
}

TEST(HitCounters, CountsPerRuleCampaignAndHour) {
  HitCounters counters(testing::counting());
  std::string evil = key_of("evil.example"), bad = key_of("bad.example");
  counters.record_hit(hit(evil, "img-lookalikes", ipv4(0x0A000001), kHour + 10));
  counters.record_hit(hit(evil, "img-lookalikes", ipv4(0x0A000001), kHour + 20));
  counters.record_hit(hit(evil, "img-lookalikes", ipv4(0x0A000002), kHour + 5));
  counters.record_hit(hit(bad, "img-lookalikes", ipv4(0x0A000103), kHour + 3700));
  counters.record_hit(hit(bad, "", ClientAddress{}, kHour + 3800, RuleKind::kExact));

  CountersSnapshot snapshot = counters.take_snapshot();
  ASSERT_EQ(snapshot.rules.size(), 3u);  // bad/subtree, bad/exact, evil/subtree
  const RuleCounts* evil_rule = nullptr;
  for (const auto& rule : snapshot.rules)
    if (rule.rule_key == evil) evil_rule = &rule;
  ASSERT_NE(evil_rule, nullptr);
  EXPECT_EQ(evil_rule->campaign, "img-lookalikes");
  ASSERT_EQ(evil_rule->hours.size(), 1u);
  const HourlyCounts& hour = evil_rule->hours[0];
  EXPECT_EQ(hour.hour, kHour);
  EXPECT_EQ(hour.queries, 3u);
  EXPECT_EQ(hour.first_seen, kHour + 5);
  EXPECT_EQ(hour.last_seen, kHour + 20);
  EXPECT_NEAR(hour.clients.estimate(), 2, 0.01);
  EXPECT_NEAR(hour.networks.estimate(), 1, 0.01);

  ASSERT_EQ(snapshot.campaigns.size(), 1u);
  const CampaignCounts& campaign = snapshot.campaigns[0];
  EXPECT_EQ(campaign.campaign, "img-lookalikes");
  ASSERT_EQ(campaign.hours.size(), 2u);
  EXPECT_EQ(campaign.hours[0].queries, 3u);
  EXPECT_EQ(campaign.hours[1].hour, kHour + 3600);
  EXPECT_EQ(campaign.hours[1].queries, 1u);
  EXPECT_NEAR(campaign.hours[1].networks.estimate(), 1, 0.01);
  EXPECT_EQ(snapshot.totals.hits, 5u);

  // A snapshot drains the counters; totals stay cumulative.
  CountersSnapshot next = counters.take_snapshot();
  EXPECT_TRUE(next.empty());
  EXPECT_EQ(next.totals.hits, 5u);
}

// Several threads count the same rule and campaign at once; every query is counted and the
// shards' sketches merge into the right distinct count.
TEST(HitCounters, CountsFromSeveralThreadsAtOnce) {
  HitCounters::Options options;
  options.shards = 4;
  HitCounters counters(testing::counting(options));
  const std::string key = key_of("img.example");
  constexpr int kThreads = 8;
  constexpr std::uint32_t kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (std::uint32_t i = 0; i < kPerThread; ++i) {
        // Clients overlap between threads: 8 threads x 50k hits over 100k addresses.
        std::uint32_t client = (static_cast<std::uint32_t>(t) * 12500 + i) % 100000;
        counters.record_hit(hit(key, "campaign", ipv4(0x0A000000 + client), kHour + i % 3600));
      }
    });
  // Snapshots taken while counting must not lose or double anything.
  std::vector<CountersSnapshot> snapshots;
  for (int i = 0; i < 5; ++i) snapshots.push_back(counters.take_snapshot());
  for (auto& thread : threads) thread.join();
  snapshots.push_back(counters.take_snapshot());

  std::uint64_t rule_queries = 0, campaign_queries = 0;
  HourlyCounts rule_total, campaign_total;
  rule_total.hour = campaign_total.hour = kHour;
  for (const auto& snapshot : snapshots) {
    for (const auto& rule : snapshot.rules)
      for (const auto& hour : rule.hours) {
        rule_queries += hour.queries;
        rule_total.merge(hour);
      }
    for (const auto& campaign : snapshot.campaigns)
      for (const auto& hour : campaign.hours) {
        campaign_queries += hour.queries;
        campaign_total.merge(hour);
      }
  }
  EXPECT_EQ(rule_queries, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(campaign_queries, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(rule_total.first_seen, kHour);
  EXPECT_EQ(rule_total.last_seen, kHour + 3599);
  EXPECT_LT(std::fabs(campaign_total.clients.estimate() - 100000) / 100000,
            3 * HyperLogLog::kStandardError);
  EXPECT_EQ(rule_total.clients, campaign_total.clients);
  EXPECT_NEAR(campaign_total.networks.estimate(), 100000 / 256.0 + 1, 5);
  EXPECT_EQ(snapshots.back().totals.hits, std::uint64_t{kThreads} * kPerThread);
}

// 1M random names under one blocked subtree: one rule entry (the rule, not the name, is the
// identity), and a bounded sketch.
TEST(HitCounters, RandomSubdomainFloodUnderOneSubtreeIsOneEntry) {
  HitCounters counters(testing::counting());
  const std::string key = key_of("flood.example");
  std::mt19937_64 random(7);
  for (int i = 0; i < 1000000; ++i)
    counters.record_hit(hit(key, "flood", ipv4(static_cast<std::uint32_t>(random())), kHour));
  EXPECT_EQ(counters.tracked_rules(), 1u);
  // One rule with two dense sketches at most, one campaign with three and its site sample.
  EXPECT_LT(counters.memory_bytes(), 5 * (HyperLogLog::kRegisters + 1024) +
                                         (kSiteSampleLimit + 1) * sizeof(SampledSite) + 64 * 1024);
  EXPECT_EQ(counters.totals().evicted_rules, 0u);
}

// A flood that hits a million distinct rules (every name of a big exact-match list, or a
// random-subdomain flood against per-name rules): rule entries stay at the cap, evictions
// are counted, and the campaign's counts stay exact.
TEST(HitCounters, MemoryCapUnderFloodOfDistinctRules) {
  HitCounters::Options options;
  options.shards = 1;
  options.max_rules = 1000;
  HitCounters counters(testing::counting(options));
  std::mt19937_64 random(11);
  constexpr int kFlood = 1000000;
  std::size_t peak_memory = 0;
  for (int i = 0; i < kFlood; ++i) {
    std::string name = "r" + std::to_string(random() % 100000000000ULL) + ".flood.example";
    std::string key = key_of(name);
    counters.record_hit(hit(key, "flood", ipv4(0x0A000000 + static_cast<std::uint32_t>(i % 50000)),
                            kHour, RuleKind::kExact));
    if (i % 100000 == 99999) peak_memory = std::max(peak_memory, counters.memory_bytes());
  }
  EXPECT_EQ(counters.tracked_rules(), 1000u);
  CounterTotals totals = counters.totals();
  EXPECT_GE(totals.evicted_rules, static_cast<std::uint64_t>(kFlood - 1000 - 100));
  EXPECT_EQ(totals.evicted_queries + 1000 + (kFlood - 1000 - totals.evicted_rules), kFlood);
  std::printf("tracked 1000 rules, evicted %llu, memory %zu bytes\n",
              static_cast<unsigned long long>(totals.evicted_rules), peak_memory);
  EXPECT_LT(peak_memory, 1000 * 1024 + 64 * 1024);  // ~1 KiB per tracked rule

  CountersSnapshot snapshot = counters.take_snapshot();
  EXPECT_EQ(snapshot.rules.size(), 1000u);
  ASSERT_EQ(snapshot.campaigns.size(), 1u);
  const HourlyCounts& campaign = snapshot.campaigns[0].hours.at(0);
  EXPECT_EQ(campaign.queries, static_cast<std::uint64_t>(kFlood));
  EXPECT_LT(std::fabs(campaign.clients.estimate() - 50000) / 50000,
            3 * HyperLogLog::kStandardError);
  std::uint64_t rule_queries = 0;
  for (const auto& rule : snapshot.rules) rule_queries += rule.hours.at(0).queries;
  EXPECT_EQ(rule_queries + totals.evicted_queries, static_cast<std::uint64_t>(kFlood));
}

// The cap is over all shards: one busy thread may use all of it, however many shards there
// are; several threads at the cap stay within max_rules + shards - 1.
// A flood of random client addresses over many rules (spoofed sources): without a budget
// every rule's two sketches would go dense (1,000 rules x 32 KiB); with one, memory stays
// at the budget, the budget callback fires once until the next snapshot, and queries are
// still all counted (only clients are left out of sketches that would grow).
TEST(HitCounters, MemoryBudgetHoldsUnderAFloodOfRandomClients) {
  HitCounters::Options options;
  options.shards = 4;
  options.memory_budget = std::size_t{2} << 20;
  HitCounters counters(options);
  std::atomic<int> signals{0};
  ASSERT_TRUE(counters.start_counting(testing::client_key(), [&] { ++signals; }));
  std::vector<std::string> rules;
  for (int i = 0; i < 1000; ++i) rules.push_back(key_of("r" + std::to_string(i) + ".example"));
  constexpr int kThreads = 4, kPerThread = 500000;
  std::atomic<std::size_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 random(100 + t);
      for (int i = 0; i < kPerThread; ++i) {
        counters.record_hit(hit(rules[random() % rules.size()], "flood",
                               ipv4(static_cast<std::uint32_t>(random())), kHour,
                               RuleKind::kExact));
        if (i % 10000 == 0) {
          std::size_t now = counters.memory_bytes(), seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
        }
      }
    });
  for (auto& thread : threads) thread.join();
  const std::size_t slack = options.shards * 64 * 1024;  // one entry's growth per shard
  std::printf("budget %zu bytes: peak %zu, end %zu, %llu clients left out\n",
              options.memory_budget, peak.load(), counters.memory_bytes(),
              static_cast<unsigned long long>(counters.totals().budget_skipped_clients));
  EXPECT_LE(peak.load(), options.memory_budget + slack);
  EXPECT_LE(counters.memory_bytes(), options.memory_budget + slack);
  EXPECT_EQ(signals.load(), 1);
  CountersSnapshot snapshot = counters.take_snapshot();
  EXPECT_GT(snapshot.totals.budget_skipped_clients, 0u);
  EXPECT_EQ(snapshot.campaigns.at(0).hours.at(0).queries,
            static_cast<std::uint64_t>(kThreads) * kPerThread);
  EXPECT_LT(counters.memory_bytes(), 64u * 1024);  // drained by the snapshot
  counters.record_hit(hit(rules[0], "flood", ipv4(1), kHour));
  // Below the budget again: the next crossing signals again.
  for (std::uint32_t i = 0; counters.memory_bytes() < options.memory_budget && i < 10000000; ++i)
    counters.record_hit(hit(rules[i % rules.size()], "flood", ipv4(i * 2654435761u), kHour,
                           RuleKind::kExact));
  counters.record_hit(hit(rules[0], "flood", ipv4(2), kHour));
  EXPECT_EQ(signals.load(), 2);
}

TEST(HitCounters, CapIsSharedByAllShards) {
  HitCounters::Options options;
  options.shards = 16;
  options.max_rules = 1000;
  HitCounters counters(testing::counting(options));
  for (int i = 0; i < 5000; ++i) {
    std::string key = key_of("r" + std::to_string(i) + ".example");
    counters.record_hit(hit(key, "c", ipv4(1), kHour, RuleKind::kExact));
  }
  EXPECT_EQ(counters.tracked_rules(), 1000u);
  EXPECT_EQ(counters.totals().evicted_rules, 4000u);

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        std::string key = key_of("t" + std::to_string(t) + "-" + std::to_string(i) + ".example");
        counters.record_hit(hit(key, "c", ipv4(2), kHour, RuleKind::kExact));
      }
    });
  for (auto& thread : threads) thread.join();
  const std::size_t tracked = counters.tracked_rules();
  EXPECT_LE(tracked, 1000u + 15);
  CountersSnapshot snapshot = counters.take_snapshot();
  EXPECT_EQ(snapshot.rules.size(), tracked);  // every key is distinct: one entry each
  EXPECT_EQ(counters.tracked_rules(), 0u);
  EXPECT_EQ(snapshot.campaigns.at(0).hours.at(0).queries, 85000u);
}

TEST(HitCounters, LeastRecentlyHitIsEvicted) {
  HitCounters::Options options;
  options.shards = 1;
  options.max_rules = 2;
  HitCounters counters(testing::counting(options));
  std::string a = key_of("a.example"), b = key_of("b.example"), c = key_of("c.example");
  counters.record_hit(hit(a, "", ipv4(1), kHour));
  counters.record_hit(hit(b, "", ipv4(1), kHour));
  counters.record_hit(hit(a, "", ipv4(1), kHour));  // b is now the least recently hit
  counters.record_hit(hit(c, "", ipv4(1), kHour));
  CountersSnapshot snapshot = counters.take_snapshot();
  ASSERT_EQ(snapshot.rules.size(), 2u);
  EXPECT_EQ(snapshot.rules[0].rule_key, a);
  EXPECT_EQ(snapshot.rules[0].hours[0].queries, 2u);
  EXPECT_EQ(snapshot.rules[1].rule_key, c);
  EXPECT_EQ(snapshot.totals.evicted_rules, 1u);
  EXPECT_EQ(snapshot.totals.evicted_queries, 1u);
}

// A thread keeps counting into one shard of an instance, and a new instance (a reload)
// assigns shards afresh: Unbound's main thread survives a reload as worker 0 while the other
// workers are new threads, and no two of them may share a shard. Observed through eviction,
// which picks the least recently hit rule of the hitting thread's own shard.
TEST(HitCounters, ThreadSlotsAreAssignedPerInstance) {
  HitCounters::Options options;
  options.shards = 2;
  options.max_rules = 2;
  std::string a = key_of("a.example"), b = key_of("b.example"), c = key_of("c.example");
  for (int generation = 0; generation < 3; ++generation) {
    // A reload: a new instance; the main thread stays.
    HitCounters counters(testing::counting(options));
    counters.record_hit(hit(a, "", ipv4(1), kHour));
    std::thread worker([&] {
      counters.record_hit(hit(b, "", ipv4(1), kHour));
      counters.record_hit(hit(c, "", ipv4(1), kHour));  // at the cap: evicts from its shard
    });
    worker.join();
    CountersSnapshot snapshot = counters.take_snapshot();
    ASSERT_EQ(snapshot.rules.size(), 2u);
    // The worker's own shard held only b: a (the main thread's) survives.
    EXPECT_EQ(snapshot.rules[0].rule_key, a) << "generation " << generation;
    EXPECT_EQ(snapshot.rules[1].rule_key, c) << "generation " << generation;
  }
}

TEST(HitCounters, CampaignCapCountsUntrackedHits) {
  HitCounters::Options options;
  options.shards = 1;
  options.max_campaigns = 2;
  HitCounters counters(testing::counting(options));
  std::string key = key_of("x.example");
  for (const char* campaign : {"one", "two", "three", "one"})
    counters.record_hit(hit(key, campaign, ipv4(1), kHour));
  CountersSnapshot snapshot = counters.take_snapshot();
  EXPECT_EQ(snapshot.campaigns.size(), 2u);
  EXPECT_EQ(snapshot.totals.untracked_campaign_hits, 1u);
}

}  // namespace
}  // namespace dnsverdict
