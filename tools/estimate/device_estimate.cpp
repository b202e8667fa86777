#include "device_estimate.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace dnsverdict {
namespace {

// An hour with more occupied slots than this is a crowd: no interval or repetition is read
// from it.
constexpr int kSaturatedSlots = 32;
constexpr std::size_t kMinReferenceSites = 10;
constexpr std::uint32_t kBinChoices[] = {1, 2, 3, 4, 6, 8, 12, 24};

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double position = q * static_cast<double>(values.size() - 1);
  auto below = static_cast<std::size_t>(position);
  std::size_t above = std::min(below + 1, values.size() - 1);
  double weight = position - static_cast<double>(below);
  return values[below] * (1 - weight) + values[above] * weight;
}

// What the estimate needs of one sampled site.
struct SiteFigures {
  const ClientActivity* activity = nullptr;
  std::vector<double> events;  // distinct queries per active hour, parallel to activity->hours
  double queries = 0, total_events = 0;
  double repeat_factor = 0;  // periodic sites: queries per occupied slot (0: not measured)
  std::uint32_t active_hours = 0, active_days = 0, span_hours = 0;
  double daily_hours = 0;  // its active hours on its median active day
  double gap = 0;  // median interval between its queries, in slots (0: too few)
  bool periodic = false;
  double peak = 0;  // distinct queries in its busiest bin
};

// A site is periodic when most intervals between its queries' slots are one interval.
void measure_period(SiteFigures& site) {
  std::vector<double> gaps;
  std::int64_t previous = -1;
  for (const HourActivity& hour : site.activity->hours) {
    if (__builtin_popcountll(hour.slots) > kSaturatedSlots) {
      previous = -1;  // a crowd: no interval to read
      continue;
    }
    for (std::uint64_t bits = hour.slots; bits != 0; bits &= bits - 1) {
      std::int64_t slot = static_cast<std::int64_t>(hour.hour) * kSlotsPerHour + __builtin_ctzll(bits);
      if (previous >= 0) gaps.push_back(static_cast<double>(slot - previous));
      previous = slot;
    }
  }
  if (gaps.size() < 4) return;
  site.gap = quantile(gaps, 0.5);
  if (site.gap < 2) return;  // a query a slot: a crowd, or faster than the slots can tell
  double tolerance = std::max(1.0, 0.1 * site.gap);
  std::size_t regular = 0;
  for (double gap : gaps) regular += std::abs(gap - site.gap) <= tolerance ? 1 : 0;
  site.periodic = regular * 2 >= gaps.size();
}

double peak_in_bins(const SiteFigures& site, std::uint32_t bin_hours) {
  double peak = 0, current = 0;
  std::int64_t bin = -1;
  for (std::size_t i = 0; i < site.events.size(); ++i) {
    std::int64_t index = site.activity->hours[i].hour / bin_hours;
    if (index != bin) {
      bin = index;
      current = 0;
    }
    current += site.events[i];
    peak = std::max(peak, current);
  }
  return peak;
}

// IPv6: the most addresses of one site in use together for at least three hours (an address
// is in use from its first hour up to, not including, its last; a rotation's hand-over hour
// does not count twice). Temporary addresses of one device follow each other: 1.
double concurrent_addresses(const ClientActivity& activity) {
  if (activity.addresses.size() < 2) return 1;
  std::map<std::int64_t, int> changes;
  for (const AddressSpan& span : activity.addresses) {
    std::int64_t end = std::max<std::int64_t>(span.last_hour, span.first_hour + 1);
    ++changes[span.first_hour];
    --changes[end];
  }
  std::map<int, std::int64_t, std::greater<int>> hours_at;  // live addresses -> hours
  int live = 0;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    live += it->second;
    auto next = std::next(it);
    if (next != changes.end() && live > 0) hours_at[live] += next->first - it->first;
  }
  std::int64_t hours = 0;
  for (const auto& [count, length] : hours_at) {
    hours += length;
    if (hours >= 3) return count;
  }
  return 1;
}

// Bins wide enough for 3 beacons of one device.
std::uint32_t bin_hours_for(double beacon_period) {
  for (std::uint32_t hours : kBinChoices)
    if (hours * 3600.0 / beacon_period >= 3) return hours;
  return 24;
}

// No site beacons alone: one device's rate is one query per beacon period, if the shared sites
// show one. Each site is counted by the devices beaconing at once in its busiest bin; a
// device that is on at other hours only is missed, so this leans low; the upper figure
// assumes devices on kAssumedDeviceHours a day. Address churn is not corrected here: a
// device that changes address counts once per address.
void count_from_period(const ClientSample& sample, std::vector<SiteFigures>& sites, BeaconSummary& summary) {
  summary.period_searched = true;
  summary.period = find_beacon_period(sample);
  if (!summary.period.found) return;
  const BeaconPeriod& period = summary.period;
  summary.beacon_period = period.seconds;
  summary.device_rate = 3600.0 / period.seconds;
  summary.bin_hours = bin_hours_for(period.seconds);
  summary.device_peak = summary.device_rate * summary.bin_hours;
  for (SiteFigures& site : sites) {
    site.peak = peak_in_bins(site, summary.bin_hours);
    // Device-hours on its busiest day.
    std::map<std::uint32_t, double> daily_events;
    for (std::size_t i = 0; i < site.events.size(); ++i)
      daily_events[site.activity->hours[i].hour / 24] += site.events[i];
    double busiest_day = 0;
    for (const auto& [day, events] : daily_events) busiest_day = std::max(busiest_day, events);
    auto at_once = [&](double seconds) {
      return std::clamp(site.peak * seconds / (summary.bin_hours * 3600.0), 1.0, kMaxDevicesPerSite);
    };
    double devices = at_once(period.seconds);
    summary.devices += devices;
    summary.devices_low += at_once(period.low_seconds);
    double high = at_once(period.high_seconds);
    summary.devices_high += high;
    summary.devices_upper += std::clamp(
        std::max(high, busiest_day * period.high_seconds / 3600.0 / kAssumedDeviceHours), 1.0,
        kMaxDevicesPerSite);
    summary.identities += 1;
    summary.stable_sites += site.span_hours > kStableSiteHours ? 1 : 0;
    summary.multi_device_clients += devices >= 1.5 ? 1 : 0;
    summary.capped_sites += devices == kMaxDevicesPerSite ? 1 : 0;
  }
  summary.devices_per_client = summary.devices / summary.identities;
  summary.corrected = true;
}

}  // namespace

BeaconSummary summarize_beacons(const ClientSample& sample) {
  BeaconSummary summary;
  summary.sample_fraction = sample.fraction();
  std::vector<SiteFigures> sites;
  std::vector<double> rates, active_hours, repeats;
  for (const auto& [key, activity] : sample.clients()) {
    if (activity.hours.empty()) continue;
    SiteFigures site;
    site.activity = &activity;
    site.queries = static_cast<double>(activity.queries);
    site.active_hours = static_cast<std::uint32_t>(activity.hours.size());
    site.span_hours = activity.hours.back().hour - activity.hours.front().hour + 1;
    std::uint32_t day = UINT32_MAX;
    std::vector<double> hours_per_day, quiet_repeats;
    for (const HourActivity& hour : activity.hours) {
      if (hour.hour / 24 != day) {
        day = hour.hour / 24;
        ++site.active_days;
        hours_per_day.push_back(0);
      }
      ++hours_per_day.back();
      int slots = __builtin_popcountll(hour.slots);
      if (slots > 0 && slots <= kSaturatedSlots)
        quiet_repeats.push_back(static_cast<double>(hour.queries) / slots);
    }
    // The median day, not the mean: a log that starts or ends mid-day cuts days short.
    site.daily_hours = quantile(hours_per_day, 0.5);
    measure_period(site);
    // Repetition is read where one device beacons alone (a periodic site): there a slot holds
    // one beacon, and its queries beyond one are repeats. At a crowd, devices whose beacons
    // fall close together would look like repeats. Its usual hour, not its total.
    if (site.periodic && quiet_repeats.size() >= 3) {
      site.repeat_factor = std::max(1.0, quantile(quiet_repeats, 0.5));
      repeats.push_back(site.repeat_factor);
    }
    rates.push_back(site.queries / site.active_hours);
    active_hours.push_back(site.active_hours);
    sites.push_back(std::move(site));
  }
  summary.sampled_clients = sites.size();
  if (sites.empty()) return summary;
  summary.median_rate = quantile(rates, 0.5);
  summary.p90_rate = quantile(rates, 0.9);
  summary.max_rate = *std::max_element(rates.begin(), rates.end());
  summary.median_active_hours = quantile(active_hours, 0.5);
  summary.repeat_factor = repeats.empty() ? 1 : quantile(repeats, 0.5);
  // Too few sites make a noisy reference: no correction below kMinBeaconClients.
  if (sites.size() < kMinBeaconClients) return summary;

  // Distinct queries per hour: the queries less the repetition, the site's own where it
  // beacons alone, else the usual one (the median over those sites).
  for (SiteFigures& site : sites) {
    double repeat = site.repeat_factor > 0 ? site.repeat_factor : summary.repeat_factor;
    for (const HourActivity& hour : site.activity->hours) {
      double events = hour.queries / repeat;
      site.events.push_back(events);
      site.total_events += events;
    }
  }

  // The reference: periodic sites at the longest interval that enough sites share (a few
  // devices behind one address can look periodic too, at a fraction of the interval). With
  // none, one device's behaviour is unknown and nothing is corrected.
  std::vector<double> periods;
  for (const SiteFigures& site : sites)
    if (site.periodic) periods.push_back(site.gap);
  summary.periodic_sites = periods.size();
  std::sort(periods.begin(), periods.end(), std::greater<double>());
  std::size_t support_needed = std::max(kMinReferenceSites, periods.size() / 10);
  double common_gap = 0;
  for (std::size_t i = 0; i < periods.size() && common_gap == 0; ++i) {
    std::vector<double> cluster;  // sites within [0.8, 1.25] x this interval
    for (double gap : periods)
      if (gap >= 0.8 * periods[i] && gap <= 1.25 * periods[i]) cluster.push_back(gap);
    if (cluster.size() >= support_needed) common_gap = quantile(cluster, 0.5);
  }
  std::vector<const SiteFigures*> reference;
  for (const SiteFigures& site : sites)
    if (site.periodic && site.gap >= 0.8 * common_gap && site.gap <= 1.25 * common_gap)
      reference.push_back(&site);
  summary.periodic_reference = common_gap > 0 && reference.size() >= kMinReferenceSites;
  if (!summary.periodic_reference) {
    count_from_period(sample, sites, summary);
    return summary;
  }
  summary.beacon_period = common_gap * 3600.0 / kSlotsPerHour;
  summary.bin_hours = bin_hours_for(summary.beacon_period);
  for (SiteFigures& site : sites) site.peak = peak_in_bins(site, summary.bin_hours);
  summary.reference_sites = reference.size();
  std::vector<double> reference_rates, reference_peaks, daily_hours, stable_daily_hours;
  for (const SiteFigures* site : reference) {
    reference_rates.push_back(site->total_events / site->active_hours);
    reference_peaks.push_back(site->peak);
    daily_hours.push_back(site->daily_hours);
    if (site->span_hours > kStableSiteHours) stable_daily_hours.push_back(site->daily_hours);
  }
  summary.device_rate = quantile(reference_rates, 0.5);
  summary.device_peak = quantile(reference_peaks, 0.5);
  // Daily hours from sites that are one device for days, when there are enough: a short
  // lease cuts a device's day short.
  const std::vector<double>& hours =
      stable_daily_hours.size() >= kMinReferenceSites ? stable_daily_hours : daily_hours;
  double sum = 0;
  for (double h : hours) sum += h;
  summary.device_hours = sum / static_cast<double>(hours.size());
  summary.device_hours_p25 = quantile(hours, 0.25);
  summary.device_hours_p75 = quantile(hours, 0.75);
  if (summary.device_rate <= 0 || summary.device_peak <= 0 || summary.device_hours <= 0)
    return summary;
  summary.corrected = true;

  // Each site: one device, or several; stable, or short-lived (its device-hours per day).
  const double device_hours[3] = {summary.device_hours, summary.device_hours_p75,
                                  summary.device_hours_p25};
  double stable_devices[3] = {0, 0, 0};
  std::map<std::uint32_t, std::pair<double, double>> short_lived;  // day -> identity, device hours
  for (const SiteFigures& site : sites) {
    double ratio = site.peak / summary.device_peak;
    double together = concurrent_addresses(*site.activity);
    bool several = ratio >= 1.5 || together >= 2;
    summary.multi_device_clients += several ? 1 : 0;
    if (site.span_hours > kStableSiteHours) {
      ++summary.stable_sites;
      summary.identities += 1;
      for (int variant = 0; variant < 3; ++variant) {
        double devices = 1;
        if (several) {
          // Its devices are not on longer than the site is (office hours at an egress); its
          // days are its active hours over its usual day, so that partial days weigh less.
          double hours_on = std::min(device_hours[variant], site.daily_hours);
          double days = static_cast<double>(site.active_hours) / site.daily_hours;
          double per_day = site.total_events / summary.device_rate / days / hours_on;
          devices = std::clamp(std::max({std::round(ratio), together, per_day}), 2.0,
                               kMaxDevicesPerSite);
          if (variant == 0 && devices == kMaxDevicesPerSite) ++summary.capped_sites;
        }
        stable_devices[variant] += devices;
      }
      continue;
    }
    for (std::size_t i = 0; i < site.events.size(); ++i) {
      auto& [identity_hours, hours_of_devices] = short_lived[site.activity->hours[i].hour / 24];
      identity_hours += 1;
      hours_of_devices += several ? std::max(1.0, site.events[i] / summary.device_rate) : 1.0;
    }
  }
  // Short-lived sites on their busiest day.
  double busiest_identity_hours = 0, busiest_device_hours = 0;
  for (const auto& [day, totals] : short_lived)
    if (totals.second > busiest_device_hours) {
      busiest_identity_hours = totals.first;
      busiest_device_hours = totals.second;
    }
  summary.identities += busiest_identity_hours / summary.device_hours;
  summary.devices = stable_devices[0] + busiest_device_hours / device_hours[0];
  summary.devices_low = stable_devices[1] + busiest_device_hours / device_hours[1];
  summary.devices_high = stable_devices[2] + busiest_device_hours / device_hours[2];
  summary.devices_per_client = summary.identities > 0 ? summary.devices / summary.identities : 1;
  return summary;
}

AddressCounts address_counts(const EntityStats& entity) {
  AddressCounts counts;
  for (const auto& [hour, bin] : entity.hours) {
    std::uint64_t clients = bin.clients.count();
    if (clients > counts.peak_hourly_addresses) {
      counts.peak_hourly_addresses = clients;
      counts.peak_hour = hour * 3600;
    }
  }
  for (const auto& [day, bin] : entity.days) {
    std::uint64_t clients = bin.clients.count();
    if (clients > counts.peak_daily_addresses) {
      counts.peak_daily_addresses = clients;
      counts.peak_day = day * 86400;
    }
  }
  counts.addresses = entity.clients.count();
  counts.sites = entity.sites.count();
  return counts;
}

DeviceEstimate estimate_devices(const EntityStats& entity, const BeaconSummary& beacons) {
  return estimate_devices(address_counts(entity), beacons);
}

DeviceEstimate estimate_devices(const AddressCounts& counts, const BeaconSummary& beacons) {
  DeviceEstimate estimate;
  estimate.low = counts.peak_hourly_addresses;
  estimate.peak_hour = counts.peak_hour;
  estimate.peak_daily_clients = counts.peak_daily_addresses;
  estimate.peak_day = counts.peak_day;
  estimate.addresses = counts.addresses;
  estimate.sites = counts.sites;
  auto whole = [](double value) { return static_cast<std::uint64_t>(std::llround(value)); };
  if (!beacons.corrected || beacons.sampled_clients == 0 || estimate.addresses == 0) {
    estimate.middle = estimate.middle_low = estimate.middle_high =
        std::max(estimate.low, estimate.peak_daily_clients);
    estimate.high = std::max(estimate.middle, estimate.addresses);
    return estimate;
  }
  estimate.corrected = true;
  // The sample stands for all the entity's sites.
  double scale = counts.sample_scale > 0 ? counts.sample_scale
                                         : static_cast<double>(estimate.sites) /
                                               static_cast<double>(beacons.sampled_clients);
  double identities = beacons.identities * scale;
  double devices = beacons.devices * scale;
  estimate.ipv6_factor = static_cast<double>(estimate.sites) / static_cast<double>(estimate.addresses);
  estimate.churn_factor = estimate.sites > 0 ? identities / static_cast<double>(estimate.sites) : 1;
  estimate.nat_factor = beacons.devices_per_client;
  estimate.middle = std::max(estimate.low, whole(devices));
  estimate.middle_low = std::min(estimate.middle, std::max(estimate.low, whole(beacons.devices_low * scale)));
  estimate.middle_high = std::max(estimate.middle, whole(beacons.devices_high * scale));
  // The footprint of addresses (inflated by churn and address rotation) plus the devices that
  // shared sites hide.
  double hidden = std::max(0.0, devices - identities);
  estimate.high = std::max({estimate.middle_high, whole(beacons.devices_upper * scale),
                            whole(static_cast<double>(estimate.addresses) + hidden)});
  return estimate;
}

}  // namespace dnsverdict
