// One feed format (FUZZ_FEED_FORMAT, set per target by CMakeLists.txt) parsed from arbitrary
// bytes. Properties: the parser never throws except through Diagnostics' error limit; every
// finalized record has a valid store key, and its rules survive the store's record encoding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dns_name.h"
#include "feed.h"
#include "fuzz_support.h"
#include "rule_set.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view content = fuzz::as_text(data, size);
  detect_format(content);

  RuleSet rules;
  SourceRecord source;
  source.file = "fuzz";
  std::uint16_t source_id = rules.add_source(source);
  Diagnostics diagnostics(1000, nullptr, 0);
  try {
    parse_feed(FUZZ_FEED_FORMAT, "fuzz", content, FeedDefaults{}, source_id, rules, diagnostics);
  } catch (const ToolError&) {
    FUZZ_CHECK(diagnostics.errors() > 1000);  // only the error limit throws
  }
  rules.finalize();

  std::string encoded, again;
  for (const FinalRecord& record : rules.records()) {
    std::string wire = key_to_wire(record.key);
    FUZZ_CHECK(wire_name_length(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()) ==
               wire.size());
    RuleSlots slots = rules.slots(record);
    FUZZ_CHECK(slots.self || slots.below);
    encoded.clear();
    encode_slots(slots, encoded);
    RuleSlots decoded;
    FUZZ_CHECK(decode_slots(encoded, decoded));
    again.clear();
    encode_slots(decoded, again);
    FUZZ_CHECK(again == encoded);
  }
  return 0;
}
