#include "estimate_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cmd_inspect.h"

namespace dnsverdict {
namespace {

std::string grouped(std::uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string time_text(std::int64_t time) {
  return time == INT64_MAX || time == INT64_MIN ? "-" : inspect::format_time(time);
}

std::string day_text(std::int64_t time) { return time_text(time).substr(0, 10); }

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out.push_back(c);
  }
  return out;
}

std::string count_text(const ClientSet& set) {
  if (set.exact()) return grouped(set.count()) + " (exact)";
  return fmt::format("{} (HyperLogLog, ±{:.1f}% at 95%)", grouped(set.count()),
                     set.standard_error() * 200);
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::vector<const EntityStats*> campaigns_by_size(const EstimateState& state) {
  std::vector<const EntityStats*> campaigns;
  for (const auto& [key, entity] : state.entities)
    if (entity.kind == EntityKind::kCampaign) campaigns.push_back(&entity);
  std::sort(campaigns.begin(), campaigns.end(), [](const EntityStats* a, const EntityStats* b) {
    return a->clients.count() != b->clients.count() ? a->clients.count() > b->clients.count()
                                                    : a->name < b->name;
  });
  return campaigns;
}

std::vector<const EntityStats*> rules_of(const EstimateState& state, const EntityStats& campaign) {
  std::vector<const EntityStats*> rules;
  for (const auto& [key, entity] : state.entities) {
    if (entity.kind != EntityKind::kRule) continue;
    std::string_view owner = entity.campaign.empty() ? std::string_view("(none)") : entity.campaign;
    if (owner == campaign.name) rules.push_back(&entity);
  }
  std::sort(rules.begin(), rules.end(), [](const EntityStats* a, const EntityStats* b) {
    return a->queries != b->queries ? a->queries > b->queries : a->name < b->name;
  });
  return rules;
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> hourly_curve(const EntityStats& entity) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> curve;
  for (const auto& [hour, bin] : entity.hours)
    if (hour >= 0) curve.emplace_back(static_cast<std::uint32_t>(hour), bin.queries);
  return curve;
}

std::string one_device_text(const BeaconSummary& beacons) {
  double minutes = beacons.beacon_period / 60;
  return fmt::format("a query every {} ({} of {} periodic sites)",
                     minutes < 90 ? fmt::format("{:.1f} min", minutes) : fmt::format("{:.1f} h", minutes / 60),
                     grouped(beacons.reference_sites), grouped(beacons.periodic_sites));
}

std::string duration_text(double seconds) {
  double minutes = seconds / 60;
  return minutes < 90 ? fmt::format("{:.1f} min", minutes) : fmt::format("{:.2f} h", minutes / 60);
}

}  // namespace

const char* device_method_middle(const BeaconSummary& beacons) {
  if (!beacons.corrected) return kDeviceMethodMiddleUncorrected;
  return beacons.period.found ? kDeviceMethodMiddlePeriod : kDeviceMethodMiddle;
}

const char* device_method_high(const BeaconSummary& beacons) {
  if (!beacons.corrected) return kDeviceMethodHighUncorrected;
  return beacons.period.found ? kDeviceMethodHighPeriod : kDeviceMethodHigh;
}

std::string beacon_period_text(const BeaconSummary& beacons) {
  if (!beacons.period_searched) {
    if (beacons.periodic_reference)
      return fmt::format("not searched: {} sites beacon alone every {}", grouped(beacons.reference_sites),
                         duration_text(beacons.beacon_period));
    return fmt::format("not searched: fewer than {} sampled sites", kMinBeaconClients);
  }
  const BeaconPeriod& period = beacons.period;
  if (!period.found) return "not found: " + period.reason;
  return fmt::format("{:.0f} s ({} .. {}): {} of {} sites whose slots are neither all empty nor "
                     "all full repeat at it; the peak stands {:.3f} above the lags around it "
                     "({:.0f} standard errors), refined at {}x the period",
                     period.seconds, duration_text(period.low_seconds),
                     duration_text(period.high_seconds), grouped(period.sites),
                     grouped(period.informative_sites), period.excess, period.z, period.multiple);
}

std::string beacon_period_json(const BeaconSummary& beacons) {
  const BeaconPeriod& period = beacons.period;
  return fmt::format(
      "{{\"searched\":{},\"found\":{},\"seconds\":{},\"low_seconds\":{},\"high_seconds\":{},"
      "\"sites\":{},\"informative_sites\":{},\"site_hours\":{},\"excess\":{},\"z\":{},"
      "\"multiple\":{},\"text\":{}}}",
      beacons.period_searched ? "true" : "false", period.found ? "true" : "false",
      period.found ? fmt::format("{}", period.seconds) : "null",
      period.found ? fmt::format("{}", period.low_seconds) : "null",
      period.found ? fmt::format("{}", period.high_seconds) : "null", period.sites,
      period.informative_sites, period.site_hours, period.excess, period.z, period.multiple,
      inspect::json_string(beacon_period_text(beacons)));
}

std::vector<Suspect> campaign_suspects(const EstimateState& state, const EntityStats& campaign,
                                       const SuspectOptions& options) {
  if (!state.suspects_enabled) return {};
  return rank_suspects(campaign.client_sketch, hourly_curve(campaign), state.suspects,
                       static_cast<double>(state.all_clients.count()), options);
}

void print_device_range(std::FILE* out, const BeaconSummary& beacons,
                        const DeviceEstimate& devices) {
  fmt::print(out,
             "  beacon        median {:.1f} queries per active hour (p90 {:.1f}, max {:.1f}); "
             "median {:.0f} active hours; {}{}\n",
             beacons.median_rate, beacons.p90_rate, beacons.max_rate, beacons.median_active_hours,
             beacons.corrected ? fmt::format("{} of {} sampled sites carry several devices",
                                             grouped(beacons.multi_device_clients),
                                             grouped(beacons.sampled_clients))
                               : fmt::format("{} sampled sites", grouped(beacons.sampled_clients)),
             beacons.sample_fraction < 1
                 ? fmt::format(" (a {:.2f}% sample)", beacons.sample_fraction * 100)
                 : std::string());
  if (beacons.sampled_clients >= kMinBeaconClients)
    fmt::print(out, "  period        {}\n", beacon_period_text(beacons));
  if (beacons.corrected && beacons.period.found)
    fmt::print(out, "  one device    a query every {} (the period); its hours a day are unknown\n",
               duration_text(beacons.beacon_period));
  else if (beacons.corrected)
    fmt::print(out, "  one device    {}; {:.1f} distinct queries per active hour, {:.1f} active "
                    "hours a day (p25 {:.1f}, p75 {:.1f}); queries repeated {:.2f}x\n",
               one_device_text(beacons), beacons.device_rate, beacons.device_hours,
               beacons.device_hours_p25, beacons.device_hours_p75, beacons.repeat_factor);
  fmt::print(out, "  devices       {} .. {}, middle {}", grouped(devices.low),
             grouped(devices.high), grouped(devices.middle));
  if (devices.corrected && (devices.middle_low != devices.middle || devices.middle_high != devices.middle))
    fmt::print(out, " ({} .. {} for {})", grouped(devices.middle_low), grouped(devices.middle_high),
               beacons.period.found ? "the period's low .. high"
                                    : "one device's daily hours at p75 .. p25");
  fmt::print(out, "\n    low    = {}\n", kDeviceMethodLow);
  if (devices.corrected) {
    fmt::print(out, "    middle = {}\n", device_method_middle(beacons));
    fmt::print(out, "             {} addresses x {:.3f} IPv6 x {:.3f} churn x {:.3f} NAT = {}\n",
               grouped(devices.addresses), devices.ipv6_factor, devices.churn_factor,
               devices.nat_factor, grouped(devices.middle));
    fmt::print(out, "    high   = {}\n", device_method_high(beacons));
    if (beacons.capped_sites > 0)
      fmt::print(out, "    caveat: {} sampled sites counted at the cap of {:.0f} devices\n",
                 grouped(beacons.capped_sites), kMaxDevicesPerSite);
  } else {
    fmt::print(out, "    middle = {}\n", kDeviceMethodMiddleUncorrected);
    fmt::print(out, "    high   = {}\n", kDeviceMethodHighUncorrected);
    if (beacons.sampled_clients >= kMinBeaconClients)
      fmt::print(out, "    caveat: {}\n", kDeviceCaveatNoPeriodic);
  }
}

void print_estimate_table(std::FILE* out, const EstimateState& state, const ReportOptions& options) {
  const InputCounters& c = state.counters;
  fmt::print(out, "{} input{}, {} lines: {} queries counted, {} matched a rule\n", c.inputs,
             c.inputs == 1 ? "" : "s", grouped(c.lines), grouped(c.queries), grouped(c.matched));
  fmt::print(out, "  {} malformed, {} not queries, {} replies not counted (queries are logged), "
                  "{} invalid names\n",
             grouped(c.malformed), grouped(c.skipped), grouped(c.responses_ignored),
             grouped(c.bad_names));
  fmt::print(out, "window {} .. {}; clients in the logs: {}\n", time_text(state.first_time),
             time_text(state.last_time), count_text(state.all_clients));
  auto campaigns = campaigns_by_size(state);
  if (campaigns.empty()) fmt::print(out, "\nno query matched a rule of the store\n");
  for (const EntityStats* campaign : campaigns) {
    auto rules = rules_of(state, *campaign);
    BeaconSummary beacons = summarize_beacons(campaign->beacon);
    DeviceEstimate devices = estimate_devices(*campaign, beacons);
    fmt::print(out, "\ncampaign {} ({} rule{} matched)\n", campaign->name, rules.size(),
               rules.size() == 1 ? "" : "s");
    fmt::print(out, "  queries       {}   first seen {}   last seen {}\n", grouped(campaign->queries),
               time_text(campaign->first_seen), time_text(campaign->last_seen));
    fmt::print(out, "  clients       {}   /24 networks {}   /56 networks {}\n",
               count_text(campaign->clients), grouped(campaign->networks_v4.count()),
               grouped(campaign->networks_v6.count()));
    const TimeBin* peak_bin = nullptr;
    if (auto found = campaign->hours.find(devices.peak_hour / 3600); found != campaign->hours.end())
      peak_bin = &found->second;
    fmt::print(out, "  hourly peak   {} clients at {} ({} queries that hour)\n", grouped(devices.low),
               time_text(devices.peak_hour).substr(0, 16) + "Z",
               grouped(peak_bin ? peak_bin->queries : 0));
    fmt::print(out, "  per day      ");
    std::size_t shown = 0;
    for (const auto& [day, bin] : campaign->days) {
      if (shown++ == 14) {
        fmt::print(out, " ... ({} days)", campaign->days.size());
        break;
      }
      fmt::print(out, " {} {}/{}", day_text(day * 86400), grouped(bin.clients.count()),
                 grouped(bin.queries));
    }
    fmt::print(out, "  (clients/queries)\n");
    print_device_range(out, beacons, devices);
    if (!campaign->clients.exact())
      fmt::print(out, "    client counts are HyperLogLog estimates (±{:.1f}% at 95%)\n",
                 HyperLogLog::kStandardError * 200);
    fmt::print(out, "  {:>12} {:>9} {:>9} {:<20} {:<20} {}\n", "queries", "clients", "peak/h",
               "first seen", "last seen", "rule (action)");
    for (std::size_t i = 0; i < rules.size() && i < options.rules_per_campaign; ++i) {
      const EntityStats& rule = *rules[i];
      std::uint64_t peak = 0;
      for (const auto& [hour, bin] : rule.hours) peak = std::max(peak, bin.clients.count());
      fmt::print(out, "  {:>12} {:>9} {:>9} {:<20} {:<20} {} ({})\n", grouped(rule.queries),
                 grouped(rule.clients.count()), grouped(peak), time_text(rule.first_seen),
                 time_text(rule.last_seen), rule.name, rule.action);
    }
    if (rules.size() > options.rules_per_campaign)
      fmt::print(out, "  ... {} more rules (--rules N, --json or --csv list all)\n",
                 rules.size() - options.rules_per_campaign);
    if (options.suspects) {
      auto suspects = campaign_suspects(state, *campaign, options.suspect_options);
      fmt::print(out, "  suspects: names not in the store that travel with this campaign\n");
      if (suspects.empty()) fmt::print(out, "    none above the thresholds\n");
      else
        fmt::print(out, "  {:>7} {:>8} {:>7} {:>8} {:>15} {:>9}  {}\n", "score", "jaccard", "corr",
                   "lift", "shared/clients", "queries", "name");
      for (const Suspect& suspect : suspects)
        fmt::print(out, "  {:>7.3f} {:>8.3f} {:>7.3f} {:>8.1f} {:>15} {:>9}  {}\n", suspect.score,
                   suspect.jaccard, suspect.correlation, suspect.lift,
                   fmt::format("{}/{}", suspect.shared_clients, suspect.clients),
                   grouped(suspect.queries), suspect.name);
    }
  }
  if (state.suspects_enabled && state.suspects.evicted() > 0)
    fmt::print(out, "\nnote: {} rarely queried names were dropped from the suspect table to stay "
                    "within --memory-budget\n",
               grouped(state.suspects.evicted()));
}

namespace {

std::string json_clients(const ClientSet& set) {
  return fmt::format("{{\"count\":{},\"exact\":{},\"standard_error\":{}}}", set.count(),
                     set.exact() ? "true" : "false", set.standard_error());
}

std::string json_entity_core(const EntityStats& entity) {
  std::string out = fmt::format(
      "\"name\":{},\"queries\":{},\"clients\":{},\"networks\":{{\"v4_24\":{},\"v6_56\":{}}},"
      "\"first_seen\":{},\"last_seen\":{}",
      inspect::json_string(entity.name), entity.queries, json_clients(entity.clients),
      entity.networks_v4.count(), entity.networks_v6.count(),
      entity.queries ? inspect::json_string(time_text(entity.first_seen)) : "null",
      entity.queries ? inspect::json_string(time_text(entity.last_seen)) : "null");
  out += ",\"hours\":[";
  bool first = true;
  for (const auto& [hour, bin] : entity.hours) {
    out += fmt::format("{}{{\"hour\":{},\"queries\":{},\"clients\":{}}}", first ? "" : ",",
                       inspect::json_string(time_text(hour * 3600)), bin.queries, bin.clients.count());
    first = false;
  }
  out += "],\"days\":[";
  first = true;
  for (const auto& [day, bin] : entity.days) {
    out += fmt::format("{}{{\"day\":{},\"queries\":{},\"clients\":{}}}", first ? "" : ",",
                       inspect::json_string(day_text(day * 86400)), bin.queries, bin.clients.count());
    first = false;
  }
  out += "]";
  return out;
}

std::string json_one_device(const BeaconSummary& beacons) {
  if (!beacons.corrected || beacons.period.found) return "null";
  return fmt::format(
      "{{\"reference_sites\":{},\"periodic_sites\":{},"
      "\"beacon_period_seconds\":{},\"distinct_queries_per_active_hour\":{},"
      "\"active_hours_per_day\":{},\"active_hours_per_day_p25\":{},"
      "\"active_hours_per_day_p75\":{},\"bin_hours\":{}}}",
      beacons.reference_sites, beacons.periodic_sites, beacons.beacon_period,
      beacons.device_rate, beacons.device_hours, beacons.device_hours_p25, beacons.device_hours_p75,
      beacons.bin_hours);
}

}  // namespace

void print_estimate_json(std::FILE* out, const EstimateState& state, const ReportOptions& options) {
  const InputCounters& c = state.counters;
  fmt::print(out,
             "{{\"inputs\":{},\"lines\":{},\"records\":{},\"queries\":{},\"matched\":{},"
             "\"malformed\":{},\"skipped\":{},\"responses_ignored\":{},\"invalid_names\":{},"
             "\"window\":{{\"first\":{},\"last\":{}}},\"clients\":{},\"store_build_id\":{},"
             "\"campaigns\":[",
             c.inputs, c.lines, c.records, c.queries, c.matched, c.malformed, c.skipped,
             c.responses_ignored, c.bad_names,
             c.queries ? inspect::json_string(time_text(state.first_time)) : "null",
             c.queries ? inspect::json_string(time_text(state.last_time)) : "null",
             json_clients(state.all_clients), inspect::json_string(state.store_build_id));
  bool first_campaign = true;
  for (const EntityStats* campaign : campaigns_by_size(state)) {
    BeaconSummary beacons = summarize_beacons(campaign->beacon);
    DeviceEstimate devices = estimate_devices(*campaign, beacons);
    fmt::print(out, "{}{{{}", first_campaign ? "" : ",", json_entity_core(*campaign));
    first_campaign = false;
    fmt::print(out,
               ",\"hourly_peak\":{{\"clients\":{},\"hour\":{}}},\"daily_peak\":{{\"clients\":{},"
               "\"day\":{}}},\"beacon\":{{\"sampled_clients\":{},\"sample_fraction\":{},"
               "\"median_queries_per_active_hour\":{},\"p90_queries_per_active_hour\":{},"
               "\"max_queries_per_active_hour\":{},\"median_active_hours\":{},"
               "\"multi_device_clients\":{},\"devices_per_client\":{},\"repeat_factor\":{},"
               "\"stable_sites\":{},\"capped_sites\":{},\"one_device\":{},\"period\":{}}}",
               devices.low, inspect::json_string(time_text(devices.peak_hour)),
               devices.peak_daily_clients, inspect::json_string(day_text(devices.peak_day)),
               beacons.sampled_clients, beacons.sample_fraction, beacons.median_rate,
               beacons.p90_rate, beacons.max_rate, beacons.median_active_hours,
               beacons.multi_device_clients, beacons.devices_per_client, beacons.repeat_factor,
               beacons.stable_sites, beacons.capped_sites, json_one_device(beacons),
               beacon_period_json(beacons));
    fmt::print(out,
               ",\"devices\":{{\"low\":{},\"middle\":{},\"high\":{},\"middle_range\":{{\"low\":{},"
               "\"high\":{}}},\"corrected\":{},\"factors\":{{\"addresses\":{},\"sites\":{},"
               "\"ipv6\":{},\"churn\":{},\"nat\":{}}},\"method\":{{\"low\":{},\"middle\":{},"
               "\"high\":{}}},\"caveats\":[{}]}}",
               devices.low, devices.middle, devices.high, devices.middle_low, devices.middle_high,
               devices.corrected ? "true" : "false", devices.addresses, devices.sites,
               devices.ipv6_factor, devices.churn_factor, devices.nat_factor,
               inspect::json_string(kDeviceMethodLow),
               inspect::json_string(device_method_middle(beacons)),
               inspect::json_string(device_method_high(beacons)),
               beacons.sampled_clients >= kMinBeaconClients && !beacons.corrected
                   ? inspect::json_string(kDeviceCaveatNoPeriodic)
                   : std::string());
    fmt::print(out, ",\"rules\":[");
    bool first_rule = true;
    for (const EntityStats* rule : rules_of(state, *campaign)) {
      fmt::print(out, "{}{{{},\"action\":{}}}", first_rule ? "" : ",", json_entity_core(*rule),
                 inspect::json_string(rule->action));
      first_rule = false;
    }
    fmt::print(out, "]");
    if (options.suspects) {
      fmt::print(out, ",\"suspects\":[");
      bool first_suspect = true;
      for (const Suspect& s : campaign_suspects(state, *campaign, options.suspect_options)) {
        fmt::print(out,
                   "{}{{\"name\":{},\"score\":{},\"jaccard\":{},\"correlation\":{},\"lift\":{},"
                   "\"clients\":{},\"shared_clients\":{},\"queries\":{}}}",
                   first_suspect ? "" : ",", inspect::json_string(s.name), s.score, s.jaccard,
                   s.correlation, s.lift, s.clients, s.shared_clients, s.queries);
        first_suspect = false;
      }
      fmt::print(out, "]");
    }
    fmt::print(out, "}}");
  }
  fmt::print(out, "]}}\n");
}

void print_estimate_csv(std::FILE* out, const EstimateState& state) {
  fmt::print(out,
             "kind,name,campaign,action,queries,clients,clients_exact,networks_24,networks_56,"
             "first_seen,last_seen,peak_hour,peak_hour_clients,peak_day,peak_day_clients,"
             "devices_low,devices_middle,devices_high,devices_per_client,sites,ipv6_factor,"
             "churn_factor\n");
  for (const EntityStats* campaign : campaigns_by_size(state)) {
    std::vector<const EntityStats*> rows{campaign};
    for (const EntityStats* rule : rules_of(state, *campaign)) rows.push_back(rule);
    for (const EntityStats* entity : rows) {
      BeaconSummary beacons = summarize_beacons(entity->beacon);
      DeviceEstimate devices = estimate_devices(*entity, beacons);
      bool is_campaign = entity->kind == EntityKind::kCampaign;
      fmt::print(out, "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3f},{},{:.3f},{:.3f}\n",
                 is_campaign ? "campaign" : "rule", csv_field(entity->name),
                 csv_field(is_campaign ? entity->name : entity->campaign), entity->action,
                 entity->queries, entity->clients.count(), entity->clients.exact() ? 1 : 0,
                 entity->networks_v4.count(), entity->networks_v6.count(),
                 time_text(entity->first_seen), time_text(entity->last_seen),
                 time_text(devices.peak_hour), devices.low, day_text(devices.peak_day),
                 devices.peak_daily_clients, devices.low, devices.middle, devices.high,
                 devices.nat_factor, devices.sites, devices.ipv6_factor, devices.churn_factor);
    }
  }
}

void write_estimate_svg(std::FILE* out, const EstimateState& state) {
  auto campaigns = campaigns_by_size(state);
  if (campaigns.size() > 12) campaigns.resize(12);
  const double width = 960, panel = 150, left = 70, right = 20, top = 30;
  std::int64_t first_hour = state.first_time == INT64_MAX ? 0 : state.first_time / 3600;
  std::int64_t last_hour = state.last_time == INT64_MIN ? 0 : state.last_time / 3600;
  double hours = static_cast<double>(std::max<std::int64_t>(last_hour - first_hour + 1, 1));
  double height = top + panel * static_cast<double>(std::max<std::size_t>(campaigns.size(), 1)) + 20;
  fmt::print(out,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
             "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"11\">\n"
             "<title>dnsverdict estimate: distinct clients (bars) and queries (line) per hour, "
             "UTC</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
             "<text x=\"{2}\" y=\"18\" font-size=\"13\">Distinct clients per hour (bars) and "
             "queries per hour (line), {3} .. {4} UTC</text>\n",
             width, height, left, time_text(first_hour * 3600), time_text(last_hour * 3600 + 3599));
  double plot_width = width - left - right;
  double bar = plot_width / hours;
  for (std::size_t i = 0; i < campaigns.size(); ++i) {
    const EntityStats& campaign = *campaigns[i];
    double y0 = top + panel * static_cast<double>(i) + panel - 25;  // baseline
    double plot_height = panel - 45;
    std::uint64_t max_clients = 1, max_queries = 1;
    for (const auto& [hour, bin] : campaign.hours) {
      max_clients = std::max(max_clients, bin.clients.count());
      max_queries = std::max(max_queries, bin.queries);
    }
    fmt::print(out, "<text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>\n", left,
               y0 - plot_height - 6, xml_escape(campaign.name));
    fmt::print(out,
               "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#888\"/>\n"
               "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n"
               "<text x=\"{3}\" y=\"{1}\" text-anchor=\"end\">0</text>\n",
               left, y0, width - right, left - 4, y0 - plot_height + 4, max_clients);
    for (const auto& [hour, bin] : campaign.hours) {
      double x = left + static_cast<double>(hour - first_hour) * bar;
      double h = plot_height * static_cast<double>(bin.clients.count()) / static_cast<double>(max_clients);
      fmt::print(out, "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"#4a7ab5\"/>\n",
                 x, y0 - h, std::max(bar * 0.9, 0.5), h);
    }
    std::string points;
    for (const auto& [hour, bin] : campaign.hours) {
      double x = left + (static_cast<double>(hour - first_hour) + 0.5) * bar;
      double y = y0 - plot_height * static_cast<double>(bin.queries) / static_cast<double>(max_queries);
      points += fmt::format("{:.2f},{:.2f} ", x, y);
    }
    fmt::print(out, "<polyline points=\"{}\" fill=\"none\" stroke=\"#d0473a\" stroke-width=\"1\"/>\n",
               points);
    for (std::int64_t day = (first_hour + 23) / 24 * 24; day <= last_hour; day += 24) {
      if (hours > 24 * 31 && (day / 24) % 7 != 0) continue;
      double x = left + static_cast<double>(day - first_hour) * bar;
      fmt::print(out, "<line x1=\"{0:.2f}\" y1=\"{1}\" x2=\"{0:.2f}\" y2=\"{2}\" stroke=\"#ccc\"/>"
                      "<text x=\"{0:.2f}\" y=\"{3}\" text-anchor=\"middle\" fill=\"#555\">{4}</text>\n",
                 x, y0, y0 + 4, y0 + 15, day_text(day * 3600).substr(5));
    }
  }
  fmt::print(out, "</svg>\n");
}

}  // namespace dnsverdict
