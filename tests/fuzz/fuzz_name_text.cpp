// Name normalisation from presentation text: parse_name, text_to_key, the estimator's fast
// path (query_name_key) and the feeds' normaliser (feed_name_to_key, with IDN). Properties:
// a parsed name is a valid wire name whose key round-trips through key_to_wire and whose
// text (name_to_text) parses back to it; query_name_key accepts exactly the names
// text_to_key accepts, with the same key; every key feed_name_to_key makes is a valid key.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dns_name.h"
#include "estimator.h"
#include "feed.h"
#include "fuzz_support.h"

using namespace dnsverdict;

namespace {

const std::uint8_t* bytes_of(const std::string& text) {
  return reinterpret_cast<const std::uint8_t*>(text.data());
}

// `key` is the key of a valid name: its wire form is valid and gives the same key back.
void check_key(std::string_view key) {
  std::string wire = key_to_wire(key);
  FUZZ_CHECK(wire_name_length(bytes_of(wire), wire.size()) == wire.size());
  NameKey again;
  FUZZ_CHECK(make_name_key(bytes_of(wire), wire.size(), again));
  FUZZ_CHECK(again.view() == key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::as_text(data, size);
  std::string wire, error;
  bool parsed = parse_name(text, wire, error);
  if (parsed) {
    FUZZ_CHECK(wire.size() <= kMaxNameOctets);
    FUZZ_CHECK(wire_name_length(bytes_of(wire), wire.size()) == wire.size());
    NameKey key;
    FUZZ_CHECK(make_name_key(bytes_of(wire), wire.size(), key));
    FUZZ_CHECK(key.size + 1u == wire.size());
    FUZZ_CHECK(key.label_count == 0 || key.prefix_end[key.label_count - 1] == key.size);
    FUZZ_CHECK(key_to_wire(key.view()) == wire);  // parse_name lowercases already
    std::string reparsed;
    FUZZ_CHECK(parse_name(name_to_text(wire), reparsed, error));
    FUZZ_CHECK(reparsed == wire);
    check_key(key.view());
  } else {
    FUZZ_CHECK(!error.empty());
  }

  std::string key, scratch;
  bool keyed = text_to_key(text, key, error);
  FUZZ_CHECK(keyed == parsed);
  NameKey fast;
  bool fast_keyed = query_name_key(text, fast, scratch);
  if (fast_keyed != keyed) {
    std::fprintf(stderr, "query_name_key %d, text_to_key %d\n", fast_keyed, keyed);
    FUZZ_CHECK(fast_keyed == keyed);
  }
  if (keyed) FUZZ_CHECK(fast.view() == key);

  std::string feed_key;
  if (feed_name_to_key(text, feed_key, error)) check_key(feed_key);
  return 0;
}
