// Name normalisation from wire format, as names arrive from the network and from dnstap:
// wire_name_length, make_name_key, key_to_wire, name_to_text, ascii_lowercase,
// wire_ancestor_hashes. Properties:
// make_name_key accepts exactly what wire_name_length accepts; the key has one prefix per
// ancestor, each the key of that ancestor; key_to_wire gives the name back, lowercased;
// name_to_text prints it as text that parses back to it; the eight-at-a-time lowercasing
// equals the plain one, on any bytes; wire_ancestor_hashes accepts the same names as
// make_name_key and gives every ancestor the hash of its key.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dns_name.h"
#include "name_hash.h"
#include "fuzz_support.h"

using namespace dnsverdict;

namespace {

std::string plain_lowercase(std::string_view bytes) {
  std::string lower(bytes);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return lower;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes = fuzz::as_text(data, size);
  std::string lowered(bytes);
  ascii_lowercase(lowered.data(), lowered.size());
  FUZZ_CHECK(lowered == plain_lowercase(bytes));

  std::size_t length = wire_name_length(data, size);
  NameKey key;
  bool keyed = make_name_key(data, size, key);
  FUZZ_CHECK(keyed == (length != 0));
  // The filter's hashes, from the wire name as received: the same names accepted, and every
  // ancestor's hash that of its key (name_hash.h).
  std::uint64_t wire_hashes[kMaxLabels];
  int hashed = wire_ancestor_hashes(data, size, wire_hashes);
  FUZZ_CHECK((hashed >= 0) == keyed);
  if (!keyed) return 0;
  std::uint64_t key_hashes[kMaxLabels];
  FUZZ_CHECK(key_ancestor_hashes(key.bytes, key.size, key_hashes, kMaxLabels) == key.label_count);
  FUZZ_CHECK(hashed == key.label_count);
  for (int n = 0; n < hashed; ++n) FUZZ_CHECK(wire_hashes[n] == key_hashes[n]);

  std::string wire = plain_lowercase(bytes.substr(0, length));
  FUZZ_CHECK(key.size + 1u == length);
  FUZZ_CHECK(key_to_wire(key.view()) == wire);
  std::string reparsed, error;
  FUZZ_CHECK(parse_name(name_to_text(wire), reparsed, error));
  FUZZ_CHECK(reparsed == wire);

  // Ancestor n (1 label: the top-level domain) is the last n labels of the name.
  for (std::size_t labels = key.label_count; labels >= 1; --labels) {
    std::size_t start = 0;
    for (std::size_t skip = key.label_count - labels; skip > 0; --skip)
      start += static_cast<std::uint8_t>(wire[start]) + 1u;
    NameKey ancestor;
    FUZZ_CHECK(make_name_key(data + start, size - start, ancestor));
    FUZZ_CHECK(ancestor.view() == key.prefix(labels));
  }
  return 0;
}
