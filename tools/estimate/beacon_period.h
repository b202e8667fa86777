// The campaign's beacon period, read from the sites themselves when no site beacons alone
// (docs/estimation.md, "When every address is shared").
//
// Devices that beacon every T seconds, each at its own phase, make a site's queries repeat
// at lag T however many devices share the site. The sample keeps, per site and active hour,
// which of the hour's 64 slots (56.25 s) held a query (estimator.h). For every lag up to
// kMaxPeriodLagSlots the finder counts the pairs of occupied slots that far apart at the same
// site, pooled over the sites, against what arrivals placed at random within each hour
// (Poisson arrivals, given each hour's occupied slots) would give. The excess, as a
// correlation, is flat for unstructured traffic and peaks at T and its multiples for a
// beacon. The period is the smallest lag with a clear peak that its double confirms; its
// largest confirmed multiple refines it.
//
// Cost: bounded by kPeriodSiteHours site-hours (sites in hash order, at most
// kPeriodHoursPerSite each), each paired with the hours up to kMaxPeriodLagSlots later; full
// hours are skipped and sparse ones paired slot by slot.
#pragma once

#include <cstdint>
#include <string>

#include "estimator.h"

namespace dnsverdict {

// Lags searched, in slots: 12 hours, so periods up to 6 hours are confirmed by their double.
inline constexpr std::uint32_t kMaxPeriodLagSlots = 12 * kSlotsPerHour;
// The shortest period searched: 3 slots (about 2.8 minutes); shorter ones and bursts of
// queries within a few slots cannot be told apart at this resolution.
inline constexpr std::uint32_t kMinPeriodLagSlots = 3;
inline constexpr std::uint32_t kPeriodHoursPerSite = 96;
inline constexpr std::uint32_t kPeriodSiteHours = 10000;
// A peak is clear when it stands this far above the lags around it (as a correlation) and
// this many standard errors above the expectation.
inline constexpr double kMinPeriodExcess = 0.02;
inline constexpr double kMinPeriodZ = 8;
inline constexpr double kSecondsPerSlot = 3600.0 / kSlotsPerHour;

struct BeaconPeriod {
  bool found = false;
  double seconds = 0;                  // the period
  double low_seconds = 0, high_seconds = 0;  // its uncertainty: the peak's width over its multiple
  double excess = 0;                   // the peak's correlation above the lags around it
  double z = 0;                        // its standard errors above the expectation
  std::uint32_t multiple = 0;          // the multiple of the period it was refined at
  std::uint64_t sites = 0;             // sites whose own slots repeat at it (2 standard errors)
  std::uint64_t informative_sites = 0; // sites with a pair of hours neither empty nor full
  std::uint64_t site_hours = 0;        // site-hours read (at most kPeriodSiteHours)
  std::string reason;                  // when not found: why, in one sentence
};

// Sites that must repeat at the period for it to count.
inline constexpr std::uint64_t kMinPeriodSites = 3;

// The period of the sample's sites; `found` is false for non-periodic traffic, for fewer than
// kMinPeriodSites sites that repeat at it, and for sites so crowded that every slot is
// occupied. Deterministic for a given sample.
BeaconPeriod find_beacon_period(const ClientSample& sample);

}  // namespace dnsverdict
