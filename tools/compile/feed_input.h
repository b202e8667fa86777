// Where a feed's text comes from: a local file, an HTTPS URL or a zone transfer, with the
// last good copy of each kept in a FeedCache. A fetched feed that fails to arrive, or arrives
// as something that is not a feed, is compiled from its last good copy; so is any feed (local
// or fetched) that shrinks below its safety valve (feed_valve_refusal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "feed.h"
#include "feed_cache.h"

namespace dnsverdict {

struct FeedArrival {
  std::string text;     // the feed's text as it is now (empty when `failure` is set)
  std::string origin;   // its cache key: URL, "ZONE PRIMARY" or absolute path ("" for stdin)
  std::string version;  // "etag \"...\"", "last-modified ...", "serial N" or ""
  std::string status;   // "file", "fetched", "unchanged", "AXFR", "IXFR"
  std::int64_t time = 0;  // file modification time, or when it was fetched
  // Set when the feed could not be had as it is now: why ("URL: HTTP status 500"). Only for
  // fetched feeds, and only when `last_good` holds a copy to compile instead.
  std::string failure;
  // The copy held before this compile, if any; for a local file without its text
  // (FeedCache::load_text reads it when it is compiled instead).
  std::optional<CachedFeed> last_good;
  // The copy to keep once the feed is accepted (etag, serial; its text is `text`, moved in
  // by the caller when it keeps the copy: feeds can be hundreds of megabytes).
  CachedFeed fresh;
};

// Reads or fetches `feed` (no cache: nullptr). Throws ToolError / NotAFeedError for a local
// file that cannot be read or is not a feed, and FetchError / NotAFeedError for a fetched feed
// that failed and has no last good copy.
FeedArrival obtain_feed(const FeedSource& feed, const FeedCache* cache, std::int64_t now);

// The per-feed safety valve: why a feed of `entries` may not replace a last good copy of
// `previous` entries at `ratio` ("FILE: 3 entries, fewer than 50% of the 8 of its last good
// copy"), or nullopt when it may. Empty after non-empty always refuses (unless ratio is 0).
std::optional<std::string> feed_valve_refusal(std::string_view file, std::uint64_t entries,
                                              std::uint64_t previous, double ratio);

}  // namespace dnsverdict
