// The output of `dnsverdict estimate` and `dnsverdict merge`: a table for people, JSON and
// CSV for programs, an SVG timeline for reports. All four are made from an EstimateState
// alone, so a merged state prints exactly as a single run's would.
#pragma once

#include <cstdio>
#include <string>

#include "device_estimate.h"
#include "estimator.h"
#include "suspects.h"

namespace dnsverdict {

struct ReportOptions {
  std::size_t rules_per_campaign = 10;  // table only; JSON and CSV list every rule
  bool suspects = false;
  SuspectOptions suspect_options;
};

// The method behind the device range, in one sentence per bound (also in docs/estimation.md).
inline constexpr const char* kDeviceMethodLow =
    "peak hourly distinct clients: at least this many addresses were live in one hour";
inline constexpr const char* kDeviceMethodMiddle =
    "devices over the window from the sites' beacon behaviour: addresses x IPv6 factor (/64 "
    "sites per address) x churn factor (device identities per site; short-lived addresses "
    "counted as device-hours) x NAT factor (devices per identity)";
inline constexpr const char* kDeviceMethodHigh =
    "distinct clients over the window + the devices hidden behind shared sites: the footprint, "
    "inflated by address churn and IPv6 address rotation, so an upper figure";
// No site beacons alone, and the shared sites show the beacon period (beacon_period.h).
inline constexpr const char* kDeviceMethodMiddlePeriod =
    "devices beaconing at once in each site's busiest bin (its distinct queries there x the "
    "beacon period read from the shared sites): devices on at other hours only are missed";
// The 8 hours are kAssumedDeviceHours (device_estimate.h).
inline constexpr const char* kDeviceMethodHighPeriod =
    "each site's busiest day's device-hours as devices on 8 hours a day (an assumption), or the "
    "distinct clients over the window + the devices hidden behind shared sites, the larger";
// Too few sites, or none that beacons alone: one device's behaviour is unknown, no correction.
inline constexpr const char* kDeviceMethodMiddleUncorrected =
    "peak daily distinct clients: one device's behaviour is unknown (too few sites, or none "
    "beacons alone), no correction";
inline constexpr const char* kDeviceMethodHighUncorrected =
    "distinct clients over the window: the footprint, inflated by address churn (DHCP), so an "
    "upper figure";
// When there are sites enough but none beacons alone and the shared sites show no period
// (docs/estimation.md, where it is not good).
inline constexpr const char* kDeviceCaveatNoPeriodic =
    "no site beacons alone at a regular interval and the shared sites show no beacon period, "
    "so NAT, churn and IPv6 are not corrected: if every address is shared, devices are many "
    "more";

// The bound's method, as the report states it, for a campaign's beacon summary.
const char* device_method_middle(const BeaconSummary& beacons);
const char* device_method_high(const BeaconSummary& beacons);
// The period line's text (the period and the sites it came from, "not found: why" or "not
// searched: why") and its JSON object.
std::string beacon_period_text(const BeaconSummary& beacons);
std::string beacon_period_json(const BeaconSummary& beacons);

// The beacon, one-device and devices lines of a campaign, with the method of each bound and
// the caveats (the same in `estimate` and `stats`).
void print_device_range(std::FILE* out, const BeaconSummary& beacons,
                        const DeviceEstimate& devices);

void print_estimate_table(std::FILE* out, const EstimateState& state, const ReportOptions& options);
void print_estimate_json(std::FILE* out, const EstimateState& state, const ReportOptions& options);
void print_estimate_csv(std::FILE* out, const EstimateState& state);
// Hourly distinct clients and queries per campaign, one panel each.
void write_estimate_svg(std::FILE* out, const EstimateState& state);

// The suspects of one campaign (empty when suspects were not collected).
std::vector<Suspect> campaign_suspects(const EstimateState& state, const EntityStats& campaign,
                                       const SuspectOptions& options);

}  // namespace dnsverdict
