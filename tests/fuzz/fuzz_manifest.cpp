// The feeds manifest read from arbitrary bytes (written to a temporary file: the reader takes
// a path). Properties: a bad manifest is one ToolError, nothing else escapes; a manifest that
// reads has feeds with paths and campaigns with names.
#include <cstddef>
#include <cstdint>

#include "feed.h"
#include "fuzz_support.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::TemporaryFile file(fuzz::as_text(data, size), "manifest");
  Manifest manifest;
  try {
    manifest = read_manifest(file.path());
  } catch (const ToolError&) {
    return 0;
  }
  for (const FeedSource& feed : manifest.feeds) {
    FUZZ_CHECK(!feed.path.empty());
    FUZZ_CHECK(feed.defaults.confidence <= 100);
  }
  for (const CampaignRecord& campaign : manifest.campaigns) FUZZ_CHECK(!campaign.name.empty());
  return 0;
}
