// The device range of a campaign from the module's stats store (`dnsverdict stats`): the
// campaign's hourly buckets, merged over resolvers, give the address and site counts and the
// site samples (site_sample.h) that the model of `dnsverdict estimate` (device_estimate.h)
// reads. The samples of all hours are cut to their smallest threshold, so the same sites are
// followed through the window.
#pragma once

#include <cstdint>
#include <map>

#include "device_estimate.h"
#include "stats_store.h"

namespace dnsverdict {

// How far the stats device range's low and high bounds are widened: two standard errors of a
// HyperLogLog estimate (the stats store counts addresses and sites with sketches only).
inline constexpr double kHyperLogLogMargin = 2 * HyperLogLog::kStandardError;

struct StatsDevices {
  BeaconSummary beacons;
  DeviceEstimate devices;
  std::size_t hours = 0;                // hours with buckets
  std::size_t hours_without_sites = 0;  // written before sites were counted: left out
};

// From one campaign's merged hours (MergedStats::subjects). Only the hours that count sites
// enter the estimate; with none, `devices` is all zero.
StatsDevices devices_from_stats(const std::map<std::int64_t, MergedStats::Hour>& hours);

}  // namespace dnsverdict
