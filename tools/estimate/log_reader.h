// Reading one query log into an Estimator: open (plain, gzip, stdin), recognise the format,
// parse line by line (or frame by frame for dnstap), count what cannot be read, report the
// first malformed lines as "file:line: reason: text", and stop only when --strict asks.
// When a log holds both queries and replies (Unbound log-queries + log-replies, dnstap
// CLIENT_QUERY + CLIENT_RESPONSE), queries are counted and replies are not counted again.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "estimator.h"
#include "log_formats.h"
#include "log_source.h"

namespace dnsverdict {

struct LogReadOptions {
  LogFormat format = LogFormat::kAuto;  // kAuto: recognise each input by content
  ParserOptions parser;
  bool strict = false;             // a malformed line throws ToolError
  std::uint64_t show_errors = 5;   // malformed lines printed (over all inputs)
  bool progress = true;
  std::FILE* errors = stderr;      // where malformed lines are shown (nullptr: nowhere)
};

// State carried across the inputs of one run.
struct LogReadProgress {
  std::uint64_t bytes_done = 0;
  std::uint64_t malformed_shown = 0;
};

// Reads `path` ("-": standard input) into `estimator`; counters land in its state. Throws
// ToolError for an unreadable input, an unrecognised format, or (with strict) a bad line.
void read_query_log(const std::string& path, const LogReadOptions& options, Estimator& estimator,
                    Progress& progress, LogReadProgress& run);

}  // namespace dnsverdict
