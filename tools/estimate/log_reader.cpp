#include "log_reader.h"

#include <fmt/format.h>

#include "diagnostics.h"
#include "log_dnstap.h"

namespace dnsverdict {
namespace {

// True when the first lines hold query records: then reply records are not counted again.
bool head_has_queries(std::string_view head, LogFormat format, const ParserOptions& options) {
  LogLineParser parser(format, options);
  QueryRecord record;
  std::string reason;
  std::size_t start = 0;
  while (start < head.size()) {
    std::size_t end = head.find('\n', start);
    if (end == std::string_view::npos) break;
    if (parser.parse(head.substr(start, end - start), record, reason) == ParseStatus::kRecord &&
        record.kind == MessageKind::kQuery)
      return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

void read_query_log(const std::string& path, const LogReadOptions& run, Estimator& estimator,
                    Progress& progress, LogReadProgress& reading) {
  LogSource source(path);
  InputCounters& counters = estimator.state().counters;
  ++counters.inputs;
  std::string_view head = source.peek();
  LogFormat format = run.format == LogFormat::kAuto ? detect_log_format(head) : run.format;
  if (format == LogFormat::kAuto) {
    if (head.empty()) return;  // an empty log
    throw ToolError(fmt::format("{}: not a query log this tool recognises (unbound, bind, zeek, "
                                "zeek-json, csv, dnstap); name it with --format",
                                source.name()));
  }
  auto report_malformed = [&](std::uint64_t line, std::string_view reason, std::string_view text) {
    ++counters.malformed;
    std::string shown(text.substr(0, 160));
    if (run.strict)
      throw ToolError(fmt::format("{}:{}: {} (--strict): {}", source.name(), line, reason, shown));
    if (reading.malformed_shown < run.show_errors && run.errors != nullptr) {
      ++reading.malformed_shown;
      fmt::print(run.errors, "{}:{}: {}: {}\n", source.name(), line, reason, shown);
    }
  };
  if (format == LogFormat::kDnstap) {
    DnstapCounters dnstap;
    bool count_responses = true;
    read_dnstap(
        source,
        [&](const QueryRecord& record) {
          ++counters.records;
          if (record.kind == MessageKind::kQuery) count_responses = false;
          if (record.kind == MessageKind::kResponse && !count_responses) {
            ++counters.responses_ignored;
            return;
          }
          estimator.add(record);
          if ((counters.records & 0xffff) == 0)
            progress.update(reading.bytes_done + source.position(), counters.records);
        },
        [&](std::uint64_t frame, const std::string& reason) {
          report_malformed(frame, reason, "(frame)");
        },
        dnstap);
    counters.lines += dnstap.frames;
    counters.skipped += dnstap.other;
    // A capture that starts with responses before its first query counted a few responses;
    // dnstap captures from one resolver log both or one kind throughout.
    reading.bytes_done += source.position();
    return;
  }
  bool count_responses = !head_has_queries(head, format, run.parser);
  LogLineParser parser(format, run.parser);
  LogLines lines(source);
  std::string_view line;
  QueryRecord record;
  std::string reason;
  while (lines.next(line)) {
    ++counters.lines;
    switch (parser.parse(line, record, reason)) {
      case ParseStatus::kRecord:
        ++counters.records;
        if (record.kind == MessageKind::kResponse && !count_responses) ++counters.responses_ignored;
        else estimator.add(record);
        break;
      case ParseStatus::kSkip: ++counters.skipped; break;
      case ParseStatus::kMalformed: report_malformed(lines.line_number(), reason, line); break;
    }
    if ((counters.lines & 0xffff) == 0) progress.update(reading.bytes_done + source.position(), counters.lines);
  }
  reading.bytes_done += source.position();
}


}  // namespace dnsverdict
