// The last good copy of every feed, kept on disk so that a feed that fails to arrive, or
// arrives broken or shrunk, is compiled from the copy that last worked. One folder; per feed
// two files named after its origin: NAME.feed (the text) and NAME.meta ("key value" lines:
// origin, etag, last-modified, serial, entries, time). Both are replaced atomically.
// Not thread-safe for one origin; separate origins do not interfere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dnsverdict {

struct CachedFeed {
  std::string origin;  // what identifies the feed: its URL, "ZONE PRIMARY", or its file path
  std::string text;    // the feed as parsed (decompressed)
  std::string etag;
  std::string last_modified;
  std::optional<std::uint32_t> serial;
  std::uint64_t entries = 0;  // entries the copy compiled to
  std::int64_t time = 0;      // when it was accepted (unix seconds)
};

class FeedCache {
 public:
  // `folder` is created (with its parents) on the first save().
  explicit FeedCache(std::string folder) : folder_(std::move(folder)) {}

  const std::string& folder() const noexcept { return folder_; }
  // The copy held for `origin`, or nullopt when there is none (or it is incomplete).
  // Throws ToolError("path: reason") when a file exists but cannot be read.
  // With `with_text` false the text is left empty (the copy is still checked to exist):
  // load_text() reads it when it is needed after all.
  std::optional<CachedFeed> load(std::string_view origin, bool with_text = true) const;
  // Reads the held text of feed.origin into feed.text. Throws ToolError("path: reason").
  void load_text(CachedFeed& feed) const;
  // Replaces the copy of feed.origin: text first (kept when it is the same text), then
  // metadata, each renamed into place.
  // Throws ToolError("path: reason").
  void save(const CachedFeed& feed) const;
  // The files' path without extension: readable part of the origin plus a hash of it.
  std::string base_path(std::string_view origin) const;

 private:
  std::string folder_;
};

}  // namespace dnsverdict
