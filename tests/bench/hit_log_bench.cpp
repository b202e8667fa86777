// What the hit log costs the query path: HitLog::submit() when the record is queued, when
// the queue is full and it is dropped, when the file is not open, and with several threads
// at once; and what the writer thread pays to format one line and to apply the rate limits.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dns_name.h"
#include "hit_log.h"
#include "hit_rate_limit.h"

namespace dnsverdict {
namespace {

HitRecord sample_record() {
  HitRecord record;
  record.time_us = 1795676400123456;
  in_addr address{};
  inet_pton(AF_INET, "192.0.2.7", &address);
  record.set_client(AF_INET, &address, 53124);
  std::string wire, key, error;
  if (!parse_name("tracker.ads.example.com", wire, error) ||
      !text_to_key("example.com", key, error))
    std::abort();
  record.qname_wire.assign(wire);
  record.rule_key.assign(key);
  record.qtype = 1;
  record.action_applied = Action::kNxdomain;
  record.rule_action = Action::kNxdomain;
  record.kind = RuleKind::kSubtree;
  record.confidence = 90;
  record.campaign.assign("phish-2026");
  record.category.assign("phishing");
  record.source.assign("urlhaus.rpz");
  record.build_id.assign("0123456789abcdef0123456789abcdef");
  return record;
}

std::unique_ptr<HitLog> open_log(HitLog::Options options) {
  std::string error;
  auto log = HitLog::open(std::move(options), error);
  if (log == nullptr) {
    std::fprintf(stderr, "%s\n", error.c_str());
    std::abort();
  }
  return log;
}

HitLog::Options null_options(std::size_t capacity) {
  HitLog::Options options;
  options.path = "/dev/null";
  options.capacity_lines = capacity;
  options.flush_interval = std::chrono::milliseconds(1);
  return options;
}

// Queued: the queue never fills during the timed part; between laps the timer stops while
// the writer catches up.
void BM_SubmitQueued(benchmark::State& state) {
  constexpr std::size_t kCapacity = 65536;
  auto log = open_log(null_options(kCapacity));
  const HitRecord record = sample_record();
  std::size_t in_lap = 0;
  std::uint64_t submitted = 0;
  for (auto _ : state) {
    if (in_lap == kCapacity) {
      state.PauseTiming();
      while (log->written() + log->dropped() < submitted)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      in_lap = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(log->submit(record));
    ++in_lap;
    ++submitted;
  }
  state.counters["dropped"] = static_cast<double>(log->dropped());
}
BENCHMARK(BM_SubmitQueued);

// Full: the writer is held, so every submit finds no room and counts a drop.
void BM_SubmitWhenFull(benchmark::State& state) {
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  HitLog::Options options = null_options(1024);
  options.writer_cycle_hook = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    released.wait(lock, [&] { return release; });
  };
  auto log = open_log(options);
  const HitRecord record = sample_record();
  while (log->submit(record)) {
  }
  for (auto _ : state) benchmark::DoNotOptimize(log->submit(record));
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  released.notify_all();
}
BENCHMARK(BM_SubmitWhenFull);

// Several threads queueing at once. The writer is held until the end so that every submit
// finds room: the queue holds every iteration of every thread.
constexpr int kQueuedPerThread = 20000;
constexpr int kMaxThreads = 4;
struct HeldLog {
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  std::unique_ptr<HitLog> log;
};
HeldLog* held_log = nullptr;

void BM_SubmitQueuedThreads(benchmark::State& state) {
  if (state.thread_index() == 0) {
    held_log = new HeldLog;
    HitLog::Options options = null_options(std::size_t{kQueuedPerThread} * kMaxThreads);
    options.writer_cycle_hook = [held = held_log] {
      std::unique_lock<std::mutex> lock(held->mutex);
      held->released.wait(lock, [held] { return held->release; });
    };
    held_log->log = open_log(options);
  }
  const HitRecord record = sample_record();
  std::uint64_t refused = 0;
  for (auto _ : state) refused += held_log->log->submit(record) ? 0 : 1;
  state.counters["refused"] = benchmark::Counter(static_cast<double>(refused));
  if (state.thread_index() == 0) {
    {
      std::lock_guard<std::mutex> lock(held_log->mutex);
      held_log->release = true;
    }
    held_log->released.notify_all();
    delete held_log;  // drains the queue and joins the writer
    held_log = nullptr;
  }
}
BENCHMARK(BM_SubmitQueuedThreads)
    ->Iterations(kQueuedPerThread)
    ->ThreadRange(1, kMaxThreads)
    ->UseRealTime()
    ->Repetitions(5)
    ->ReportAggregatesOnly();

// The file cannot be opened: every submit counts a drop at once.
void BM_SubmitWhenClosed(benchmark::State& state) {
  HitLog::Options options = null_options(1024);
  options.path = "/nonexistent-folder/hits.log";
  options.retry_interval = std::chrono::hours(1);
  auto log = open_log(options);
  const HitRecord record = sample_record();
  for (auto _ : state) benchmark::DoNotOptimize(log->submit(record));
}
BENCHMARK(BM_SubmitWhenClosed);

// The writer's side of the rate limits: one decision for a hit. A flood from one client
// (its entry found, the hit counted into its summary), and from many (a new entry per hit
// up to the tracking bound, then the per-rule summary).
void BM_RateLimitOneClient(benchmark::State& state) {
  HitLogLimits limits;
  limits.per_client = 10;
  limits.lines_per_second = 1000;
  HitRateLimiter limiter(limits);
  const HitRecord record = sample_record();
  const std::int64_t now = record.time_us;
  limiter.roll(now);
  for (auto _ : state) benchmark::DoNotOptimize(limiter.admit(record, now));
}
BENCHMARK(BM_RateLimitOneClient);

void BM_RateLimitManyClients(benchmark::State& state) {
  HitLogLimits limits;
  limits.per_client = 10;
  limits.lines_per_second = 0;  // only the tracking bound stops new entries
  HitRateLimiter limiter(limits);
  HitRecord record = sample_record();
  const std::int64_t now = record.time_us;
  limiter.roll(now);
  std::uint32_t client = 0;
  for (auto _ : state) {
    ++client;
    record.set_client(AF_INET, &client, 53);
    benchmark::DoNotOptimize(limiter.admit(record, now));
  }
  state.counters["tracked"] = static_cast<double>(limiter.tracked());
}
BENCHMARK(BM_RateLimitManyClients);

// The writer's side: one record to one JSON line.
void BM_FormatHitJson(benchmark::State& state) {
  const HitRecord record = sample_record();
  for (auto _ : state) benchmark::DoNotOptimize(format_hit_json(record));
}
BENCHMARK(BM_FormatHitJson);

}  // namespace
}  // namespace dnsverdict

BENCHMARK_MAIN();
