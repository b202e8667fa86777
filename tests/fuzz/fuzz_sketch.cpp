// Sketch files (`estimate --emit-sketch`, read by `merge`) decoded from arbitrary bytes. A
// sketch ends with a checksum of its payload that random bytes never match, so each input is
// decoded twice: as it is (the header checks) and as the payload of a sketch built around
// it, with a correct checksum (the payload decoder). Properties: a bad sketch is one
// ToolError; a decoded sketch encodes to bytes that decode and encode to the same bytes, and
// merges with itself.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "byte_codec.h"
#include "diagnostics.h"
#include "fuzz_support.h"
#include "sketch_file.h"

using namespace dnsverdict;

namespace {

void check_sketch(std::string_view bytes) {
  EstimateState state;
  try {
    state = decode_sketch(bytes, "fuzz.sketch");
  } catch (const ToolError&) {
    return;
  }
  std::string encoded = encode_sketch(state);
  EstimateState again;
  try {
    again = decode_sketch(encoded, "re-encoded");
  } catch (const ToolError& error) {
    std::fprintf(stderr, "%s\n", error.what());
    FUZZ_CHECK(!"a sketch encoded by encode_sketch decodes");
  }
  FUZZ_CHECK(encode_sketch(again) == encoded);
  try {
    again.merge(state);
  } catch (const ToolError&) {
    FUZZ_CHECK(!"a sketch merges with itself");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes = fuzz::as_text(data, size);
  check_sketch(bytes);

  std::string wrapped("DVSKETCH");
  codec::put_u8(wrapped, kSketchFormatVersion);
  codec::put_u64(wrapped, bytes.size());
  wrapped += bytes;
  codec::put_u64(wrapped, XXH3_64bits(bytes.data(), bytes.size()));
  check_sketch(wrapped);
  return 0;
}
