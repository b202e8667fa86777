#include "prometheus.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace dnsverdict {
namespace {

class MetricWriter {
 public:
  explicit MetricWriter(std::string& out) : out_(out) {}

  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const char* name, std::string_view labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    char text[64];
    if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15)
      std::snprintf(text, sizeof text, " %.0f\n", value);
    else
      std::snprintf(text, sizeof text, " %.6g\n", value);
    out_ += text;
  }
  void single(const char* name, const char* type, const char* help, double value) {
    family(name, type, help);
    sample(name, {}, value);
  }

 private:
  std::string& out_;
};

std::string campaign_label(const std::string& campaign, const char* window) {
  std::string labels = "campaign=\"" + escape_label_value(campaign) + "\"";
  if (window != nullptr) {
    labels += ",window=\"";
    labels += window;
    labels += '"';
  }
  return labels;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::vector<CampaignWindows> campaign_windows(const MergedStats& merged, std::int64_t now) {
  const std::int64_t current = hour_of(now);
  std::vector<CampaignWindows> result;
  for (const auto& [subject, hours] : merged.subjects) {
    if (subject.scope != StatsScope::kCampaign) continue;
    CampaignWindows windows;
    windows.campaign = subject.campaign;
    HyperLogLog day_clients, day_networks, day_sites;
    for (const auto& [hour, merged_hour] : hours) {
      const HourlyCounts& counts = merged_hour.counts;
      if (hour == current) {
        windows.hits_current_hour = counts.queries;
        windows.clients_current_hour = counts.clients.estimate();
      }
      if (hour == current - kSecondsPerHour) {
        windows.hits_hour = counts.queries;
        windows.clients_hour = counts.clients.estimate();
        windows.networks_hour = counts.networks.estimate();
        windows.sites_hour = counts.sites.estimate();
      }
      if (hour >= current - 24 * kSecondsPerHour && hour < current) {
        windows.hits_day += counts.queries;
        day_clients.merge(counts.clients);
        day_networks.merge(counts.networks);
        day_sites.merge(counts.sites);
      }
    }
    windows.sites_day = day_sites.estimate();
    windows.clients_day = day_clients.estimate();
    windows.networks_day = day_networks.estimate();
    result.push_back(std::move(windows));
  }
  return result;
}

std::string format_prometheus(const PrometheusReport& report) {
  std::string out;
  MetricWriter writer(out);
  const ModuleHealth& health = report.health;

  writer.family("dnsverdict_store_info", "gauge",
                "The verdict store in use (1), labelled with its build id.");
  writer.sample("dnsverdict_store_info",
                "build_id=\"" + escape_label_value(health.store_build_id) + "\"",
                health.store_loaded ? 1 : 0);
  writer.single("dnsverdict_store_loaded", "gauge", "1 when a verdict store is in use.",
                health.store_loaded ? 1 : 0);
  writer.single("dnsverdict_store_age_seconds", "gauge",
                "Seconds since the verdict store in use was compiled.",
                health.store_loaded && health.store_build_time > 0
                    ? static_cast<double>(report.now - health.store_build_time)
                    : 0);
  writer.single("dnsverdict_lookups_total", "counter", "Queries checked against the store.",
                static_cast<double>(health.lookups));
  writer.single("dnsverdict_hits_total", "counter", "Queries that matched a rule.",
                static_cast<double>(health.hits));
  writer.single("dnsverdict_errors_total", "counter", "Lookups that failed.",
                static_cast<double>(health.errors));
  writer.single("dnsverdict_hit_log_dropped_total", "counter",
                "Hit-log lines lost: the writer fell behind, the file was not open, or the "
                "write failed.",
                static_cast<double>(health.hit_log_dropped));
  if (health.hit_log_configured) {
    writer.single("dnsverdict_hit_log_open", "gauge",
                  "1 while the hit-log file is open; 0 while it cannot be opened (retried, "
                  "hits are dropped).",
                  health.hit_log_open ? 1 : 0);
    writer.single("dnsverdict_hit_log_written_total", "counter", "Hit-log lines written.",
                  static_cast<double>(health.hit_log_written));
    writer.single("dnsverdict_hit_log_suppressed_total", "counter",
                  "Hits the hit-log rate limits left out (counted in its summary lines).",
                  static_cast<double>(health.hit_log_suppressed));
    writer.single("dnsverdict_hit_log_open_errors_total", "counter",
                  "Attempts to open the hit-log file that failed (at start, after rotation, "
                  "retries).",
                  static_cast<double>(health.hit_log_open_errors));
    writer.single("dnsverdict_hit_log_write_errors_total", "counter",
                  "Writes to the hit-log file that failed (disk full, I/O error).",
                  static_cast<double>(health.hit_log_write_errors));
  }

  writer.single("dnsverdict_counters_hits_total", "counter",
                "Hits the in-memory counters recorded.", static_cast<double>(report.counters.hits));
  writer.single("dnsverdict_counters_evicted_rules_total", "counter",
                "Rule entries evicted at the tracked-rule cap (their rule-level counts since "
                "the previous flush are lost; campaign counts are not).",
                static_cast<double>(report.counters.evicted_rules));
  writer.single("dnsverdict_counters_evicted_queries_total", "counter",
                "Queries held by evicted rule entries.",
                static_cast<double>(report.counters.evicted_queries));
  writer.single("dnsverdict_counters_untracked_campaign_hits_total", "counter",
                "Hits not counted at campaign level because the campaign cap was reached.",
                static_cast<double>(report.counters.untracked_campaign_hits));
  writer.single("dnsverdict_counters_budget_skipped_clients_total", "counter",
                "Hits whose client was left out of a sketch because the counters were at "
                "their memory budget.",
                static_cast<double>(report.counters.budget_skipped_clients));
  writer.single("dnsverdict_counters_memory_bytes", "gauge",
                "Approximate memory of the in-memory counters after the last flush.",
                static_cast<double>(report.counters_memory_bytes));
  writer.single("dnsverdict_counters_memory_budget_bytes", "gauge",
                "The counters' memory budget (stats-memory-budget; 0: none).",
                static_cast<double>(report.counters_memory_budget));
  const StatsHealth& stats = report.stats;
  writer.single("dnsverdict_stats_store_open", "gauge",
                "1 when the stats store is open and hits are counted.", stats.store_open ? 1 : 0);
  writer.single("dnsverdict_stats_flush_errors_total", "counter",
                "Flushes into the stats store that failed, a store that would not open "
                "included (their counts are lost).",
                static_cast<double>(stats.flush_errors));
  writer.single("dnsverdict_stats_last_flush_timestamp_seconds", "gauge",
                "Unix time of the last successful flush into the stats store (0: none).",
                static_cast<double>(stats.last_flush));
  writer.single("dnsverdict_stats_early_flushes_total", "counter",
                "Flushes brought forward because the counters reached their memory budget.",
                static_cast<double>(stats.early_flushes));
  writer.single("dnsverdict_stats_map_full_total", "counter",
                "Times the stats store's map was full (each time the oldest hour was pruned).",
                static_cast<double>(stats.map_full));
  writer.single("dnsverdict_stats_pruned_for_room_total", "counter",
                "Buckets of the oldest hours pruned to make room in a full map.",
                static_cast<double>(stats.pruned_for_room));
  writer.single("dnsverdict_stats_store_used_bytes", "gauge",
                "Bytes of the stats store's file in use (up to its highest page).",
                static_cast<double>(stats.store_used_bytes));
  writer.single("dnsverdict_stats_map_size_bytes", "gauge",
                "The stats store's map, the most its file may use (stats-map-size).",
                static_cast<double>(stats.map_size_bytes));

  if (report.campaigns.empty()) return out;
  writer.family("dnsverdict_campaign_hits", "gauge",
                "Queries that hit the campaign's rules: window=\"current_hour\" since the top "
                "of the hour, \"1h\" the last complete hour, \"24h\" the 24 complete hours "
                "before the current one.");
  for (const CampaignWindows& campaign : report.campaigns) {
    writer.sample("dnsverdict_campaign_hits", campaign_label(campaign.campaign, "current_hour"),
                  static_cast<double>(campaign.hits_current_hour));
    writer.sample("dnsverdict_campaign_hits", campaign_label(campaign.campaign, "1h"),
                  static_cast<double>(campaign.hits_hour));
    writer.sample("dnsverdict_campaign_hits", campaign_label(campaign.campaign, "24h"),
                  static_cast<double>(campaign.hits_day));
  }
  writer.family("dnsverdict_campaign_unique_clients", "gauge",
                "Distinct client addresses (HyperLogLog estimate, 0.81% standard error) that "
                "hit the campaign in the window. Addresses, not devices: NAT hides many "
                "devices behind one, DHCP spreads one over many.");
  for (const CampaignWindows& campaign : report.campaigns) {
    writer.sample("dnsverdict_campaign_unique_clients",
                  campaign_label(campaign.campaign, "current_hour"),
                  std::round(campaign.clients_current_hour));
    writer.sample("dnsverdict_campaign_unique_clients", campaign_label(campaign.campaign, "1h"),
                  std::round(campaign.clients_hour));
    writer.sample("dnsverdict_campaign_unique_clients", campaign_label(campaign.campaign, "24h"),
                  std::round(campaign.clients_day));
  }
  writer.family("dnsverdict_campaign_unique_sites", "gauge",
                "Distinct client sites (IPv4 addresses and IPv6 /64s, HyperLogLog estimate) "
                "that hit the campaign in the window: a device's rotating IPv6 privacy "
                "addresses count once. `dnsverdict stats` turns sites into devices.");
  for (const CampaignWindows& campaign : report.campaigns) {
    writer.sample("dnsverdict_campaign_unique_sites", campaign_label(campaign.campaign, "1h"),
                  std::round(campaign.sites_hour));
    writer.sample("dnsverdict_campaign_unique_sites", campaign_label(campaign.campaign, "24h"),
                  std::round(campaign.sites_day));
  }
  writer.family("dnsverdict_campaign_unique_networks", "gauge",
                "Distinct client networks (/24 IPv4, /56 IPv6) that hit the campaign in the "
                "window (HyperLogLog estimate).");
  for (const CampaignWindows& campaign : report.campaigns) {
    writer.sample("dnsverdict_campaign_unique_networks", campaign_label(campaign.campaign, "1h"),
                  std::round(campaign.networks_hour));
    writer.sample("dnsverdict_campaign_unique_networks", campaign_label(campaign.campaign, "24h"),
                  std::round(campaign.networks_day));
  }
  return out;
}

bool write_text_file_atomically(const std::string& path, std::string_view content,
                                std::string& error, mode_t mode) {
  const std::string temporary = path + ".tmp";
  // Never through what is already there: a leftover of a crash, or a link planted to make
  // this process write elsewhere, is removed (unlink removes a link, not its target) and
  // the file created anew.
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open(temporary.c_str(), kFlags, mode);
  if (fd < 0 && errno == EEXIST && ::unlink(temporary.c_str()) == 0)
    fd = ::open(temporary.c_str(), kFlags, mode);
  if (fd < 0) {
    error = temporary + ": " + std::strerror(errno);
    return false;
  }
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t written = ::write(fd, data, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      error = temporary + ": write: " + std::strerror(errno);
      ::close(fd);
      ::unlink(temporary.c_str());
      return false;
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  bool synced = ::fsync(fd) == 0;
  int saved = errno;
  if (::close(fd) != 0 && synced) {
    synced = false;
    saved = errno;
  }
  if (!synced) {
    error = temporary + ": " + std::strerror(saved);
    ::unlink(temporary.c_str());
    return false;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    error = path + ": rename: " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace dnsverdict
