#include "stats_devices.h"

#include <cmath>

namespace dnsverdict {

StatsDevices devices_from_stats(const std::map<std::int64_t, MergedStats::Hour>& hours) {
  StatsDevices result;
  AddressCounts counts;
  HyperLogLog addresses, sites;
  std::map<std::int64_t, HyperLogLog> days;
  std::uint64_t threshold = UINT64_MAX;
  std::uint64_t queries = 0;
  for (const auto& [hour, merged] : hours) {
    ++result.hours;
    if (!merged.counts.counts_sites) {
      ++result.hours_without_sites;
      continue;
    }
    const HourlyCounts& hourly = merged.counts;
    queries += hourly.queries;
    auto hour_addresses = static_cast<std::uint64_t>(std::llround(hourly.clients.estimate()));
    if (hour_addresses > counts.peak_hourly_addresses) {
      counts.peak_hourly_addresses = hour_addresses;
      counts.peak_hour = hour;
    }
    std::int64_t day = hour - (hour % 86400 + 86400) % 86400;
    days[day].merge(hourly.clients);
    addresses.merge(hourly.clients);
    sites.merge(hourly.sites);
    threshold = std::min(threshold, hourly.site_sample.threshold());
  }
  for (const auto& [day, sketch] : days) {
    auto day_addresses = static_cast<std::uint64_t>(std::llround(sketch.estimate()));
    if (day_addresses > counts.peak_daily_addresses) {
      counts.peak_daily_addresses = day_addresses;
      counts.peak_day = day;
    }
  }
  counts.addresses = static_cast<std::uint64_t>(std::llround(addresses.estimate()));
  counts.sites = static_cast<std::uint64_t>(std::llround(sites.estimate()));

  ClientSample sample;
  sample.restrict_to(threshold);
  std::vector<std::uint64_t> site_addresses;
  for (const auto& [hour, merged] : hours) {
    if (!merged.counts.counts_sites || hour < 0) continue;
    for (const SampledSite& site : merged.counts.site_sample.sites()) {
      if (site.site > threshold) break;
      site_addresses.assign(site.addresses, site.addresses + site.address_count());
      sample.add_hour(site.site, static_cast<std::uint32_t>(hour / kSecondsPerHour), site.queries,
                      site.slots, site_addresses);
    }
  }
  result.beacons = summarize_beacons(sample);
  // The sample stands for the campaign in proportion to its queries rather than its sites:
  // the few large shared sites (CGNAT, egress addresses) carry most of the devices and of the
  // queries, so a sample that misses one or holds two is corrected by its query share.
  std::uint64_t sampled_queries = 0;
  for (const auto& [site, activity] : sample.clients()) sampled_queries += activity.queries;
  if (sampled_queries > 0)
    counts.sample_scale = static_cast<double>(queries) / static_cast<double>(sampled_queries);
  result.devices = estimate_devices(counts, result.beacons);
  // Every count here is a HyperLogLog estimate: the bounds are widened by two standard errors
  // so that an address count estimated low does not cut the truth off.
  DeviceEstimate& devices = result.devices;
  devices.low = static_cast<std::uint64_t>(
      std::floor(static_cast<double>(devices.low) * (1 - kHyperLogLogMargin)));
  devices.high = static_cast<std::uint64_t>(
      std::ceil(static_cast<double>(devices.high) * (1 + kHyperLogLogMargin)));
  return result;
}

}  // namespace dnsverdict
