// The output of `dnsverdict estimate` and `dnsverdict merge`: a table for people, JSON and
// CSV for programs, an SVG timeline for reports. All four are made from an EstimateState
// alone, so a merged state prints exactly as a single run's would.
#pragma once

#include <cstdio>
#include <string>

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
    "peak daily distinct clients x devices per address (beacon rates): one day limits address churn";
inline constexpr const char* kDeviceMethodHigh =
    "distinct clients over the window x devices per address: the footprint, inflated by address "
    "churn (DHCP), so an upper figure";

void print_estimate_table(std::FILE* out, const EstimateState& state, const ReportOptions& options);
void print_estimate_json(std::FILE* out, const EstimateState& state, const ReportOptions& options);
void print_estimate_csv(std::FILE* out, const EstimateState& state);
// Hourly distinct clients and queries per campaign, one panel each.
void write_estimate_svg(std::FILE* out, const EstimateState& state);

// The suspects of one campaign (empty when suspects were not collected).
std::vector<Suspect> campaign_suspects(const EstimateState& state, const EntityStats& campaign,
                                       const SuspectOptions& options);

}  // namespace dnsverdict
