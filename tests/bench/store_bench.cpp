// Micro-benchmarks of the verdict store: compile throughput from a plain domain list, and
// lookup cost for misses and hits at several store sizes, of names and of addresses
// (lookup_address over stores of that many prefixes). Prints numbers; asserts nothing.
//
//   store_bench [--sizes=1000000,10000000] [--address-sizes=10000,1000000]
//               [--dir=/tmp/dnsverdict-bench] [benchmark flags]
//
// Stores are built once per size into --dir and reused by later runs.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
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
    // Stores from before the checksum are built again: the open benchmarks verify it.
    if (store->info().rule_count > 0 && store->checksum().state == ChecksumState::kVerified)
      return store;
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
  // What the store watcher pays for a new store: the checksum alone (the file read with
  // pread, from the page cache), and the whole open (checksum, LMDB, the small tables).
  std::string path = store->path();
  benchmark::RegisterBenchmark(("checksum_verify/" + std::to_string(size)).c_str(),
                               [path](benchmark::State& state) {
                                 for (auto _ : state) {
                                   int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
                                   struct stat info;
                                   ::fstat(fd, &info);
                                   auto checksum = verify_checksum(
                                       fd, static_cast<std::uint64_t>(info.st_size), path);
                                   ::close(fd);
                                   benchmark::DoNotOptimize(checksum);
                                 }
                                 state.SetBytesProcessed(
                                     static_cast<std::int64_t>(state.iterations()) *
                                     static_cast<std::int64_t>(std::filesystem::file_size(path)));
                               })
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("store_open/" + std::to_string(size)).c_str(),
                               [path](benchmark::State& state) {
                                 for (auto _ : state) benchmark::DoNotOptimize(VerdictStore::open(path));
                               })
      ->Unit(benchmark::kMillisecond);
}

// ---- address rules ----

// A prefix as address feeds hold them: mostly single IPv4 addresses, some /24 and shorter
// ranges, a few IPv6 prefixes.
IpPrefix listed_prefix(Random& random) {
  IpPrefix prefix;
  std::uint64_t bits = random.next();
  std::uint64_t pick = random.next() % 100;
  if (pick < 90) {
    prefix.family = 4;
    prefix.length = pick < 70 ? 32 : pick < 85 ? 24 : static_cast<std::uint8_t>(12 + pick % 12);
    for (int i = 0; i < 4; ++i) prefix.bytes[i] = static_cast<std::uint8_t>(bits >> (8 * i));
  } else {
    prefix.family = 6;
    prefix.length = pick < 95 ? 128 : pick < 98 ? 64 : 48;
    prefix.bytes[0] = 0x20;
    prefix.bytes[1] = 0x01;
    for (int i = 2; i < 16; ++i)
      prefix.bytes[i] = static_cast<std::uint8_t>((i < 10 ? bits : random.next()) >> (8 * (i % 8)));
  }
  mask_host_bits(prefix);
  return prefix;
}

std::shared_ptr<const VerdictStore> address_store_of_size(const std::string& dir,
                                                          std::uint64_t size,
                                                          std::vector<IpPrefix>& listed) {
  Random random{size * 31 + 3};
  listed.clear();
  for (std::uint64_t i = 0; i < size; ++i) listed.push_back(listed_prefix(random));
  std::string path = dir + "/bench-addresses-" + std::to_string(size) + ".mdb";
  try {
    auto store = VerdictStore::open(path);
    if (store->has_address_rules()) return store;
  } catch (const StoreError&) {
  }
  std::fprintf(stderr, "building %s ...\n", path.c_str());
  RuleSet rules;
  SourceRecord source;
  source.file = "addresses.txt";
  std::uint16_t id = rules.add_source(source);
  for (const IpPrefix& prefix : listed) {
    RuleDraft rule;
    rule.source = id;
    rules.add_address(prefix, std::move(rule));
  }
  rules.finalize();
  PublishOptions options;
  options.force = true;
  write_store(rules, path, options);
  return VerdictStore::open(path);
}

// Query addresses and their sizes: 4 octets (IPv4) or 16 (IPv6).
struct Addresses {
  std::vector<std::uint8_t> sizes;
  std::vector<std::array<std::uint8_t, 16>> bytes;
};

void run_address_lookups(benchmark::State& state, const VerdictStore& store,
                         const Addresses& addresses) {
  std::size_t i = 0, hits = 0;
  const std::size_t count = addresses.sizes.size();
  for (auto _ : state) {
    AddressLookupResult result = store.lookup_address(addresses.bytes[i].data(), addresses.sizes[i], kNow);
    if (++i == count) i = 0;
    hits += result.hit();
    benchmark::DoNotOptimize(result);
  }
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}

void register_address_size(const std::string& dir, std::uint64_t size) {
  std::vector<IpPrefix> listed;
  auto store = address_store_of_size(dir, size, listed);
  Random random{size + 11};
  constexpr std::size_t kQueries = 1 << 18;
  auto misses = std::make_shared<Addresses>();
  auto hits = std::make_shared<Addresses>();
  for (std::size_t i = 0; i < kQueries; ++i) {
    // Answers: random addresses, one in ten IPv6. At 1M prefixes most IPv4 ones fall in one
    // of the short (/12-/23) listed ranges: this is "random", not "miss".
    std::array<std::uint8_t, 16> address{};
    std::uint64_t bits = random.next(), more = random.next();
    for (int j = 0; j < 8; ++j) {
      address[j] = static_cast<std::uint8_t>(bits >> (8 * j));
      address[8 + j] = static_cast<std::uint8_t>(more >> (8 * j));
    }
    bool v6 = random.next() % 10 == 0;
    if (v6) address[0] = 0x20, address[1] = 0x01;
    misses->sizes.push_back(v6 ? 16 : 4);
    misses->bytes.push_back(address);
    // Hits: an address inside a listed prefix.
    IpPrefix prefix = listed[random.next() % listed.size()];
    std::array<std::uint8_t, 16> inside = prefix.bytes;
    for (std::size_t bit = prefix.length; bit < prefix.max_length(); ++bit)
      if (random.next() & 1) inside[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    hits->sizes.push_back(static_cast<std::uint8_t>(prefix.address_size()));
    hits->bytes.push_back(inside);
  }
  benchmark::RegisterBenchmark(("lookup_address_random/" + std::to_string(size)).c_str(),
                               [store, misses](benchmark::State& state) {
                                 run_address_lookups(state, *store, *misses);
                               });
  benchmark::RegisterBenchmark(("lookup_address_hit/" + std::to_string(size)).c_str(),
                               [store, hits](benchmark::State& state) {
                                 run_address_lookups(state, *store, *hits);
                               });
}

}  // namespace
}  // namespace dnsverdict

int main(int argc, char** argv) {
  using namespace dnsverdict;
  std::vector<std::uint64_t> sizes = {1000000, 10000000};
  std::vector<std::uint64_t> address_sizes = {10000, 1000000};
  std::string dir = "/tmp/dnsverdict-bench";
  std::uint64_t compile_size = 1000000;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto parse_sizes = [](const std::string& list) {
      std::vector<std::uint64_t> parsed;
      std::size_t start = 0;
      while (start < list.size()) {
        std::size_t comma = list.find(',', start);
        parsed.push_back(std::stoull(list.substr(start, comma - start)));
        start = comma == std::string::npos ? list.size() : comma + 1;
      }
      return parsed;
    };
    if (arg.rfind("--sizes=", 0) == 0) {
      sizes = parse_sizes(arg.substr(8));
    } else if (arg.rfind("--address-sizes=", 0) == 0) {
      address_sizes = parse_sizes(arg.substr(16));
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
  for (std::uint64_t size : address_sizes) register_address_size(dir, size);
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
