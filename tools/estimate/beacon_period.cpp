#include "beacon_period.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dnsverdict {
namespace {

constexpr std::uint32_t kLagHours = kMaxPeriodLagSlots / kSlotsPerHour;

// One site's active hours as a dense run: slot masks by hour from its first, 0 when absent.
struct SiteSlots {
  std::vector<std::uint64_t> masks;
  std::vector<bool> present;
};

SiteSlots site_slots(const ClientActivity& activity, std::size_t hours) {
  SiteSlots site;
  std::uint32_t first = activity.hours.front().hour;
  std::uint32_t last = activity.hours[hours - 1].hour;
  site.masks.assign(last - first + 1, 0);
  site.present.assign(last - first + 1, false);
  for (std::size_t i = 0; i < hours; ++i) {
    site.masks[activity.hours[i].hour - first] = activity.hours[i].slots;
    site.present[activity.hours[i].hour - first] = activity.hours[i].slots != 0;
  }
  return site;
}

// Pairs of occupied slots at each lag, and what random placement within each hour would give.
// Per pair of hours the expectation, its variance and the correlation's denominator depend on
// the two hours' occupancies only, so they are summed per hour offset and spread over the lags
// at the end: a lag 64a+b pairs (64-b) slots of hour h with hour h+a and b with hour h+a+1.
struct LagCounts {
  std::vector<double> observed = std::vector<double>(kMaxPeriodLagSlots + 1, 0);
  // Per hour offset a (0..kLagHours+1): sums over hour pairs of expectation per slot pair, its
  // variance and the standard deviations' product.
  std::vector<double> expected = std::vector<double>(kLagHours + 2, 0);
  std::vector<double> variance = std::vector<double>(kLagHours + 2, 0);
  std::vector<double> scale = std::vector<double>(kLagHours + 2, 0);

  void add_pair(std::uint32_t offset, double p, double p_later, double same_hour_expected) {
    double q = 1 - p, q_later = 1 - p_later;
    expected[offset] += offset == 0 ? same_hour_expected : p * p_later;
    variance[offset] += p * q * p_later * q_later;
    scale[offset] += std::sqrt(p * q * p_later * q_later);
  }
  // Expectation, variance and denominator at a lag.
  void at(std::uint32_t lag, double& e, double& v, double& d) const {
    std::uint32_t a = lag / kSlotsPerHour, b = lag % kSlotsPerHour;
    double same = kSlotsPerHour - b, next = b;
    e = same * expected[a] + next * expected[a + 1];
    v = same * variance[a] + next * variance[a + 1];
    d = same * scale[a] + next * scale[a + 1];
  }
};

// Adds one site's pairs; true when any pair of its hours is neither empty nor full.
bool add_site(const SiteSlots& site, LagCounts& counts, std::uint32_t first_lag, std::uint32_t last_lag) {
  bool informative = false;
  const std::size_t n = site.masks.size();
  for (std::size_t h = 0; h < n; ++h) {
    if (!site.present[h]) continue;
    std::uint64_t mask = site.masks[h];
    int k = __builtin_popcountll(mask);
    if (k == static_cast<int>(kSlotsPerHour)) continue;  // full: nothing to read from it
    double p = k / 64.0;
    for (std::uint32_t a = first_lag / kSlotsPerHour; a <= last_lag / kSlotsPerHour + 1 && h + a < n; ++a) {
      if (!site.present[h + a]) continue;
      std::uint64_t later = site.masks[h + a];
      double p_later = __builtin_popcountll(later) / 64.0;
      if (p_later == 1) continue;  // a full hour: every pair is expected, nothing to read
      counts.add_pair(a, p, p_later, k * (k - 1) / (64.0 * 63.0));
      informative = true;
      // Few queries: pair their slots directly (lag 64a + t - s for slot s of hour h and slot
      // t of hour h + a).
      if (k * __builtin_popcountll(later) < 2 * static_cast<int>(kSlotsPerHour)) {
        for (std::uint64_t bits = mask; bits != 0; bits &= bits - 1) {
          int slot = __builtin_ctzll(bits);
          for (std::uint64_t other = later; other != 0; other &= other - 1) {
            std::int64_t lag = static_cast<std::int64_t>(a) * kSlotsPerHour + __builtin_ctzll(other) - slot;
            if (lag >= static_cast<std::int64_t>(first_lag) && lag <= static_cast<std::int64_t>(last_lag))
              counts.observed[static_cast<std::size_t>(lag)] += 1;
          }
        }
        continue;
      }
      // Hour h + a is the later hour of lags 64a + b (its slot s + b) and the next hour's
      // partner of lags 64(a-1) + b (slot s + b - 64).
      for (std::uint32_t b = 0; b < kSlotsPerHour; ++b) {
        std::uint32_t lag = a * kSlotsPerHour + b;
        if (lag >= first_lag && lag <= last_lag)
          counts.observed[lag] += __builtin_popcountll(mask & (later >> b));
        if (a > 0 && b > 0) {
          std::uint32_t wrapped = (a - 1) * kSlotsPerHour + b;
          if (wrapped >= first_lag && wrapped <= last_lag)
            counts.observed[wrapped] += __builtin_popcountll(mask & (later << (kSlotsPerHour - b)));
        }
      }
    }
  }
  return informative;
}

struct LagFigure {
  double correlation = 0;  // (observed - expected) / denominator; 0 where no pair
  double z = 0;
  bool defined = false;
};

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

// The lag's correlation above the lags around it (a window of half its lag, at least 8 slots,
// leaving out the peak's own width).
double excess_at(const std::vector<LagFigure>& figures, std::uint32_t lag) {
  if (!figures[lag].defined) return 0;
  std::uint32_t half = std::max<std::uint32_t>(8, lag / 2);
  std::vector<double> around;
  for (std::uint32_t l = lag > half ? lag - half : 1; l <= std::min(kMaxPeriodLagSlots, lag + half); ++l)
    if ((l + 2 < lag || l > lag + 2) && figures[l].defined) around.push_back(figures[l].correlation);
  return figures[lag].correlation - median(std::move(around));
}

// The best lag within [from, to], by correlation.
std::uint32_t best_lag(const std::vector<LagFigure>& figures, std::uint32_t from, std::uint32_t to) {
  std::uint32_t best = from;
  for (std::uint32_t l = from; l <= to && l <= kMaxPeriodLagSlots; ++l)
    if (figures[l].defined && (!figures[best].defined || figures[l].correlation > figures[best].correlation))
      best = l;
  return best;
}

bool peak_at(const std::vector<LagFigure>& figures, std::uint32_t lag, double share) {
  return figures[lag].defined && figures[lag].z >= kMinPeriodZ * share &&
         excess_at(figures, lag) >= kMinPeriodExcess * share;
}

}  // namespace

BeaconPeriod find_beacon_period(const ClientSample& sample) {
  BeaconPeriod period;
  // Sites in hash order: the same sites whatever order the sample was built in.
  std::vector<std::pair<std::uint64_t, const ClientActivity*>> sites;
  for (const auto& [key, activity] : sample.clients())
    if (!activity.hours.empty()) sites.emplace_back(key, &activity);
  std::sort(sites.begin(), sites.end());

  LagCounts counts;
  std::vector<SiteSlots> kept;
  for (const auto& [key, activity] : sites) {
    if (period.site_hours >= kPeriodSiteHours) break;
    std::size_t hours = std::min<std::size_t>({activity->hours.size(), kPeriodHoursPerSite,
                                                kPeriodSiteHours - period.site_hours});
    period.site_hours += hours;
    SiteSlots site = site_slots(*activity, hours);
    if (add_site(site, counts, 1, kMaxPeriodLagSlots)) {
      ++period.informative_sites;
      kept.push_back(std::move(site));
    }
  }
  if (period.informative_sites == 0) {
    period.reason = sites.empty() ? "no sites" : "every sampled hour is empty or full of queries at every site";
    return period;
  }

  std::vector<LagFigure> figures(kMaxPeriodLagSlots + 1);
  for (std::uint32_t lag = 1; lag <= kMaxPeriodLagSlots; ++lag) {
    double e, v, d;
    counts.at(lag, e, v, d);
    if (d <= 0 || v <= 0) continue;
    figures[lag] = {(counts.observed[lag] - e) / d, (counts.observed[lag] - e) / std::sqrt(v), true};
  }

  // The smallest lag with a clear peak whose double peaks too.
  std::uint32_t found = 0;
  for (std::uint32_t lag = kMinPeriodLagSlots; lag <= kMaxPeriodLagSlots / 2 && found == 0; ++lag) {
    if (!peak_at(figures, lag, 1)) continue;
    if (best_lag(figures, lag > 2 ? lag - 2 : 1, lag + 2) != lag) continue;
    std::uint32_t twice = best_lag(figures, 2 * lag - 3, 2 * lag + 3);
    if (peak_at(figures, twice, 0.5)) found = lag;
  }
  if (found == 0) {
    period.reason = "no lag up to 6 h repeats clearly at the sites (arrivals look unstructured)";
    return period;
  }

  // Refined at its largest multiple that still peaks: the peak's centre (the lags around its
  // best weighted by their excess) over the multiple; its width over the multiple is the
  // uncertainty.
  double estimate = found;
  for (std::uint32_t multiple = 1; multiple * estimate <= kMaxPeriodLagSlots - 3 && multiple <= 16; ++multiple) {
    auto centre = static_cast<std::uint32_t>(std::lround(multiple * estimate));
    std::uint32_t best = best_lag(figures, centre > 3 ? centre - 3 : 1, centre + 3);
    if (!peak_at(figures, best, multiple == 1 ? 1 : 0.5)) break;
    double weight = 0, sum = 0, square = 0;
    for (std::uint32_t l = best > 2 ? best - 2 : 1; l <= std::min(best + 2, kMaxPeriodLagSlots); ++l) {
      double w = std::max(0.0, excess_at(figures, l));
      weight += w;
      sum += w * l;
      square += w * l * l;
    }
    if (weight <= 0) break;
    double mean = sum / weight;
    double spread = std::sqrt(std::max(0.0, square / weight - mean * mean));
    estimate = mean / multiple;
    period.multiple = multiple;
    period.excess = multiple == 1 ? excess_at(figures, best) : period.excess;
    period.z = multiple == 1 ? figures[best].z : period.z;
    // At least half a slot: the slots' own resolution.
    double uncertainty = std::max(0.5, spread) / multiple;
    period.low_seconds = (estimate - uncertainty) * kSecondsPerSlot;
    period.high_seconds = (estimate + uncertainty) * kSecondsPerSlot;
  }
  period.seconds = estimate * kSecondsPerSlot;

  // Sites whose own slots repeat at the period: clearly more pairs near it than random
  // placement gives (a weak excess is left out: integer-second times make slots 56 or 57
  // seconds wide, a faint pattern of their own).
  auto near = static_cast<std::uint32_t>(std::lround(estimate));
  std::uint32_t from = near > 1 ? near - 1 : 1, to = std::min(near + 1, kMaxPeriodLagSlots);
  for (const SiteSlots& site : kept) {
    LagCounts own;
    add_site(site, own, from, to);
    double observed = 0, expected = 0, variance = 0, scale = 0;
    for (std::uint32_t lag = from; lag <= to; ++lag) {
      double e, v, d;
      own.at(lag, e, v, d);
      observed += own.observed[lag];
      expected += e;
      variance += v;
      scale += d;
    }
    bool repeats = variance > 0 && scale > 0 && (observed - expected) / std::sqrt(variance) >= 2 &&
                   (observed - expected) / scale >= kMinPeriodExcess / 2;
    period.sites += repeats ? 1 : 0;
  }
  if (period.sites < kMinPeriodSites) {
    period.reason = "the repeat is carried by fewer than " + std::to_string(kMinPeriodSites) + " sites";
    return period;
  }
  period.found = true;
  return period;
}

}  // namespace dnsverdict
