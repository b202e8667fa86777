// The device scenarios of tests/unit/estimate/device_sim.h as files, for the table in
// docs/estimation.md (scripts/estimation-scenarios.py runs `dnsverdict estimate` on them).
//
//   device_scenarios FOLDER     writes FOLDER/campaign.csv (the indicator feed) and, per
//                               scenario, FOLDER/NAME.log (Unbound log-queries lines); prints
//                               one JSON line per scenario with its truth
#include <cstdio>
#include <fstream>
#include <string>

#include "../unit/estimate/device_sim.h"

using namespace dnsverdict::testing;

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]).rfind('-', 0) == 0) {
    std::fprintf(stderr, "usage: device_scenarios FOLDER\n");
    return 2;
  }
  std::string folder = argv[1];
  SimConfig names;
  std::ofstream(folder + "/campaign.csv") << campaign_feed(names, "c");
  for (const DeviceScenario& scenario : device_scenarios()) {
    DeviceSimResult simulation = simulate_devices(scenario);
    std::string log = folder + "/" + scenario.name + ".log";
    std::ofstream out(log);
    for (const auto& query : simulation.queries) out << unbound_line(query) << '\n';
    out.close();
    if (!out) {
      std::fprintf(stderr, "device_scenarios: cannot write %s\n", log.c_str());
      return 1;
    }
    std::printf("{\"name\":%s,\"description\":%s,\"log\":%s,\"days\":%d,\"devices\":%d,"
                "\"addresses\":%d,\"limitation\":%s}\n",
                json_string(scenario.name).c_str(), json_string(scenario.description).c_str(),
                json_string(log).c_str(), scenario.days, simulation.devices, simulation.addresses,
                json_string(scenario.limitation).c_str());
  }
  return 0;
}
