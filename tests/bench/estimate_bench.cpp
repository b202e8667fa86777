// Throughput of `dnsverdict estimate` on Unbound log-queries lines, one core: a plain program
// that prints lines per second (docs/benchmarks.md, "Estimate").
//
//   estimate_bench [LINES] [RULES]      default 5,000,000 lines against a store of 100,000 rules
//   estimate_bench --sample-log FILE    write the sample log shipped in conf/samples/
//
// The log is the simulated population of tests/unit/estimate/population_sim.h (campaign beacons, NAT,
// DHCP churn, popular sites), its clean traffic spread over 50,000 distinct names so that the
// store's filter and the name keys see realistic variety. It is written to a temporary file
// first and read back through the whole path (LogSource, LogLines, the Unbound parser, the
// store lookup, the estimator), as the command does.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <string>

#include <filesystem>

#include "../unit/estimate/population_sim.h"
#include "estimator.h"
#include "feed.h"
#include "log_reader.h"
#include "log_source.h"
#include "store_writer.h"

using namespace dnsverdict;

namespace {

// Compiles a CSV feed into a store with the compiler's own code.
std::string build_store(const std::string& path, const std::string& feed) {
  RuleSet rules;
  SourceRecord source;
  source.file = "bench.csv";
  source.format = "csv";
  source.role = "block";
  std::uint16_t id = rules.add_source(source);
  Diagnostics diagnostics(0, stderr);
  parse_feed(FeedFormat::kCsv, "bench.csv", feed, FeedDefaults{}, id, rules, diagnostics);
  rules.finalize();
  PublishOptions publish;
  publish.min_ratio = 0;
  publish.force = true;
  write_store(rules, path, publish);
  return path;
}

int write_sample(const std::string& path) {
  testing::SimConfig config;
  config.days = 2;
  config.infected_devices = 24;
  config.clean_clients = 150;
  config.beacon_seconds = 1800;
  config.browse_per_hour = 0.4;
  testing::SimResult simulation = testing::simulate_population(config);
  std::ofstream out(path);
  for (const auto& query : simulation.queries) out << testing::unbound_line(query) << '\n';
  std::fprintf(stderr, "%zu lines; truth: %d infected devices on %d addresses\n",
               simulation.queries.size(), simulation.infected_devices, simulation.infected_addresses);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--sample-log") return write_sample(argv[2]);
  std::size_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5000000;
  std::size_t rules = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  std::string folder = (std::filesystem::temp_directory_path() / "dnsverdict-estimate-bench").string();
  std::filesystem::create_directories(folder);

  // A store of `rules` names plus the campaign.
  testing::SimConfig config;
  config.days = 3;
  config.infected_devices = 2000;
  config.clean_clients = 3000;
  std::string feed = testing::campaign_feed(config, "lookalike-images");
  for (std::size_t i = 0; i < rules; ++i) feed += "blocked" + std::to_string(i) + ".example,nxdomain,\n";
  std::string store = build_store(folder + "/bench.store", feed);

  // The log: the simulation, repeated with shifted days until `lines` lines.
  testing::SimResult simulation = testing::simulate_population(config);
  std::vector<std::string> names;
  for (int i = 0; i < 50000; ++i) names.push_back("www.site" + std::to_string(i) + ".example");
  std::string path = folder + "/bench.log";
  {
    std::ofstream out(path);
    std::string line;
    std::size_t written = 0;
    for (std::int64_t round = 0; written < lines; ++round) {
      for (const auto& query : simulation.queries) {
        if (written == lines) break;
        testing::SimQuery shifted = query;
        shifted.time += round * config.days * 86400;
        if (query.name != &config.companion &&
            std::find(config.campaign.begin(), config.campaign.end(), *query.name) == config.campaign.end())
          shifted.name = &names[written % names.size()];
        out << testing::unbound_line(shifted) << '\n';
        ++written;
      }
    }
  }
  LogSource probe(path);
  double megabytes = static_cast<double>(probe.size()) / 1e6;

  for (bool suspects : {false, true}) {
    EstimatorOptions options;
    options.suspects = suspects;
    Estimator estimator(VerdictStore::open(store), options);
    Progress progress(false);
    LogReadProgress run;
    LogReadOptions read_options;
    read_options.progress = false;
    auto start = std::chrono::steady_clock::now();
    std::clock_t cpu_start = std::clock();
    read_query_log(path, read_options, estimator, progress, run);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // CPU time too: on a shared machine it is the steadier figure for "one core".
    double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const InputCounters& counters = estimator.state().counters;
    std::printf("estimate%s: %zu Unbound lines (%.0f MB), %zu matched, %zu rules in store: "
                "%.2f s, %.0f lines/s, %.0f MB/s; %.2f s CPU, %.0f lines per CPU second\n",
                suspects ? " --suspects" : "", static_cast<std::size_t>(counters.lines), megabytes,
                static_cast<std::size_t>(counters.matched), rules, seconds,
                static_cast<double>(counters.lines) / seconds, megabytes / seconds, cpu_seconds,
                static_cast<double>(counters.lines) / cpu_seconds);
  }
  std::filesystem::remove_all(folder);
  return 0;
}
