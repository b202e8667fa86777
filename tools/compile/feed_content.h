// What a feed's bytes are before they are parsed: gzip is read as the text it holds, and
// content that is no feed at all (binary data, an archive, an HTML page) is refused with what
// it looks like, so that an error page or a wrong file never compiles to 0 rules.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "diagnostics.h"

namespace dnsverdict {

// Content that is not a feed: the message is "file: what it looks like, not a feed".
class NotAFeedError : public ToolError {
 public:
  using ToolError::ToolError;
};

// Returns the feed's text: `content` itself, or, when it starts with the gzip magic, what it
// decompresses to (at most `max_bytes`). Throws NotAFeedError naming `file` for a damaged or
// oversized gzip stream, another compressed or archive format, binary data (NUL or many
// control bytes in the first 8 KiB) or an HTML page (with its title, when it has one).
std::string feed_text(std::string_view file, std::string content,
                      std::size_t max_bytes = std::size_t{4} << 30);

// After parsing: a feed where most entries are errors is not a feed of that format.
// `entries` are the entries parsed into rules, `errors` the lines reported as errors.
// Throws NotAFeedError("file: E of N entries are errors: not a FORMAT feed").
void check_mostly_parsed(std::string_view file, std::string_view format, std::size_t entries,
                         std::size_t errors);

}  // namespace dnsverdict
