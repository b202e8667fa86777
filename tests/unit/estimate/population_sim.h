// A simulated resolver population with known truth, for the estimator's tests, its benchmark
// and the sample log in conf/samples/.
//
// Infected devices beacon to the campaign's names (the four look-alike domains of 360
// Netlab's DNSMon case: baidugif.com, qqjpeg.com, 163pics.com, 163image.com) at a fixed
// interval with jitter, while they are switched on (each device has its own daily on-hours);
// some also fetch from a companion name (planted for --suspects). Every client, infected or
// not, browses popular sites with a day/night rhythm. Addresses model what breaks naive
// counting: DHCP devices get a new address every lease, NAT puts several devices behind one
// address, some devices are IPv6. Deterministic for a given seed.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace dnsverdict::testing {

struct SimConfig {
  std::uint64_t seed = 1;
  std::int64_t start = 1605225600;  // 2020-11-13T00:00:00Z
  int days = 2;
  int infected_devices = 200;
  int clean_clients = 600;
  double nat_share = 0.15;       // infected devices that sit behind a NAT with others
  double dhcp_share = 0.5;       // infected devices whose address changes every lease
  int lease_hours = 12;
  double ipv6_share = 0.1;
  int beacon_seconds = 600;      // every device beacons this often while on
  double companion_share = 0.5;  // beacons followed by a companion fetch
  double browse_per_hour = 4;    // popular-site queries per client per waking hour
  std::vector<std::string> campaign = {"baidugif.com", "qqjpeg.com", "163pics.com", "163image.com"};
  std::string companion = "xia.doubeidong.com";
  std::vector<std::string> popular = {"www.baidu.com", "qq.com",       "www.163.com",
                                      "www.taobao.com", "weibo.com",   "www.jd.com",
                                      "www.bilibili.com", "www.zhihu.com"};
};

struct SimQuery {
  std::int64_t time;
  std::string client;
  const std::string* name;
  const char* type;
};

struct SimResult {
  std::vector<SimQuery> queries;  // in time order
  int infected_devices = 0;       // the truth
  int infected_addresses = 0;     // distinct addresses infected devices used
};

inline std::string sim_ipv4(std::uint32_t n) {
  return std::to_string(n >> 24 & 255) + "." + std::to_string(n >> 16 & 255) + "." +
         std::to_string(n >> 8 & 255) + "." + std::to_string(n & 255);
}

inline SimResult simulate_population(const SimConfig& config) {
  std::mt19937_64 random(config.seed);
  auto uniform = [&](double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(random);
  };
  SimResult result;
  result.infected_devices = config.infected_devices;
  const std::int64_t hours = config.days * 24;
  std::uint32_t next_dhcp = (10u << 24) | (1u << 16);  // 10.1.0.0 upwards: a fresh address per lease
  std::vector<std::string> infected_addresses;

  // Infected devices.
  int nat_groups_left = 0;
  std::string nat_address;
  std::uint32_t next_nat = (100u << 24) | (64u << 16) | 1;
  std::uint32_t next_static = (192u << 24) | (168u << 16) | 1;
  for (int device = 0; device < config.infected_devices; ++device) {
    double kind = uniform(0, 1);
    bool nat = kind < config.nat_share;
    bool ipv6 = !nat && kind < config.nat_share + config.ipv6_share;
    bool dhcp = !nat && !ipv6 && uniform(0, 1) < config.dhcp_share;
    std::string fixed;
    if (nat) {
      if (nat_groups_left == 0) {
        nat_address = sim_ipv4(next_nat++);
        nat_groups_left = 2 + static_cast<int>(random() % 4);  // 2..5 devices per NAT
      }
      --nat_groups_left;
      fixed = nat_address;
    } else if (ipv6) {
      char text[64];
      std::snprintf(text, sizeof text, "2001:db8:%x:%x::%x", device / 200, device % 200,
                    static_cast<unsigned>(random() % 65535 + 1));
      fixed = text;
    } else {
      fixed = sim_ipv4(next_static++);
    }
    // On for a contiguous run of hours each day (a third of devices are always on).
    int on_hours = uniform(0, 1) < 0.33 ? 24 : 8 + static_cast<int>(random() % 12);
    int on_start = static_cast<int>(random() % 24);
    int lease_offset = static_cast<int>(random() % config.lease_hours);
    double phase = uniform(0, config.beacon_seconds);
    std::string current;
    std::int64_t current_lease = -1;
    for (std::int64_t t = config.start + static_cast<std::int64_t>(phase);
         t < config.start + hours * 3600; t += config.beacon_seconds) {
      std::int64_t hour = (t - config.start) / 3600;
      int hour_of_day = static_cast<int>(hour % 24);
      if ((hour_of_day - on_start + 24) % 24 >= on_hours) continue;
      std::string address = fixed;
      if (dhcp) {
        std::int64_t lease = (hour + lease_offset) / config.lease_hours;
        if (lease != current_lease) {
          current_lease = lease;
          current = sim_ipv4(next_dhcp++);
        }
        address = current;
      }
      std::int64_t when = t + static_cast<std::int64_t>(uniform(-30, 30));
      const std::string& name = config.campaign[static_cast<std::size_t>(random() % config.campaign.size())];
      result.queries.push_back({when, address, &name, "A"});
      if (uniform(0, 1) < config.companion_share)
        result.queries.push_back({when + 1, address, &config.companion, "A"});
      infected_addresses.push_back(address);
      // Infected machines are ordinary computers: they browse too.
      if (uniform(0, 1) < config.browse_per_hour * config.beacon_seconds / 3600.0 &&
          hour_of_day >= 8)
        result.queries.push_back(
            {when + 5, address,
             &config.popular[static_cast<std::size_t>(random() % config.popular.size())], "A"});
    }
  }
  std::sort(infected_addresses.begin(), infected_addresses.end());
  result.infected_addresses = static_cast<int>(
      std::unique(infected_addresses.begin(), infected_addresses.end()) - infected_addresses.begin());

  // Clean clients browse popular sites during waking hours (08-24).
  std::uint32_t next_clean = (172u << 24) | (16u << 16) | 1;
  for (int client = 0; client < config.clean_clients; ++client) {
    std::string address = sim_ipv4(next_clean++);
    double rate = uniform(0.5, 2) * config.browse_per_hour;
    for (std::int64_t hour = 0; hour < hours; ++hour) {
      if (hour % 24 < 8) continue;
      int count = std::poisson_distribution<int>(rate)(random);
      for (int i = 0; i < count; ++i) {
        std::int64_t when = config.start + hour * 3600 + static_cast<std::int64_t>(uniform(0, 3600));
        const std::string& name = config.popular[static_cast<std::size_t>(random() % config.popular.size())];
        result.queries.push_back({when, address, &name, "A"});
      }
    }
  }
  std::stable_sort(result.queries.begin(), result.queries.end(),
                   [](const SimQuery& a, const SimQuery& b) { return a.time < b.time; });
  return result;
}

// The query as Unbound's log-queries writes it to its logfile (util/log.c, util/net_help.c).
inline std::string unbound_line(const SimQuery& query) {
  return "[" + std::to_string(query.time) + "] unbound[4217:0] info: " + query.client + " " +
         *query.name + ". " + query.type + " IN";
}

// An indicator feed (CSV, compile's format) naming the simulated campaign.
inline std::string campaign_feed(const SimConfig& config, const std::string& campaign_name) {
  std::string feed = "domain,action,campaign\n";
  for (const auto& name : config.campaign) feed += name + ",nxdomain," + campaign_name + "\n";
  return feed;
}

}  // namespace dnsverdict::testing
