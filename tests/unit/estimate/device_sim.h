// Infected devices behind the networks that break address counting, with known truth: the
// scenarios of docs/estimation.md ("Checked against populations with known truth"), used by
// device_estimate_test.cpp and by the `device_scenarios` program that writes the table.
//
// A device beacons to the campaign's names every `beacon_seconds` (with a little jitter) while
// it is on: a third of the devices are always on, the others for a contiguous 8-20 hours a
// day; some are switched off for whole days. Where its queries come from depends on its
// network:
//   static       its own IPv4 address for the whole window
//   dhcp         a new IPv4 address every lease (4-24 hours; the old one is not reused)
//   nat          one IPv4 address shared by a group (home NAT, CGNAT, enterprise egress)
//   ipv6         a /64 per home shared by 1-3 devices, each with a temporary (privacy)
//                address that rotates every 2-24 hours (RFC 8981)
// and devices behind a repeating forwarder have each query logged 2-3 times within 2 s; a
// home router that caches answers (negative TTL one hour) forwards each name once an hour.
// Clean clients browse popular names so the logs are not only the campaign. Deterministic
// for a given seed; nothing here knows how the estimator works.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "population_sim.h"

namespace dnsverdict::testing {

// How the devices of a scenario reach the resolver: shares of the devices (the rest are on
// static addresses), and the group sizes of each kind of shared address.
struct DeviceScenario {
  std::string name;
  std::string description;
  std::uint64_t seed = 17;
  int days = 3;
  int devices = 1000;
  int beacon_seconds = 600;
  double dhcp_share = 0;       // a new address every lease of 4-24 h
  double home_nat_share = 0;   // behind home NATs of 1-5 devices
  double cgnat_share = 0;      // behind CGNAT addresses of cgnat_min..cgnat_max devices
  int cgnat_min = 20, cgnat_max = 200;
  double enterprise_share = 0; // behind enterprise egress addresses of 100-300, office hours
  double ipv6_share = 0;       // IPv6 homes of 1-3 devices, rotating temporary addresses
  double offline_share = 0;    // switched off for 1 to days-1 whole days
  double repeat_share = 0;     // behind a forwarder that repeats each query 2-3 times
  bool caching_homes = false;  // home NATs forward through a cache: a name once an hour
  int clean_clients = 200;
  // Why the estimate cannot hold this scenario, when it cannot (docs/estimation.md).
  std::string limitation;
};

struct DeviceSimResult {
  std::vector<SimQuery> queries;  // in time order
  int devices = 0;                // the truth: infected devices that queried in the window
  int addresses = 0;              // distinct addresses they used
};

// gtest prints a scenario by its name.
inline void PrintTo(const DeviceScenario& scenario, std::ostream* out) { *out << scenario.name; }

inline std::vector<DeviceScenario> device_scenarios() {
  std::vector<DeviceScenario> all;
  auto add = [&](const char* name, const char* description) -> DeviceScenario& {
    all.emplace_back();
    all.back().name = name;
    all.back().description = description;
    return all.back();
  };
  add("static", "one device per address, beacon every 10 min");
  add("dhcp-churn", "60% on DHCP leases of 4-24 h").dhcp_share = 0.6;
  add("home-nat", "every address a home NAT of 1-5 devices").home_nat_share = 1.0;
  {
    DeviceScenario& s = add("cgnat-25", "3,000 devices, half behind CGNAT 25 to one, hourly beacon");
    s.devices = 3000;
    s.cgnat_share = 0.5;
    s.cgnat_min = s.cgnat_max = 25;
    s.beacon_seconds = 3600;
  }
  {
    DeviceScenario& s = add("cgnat", "half behind CGNAT addresses of 20-200 devices");
    s.devices = 3000;
    s.cgnat_share = 0.5;
  }
  {
    DeviceScenario& s = add("cgnat-only", "every device behind CGNAT (20-200): no single-device address");
    s.devices = 3000;
    s.cgnat_share = 1.0;
  }
  add("enterprise", "40% behind 100-300-device egress addresses, office hours").enterprise_share = 0.4;
  add("ipv6-privacy", "IPv6 homes of 1-3 devices, temporary addresses rotating every 2-24 h")
      .ipv6_share = 1.0;
  {
    DeviceScenario& s = add("offline-days", "7 days; 60% switched off for 1-6 whole days");
    s.days = 7;
    s.offline_share = 0.6;
  }
  for (auto [name, seconds] : {std::pair<const char*, int>{"beacon-2min", 120},
                               {"beacon-1h", 3600}, {"beacon-6h", 6 * 3600}}) {
    DeviceScenario& s = add(name, "");
    s.description = std::string("beacon every ") + (seconds < 3600 ? std::to_string(seconds / 60) + " min"
                                                                   : std::to_string(seconds / 3600) + " h") +
                    "; 30% home NAT, 30% DHCP";
    s.beacon_seconds = seconds;
    s.home_nat_share = 0.3;
    s.dhcp_share = 0.3;
  }
  {
    DeviceScenario& s = add("repeating-resolvers", "30% behind forwarders that repeat each query 2-3 times; 30% home NAT");
    s.repeat_share = 0.3;
    s.home_nat_share = 0.3;
  }
  {
    DeviceScenario& s = add("caching-forwarders", "half in homes of 1-5 devices whose router caches answers for an hour");
    s.home_nat_share = 0.5;
    s.caching_homes = true;
    s.limitation =
        "a home router that caches answers asks the resolver once per name and TTL however many "
        "devices ask it: the devices behind it cannot be seen in the resolver's log";
  }
  {
    DeviceScenario& s = add("mixed-isp", "DHCP, home NAT, CGNAT, IPv6, offline days and repeats together");
    s.devices = 3000;
    s.days = 5;
    s.dhcp_share = 0.2;
    s.home_nat_share = 0.2;
    s.cgnat_share = 0.2;
    s.ipv6_share = 0.2;
    s.offline_share = 0.3;
    s.repeat_share = 0.1;
  }
  return all;
}

inline DeviceSimResult simulate_devices(const DeviceScenario& scenario) {
  static const SimConfig names;  // the campaign's and the popular names
  std::mt19937_64 random(scenario.seed);
  auto uniform = [&](double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(random);
  };
  auto between = [&](int low, int high) {  // inclusive
    return low + static_cast<int>(random() % static_cast<std::uint64_t>(high - low + 1));
  };
  const std::int64_t start = names.start;
  const std::int64_t end = start + scenario.days * 86400LL;
  DeviceSimResult result;
  std::vector<std::string> used;
  std::vector<std::string> caching;  // addresses of home routers that cache

  std::uint32_t next_static = (192u << 24) | (168u << 16) | 1;
  std::uint32_t next_dhcp = (10u << 24) | (1u << 16);
  std::uint32_t next_shared = (100u << 24) | (64u << 16) | 1;
  std::uint32_t next_home6 = 1;
  // Open groups: the address and how many more devices it takes.
  struct Group {
    std::string address;
    int left = 0;
  };
  Group home_nat, cgnat, enterprise, home6;

  for (int device = 0; device < scenario.devices; ++device) {
    double kind = uniform(0, 1);
    double edge = 0;
    auto is = [&](double share) {
      bool hit = kind >= edge && kind < edge + share;
      edge += share;
      return hit;
    };
    bool dhcp = is(scenario.dhcp_share);
    bool in_home_nat = is(scenario.home_nat_share);
    bool in_cgnat = is(scenario.cgnat_share);
    bool in_enterprise = is(scenario.enterprise_share);
    bool ipv6 = is(scenario.ipv6_share);
    auto join = [&](Group& group, int low, int high, auto make) {
      if (group.left == 0) {
        group.address = make();
        group.left = between(low, high);
      }
      --group.left;
      return group.address;
    };
    std::string fixed;
    if (in_home_nat) {
      fixed = join(home_nat, 1, 5, [&] { return sim_ipv4(next_shared++); });
      if (scenario.caching_homes) caching.push_back(fixed);
    }
    else if (in_cgnat)
      fixed = join(cgnat, scenario.cgnat_min, scenario.cgnat_max, [&] { return sim_ipv4(next_shared++); });
    else if (in_enterprise)
      fixed = join(enterprise, 100, 300, [&] { return sim_ipv4(next_shared++); });
    else if (ipv6)
      fixed = join(home6, 1, 3, [&] {
        char prefix[40];
        std::uint32_t home = next_home6++;
        std::snprintf(prefix, sizeof prefix, "2001:db8:%x:%x", home >> 16, home & 0xffff);
        return std::string(prefix);
      });
    else if (!dhcp)
      fixed = sim_ipv4(next_static++);

    // When it is on: office hours on weekdays-like days for enterprise devices, otherwise a
    // third always on and the rest a contiguous 8-20 hours from a random start.
    int on_hours = in_enterprise ? 10 : uniform(0, 1) < 0.33 ? 24 : between(8, 20);
    int on_start = in_enterprise ? 8 : between(0, 23);
    std::vector<bool> day_off(static_cast<std::size_t>(scenario.days), false);
    if (uniform(0, 1) < scenario.offline_share) {
      int off = between(1, scenario.days - 1);
      int first = between(0, scenario.days - off);
      for (int d = first; d < first + off; ++d) day_off[static_cast<std::size_t>(d)] = true;
    }
    bool repeats = uniform(0, 1) < scenario.repeat_share;
    int lease_hours = between(4, 24);
    std::int64_t lease_phase = between(0, lease_hours * 3600 - 1);
    int rotate_hours = between(2, 24);
    std::int64_t rotate_phase = between(0, rotate_hours * 3600 - 1);
    std::int64_t current_lease = INT64_MIN, current_rotation = INT64_MIN;
    std::string address;
    double jitter = std::min(30.0, scenario.beacon_seconds * 0.05);
    bool seen = false;
    for (std::int64_t t = start + static_cast<std::int64_t>(uniform(0, scenario.beacon_seconds));
         t < end; t += scenario.beacon_seconds) {
      std::int64_t hour = (t - start) / 3600;
      if (day_off[static_cast<std::size_t>(hour / 24)]) continue;
      if ((hour % 24 - on_start + 24) % 24 >= on_hours) continue;
      if (dhcp) {
        std::int64_t lease = (t - start + lease_phase) / (lease_hours * 3600);
        if (lease != current_lease) {
          current_lease = lease;
          address = sim_ipv4(next_dhcp++);
        }
      } else if (ipv6) {
        std::int64_t rotation = (t - start + rotate_phase) / (rotate_hours * 3600);
        if (rotation != current_rotation) {
          current_rotation = rotation;
          char interface_id[48];
          std::snprintf(interface_id, sizeof interface_id, ":%x:%x:%x:%x",
                        static_cast<unsigned>(random() & 0xffff), static_cast<unsigned>(random() & 0xffff),
                        static_cast<unsigned>(random() & 0xffff), static_cast<unsigned>(random() & 0xffff));
          address = fixed + interface_id;
        }
      } else {
        address = fixed;
      }
      std::int64_t when = t + static_cast<std::int64_t>(uniform(-jitter, jitter));
      const std::string& name = names.campaign[static_cast<std::size_t>(random() % names.campaign.size())];
      int copies = repeats ? between(2, 3) : 1;
      for (int copy = 0; copy < copies; ++copy)
        result.queries.push_back({when + (copy > 0 ? between(0, 2) : 0), address, &name, "A"});
      used.push_back(address);
      seen = true;
    }
    result.devices += seen ? 1 : 0;
  }
  if (!caching.empty()) {
    // What the caching routers forward: a name at most once an hour.
    std::sort(caching.begin(), caching.end());
    std::sort(result.queries.begin(), result.queries.end(),
              [](const SimQuery& a, const SimQuery& b) { return a.time < b.time; });
    std::map<std::pair<std::string, const std::string*>, std::int64_t> forwarded;
    std::vector<SimQuery> kept;
    for (const SimQuery& query : result.queries) {
      if (std::binary_search(caching.begin(), caching.end(), query.client)) {
        auto [at, fresh] = forwarded.try_emplace({query.client, query.name}, query.time);
        if (!fresh && query.time - at->second < 3600) continue;
        at->second = query.time;
      }
      kept.push_back(query);
    }
    result.queries = std::move(kept);
  }
  std::sort(used.begin(), used.end());
  result.addresses = static_cast<int>(std::unique(used.begin(), used.end()) - used.begin());

  // Clean clients: popular names during waking hours.
  std::uint32_t next_clean = (172u << 24) | (16u << 16) | 1;
  for (int client = 0; client < scenario.clean_clients; ++client) {
    std::string clean = sim_ipv4(next_clean++);
    for (std::int64_t hour = 0; hour < scenario.days * 24; ++hour) {
      if (hour % 24 < 8) continue;
      int count = std::poisson_distribution<int>(2.0)(random);
      for (int i = 0; i < count; ++i)
        result.queries.push_back(
            {start + hour * 3600 + static_cast<std::int64_t>(uniform(0, 3600)), clean,
             &names.popular[static_cast<std::size_t>(random() % names.popular.size())], "A"});
    }
  }
  std::stable_sort(result.queries.begin(), result.queries.end(),
                   [](const SimQuery& a, const SimQuery& b) { return a.time < b.time; });
  return result;
}

}  // namespace dnsverdict::testing
