// Query-log formats for `dnsverdict estimate`: recognising a log by its content and turning
// each line into a QueryRecord (time, client address, query name, type).
//
// Text formats (one query per line), each documented with the program and option that
// writes it; tests/unit/estimate/log_formats_test.cpp holds real lines of each:
//   unbound  Unbound `log-queries: yes` / `log-replies: yes` (util/log.c, util/net_help.c,
//            util/data/msgreply.c), with each time prefix: "[1700000000] unbound[pid:tid]"
//            (logfile), "Nov 13 18:18:56 unbound[pid:tid]" (log-time-ascii, local time),
//            and syslog framing ("Nov 13 18:18:56 host unbound: [pid:tid] info: ..." or an
//            RFC 3339 time from rsyslog/journald).
//   bind     BIND 9 query log (`querylog yes`, category queries): "client @0x... ADDR#PORT
//            (NAME): [view V: ]query: NAME CLASS TYPE FLAGS (DST)", with no time prefix, a
//            channel's `print-time` (dd-Mon-yyyy hh:mm:ss.mmm, iso8601, iso8601-utc), optional
//            "queries: info: " category/severity, or syslog framing.
//   zeek     Zeek dns.log, TSV with its "#fields" header line.
//   zeek-json Zeek dns.log as JSON (one object per line, LogAscii::use_json).
//   csv      "time,client,qname,qtype" with that header (columns in any order).
//   dnstap   Frame Streams files of dnstap messages (log_dnstap.cpp).
// Times without a zone (log-time-ascii, syslog, BIND's default) are local time (TZ); those
// without a year (log-time-ascii, syslog) take the year from ParserOptions.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

enum class LogFormat : std::uint8_t { kAuto, kUnbound, kBind, kZeekTsv, kZeekJson, kCsv, kDnstap };

std::string_view log_format_name(LogFormat format) noexcept;
std::optional<LogFormat> parse_log_format(std::string_view name) noexcept;

// Recognises a log from its first bytes (decompressed): dnstap by its Frame Streams start
// frame, the text formats by how many of the first lines each parser accepts. kAuto when
// nothing fits.
LogFormat detect_log_format(std::string_view head);

// A client address as a log gives it, IPv4 or IPv6, in network byte order.
struct LoggedAddress {
  std::uint8_t family = 0;  // 4 or 6; 0: none
  std::uint8_t bytes[16] = {};
  std::size_t size() const noexcept { return family == 4 ? 4 : family == 6 ? 16 : 0; }
  std::string to_text() const;
};
// Parses dotted IPv4 or IPv6 text (an IPv6 zone "%eth0" is ignored). False when neither.
bool parse_client_address(std::string_view text, LoggedAddress& address) noexcept;

enum class MessageKind : std::uint8_t { kQuery, kResponse };

// One query as a log records it. Views point into the line (or the parser's buffer) and
// stay valid until the parser's next call.
struct QueryRecord {
  std::int64_t time = 0;  // unix seconds
  LoggedAddress client;
  std::string_view name;  // presentation text as logged (trailing dot optional), or...
  std::string_view name_wire;  // ...a wire-format name (dnstap); one of the two is set
  std::string_view type;       // "A", "AAAA", "TYPE65", ... ("" when unknown)
  MessageKind kind = MessageKind::kQuery;
};

enum class ParseStatus : std::uint8_t {
  kRecord,     // `record` is filled in
  kSkip,       // not a query (comments, headers, a resolver's other log lines)
  kMalformed,  // looks like the format but cannot be read; `reason` says why
};

struct ParserOptions {
  int year = 0;  // for times without a year; 0: the current year
};

// Parses lines of one text format. Keeps the little state a format needs (Zeek's #fields,
// the CSV header, a cache of local-time conversions). Not thread-safe.
class LogLineParser {
 public:
  explicit LogLineParser(LogFormat format, ParserOptions options = {});
  ParseStatus parse(std::string_view line, QueryRecord& record, std::string& reason);
  LogFormat format() const noexcept { return format_; }

 private:
  ParseStatus parse_unbound(std::string_view line, QueryRecord& record, std::string& reason);
  ParseStatus parse_bind(std::string_view line, QueryRecord& record, std::string& reason);
  ParseStatus parse_zeek_tsv(std::string_view line, QueryRecord& record, std::string& reason);
  ParseStatus parse_zeek_json(std::string_view line, QueryRecord& record, std::string& reason);
  ParseStatus parse_csv(std::string_view line, QueryRecord& record, std::string& reason);
  bool leading_time(std::string_view& rest, std::int64_t& time);
  std::int64_t local_time(int year, int month, int day, int hour, int minute, int second);

  LogFormat format_;
  ParserOptions options_;
  // Zeek TSV: column of each field we read (-1: absent), from "#fields".
  int zeek_ts_ = -1, zeek_client_ = -1, zeek_query_ = -1, zeek_qtype_name_ = -1;
  char zeek_separator_ = '\t';
  // CSV: the header's columns.
  int csv_time_ = -1, csv_client_ = -1, csv_name_ = -1, csv_type_ = -1;
  std::size_t csv_columns_ = 0;
  // Local-time cache: the unix time at the start of the last local hour converted.
  std::int64_t cached_hour_key_ = -1;
  std::int64_t cached_hour_start_ = 0;
  std::string scratch_;  // unescaped JSON strings
  std::vector<std::string_view> fields_;
};

// Helpers shared with the dnstap reader and the tests.
// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(int year, int month, int day) noexcept;
// The mnemonic of an RR type number ("A", "AAAA", ..., else "TYPE<n>"), into `buffer`.
std::string_view rr_type_name(std::uint16_t type, std::string& buffer);

}  // namespace dnsverdict
