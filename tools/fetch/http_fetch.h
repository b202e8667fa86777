// Fetching a feed over HTTPS (or HTTP) with libcurl: a conditional request, so that a feed
// that has not changed since the copy we hold is not downloaded again; timeouts; a size
// limit; gzip and deflate transfer encodings decoded.
#pragma once

#include <cstdint>
#include <string>

#include "diagnostics.h"

namespace dnsverdict {

// A fetch that failed: the message is "URL: what went wrong" (a status, a timeout, a
// truncated body, a size over the limit, a TLS error).
class FetchError : public ToolError {
 public:
  using ToolError::ToolError;
};

struct HttpRequest {
  std::string url;
  // From the copy we hold (empty: none): sent as If-None-Match / If-Modified-Since.
  std::string etag;
  std::string last_modified;
  std::string ca_file;         // trust these CAs instead of the system's (empty: system)
  long timeout_seconds = 60;   // the whole transfer; connecting gets at most 15 s of it
  std::uint64_t max_bytes = std::uint64_t{256} << 20;
};

struct HttpResponse {
  bool unchanged = false;  // 304: the copy we hold is current; body is empty
  std::string body;
  std::string etag;           // as the server sent it, quotes included
  std::string last_modified;
};

// Fetches request.url. Returns the body of a 200 response or `unchanged` for a 304; throws
// FetchError for every other outcome. Thread-safe (one curl handle per call).
HttpResponse fetch_http(const HttpRequest& request);

}  // namespace dnsverdict
