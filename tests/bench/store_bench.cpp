// Micro-benchmarks of the verdict store: compile throughput from a plain domain list, and
// lookup cost for misses and hits at several store sizes. Prints numbers; asserts nothing.
//
//   store_bench [--sizes=1000000,10000000] [--dir=/tmp/dnsverdict-bench] [benchmark flags]
//
// Stores are built once per size into --dir and reused by later runs.
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "diagnostics.h"
#include "feed.h"
#include "store_writer.h"
#include "verdict_store.h"

namespace dnsverdict {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::string label(std::size_t min, std::size_t max) {
    static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::size_t size = min + next() % (max - min + 1);
    std::string text;
    for (std::size_t i = 0; i < size; ++i) text.push_back(kAlphabet[next() % 36]);
    return text;
  }
  std::string tld() {
    static const char* kTlds[] = {"com", "net", "org", "info", "xyz", "top", "ru", "cn"};
    return kTlds[next() % 8];
  }
};

// Listed names: registrable-style "label.tld", as most blocklists hold.
std::string listed_name(std::uint64_t seed, std::uint64_t i) {
  Random random{seed * 0x100000000ull + i};
  return random.label(6, 14) + "." + random.tld();
}

std::string make_list(std::uint64_t count) {
  std::string text;
  text.reserve(count * 16);
  for (std::uint64_t i = 0; i < count; ++i) {
    text += listed_name(1, i);
    text += '\n';
  }
  return text;
}

std::vector<std::string> to_wire(const std::vector<std::string>& names) {
  std::vector<std::string> wires;
  for (const auto& name : names) {
    std::string wire, error;
    parse_name(name, wire, error);
    wires.push_back(wire);
  }
  return wires;
}

struct Compiled {
  double parse_seconds = 0, finalize_seconds = 0, write_seconds = 0;
  std::uint64_t bytes = 0;
};

// Process CPU time: on a shared machine it moves far less than wall-clock time.
struct CpuClock {
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<CpuClock>;
  static time_point now() {
    timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return time_point(duration(std::int64_t{now.tv_sec} * 1000000000 + now.tv_nsec));
  }
};

Compiled compile_list(const std::string& list, const std::string& path) {
  using Clock = CpuClock;
  Compiled compiled;
  auto start = Clock::now();
  RuleSet rules;
  SourceRecord source;
  source.file = "bench.txt";
  std::uint16_t id = rules.add_source(source);
  Diagnostics diagnostics(1000, stderr);
  FeedDefaults defaults;
  parse_domain_list("bench.txt", list, defaults, id, rules, diagnostics);
  auto parsed = Clock::now();
  rules.finalize();
  auto finalized = Clock::now();
  PublishOptions options;
  options.force = true;
  compiled.bytes = write_store(rules, path, options).bytes;
  auto written = Clock::now();
  compiled.parse_seconds = std::chrono::duration<double>(parsed - start).count();
  compiled.finalize_seconds = std::chrono::duration<double>(finalized - parsed).count();
  compiled.write_seconds = std::chrono::duration<double>(written - finalized).count();
  return compiled;
}

std::shared_ptr<const VerdictStore> store_of_size(const std::string& dir, std::uint64_t size) {
  std::string path = dir + "/bench-" + std::to_string(size) + ".mdb";
  try {
    auto store = VerdictStore::open(path);
    if (store->info().rule_count > 0) return store;
  } catch (const StoreError&) {
  }
  std::fprintf(stderr, "building %s ...\n", path.c_str());
  compile_list(make_list(size), path);
  return VerdictStore::open(path);
}

// Query names in wire format, back to back: a resolver's query name is hot in its cache, so
// the benchmark keeps its own inputs compact rather than in scattered strings.
struct WireNames {
  std::string bytes;
  std::vector<std::uint32_t> starts;
  explicit WireNames(const std::vector<std::string>& wires) {
    for (const auto& wire : wires) {
      starts.push_back(static_cast<std::uint32_t>(bytes.size()));
      bytes += wire;
    }
  }
};

void run_lookups(benchmark::State& state, const VerdictStore& store, const WireNames& names,
                 bool expect_hit) {
  std::size_t i = 0, hits = 0;
  const std::size_t count = names.starts.size();
  for (auto _ : state) {
    const auto* wire = reinterpret_cast<const std::uint8_t*>(names.bytes.data() + names.starts[i]);
    std::size_t size = names.bytes.size() - names.starts[i];
    if (++i == count) i = 0;
    LookupResult result = store.lookup_wire(wire, size, kNow);
    hits += result.hit();
    benchmark::DoNotOptimize(result);
  }
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
  if (expect_hit != (hits * 2 > static_cast<std::size_t>(state.iterations())))
    state.SkipWithError("unexpected hit ratio");
}

void register_size(const std::string& dir, std::uint64_t size) {
  auto store = store_of_size(dir, size);
  Random random{size + 7};
  constexpr std::size_t kQueries = 1 << 18;
  std::vector<std::string> misses, hits;
  for (std::size_t i = 0; i < kQueries; ++i) {
    // Misses: 3 to 5 labels under names that are not listed.
    std::string name = random.label(6, 14) + "." + random.tld();
    std::size_t extra = 1 + random.next() % 3;
    for (std::size_t j = 0; j < extra; ++j) name = random.label(3, 8) + "." + name;
    misses.push_back(name);
    // Hits: a listed name or a name below one (subtree rules).
    std::string listed = listed_name(1, random.next() % size);
    hits.push_back(random.next() % 2 ? listed : "www." + listed);
  }
  auto miss_wires = std::make_shared<WireNames>(to_wire(misses));
  auto hit_wires = std::make_shared<WireNames>(to_wire(hits));
  benchmark::RegisterBenchmark(("lookup_miss/" + std::to_string(size)).c_str(),
                               [store, miss_wires](benchmark::State& state) {
                                 run_lookups(state, *store, *miss_wires, false);
                               });
  benchmark::RegisterBenchmark(("lookup_hit/" + std::to_string(size)).c_str(),
                               [store, hit_wires](benchmark::State& state) {
                                 run_lookups(state, *store, *hit_wires, true);
                               });
}

}  // namespace
}  // namespace dnsverdict

int main(int argc, char** argv) {
  using namespace dnsverdict;
  std::vector<std::uint64_t> sizes = {1000000, 10000000};
  std::string dir = "/tmp/dnsverdict-bench";
  std::uint64_t compile_size = 1000000;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--sizes=", 0) == 0) {
      sizes.clear();
      std::string list = arg.substr(8);
      std::size_t start = 0;
      while (start < list.size()) {
        std::size_t comma = list.find(',', start);
        sizes.push_back(std::stoull(list.substr(start, comma - start)));
        start = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else if (arg.rfind("--dir=", 0) == 0) {
      dir = arg.substr(6);
    } else if (arg.rfind("--compile=", 0) == 0) {
      compile_size = std::stoull(arg.substr(10));
    } else {
      rest.push_back(argv[i]);
    }
  }
  std::filesystem::create_directories(dir);

  if (compile_size > 0) {
    std::string list = make_list(compile_size);
    Compiled compiled = compile_list(list, dir + "/compile-bench.mdb");
    double total = compiled.parse_seconds + compiled.finalize_seconds + compiled.write_seconds;
    std::printf(
        "compile %llu names (plain list, one core, CPU time): %.2f s = %.0f rules/s "
        "(parse %.2f s, sort+merge %.2f s, write %.2f s), %llu bytes = %.1f bytes/rule\n",
        static_cast<unsigned long long>(compile_size), total, compile_size / total,
        compiled.parse_seconds, compiled.finalize_seconds, compiled.write_seconds,
        static_cast<unsigned long long>(compiled.bytes),
        static_cast<double>(compiled.bytes) / compile_size);
    std::filesystem::remove(dir + "/compile-bench.mdb");
  }
  for (std::uint64_t size : sizes) register_size(dir, size);
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
