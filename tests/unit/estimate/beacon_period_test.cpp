// The beacon period read from shared sites (beacon_period.h): devices beaconing with jitter,
// each at its own phase, crowded onto shared sites, at periods from minutes to hours; Poisson
// arrivals (steady, with a daily rhythm, in bursts) give none; a mixture gives the beacon's.
#include "beacon_period.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace dnsverdict {
namespace {

constexpr std::int64_t kStart = 1605225600;  // 2020-11-13T00:00:00Z

// `sites` sites of `devices` devices each, beaconing every `period` seconds (jitter up to 5%
// of it, at most 30 s), each device at its own phase and on for 8-24 hours a day.
void add_beacons(ClientSample& sample, std::mt19937_64& random, std::uint64_t first_site, int sites,
                 int devices, double period, int days) {
  std::uniform_real_distribution<double> unit(0, 1);
  double jitter = std::min(30.0, 0.05 * period);
  for (int site = 0; site < sites; ++site)
    for (int device = 0; device < devices; ++device) {
      double phase = unit(random) * period;
      int on_hours = 8 + static_cast<int>(unit(random) * 17);
      int on_start = static_cast<int>(unit(random) * 24);
      for (double t = phase; t < days * 86400.0; t += period) {
        int hour_of_day = static_cast<int>(t / 3600) % 24;
        if ((hour_of_day - on_start + 24) % 24 >= on_hours) continue;
        double when = t + (unit(random) * 2 - 1) * jitter;
        sample.add(first_site + static_cast<std::uint64_t>(site), kStart + static_cast<std::int64_t>(when), 0);
      }
    }
}

// Poisson arrivals at `per_hour` (its hourly rate scaled by `daily(hour of day)`).
template <typename Daily>
void add_poisson(ClientSample& sample, std::mt19937_64& random, std::uint64_t site, double per_hour,
                 int days, Daily daily) {
  std::exponential_distribution<double> gap(1);
  double t = 0;
  while (true) {
    double rate = per_hour * daily(static_cast<int>(t / 3600) % 24) / 3600;
    t += gap(random) / std::max(rate, 1e-9);
    if (t >= days * 86400.0) break;
    sample.add(site, kStart + static_cast<std::int64_t>(t), 0);
  }
}

double flat(int) { return 1; }
double waking(int hour) { return hour < 7 ? 0.05 : hour < 18 ? 1 : 0.5; }

class PeriodicSites : public ::testing::TestWithParam<double> {};

TEST_P(PeriodicSites, PeriodFoundWithinThreePercent) {
  double period = GetParam();
  std::mt19937_64 random(7);
  ClientSample sample;
  // Crowds small enough that the hours are not all full, and some single devices.
  add_beacons(sample, random, 1, 12, 20, period, 3);
  add_beacons(sample, random, 100, 12, 4, period, 3);
  BeaconPeriod found = find_beacon_period(sample);
  ASSERT_TRUE(found.found) << found.reason;
  EXPECT_NEAR(found.seconds, period, 0.03 * period);
  EXPECT_LE(found.low_seconds, found.seconds);
  EXPECT_GE(found.high_seconds, found.seconds);
  EXPECT_LT(found.high_seconds - found.low_seconds, 0.1 * period);
  // At least the sites of four devices; twenty devices every 5 minutes fill nearly every slot.
  EXPECT_GE(found.sites, 12u);
}

// Minutes to hours: 5 min, 10 min, 20 min, 1 h, 4 h (the longest a 12-hour lag confirms is 6 h).
INSTANTIATE_TEST_SUITE_P(Periods, PeriodicSites, ::testing::Values(300.0, 600.0, 1200.0, 3600.0, 14400.0),
                         [](const auto& info) {
                           return std::to_string(static_cast<int>(info.param)) + "s";
                         });

TEST(BeaconPeriod, CrowdedSitesOfTwentyToTwoHundredDevices) {
  std::mt19937_64 random(11);
  ClientSample sample;
  for (int site = 0; site < 25; ++site)
    add_beacons(sample, random, static_cast<std::uint64_t>(site + 1), 1, 20 + site * 7, 600, 3);
  BeaconPeriod found = find_beacon_period(sample);
  ASSERT_TRUE(found.found) << found.reason;
  EXPECT_NEAR(found.seconds, 600, 18);
}

TEST(BeaconPeriod, PoissonArrivalsHaveNone) {
  std::mt19937_64 random(3);
  ClientSample sample;
  for (int site = 0; site < 60; ++site)
    add_poisson(sample, random, static_cast<std::uint64_t>(site + 1), 2.0 + 3.0 * site, 3,
                site % 2 == 0 ? flat : waking);
  BeaconPeriod found = find_beacon_period(sample);
  EXPECT_FALSE(found.found) << found.seconds << " s from " << found.sites << " sites";
  EXPECT_FALSE(found.reason.empty());
  EXPECT_GT(found.informative_sites, 50u);
}

TEST(BeaconPeriod, BurstsAtRandomTimesAreNotAPeriod) {
  // A browser's lookups: bursts of 2-6 queries within two minutes, bursts at Poisson times.
  std::mt19937_64 random(5);
  ClientSample sample;
  std::uniform_real_distribution<double> unit(0, 1);
  std::exponential_distribution<double> gap(1);
  for (std::uint64_t site = 1; site <= 60; ++site) {
    double per_hour = 1 + static_cast<double>(site % 10);
    for (double t = 0;;) {
      t += gap(random) * 3600 / per_hour;
      if (t >= 3 * 86400.0) break;
      int queries = 2 + static_cast<int>(unit(random) * 5);
      for (int i = 0; i < queries; ++i)
        sample.add(site, kStart + static_cast<std::int64_t>(t + unit(random) * 120), 0);
    }
  }
  BeaconPeriod found = find_beacon_period(sample);
  EXPECT_FALSE(found.found) << found.seconds << " s from " << found.sites << " sites";
}

TEST(BeaconPeriod, BeaconAmongPoissonSitesIsFound) {
  std::mt19937_64 random(9);
  ClientSample sample;
  add_beacons(sample, random, 1, 15, 25, 900, 3);
  for (int site = 0; site < 45; ++site)
    add_poisson(sample, random, static_cast<std::uint64_t>(1000 + site), 5.0 + 4.0 * site, 3, waking);
  BeaconPeriod found = find_beacon_period(sample);
  ASSERT_TRUE(found.found) << found.reason;
  EXPECT_NEAR(found.seconds, 900, 27);
  // The Poisson sites do not repeat at it; most beacon sites do.
  EXPECT_GE(found.sites, 12u);
  EXPECT_LE(found.sites, 15u + 45u / 2);
}

TEST(BeaconPeriod, TooFewSitesOrFullHoursFindNone) {
  ClientSample empty;
  EXPECT_FALSE(find_beacon_period(empty).found);
  // One site whose every slot holds a query: nothing to read.
  ClientSample full;
  for (std::int64_t t = 0; t < 86400; t += 20) full.add(1, kStart + t, 0);
  BeaconPeriod found = find_beacon_period(full);
  EXPECT_FALSE(found.found);
  EXPECT_EQ(found.informative_sites, 0u);
}

TEST(BeaconPeriod, WorkIsBoundedBySiteHours) {
  std::mt19937_64 random(13);
  ClientSample sample(1u << 16);
  add_beacons(sample, random, 1, 400, 2, 600, 4);  // 400 sites x up to 96 hours
  BeaconPeriod found = find_beacon_period(sample);
  EXPECT_LE(found.site_hours, kPeriodSiteHours);
  EXPECT_TRUE(found.found) << found.reason;
}

}  // namespace
}  // namespace dnsverdict
