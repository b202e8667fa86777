// dnsverdict estimate: infection size from query logs; dnsverdict merge: combine the sketches
// of sharded runs. The method is in docs/estimation.md.
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "diagnostics.h"
#include "estimate_report.h"
#include "estimator.h"
#include "feed.h"
#include "log_dnstap.h"
#include "log_formats.h"
#include "log_reader.h"
#include "log_source.h"
#include "sketch_file.h"
#include "store_writer.h"

namespace dnsverdict {
namespace {

constexpr const char* kEstimateUsage = R"(usage: dnsverdict estimate (--store STORE | --indicators FEED) [OPTIONS] LOG...

Reads DNS query logs (files, or - for standard input; plain or gzip) and reports, per campaign
and per rule of the store: queries, distinct clients (exact within --memory-budget, HyperLogLog
beyond, with its error), per hour and per day, the hourly peak, distinct /24 and /56 networks,
first and last seen, a beacon summary (queries per active hour per site: an IPv4 address or
an IPv6 /64), and a device estimate as a range with its method and its IPv6, churn and NAT
factors, learned from the campaign's own beacons (docs/estimation.md). Queries are matched
with the module's own lookup; a rule's expiry is judged at the query's time.

Log formats, recognised by content: Unbound log-queries/log-replies (every time prefix and
syslog), BIND 9 query log, Zeek dns.log (TSV and JSON), dnstap (Frame Streams), and CSV with a
"time,client,qname,qtype" header. When a log has both queries and replies, queries are counted.

options:
  --store FILE           the verdict store to match against
  --indicators FEED      or: a feed in any format compile reads (compiled to a temporary store)
  --format NAME          auto (default), unbound, bind, zeek, zeek-json, csv, dnstap
  --year YEAR            the year of times that have none (log-time-ascii, syslog); default: now
  --memory-budget SIZE   bytes for exact counting, e.g. 512M, 4G (default 1G)
  --strict               stop at the first malformed line (default: count them, show a few)
  --show-errors N        malformed lines shown with their line numbers (default 5)
  --json | --csv         machine-readable output instead of the table
  --svg FILE             hourly timelines (distinct clients, queries) per campaign
  --rules N              rules listed per campaign in the table (default 10)
  --suspects[=N]         list the N names (default 20) that travel with each campaign
  --suspects-feed FILE   write the suspects as a CSV feed with action log (for compile)
  --min-shared N         clients a suspect must share with the campaign (default 3)
  --emit-sketch FILE     also write the mergeable partial result for `dnsverdict merge`
  --no-progress          no progress line on stderr (shown only when stderr is a terminal)
  -h, --help             this help

Sharded work: run `estimate --emit-sketch shard-N.sketch` per log shard (same store, same
--memory-budget), then `dnsverdict merge shard-*.sketch`: the result is the one run's.

exit codes: 0 ok, 1 error (unreadable input, --strict and a malformed line), 2 usage error
)";

constexpr const char* kMergeUsage = R"(usage: dnsverdict merge [OPTIONS] SKETCH...

Combines the sketches of `dnsverdict estimate --emit-sketch` runs over shards of one job (the
same store and --memory-budget) and reports as one run over all the shards would.

options:
  --json | --csv         machine-readable output instead of the table
  --svg FILE             hourly timelines per campaign
  --rules N              rules listed per campaign in the table (default 10)
  --suspects[=N]         list suspects (the shards must have been run with --suspects)
  --suspects-feed FILE   write the suspects as a CSV feed with action log
  --min-shared N         clients a suspect must share with the campaign (default 3)
  --emit-sketch FILE     write the merged sketch (to merge again later)
  -h, --help             this help

exit codes: 0 ok, 1 error (unreadable or mismatched sketches), 2 usage error
)";

std::uint64_t parse_count(const std::string& text, const char* flag) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    throw UsageError(fmt::format("{}: '{}' is not a number", flag, text));
  return value;
}

std::uint64_t parse_size(const std::string& text) {
  std::string digits = text;
  std::uint64_t unit = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k': case 'K': unit = 1ull << 10; break;
      case 'm': case 'M': unit = 1ull << 20; break;
      case 'g': case 'G': unit = 1ull << 30; break;
      case 't': case 'T': unit = 1ull << 40; break;
      default: break;
    }
    if (unit != 1) digits.pop_back();
  }
  std::uint64_t value = parse_count(digits, "--memory-budget");
  if (value == 0) throw UsageError("--memory-budget must be positive");
  return value * unit;
}

// Output options both commands share.
struct OutputOptions {
  bool json = false;
  bool csv = false;
  std::string svg;
  std::string suspects_feed;
  std::string emit_sketch;
  ReportOptions report;
};

// True when args[i] was one of the shared output options.
bool take_output_option(const Arguments& args, std::size_t& i, OutputOptions& output) {
  std::string value;
  const std::string& arg = args[i];
  if (arg == "--json") return output.json = true;
  if (arg == "--csv") return output.csv = true;
  if (arg == "--suspects") return output.report.suspects = true;
  if (arg.rfind("--suspects=", 0) == 0) {
    output.report.suspects = true;
    output.report.suspect_options.top = parse_count(arg.substr(11), "--suspects");
    return true;
  }
  if (take_option(args, i, "--svg", output.svg)) return true;
  if (take_option(args, i, "--suspects-feed", output.suspects_feed)) {
    output.report.suspects = true;
    return true;
  }
  if (take_option(args, i, "--emit-sketch", output.emit_sketch)) return true;
  if (take_option(args, i, "--rules", value)) {
    output.report.rules_per_campaign = parse_count(value, "--rules");
    return true;
  }
  if (take_option(args, i, "--min-shared", value)) {
    output.report.suspect_options.min_clients = parse_count(value, "--min-shared");
    return true;
  }
  return false;
}

std::FILE* open_output(const std::string& path) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw ToolError(fmt::format("{}: {}", path, std::strerror(errno)));
  return out;
}

void close_output(std::FILE* out, const std::string& path) {
  if (std::fclose(out) != 0) throw ToolError(fmt::format("{}: {}", path, std::strerror(errno)));
}

void write_outputs(const EstimateState& state, const OutputOptions& output) {
  if (!output.emit_sketch.empty()) write_sketch_file(output.emit_sketch, state);
  if (output.report.suspects && !state.suspects_enabled)
    throw ToolError("--suspects: the sketches were made without --suspects");
  if (output.json) print_estimate_json(stdout, state, output.report);
  else if (output.csv) print_estimate_csv(stdout, state);
  else print_estimate_table(stdout, state, output.report);
  if (!output.svg.empty()) {
    std::FILE* out = open_output(output.svg);
    write_estimate_svg(out, state);
    close_output(out, output.svg);
  }
  if (!output.suspects_feed.empty()) {
    std::FILE* out = open_output(output.suspects_feed);
    bool header = true;
    for (const auto& [key, entity] : state.entities) {
      if (entity.kind != EntityKind::kCampaign) continue;
      auto suspects = campaign_suspects(state, entity, output.report.suspect_options);
      if (suspects.empty()) continue;
      write_suspects_feed(out, entity.name == "(none)" ? "" : entity.name, suspects, header);
      header = false;
    }
    if (header) write_suspects_feed(out, "", {}, true);
    close_output(out, output.suspects_feed);
  }
}

// A temporary folder for the store compiled from --indicators; removed on destruction.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/dnsverdict-estimate-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr)
      throw ToolError(fmt::format("cannot make a temporary folder: {}", std::strerror(errno)));
    path_ = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Compiles an indicator feed into a store in `folder` with the compiler's own code.
std::string compile_indicators(const std::string& feed_path, const TemporaryFolder& folder) {
  LogSource source(feed_path);
  std::string content;
  char buffer[1 << 16];
  for (std::size_t got; (got = source.read(buffer, sizeof buffer)) > 0;) content.append(buffer, got);
  FeedFormat format = detect_format(content);
  RuleSet rules;
  SourceRecord record;
  record.file = feed_path;
  record.format = std::string(format_name(format));
  record.role = "block";
  std::uint16_t id = rules.add_source(record);
  Diagnostics diagnostics(100, stderr);
  parse_feed(format, feed_path, content, FeedDefaults{}, id, rules, diagnostics);
  rules.finalize();
  std::string store = folder.path() + "/indicators.store";
  PublishOptions publish;
  publish.min_ratio = 0;
  publish.force = true;
  write_store(rules, store, publish);
  return store;
}

}  // namespace

int run_estimate(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kEstimateUsage);
    return 0;
  }
  std::string store_path, indicators, value;
  LogReadOptions run;
  EstimatorOptions estimator_options;
  OutputOptions output;
  std::vector<std::string> inputs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (take_option(args, i, "--store", store_path)) continue;
    if (take_option(args, i, "--indicators", indicators)) continue;
    if (take_output_option(args, i, output)) continue;
    if (take_option(args, i, "--format", value)) {
      auto format = parse_log_format(value);
      if (!format) throw UsageError(fmt::format("--format: unknown format '{}'", value));
      run.format = *format;
    } else if (take_option(args, i, "--year", value)) {
      run.parser.year = static_cast<int>(parse_count(value, "--year"));
    } else if (take_option(args, i, "--memory-budget", value)) {
      estimator_options.memory_budget = parse_size(value);
    } else if (take_option(args, i, "--show-errors", value)) {
      run.show_errors = parse_count(value, "--show-errors");
    } else if (arg == "--strict") {
      run.strict = true;
    } else if (arg == "--no-progress") {
      run.progress = false;
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError(fmt::format("unknown option '{}'", arg));
    } else {
      inputs.push_back(arg);
    }
  }
  if (store_path.empty() == indicators.empty())
    throw UsageError("name either a store (--store) or an indicator feed (--indicators)");
  if (inputs.empty()) throw UsageError("no log to read (use - for standard input)");
  if (output.json && output.csv) throw UsageError("--json and --csv exclude each other");
  if (run.format == LogFormat::kDnstap && !dnstap_supported())
    throw ToolError("this dnsverdict was built without dnstap support (libfstrm, protobuf-c)");
  estimator_options.suspects = output.report.suspects;

  std::unique_ptr<TemporaryFolder> folder;
  if (!indicators.empty()) {
    folder = std::make_unique<TemporaryFolder>();
    store_path = compile_indicators(indicators, *folder);
  }
  Estimator estimator(VerdictStore::open(store_path), estimator_options);
  Progress progress(run.progress);
  std::uint64_t total = 0;
  for (const auto& input : inputs) {
    std::error_code error;
    std::uintmax_t size = input == "-" ? 0 : std::filesystem::file_size(input, error);
    if (!error) total += size;
  }
  progress.set_total_bytes(total);
  LogReadProgress reading;
  for (const auto& input : inputs) read_query_log(input, run, estimator, progress, reading);
  progress.finish();
  if (reading.malformed_shown < estimator.state().counters.malformed)
    fmt::print(stderr, "... {} malformed lines in all (the first {} shown)\n",
               estimator.state().counters.malformed, reading.malformed_shown);
  write_outputs(estimator.state(), output);
  return 0;
}

int run_merge(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kMergeUsage);
    return 0;
  }
  OutputOptions output;
  std::vector<std::string> inputs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (take_output_option(args, i, output)) continue;
    if (args[i].size() > 1 && args[i][0] == '-')
      throw UsageError(fmt::format("unknown option '{}'", args[i]));
    inputs.push_back(args[i]);
  }
  if (inputs.empty()) throw UsageError("no sketch to merge");
  if (output.json && output.csv) throw UsageError("--json and --csv exclude each other");
  EstimateState state = read_sketch_file(inputs[0]);
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    EstimateState other = read_sketch_file(inputs[i]);
    try {
      state.merge(other);
    } catch (const ToolError& error) {
      throw ToolError(fmt::format("{}: {}", inputs[i], error.what()));
    }
  }
  write_outputs(state, output);
  return 0;
}

}  // namespace dnsverdict
