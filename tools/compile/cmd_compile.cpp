// dnsverdict compile: feeds -> one verdict store, published atomically.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <charconv>
#include <cstring>
#include <chrono>
#include <ctime>
#include <optional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "commands.h"
#include "feed.h"
#include "feed_fields.h"
#include "store_writer.h"

namespace dnsverdict {
namespace {

constexpr const char* kHelp = R"(usage: dnsverdict compile -o STORE [OPTIONS] [FEED-OPTIONS] FEED...
       dnsverdict compile -o STORE --manifest FILE [FEED...]

Compiles threat feeds into one verdict store and publishes it atomically: the store is
written beside STORE, synced, read back, then renamed over STORE. A failed compile leaves the
old store untouched.

Feed formats (detected by content, or --format): rpz, hosts, domains, adblock, csv, jsonl.
See docs/feeds.md.

options:
  -o, --output STORE   the store to write (required)
  --manifest FILE      read feeds, their defaults and campaigns from a manifest
  --max-errors N       give up after N bad input lines (default 100)
  --min-ratio R        refuse to replace a store when the new one has fewer than R times
                       its rules (default 0.5; 0 disables)
  --force              replace the store even when --min-ratio refuses
  --build-time T       record T as the build time (reproducible builds); T as for --expires
  -q, --quiet          no summary

feed options (apply to the FEEDs that follow them, until changed):
  --format F           rpz, hosts, domains, adblock, csv, jsonl, auto (default auto)
  --action A           nxdomain nodata refuse drop sinkhole redirect log tag allow tcp-only
                       (default for lists: nxdomain; RPZ and CSV records carry their own)
  --category C         category name
  --campaign NAME      campaign name
  --confidence N       0-100 (default 100)
  --kind K             what a bare name in a list means: subtree (default), exact, wildcard
  --expires T          rules are not applied after T: unix seconds, 2027-01-01,
                       2027-01-01T00:00Z, or from now: +30d, +12h
  --allow FILE         an allowlist feed: its names always pass, whatever blocks them

exit codes: 0 published, 1 error (nothing replaced), 2 usage error
)";

std::string read_input(const std::string& path) {
  if (path == "-") {
    std::stringstream buffer;
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  // One read into a string of the file's size: feeds can be hundreds of megabytes.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ToolError(fmt::format("{}: cannot read the feed: {}", path, std::strerror(errno)));
  struct stat info;
  std::string content;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) content.reserve(static_cast<std::size_t>(info.st_size));
  char chunk[1 << 16];
  for (;;) {
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      throw ToolError(fmt::format("{}: read error: {}", path, std::strerror(saved)));
    }
    content.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return content;
}

template <typename Number>
Number parse_number(const std::string& text, const char* what, Number low, Number high) {
  Number value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
    throw UsageError(fmt::format("{} must be a number from {} to {}, not '{}'", what, low, high, text));
  return value;
}

// --expires, --build-time: the command line's one time syntax (parse_time_argument).
std::int64_t parse_time_option(const std::string& text, const char* what) {
  std::string error;
  std::optional<std::int64_t> time =
      parse_time_argument(text, static_cast<std::int64_t>(std::time(nullptr)), error);
  if (!time) throw UsageError(fmt::format("{}: {}", what, error));
  if (*time < 1) throw UsageError(fmt::format("{}: '{}' is before 1970", what, text));
  return *time;
}

double parse_ratio(const std::string& text) {
  try {
    std::size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size() && value >= 0 && value <= 1) return value;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("--min-ratio must be a number from 0 to 1, not '{}'", text));
}

std::int64_t file_time(const std::string& path) {
  std::error_code error;
  auto time = std::filesystem::last_write_time(path, error);
  if (error) return 0;
  auto system = std::chrono::time_point_cast<std::chrono::seconds>(
      time - std::filesystem::file_time_type::clock::now() + std::chrono::system_clock::now());
  return system.time_since_epoch().count();
}

struct SourceSummary {
  std::string file;
  FeedFormat format;
  std::size_t added = 0;
  std::size_t errors = 0;
  std::uint16_t id = 0;
};

}  // namespace

int run_compile(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kHelp);
    return 0;
  }
  std::string output, manifest_path, value;
  std::size_t max_errors = 100;
  PublishOptions publish;
  bool quiet = false;
  std::vector<FeedSource> feeds;
  FeedSource current;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (take_option(args, i, "-o", output) || take_option(args, i, "--output", output)) continue;
    if (take_option(args, i, "--manifest", manifest_path)) continue;
    if (take_option(args, i, "--max-errors", value)) {
      max_errors = parse_number<std::size_t>(value, "--max-errors", 0, 1u << 30);
    } else if (take_option(args, i, "--min-ratio", value)) {
      publish.min_ratio = parse_ratio(value);
    } else if (arg == "--force") {
      publish.force = true;
    } else if (take_option(args, i, "--build-time", value)) {
      publish.build_time = parse_time_option(value, "--build-time");
    } else if (arg == "-q" || arg == "--quiet") {
      quiet = true;
    } else if (take_option(args, i, "--format", value)) {
      auto format = parse_format(value);
      if (!format) throw UsageError(fmt::format("unknown format '{}'", value));
      current.format = *format;
    } else if (take_option(args, i, "--action", value)) {
      auto action = parse_action(value);
      if (!action) throw UsageError(fmt::format("unknown action '{}'", value));
      current.defaults.action = *action;
    } else if (take_option(args, i, "--category", value)) {
      current.defaults.category = value;
    } else if (take_option(args, i, "--campaign", value)) {
      current.defaults.campaign = value;
    } else if (take_option(args, i, "--confidence", value)) {
      current.defaults.confidence = parse_number<std::uint8_t>(value, "--confidence", 0, 100);
    } else if (take_option(args, i, "--kind", value)) {
      auto kind = parse_kind(value);
      if (!kind) throw UsageError(fmt::format("unknown kind '{}'", value));
      current.defaults.list_kind = *kind;
    } else if (take_option(args, i, "--expires", value)) {
      current.defaults.expires = parse_time_option(value, "--expires");
    } else if (take_option(args, i, "--allow", value)) {
      FeedSource allow = current;
      allow.path = value;
      allow.defaults.allowlist = true;
      feeds.push_back(allow);
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError(fmt::format("unknown option '{}'", arg));
    } else {
      current.path = arg;
      feeds.push_back(current);
    }
  }
  if (output.empty()) throw UsageError("-o STORE is required");

  RuleSet rules;
  if (!manifest_path.empty()) {
    Manifest manifest = read_manifest(manifest_path);
    feeds.insert(feeds.begin(), manifest.feeds.begin(), manifest.feeds.end());
    for (const auto& campaign : manifest.campaigns) rules.describe_campaign(campaign);
  }
  if (feeds.empty()) throw UsageError("no feeds given");

  const bool progress = !quiet && ::isatty(STDERR_FILENO);
  auto started = std::chrono::steady_clock::now();
  Diagnostics diagnostics(max_errors);
  std::vector<SourceSummary> summaries;
  std::size_t feed_number = 0;
  for (const auto& feed : feeds) {
    ++feed_number;
    if (progress) fmt::print(stderr, "\r[{}/{}] reading {}\x1b[K", feed_number, feeds.size(), feed.path);
    std::string content = read_input(feed.path);
    FeedFormat format = feed.format == FeedFormat::kAuto ? detect_format(content) : feed.format;
    SourceRecord source;
    source.file = feed.path;
    source.format = std::string(format_name(format));
    XXH128_hash_t hash = XXH3_128bits(content.data(), content.size());
    source.content_hash = fmt::format("{:016x}{:016x}", hash.high64, hash.low64);
    source.role = feed.defaults.allowlist ? "allow" : "block";
    source.time = feed.path == "-" ? 0 : file_time(feed.path);
    SourceSummary summary{feed.path, format};
    summary.id = rules.add_source(std::move(source));
    std::size_t errors_before = diagnostics.errors();
    summary.added =
        parse_feed(format, feed.path, content, feed.defaults, summary.id, rules, diagnostics);
    summary.errors = diagnostics.errors() - errors_before;
    summaries.push_back(summary);
  }
  if (progress) fmt::print(stderr, "\rresolving {} rules\x1b[K", rules.added());
  rules.finalize();
  if (progress) fmt::print(stderr, "\rwriting {}\x1b[K", output);
  PublishResult result = write_store(rules, output, publish);
  if (progress) fmt::print(stderr, "\r\x1b[K");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (!quiet) {
    fmt::print(stderr, "published {} (build {})\n", output, result.build_id);
    fmt::print(stderr,
               "  rules: {} in {} names and {} IPv4, {} IPv6 prefixes ({} duplicates merged, {} "
               "shadowed by allowlists)\n",
               rules.rule_count(), result.keys, rules.address_rule_count(4),
               rules.address_rule_count(6), rules.duplicates(), rules.shadowed_by_allowlist());
    std::string by_action, by_kind;
    for (const auto& [action, count] : rules.count_by_action())
      by_action += fmt::format(" {}={}", action_name(action), count);
    for (const auto& [kind, count] : rules.count_by_kind())
      by_kind += fmt::format(" {}={}", kind_name(kind), count);
    fmt::print(stderr, "  by action:{}\n  by kind:{}\n", by_action, by_kind);
    for (const auto& summary : summaries) {
      const SourceRecord& source = rules.sources().at(summary.id);
      fmt::print(stderr, "  source {}: {} ({}), {} entries read, {} rules kept, {} errors\n",
                 summary.id, summary.file, format_name(summary.format), summary.added,
                 source.rules, summary.errors);
    }
    for (const auto& [trigger, count] : rules.skipped())
      fmt::print(stderr, "  skipped (not supported yet): {} {}\n", count, trigger);
    fmt::print(stderr, "  errors: {}\n", diagnostics.errors());
    if (result.previous_rules > 0)
      fmt::print(stderr, "  replaced a store of {} rules\n", result.previous_rules);
    fmt::print(stderr, "  {:.2f} s, {:.0f} rules/s, {} bytes, {:.1f} bytes/rule\n", seconds,
               seconds > 0 ? static_cast<double>(rules.added()) / seconds : 0.0, result.bytes,
               rules.rule_count() > 0
                   ? static_cast<double>(result.bytes) / static_cast<double>(rules.rule_count())
                   : 0.0);
  }
  return 0;
}

}  // namespace dnsverdict
