// The node_exporter textfile-collector file: per-campaign hits and unique clients over
// recent windows, and the module's health. Written atomically (temporary file in the same
// folder, then rename), so node_exporter never reads half a file.
//
// Metric names, types and windows are listed in docs/counters.md. Format: Prometheus text
// exposition 0.0.4, one HELP and TYPE line per metric family, no timestamps (the textfile
// collector rejects them), label values escaped (\\, \", \n).
//
// Thread safety: pure functions; write_text_file_atomically() may race only with another
// writer of the same path (the last rename wins).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hit_counters.h"
#include "stats_store.h"

namespace dnsverdict {

// Module health, filled by the glue (plain values: no Unbound here).
struct ModuleHealth {
  bool store_loaded = false;
  std::string store_build_id;         // empty when no store is loaded
  std::int64_t store_build_time = 0;  // unix seconds
  std::uint64_t lookups = 0;          // cumulative since the module started
  std::uint64_t hits = 0;
  std::uint64_t errors = 0;
  std::uint64_t hit_log_dropped = 0;
  // The hit log (hit_log.h); the rest of these only mean something when it is configured.
  bool hit_log_configured = false;
  bool hit_log_open = false;
  std::uint64_t hit_log_written = 0;
  std::uint64_t hit_log_suppressed = 0;
  std::uint64_t hit_log_open_errors = 0;
  std::uint64_t hit_log_write_errors = 0;
};

// One campaign's counts over the windows the file reports. Unique counts are HyperLogLog
// estimates over the union of the window's hourly buckets (never sums of hours).
struct CampaignWindows {
  std::string campaign;
  // current_hour: since the top of the current clock hour; hour: the last complete clock
  // hour; day: the 24 complete clock hours before the current one.
  std::uint64_t hits_current_hour = 0, hits_hour = 0, hits_day = 0;
  double clients_current_hour = 0, clients_hour = 0, clients_day = 0;
  double networks_hour = 0, networks_day = 0;
  // Distinct sites (IPv4 addresses, IPv6 /64s), over the hours that count them.
  double sites_hour = 0, sites_day = 0;
};

// The windows of every campaign in `merged` (campaign buckets of at least the last 25 hours)
// at time `now`.
std::vector<CampaignWindows> campaign_windows(const MergedStats& merged, std::int64_t now);

// How the stats flusher (stats_flusher.h) fares.
struct StatsHealth {
  bool store_open = false;        // the stats store is open (counting runs)
  std::uint64_t flush_errors = 0;  // flushes not stored (a store that would not open included)
  std::int64_t last_flush = 0;    // unix seconds of the last successful flush, 0: none yet
  std::uint64_t early_flushes = 0;    // flushes brought forward by the counters' budget
  std::uint64_t map_full = 0;         // MDB_MAP_FULL met (each followed by pruning)
  std::uint64_t pruned_for_room = 0;  // buckets of the oldest hours pruned to make room
  std::size_t store_used_bytes = 0;   // the file's pages up to the highest in use
  std::size_t map_size_bytes = 0;     // stats-map-size
};

struct PrometheusReport {
  std::int64_t now = 0;
  ModuleHealth health;
  std::vector<CampaignWindows> campaigns;
  CounterTotals counters;
  std::size_t counters_memory_bytes = 0;
  std::size_t counters_memory_budget = 0;  // 0: none
  StatsHealth stats;
};

std::string format_prometheus(const PrometheusReport& report);

// A label value with \, " and newline escaped (without the quotes).
std::string escape_label_value(std::string_view value);

// Writes `content` to `path` via "<path>.tmp" + fsync + rename. The temporary file is
// created with O_EXCL | O_NOFOLLOW and `mode` (less the umask); whatever stood at its name
// is removed first, never written through. False with `error` set when any step fails (the
// temporary file is removed; the old file stays in place).
bool write_text_file_atomically(const std::string& path, std::string_view content,
                                std::string& error, mode_t mode = 0640);

}  // namespace dnsverdict
