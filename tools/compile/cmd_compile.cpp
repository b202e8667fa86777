// dnsverdict compile: feeds -> one verdict store, published atomically.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <charconv>
#include <map>
#include <cstring>
#include <chrono>
#include <ctime>
#include <optional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cmd_inspect.h"
#include "commands.h"
#include "feed.h"
#include "feed_cache.h"
#include "feed_content.h"
#include "feed_fields.h"
#include "feed_input.h"
#include "store_writer.h"
#include "verdict_store.h"

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
  --force              replace the store even when --min-ratio refuses, and use every feed
                       as it is now even when its own min-ratio (manifest) refuses it
  --build-time T       record T as the build time (reproducible builds); T as for --expires
  --cache-dir DIR      keep the last good copy of every feed here (default: STORE.feeds)
  -q, --quiet          no summary (warnings and errors are still printed)

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

Every feed's last good copy is kept in the cache folder. A fetched feed that fails (network,
HTTP status, TLS, timeout, size, TSIG) or arrives as something that is not a feed, and any
feed with fewer entries than min-ratio (manifest, default 0.5) of its last good copy, is
compiled from its last good copy, with a warning that names it.

exit codes: 0 published, 1 error (nothing replaced), 2 usage error,
            3 published, but some feeds were compiled from their last good copy
)";

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

struct SourceSummary {
  std::string file;
  FeedFormat format;
  std::size_t added = 0;
  std::size_t errors = 0;
  std::uint16_t id = 0;
};

constexpr int kExitStaleFeeds = 3;

// What the compile uses of the store being replaced: its rules (the store's safety valve)
// and its entries per feed, by origin (or by file for a store written before origins were
// recorded: the feed valve's fallback when a feed has no cached copy). Empty when there is
// no store or it does not open.
struct PreviousStore {
  std::uint64_t rules = 0;
  std::map<std::string, std::uint64_t> entries;
};

PreviousStore read_previous_store(const std::string& store_path) {
  PreviousStore previous;
  try {
    if (!std::filesystem::exists(store_path)) return previous;
    auto store = VerdictStore::open(store_path);
    for (const auto& [id, source] : store->sources()) {
      if (source.has_provenance)
        previous.entries[source.origin] = source.entries;
      else
        previous.entries[source.file] = source.rules;
    }
    previous.rules = store->info().rule_count;
  } catch (const StoreError&) {
    return {};
  }
  return previous;
}

std::string change_text(const SourceRecord& source) {
  if (source.previous_entries == 0) return "new";
  auto delta = static_cast<std::int64_t>(source.entries) -
               static_cast<std::int64_t>(source.previous_entries);
  return delta == 0 ? "unchanged" : fmt::format("{:+}", delta);
}

// Compiles one feed into `rules`: as it is now, or from its last good copy when it failed to
// arrive, is not a feed, or shrank below its valve. Returns the reason it came from its last
// good copy ("" when it did not).
std::string compile_one(const FeedSource& feed, const FeedCache& cache, FeedArrival& arrival,
                        const std::map<std::string, std::uint64_t>& previous_by_origin,
                        bool force, RuleSet& rules, Diagnostics& diagnostics,
                        SourceSummary& summary) {
  SourceRecord source;
  source.file = feed.path;
  source.role = feed.defaults.allowlist ? "allow" : "block";
  source.origin = arrival.origin;
  if (arrival.last_good) {
    source.previous_entries = arrival.last_good->entries;
  } else {
    auto it = previous_by_origin.find(arrival.origin);
    if (it == previous_by_origin.end()) it = previous_by_origin.find(feed.path);
    if (it != previous_by_origin.end()) source.previous_entries = it->second;
  }
  summary.file = feed.path;
  summary.id = rules.add_source(source);

  auto parse = [&](const std::string& text) {
    summary.format = feed.format == FeedFormat::kAuto ? detect_format(text) : feed.format;
    std::size_t errors_before = diagnostics.errors();
    summary.added =
        parse_feed(summary.format, feed.path, text, feed.defaults, summary.id, rules, diagnostics);
    summary.errors = diagnostics.errors() - errors_before;
  };
  std::string reason = arrival.failure;
  const RuleSet::Mark mark = rules.mark();
  if (reason.empty()) {
    parse(arrival.text);
    try {
      check_mostly_parsed(feed.path, format_name(summary.format), summary.added, summary.errors);
    } catch (const NotAFeedError& error) {
      if (!feed.fetched() || !arrival.last_good) throw;
      reason = error.what();
    }
  }
  if (reason.empty()) {
    if (auto refusal = feed_valve_refusal(feed.path, summary.added, source.previous_entries,
                                          feed.min_ratio)) {
      if (force) {
        fmt::print(stderr, "dnsverdict compile: warning: {}: used as it is (--force)\n", *refusal);
      } else if (arrival.last_good) {
        reason = *refusal;
      } else {
        throw ToolError(*refusal + ", and there is no last good copy to compile instead; "
                                   "use --force to accept it");
      }
    }
  }
  SourceRecord& record = rules.source(summary.id);
  if (!reason.empty()) {
    rules.discard_since(mark);
    if (!feed.fetched()) cache.load_text(*arrival.last_good);
    const CachedFeed& last_good = *arrival.last_good;
    parse(last_good.text);
    record.status = "last good copy: " + reason;
    record.time = last_good.time;
    record.version = last_good.serial ? fmt::format("serial {}", *last_good.serial)
                     : !last_good.etag.empty() ? "etag " + last_good.etag
                     : !last_good.last_modified.empty() ? "last-modified " + last_good.last_modified
                                                        : "";
    XXH128_hash_t hash = XXH3_128bits(last_good.text.data(), last_good.text.size());
    record.content_hash = fmt::format("{:016x}{:016x}", hash.high64, hash.low64);
    fmt::print(stderr,
               "dnsverdict compile: warning: {}: compiled from its last good copy of {} ({} "
               "entries) instead\n",
               reason, inspect::format_time(last_good.time), summary.added);
  } else {
    record.status = arrival.status;
    record.version = arrival.version;
    record.time = arrival.time;
    XXH128_hash_t hash = XXH3_128bits(arrival.text.data(), arrival.text.size());
    record.content_hash = fmt::format("{:016x}{:016x}", hash.high64, hash.low64);
    arrival.fresh.entries = summary.added;
  }
  record.format = std::string(format_name(summary.format));
  record.entries = summary.added;
  return reason;
}

}  // namespace

int run_compile(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kHelp);
    return 0;
  }
  std::string output, manifest_path, value, cache_dir;
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
    } else if (take_option(args, i, "--cache-dir", value)) {
      cache_dir = value;
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
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  FeedCache cache(cache_dir.empty() ? output + ".feeds" : cache_dir);
  const PreviousStore previous = read_previous_store(output);
  const auto& previous_by_origin = previous.entries;
  publish.previous_rules = previous.rules;
  Diagnostics diagnostics(max_errors);
  std::vector<SourceSummary> summaries;
  std::vector<CachedFeed> accepted;      // new last good copies, saved once published
  std::vector<std::string> stale_feeds;  // compiled from their last good copy
  std::size_t feed_number = 0;
  for (const auto& feed : feeds) {
    ++feed_number;
    if (progress)
      fmt::print(stderr, "\r[{}/{}] {} {}\x1b[K", feed_number, feeds.size(),
                 feed.fetched() ? "fetching" : "reading", feed.path);
    FeedArrival arrival = obtain_feed(feed, &cache, now);
    SourceSummary summary{feed.path, FeedFormat::kAuto};
    std::string reason = compile_one(feed, cache, arrival, previous_by_origin, publish.force, rules,
                                     diagnostics, summary);
    if (!reason.empty()) {
      stale_feeds.push_back(feed.path);
    } else if (!arrival.origin.empty() && arrival.status != "unchanged") {
      arrival.fresh.text = std::move(arrival.text);
      accepted.push_back(std::move(arrival.fresh));
    }
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
      fmt::print(stderr, "  source {}: {} ({}), {} entries read ({}), {} rules kept, {} errors\n",
                 summary.id, summary.file, format_name(summary.format), summary.added,
                 change_text(source), source.rules, summary.errors);
      std::string from = source.status;
      if (!source.version.empty()) from += ", " + source.version;
      fmt::print(stderr, "    {}\n", from);
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
  // The new copies become the last good ones only once the store that uses them is out.
  for (const CachedFeed& copy : accepted) {
    try {
      cache.save(copy);
    } catch (const ToolError& error) {
      fmt::print(stderr, "dnsverdict compile: warning: {}: the last good copy is not updated\n",
                 error.what());
    }
  }
  if (!stale_feeds.empty()) {
    std::string names;
    for (const auto& name : stale_feeds) names += (names.empty() ? "" : ", ") + name;
    fmt::print(stderr,
               "dnsverdict compile: published {}, but {} of {} feeds from their last good copy: "
               "{}\n",
               output, stale_feeds.size(), feeds.size(), names);
    return kExitStaleFeeds;
  }
  return 0;
}

}  // namespace dnsverdict
