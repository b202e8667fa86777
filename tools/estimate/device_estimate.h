// Devices from the behaviour of the sites that queried a campaign (docs/estimation.md, "The
// device range"). A site is an IPv4 address or an IPv6 /64: the temporary addresses a device
// rotates through (RFC 8981) stay in its /64, so grouping by /64 undoes the rotation.
//
// From the beacon sample (estimator.h) the estimate learns what one device looks like from
// the sites whose queries come at one regular interval (a beacon): its distinct queries per
// active hour and its active hours per day. When no site beacons alone, the beacon period
// is read from the shared sites instead (beacon_period.h; see BeaconSummary::period); when
// that fails too, nothing is corrected (one device's behaviour is unknown). With a reference:
//   - a site whose busiest hours carry 1.5x or more of one device's queries, or whose IPv6
//     addresses are in use at the same time, carries several devices (NAT, CGNAT, an egress
//     address, a household's /64): its device-hours (distinct queries / one device's rate)
//     divided by one device's daily hours, at most kMaxDevicesPerSite;
//   - a site seen for longer than kStableSiteHours is one device identity (or its NAT's
//     devices), whatever days it was off; shorter-lived sites (DHCP leases, mobile
//     addresses) are counted as device-hours on their busiest day, divided by one device's
//     daily hours, so a device that changes address is not counted once per address;
//   - queries repeated within the same ~56-second slot (forwarders that retry) count once.
// The middle figure is addresses x IPv6 factor (sites per address) x churn factor (device
// identities per site) x NAT factor (devices per identity), each printed.
#pragma once

#include <cstdint>

#include "beacon_period.h"
#include "estimator.h"

namespace dnsverdict {

// Sites a beacon sample needs before it corrects anything (the factors stay 1).
inline constexpr std::size_t kMinBeaconClients = 20;
// Devices one site is counted as at most: a stated cap, not a measurement.
inline constexpr double kMaxDevicesPerSite = 1000;
// When the devices' count comes from the beacon period (no site beacons alone): the high
// counts each site's busiest day's device-hours as devices on this many hours a day (a
// working day), an assumption stated in the report, not a measurement.
inline constexpr double kAssumedDeviceHours = 8;
// A site seen over a longer span (first to last query) is a stable device identity.
inline constexpr std::uint32_t kStableSiteHours = 30;

// What the beacon sample says about the sites and about one device.
struct BeaconSummary {
  std::uint64_t sampled_clients = 0;  // sampled sites
  double sample_fraction = 1;
  double median_rate = 0;  // queries per active hour, over sampled sites
  double p90_rate = 0;
  double max_rate = 0;
  double median_active_hours = 0;

  // One device, learned from the reference sites: at least 10 sites that beacon alone at a
  // common interval.
  bool corrected = false;             // false: too few sites, or no reference; no correction
  bool periodic_reference = false;    // the reference was found
  std::uint64_t periodic_sites = 0;   // sites whose queries come at one regular interval
  std::uint64_t reference_sites = 0;
  double beacon_period = 0;           // seconds between one device's queries (0: unknown)
  double device_rate = 0;             // distinct queries per active hour of one device
  double device_peak = 0;             // its distinct queries in its busiest bin
  std::uint32_t bin_hours = 1;        // bins wide enough for 3 beacons of one device
  double device_hours = 24;           // mean active hours per active day of one device
  double device_hours_p25 = 24, device_hours_p75 = 24;
  double repeat_factor = 1;           // queries per distinct query (median over sites)

  // The sample's sites judged by that device; totals over the sample (not scaled).
  std::uint64_t multi_device_clients = 0;  // sites that carry several devices
  std::uint64_t capped_sites = 0;           // sites counted at kMaxDevicesPerSite
  std::uint64_t stable_sites = 0;
  double identities = 0;  // device identities: stable sites + short-lived sites' device-hours
  double devices = 0;     // devices, with one device's mean daily hours
  double devices_low = 0, devices_high = 0;  // with its 75th and 25th percentile daily hours
  double devices_per_client = 1;             // devices / identities: the NAT factor

  // When no site beacons alone, the period is read from the shared sites (beacon_period.h).
  // Found, each site carries the devices beaconing at once in its busiest bin (its distinct
  // queries there x the period), devices_low and devices_high with the period's low and high,
  // and devices_upper the busiest day's device-hours over kAssumedDeviceHours.
  bool period_searched = false;
  BeaconPeriod period;
  double devices_upper = 0;  // 0: none beyond devices_high
};

// The device range of one entity, with its factors.
struct DeviceEstimate {
  std::uint64_t low = 0;     // peak hourly distinct addresses
  std::uint64_t middle = 0;  // addresses x ipv6_factor x churn_factor x nat_factor
  std::uint64_t high = 0;    // addresses + the devices behind shared sites (at least middle_high)
  std::uint64_t middle_low = 0, middle_high = 0;  // the middle at one device's p75 / p25 daily hours
  std::uint64_t addresses = 0;  // distinct addresses over the window
  std::uint64_t sites = 0;      // distinct IPv4 addresses and IPv6 /64s
  double ipv6_factor = 1;       // sites / addresses
  double churn_factor = 1;      // device identities / sites
  double nat_factor = 1;        // devices / device identities
  bool corrected = false;       // false: middle = peak daily addresses, high = addresses
  std::int64_t peak_hour = 0;   // unix seconds of the peak hour's start
  std::int64_t peak_day = 0;
  std::uint64_t peak_daily_clients = 0;
};

// The address and site counts the range starts from: from a query log's EntityStats, or from
// the module's stats store (stats_devices.h).
struct AddressCounts {
  std::uint64_t peak_hourly_addresses = 0;
  std::int64_t peak_hour = 0;  // unix seconds of its start
  std::uint64_t peak_daily_addresses = 0;
  std::int64_t peak_day = 0;
  std::uint64_t addresses = 0;  // over the window
  std::uint64_t sites = 0;      // over the window
  // Sites the beacon sample stands for, per sampled site; 0: sites / sampled sites. The stats
  // store's estimate gives its queries / the sample's queries instead (stats_devices.h).
  double sample_scale = 0;
};

BeaconSummary summarize_beacons(const ClientSample& sample);
AddressCounts address_counts(const EntityStats& entity);
DeviceEstimate estimate_devices(const AddressCounts& counts, const BeaconSummary& beacons);
DeviceEstimate estimate_devices(const EntityStats& entity, const BeaconSummary& beacons);

}  // namespace dnsverdict
