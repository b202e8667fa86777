// dnsverdict.conf parsed from arbitrary bytes with the module's own parser (parse_config).
// Properties: a bad file is one ConfigError, nothing else escapes; in a config that parses,
// every exempt network prints as text that parses back to the same network.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_support.h"
#include "module_config.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ModuleConfig config;
  try {
    config = parse_config(fuzz::as_text(data, size), "fuzz.conf");
  } catch (const ConfigError&) {
    return 0;
  }
  FUZZ_CHECK(config.confidence_tag <= 100 && config.confidence_block <= 100);
  for (const Network& network : config.exempt) {
    std::string error;
    std::optional<Network> again = Network::parse(network.to_text(), error);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->family == network.family && again->prefix_length == network.prefix_length);
    FUZZ_CHECK(std::memcmp(again->address, network.address, sizeof network.address) == 0);
  }
  return 0;
}
