// What counting a hit costs the query path (target: <= 100 ns median): HitCounters::
// record_hit() for a hot rule, across many rules, with several threads at once, and at the
// memory cap (every hit evicts); plus one HyperLogLog::add_hash on its own.
//
//   build-counters/tests/bench/counters_bench --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "dns_name.h"
#include "hit_counters.h"
#include "hll.h"

namespace dnsverdict {
namespace {

constexpr std::int64_t kTime = 1767225600;
const ClientHashKey kKey = *ClientHashKey::parse("000102030405060708090a0b0c0d0e0f");

std::string key_of(const std::string& name) {
  std::string key, error;
  if (!text_to_key(name, key, error)) std::abort();
  return key;
}

std::vector<ClientAddress> clients(std::size_t count) {
  std::vector<ClientAddress> result;
  std::mt19937 random(3);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t address = random();
    result.push_back(ClientAddress::from(AF_INET, &address));
  }
  return result;
}

std::vector<std::string> rule_keys(std::size_t count) {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < count; ++i)
    keys.push_back(key_of("lookalike-" + std::to_string(i) + ".img-cdn.example"));
  return keys;
}

// One hot rule of one campaign, 10,000 distinct clients (dense sketches).
void BM_RecordHitHotRule(benchmark::State& state) {
  static HitCounters* counters = nullptr;
  if (state.thread_index() == 0) {
    HitCounters::Options options;
    options.shards = 16;
    options.client_key = kKey;
    counters = new HitCounters(options);
  }
  const std::string key = key_of("img-cdn.example");
  const std::vector<ClientAddress> addresses = clients(10000);
  HitEvent hit;
  hit.rule_key = key;
  hit.kind = RuleKind::kSubtree;
  hit.campaign = "img-lookalikes";
  hit.time = kTime;
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 997;
  for (auto _ : state) {
    hit.client = addresses[i++ % addresses.size()];
    counters->record_hit(hit);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete counters;
    counters = nullptr;
  }
}
BENCHMARK(BM_RecordHitHotRule)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// Rules hit in random order by clients: {rules, clients} (sparse sketches, cache misses).
void BM_RecordHitManyRules(benchmark::State& state) {
  HitCounters::Options options;
  options.client_key = kKey;
  HitCounters counters(options);
  const std::vector<std::string> keys = rule_keys(static_cast<std::size_t>(state.range(0)));
  const std::vector<ClientAddress> addresses = clients(static_cast<std::size_t>(state.range(1)));
  std::vector<std::uint32_t> order(1 << 16);
  std::mt19937 random(5);
  for (auto& value : order) value = random();
  HitEvent hit;
  hit.kind = RuleKind::kExact;
  hit.campaign = "img-lookalikes";
  hit.time = kTime;
  std::size_t i = 0;
  for (auto _ : state) {
    std::uint32_t pick = order[i++ & (order.size() - 1)];
    hit.rule_key = keys[pick % keys.size()];
    hit.client = addresses[(pick >> 16) % addresses.size()];
    counters.record_hit(hit);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordHitManyRules)->Args({10000, 1000})->Args({10000, 20})->Args({100, 1000});

// Every hit is a new rule at the cap: evict the least recently hit and reuse its node.
void BM_RecordHitAtCapEvicting(benchmark::State& state) {
  HitCounters::Options options;
  options.shards = 1;
  options.max_rules = 1000;
  options.client_key = kKey;
  HitCounters counters(options);
  const std::vector<std::string> keys = rule_keys(4096);
  const std::vector<ClientAddress> addresses = clients(1000);
  HitEvent hit;
  hit.kind = RuleKind::kExact;
  hit.campaign = "flood";
  hit.time = kTime;
  std::size_t i = 0;
  for (auto _ : state) {
    hit.rule_key = keys[i % keys.size()];
    hit.client = addresses[i % addresses.size()];
    ++i;
    counters.record_hit(hit);
  }
  state.counters["evicted"] = static_cast<double>(counters.totals().evicted_rules);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordHitAtCapEvicting);

void BM_HyperLogLogAddDense(benchmark::State& state) {
  HyperLogLog sketch;
  std::uint64_t i = 0;
  for (auto _ : state) {
    sketch.add_hash(XXH3_64bits(&i, sizeof i));
    ++i;
  }
  benchmark::DoNotOptimize(sketch.estimate());
}
BENCHMARK(BM_HyperLogLogAddDense);

void BM_HyperLogLogEstimate(benchmark::State& state) {
  HyperLogLog sketch;
  for (std::uint64_t i = 0; i < 100000; ++i) sketch.add_hash(XXH3_64bits(&i, sizeof i));
  for (auto _ : state) benchmark::DoNotOptimize(sketch.estimate());
}
BENCHMARK(BM_HyperLogLogEstimate);

}  // namespace
}  // namespace dnsverdict

BENCHMARK_MAIN();
