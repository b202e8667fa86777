// The text query-log formats (log_formats.h). The Unbound path is the hot one (a billion
// lines is a normal day for a large resolver), so it is string_view slicing only: no regex,
// no streams, no allocation per line.
#include "log_formats.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "feed_fields.h"

namespace dnsverdict {
namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The value of a hexadecimal digit, -1 for any other character.
int hex_digit(char c) noexcept {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads exactly `count` digits at `text[at]`.
bool read_digits(std::string_view text, std::size_t at, std::size_t count, int& value) noexcept {
  if (at + count > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!is_digit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

int month_number(std::string_view text) noexcept {
  if (text.size() < 3) return 0;
  for (int month = 0; month < 12; ++month)
    if (text.compare(0, 3, kMonths[month]) == 0) return month + 1;
  return 0;
}

// Leading unsigned integer (seconds of a "1700000000.123456" time); false when none.
bool read_seconds(std::string_view text, std::int64_t& value) noexcept {
  std::size_t i = 0;
  value = 0;
  while (i < text.size() && is_digit(text[i]) && i < 18) value = value * 10 + (text[i++] - '0');
  if (i == 0) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
  }
  return i == text.size();
}

// The next space-separated word of `rest`, which moves past it and the spaces after it
// (unlike feed_fields.h's take_token, which leaves them: the BIND parser reads what follows).
std::string_view next_word(std::string_view& rest) noexcept {
  std::size_t end = rest.find(' ');
  std::string_view token = rest.substr(0, end);
  if (end == std::string_view::npos) {
    rest = {};
  } else {
    std::size_t next = end + 1;
    while (next < rest.size() && rest[next] == ' ') ++next;
    rest.remove_prefix(next);
  }
  return token;
}

void split(std::string_view line, char separator, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  for (;;) {
    std::size_t end = line.find(separator, start);
    if (end == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

// Trims blanks and one pair of surrounding double quotes (CSV and JSON values).
std::string_view trim_field(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  return text;
}

}  // namespace

std::int64_t days_from_civil(int year, int month, int day) noexcept {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

std::string_view log_format_name(LogFormat format) noexcept {
  switch (format) {
    case LogFormat::kAuto: return "auto";
    case LogFormat::kUnbound: return "unbound";
    case LogFormat::kBind: return "bind";
    case LogFormat::kZeekTsv: return "zeek";
    case LogFormat::kZeekJson: return "zeek-json";
    case LogFormat::kCsv: return "csv";
    case LogFormat::kDnstap: return "dnstap";
  }
  return "?";
}

std::optional<LogFormat> parse_log_format(std::string_view name) noexcept {
  for (LogFormat format : {LogFormat::kAuto, LogFormat::kUnbound, LogFormat::kBind,
                           LogFormat::kZeekTsv, LogFormat::kZeekJson, LogFormat::kCsv,
                           LogFormat::kDnstap})
    if (equal_ignoring_case(name, log_format_name(format))) return format;
  if (equal_ignoring_case(name, "zeek-tsv")) return LogFormat::kZeekTsv;
  return std::nullopt;
}

std::string LoggedAddress::to_text() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == 4) inet_ntop(AF_INET, bytes, text, sizeof text);
  if (family == 6) inet_ntop(AF_INET6, bytes, text, sizeof text);
  return text;
}

bool parse_client_address(std::string_view text, LoggedAddress& address) noexcept {
  // IPv4 by hand: it is most of the traffic and inet_pton needs a terminated copy.
  unsigned part = 0, parts = 0, digits = 0;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (is_digit(c)) {
      part = part * 10 + static_cast<unsigned>(c - '0');
      if (++digits > 3 || part > 255) break;
    } else if (c == '.' && digits > 0 && parts < 3) {
      address.bytes[parts++] = static_cast<std::uint8_t>(part);
      part = digits = 0;
    } else {
      break;
    }
  }
  if (i == text.size() && parts == 3 && digits > 0) {
    address.bytes[3] = static_cast<std::uint8_t>(part);
    address.family = 4;
    return true;
  }
  std::size_t zone = text.find('%');
  if (zone != std::string_view::npos) text = text.substr(0, zone);
  if (text.size() < 2 || text.size() >= INET6_ADDRSTRLEN || text.find(':') == std::string_view::npos)
    return false;
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  if (inet_pton(AF_INET6, buffer, address.bytes) != 1) return false;
  address.family = 6;
  return true;
}

std::string_view rr_type_name(std::uint16_t type, std::string& buffer) {
  struct Entry {
    std::uint16_t number;
    const char* name;
  };
  static constexpr Entry kTypes[] = {
      {1, "A"},       {2, "NS"},      {5, "CNAME"},  {6, "SOA"},    {12, "PTR"},   {13, "HINFO"},
      {15, "MX"},     {16, "TXT"},    {28, "AAAA"},  {33, "SRV"},   {35, "NAPTR"}, {39, "DNAME"},
      {43, "DS"},     {46, "RRSIG"},  {47, "NSEC"},  {48, "DNSKEY"}, {50, "NSEC3"}, {52, "TLSA"},
      {64, "SVCB"},   {65, "HTTPS"},  {99, "SPF"},   {252, "AXFR"}, {251, "IXFR"}, {255, "ANY"},
      {257, "CAA"}};
  for (const auto& entry : kTypes)
    if (entry.number == type) return entry.name;
  buffer = fmt::format("TYPE{}", type);
  return buffer;
}

LogLineParser::LogLineParser(LogFormat format, ParserOptions options)
    : format_(format), options_(options) {
  if (options_.year == 0) {
    std::time_t now = std::time(nullptr);
    std::tm parts{};
    localtime_r(&now, &parts);
    options_.year = parts.tm_year + 1900;
  }
}

std::int64_t LogLineParser::local_time(int year, int month, int day, int hour, int minute,
                                       int second) {
  // mktime is slow and takes a lock; a log's lines share hours, so convert each hour once.
  std::int64_t key = ((static_cast<std::int64_t>(year) * 16 + month) * 32 + day) * 32 + hour;
  if (key != cached_hour_key_) {
    std::tm parts{};
    parts.tm_year = year - 1900;
    parts.tm_mon = month - 1;
    parts.tm_mday = day;
    parts.tm_hour = hour;
    parts.tm_isdst = -1;
    cached_hour_start_ = static_cast<std::int64_t>(mktime(&parts));
    cached_hour_key_ = key;
  }
  return cached_hour_start_ + minute * 60 + second;
}

// Reads a time at the start of `rest` and moves past it and one space. Accepts
//   [1700000000]                                   Unbound logfile (UTC epoch)
//   2024-05-01T12:00:00[.fff][Z|+hh:mm|+hhmm]      ISO 8601 / RFC 3339 (no zone: local)
//   Nov 13 18:18:56, Nov  3 18:18:56               log-time-ascii, syslog (local, no year)
//   13-Nov-2020 18:18:56.123                       BIND print-time (local)
bool LogLineParser::leading_time(std::string_view& rest, std::int64_t& time) {
  if (rest.empty()) return false;
  if (rest[0] == '[') {
    std::size_t close = rest.find(']');
    // At most 18 digits: every value fits an int64_t (a longer one is not a time anyway).
    if (close == std::string_view::npos || close < 2 || close > 19) return false;
    std::int64_t seconds = 0;
    for (std::size_t i = 1; i < close; ++i) {
      if (!is_digit(rest[i])) return false;
      seconds = seconds * 10 + (rest[i] - '0');
    }
    time = seconds;
    rest.remove_prefix(close + (close + 1 < rest.size() && rest[close + 1] == ' ' ? 2 : 1));
    return true;
  }
  int year, month, day, hour, minute, second;
  if (is_digit(rest[0]) && rest.size() >= 19 && rest[4] == '-') {
    if (!read_digits(rest, 0, 4, year) || !read_digits(rest, 5, 2, month) || rest[7] != '-' ||
        !read_digits(rest, 8, 2, day) || (rest[10] != 'T' && rest[10] != ' ') ||
        !read_digits(rest, 11, 2, hour) || rest[13] != ':' || !read_digits(rest, 14, 2, minute) ||
        rest[16] != ':' || !read_digits(rest, 17, 2, second))
      return false;
    std::size_t i = 19;
    if (i < rest.size() && (rest[i] == '.' || rest[i] == ',')) {
      ++i;
      while (i < rest.size() && is_digit(rest[i])) ++i;
    }
    bool zoned = false;
    std::int64_t offset = 0;
    if (i < rest.size() && rest[i] == 'Z') {
      zoned = true;
      ++i;
    } else if (i < rest.size() && (rest[i] == '+' || rest[i] == '-')) {
      int zone_hours, zone_minutes;
      std::size_t minutes_at = i + 3 < rest.size() && rest[i + 3] == ':' ? i + 4 : i + 3;
      if (!read_digits(rest, i + 1, 2, zone_hours) || !read_digits(rest, minutes_at, 2, zone_minutes))
        return false;
      offset = (zone_hours * 60 + zone_minutes) * 60 * (rest[i] == '-' ? -1 : 1);
      zoned = true;
      i = minutes_at + 2;
    }
    if (zoned)
      time = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
    else
      time = local_time(year, month, day, hour, minute, second);
    rest.remove_prefix(i < rest.size() && rest[i] == ' ' ? i + 1 : i);
    return true;
  }
  if (is_digit(rest[0]) && rest.size() >= 20 && rest[2] == '-' && rest[6] == '-') {
    month = month_number(rest.substr(3, 3));
    if (month == 0 || !read_digits(rest, 0, 2, day) || !read_digits(rest, 7, 4, year) ||
        rest[11] != ' ' || !read_digits(rest, 12, 2, hour) || rest[14] != ':' ||
        !read_digits(rest, 15, 2, minute) || rest[17] != ':' || !read_digits(rest, 18, 2, second))
      return false;
    std::size_t i = 20;
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      while (i < rest.size() && is_digit(rest[i])) ++i;
    }
    time = local_time(year, month, day, hour, minute, second);
    rest.remove_prefix(i < rest.size() && rest[i] == ' ' ? i + 1 : i);
    return true;
  }
  month = month_number(rest);
  if (month != 0 && rest.size() >= 15 && rest[3] == ' ') {
    std::size_t i = 4;
    if (rest[i] == ' ') ++i;  // syslog pads single-digit days with a space
    int digits = i + 1 < rest.size() && is_digit(rest[i + 1]) ? 2 : 1;
    if (!read_digits(rest, i, static_cast<std::size_t>(digits), day)) return false;
    i += static_cast<std::size_t>(digits);
    if (i + 9 > rest.size() || rest[i] != ' ' || !read_digits(rest, i + 1, 2, hour) ||
        rest[i + 3] != ':' || !read_digits(rest, i + 4, 2, minute) || rest[i + 6] != ':' ||
        !read_digits(rest, i + 7, 2, second))
      return false;
    time = local_time(options_.year, month, day, hour, minute, second);
    i += 9;
    rest.remove_prefix(i < rest.size() && rest[i] == ' ' ? i + 1 : i);
    return true;
  }
  return false;
}

ParseStatus LogLineParser::parse(std::string_view line, QueryRecord& record, std::string& reason) {
  record.name_wire = {};
  record.kind = MessageKind::kQuery;
  switch (format_) {
    case LogFormat::kUnbound: return parse_unbound(line, record, reason);
    case LogFormat::kBind: return parse_bind(line, record, reason);
    case LogFormat::kZeekTsv: return parse_zeek_tsv(line, record, reason);
    case LogFormat::kZeekJson: return parse_zeek_json(line, record, reason);
    case LogFormat::kCsv: return parse_csv(line, record, reason);
    case LogFormat::kAuto:
    case LogFormat::kDnstap: break;
  }
  reason = "not a text log format";
  return ParseStatus::kMalformed;
}

// "[1700000000] unbound[1234:0] info: 127.0.0.1 example.com. A IN" (log-queries) and
// "... info: 127.0.0.1 example.com. A IN NOERROR 0.000123 0 45" (log-replies: rcode,
// seconds taken, from cache, reply size).
ParseStatus LogLineParser::parse_unbound(std::string_view line, QueryRecord& record,
                                         std::string& reason) {
  if (line.empty()) return ParseStatus::kSkip;
  std::string_view rest = line;
  if (!leading_time(rest, record.time)) {
    reason = "no time prefix Unbound writes ([epoch], log-time-ascii, ISO 8601 or syslog)";
    return ParseStatus::kMalformed;
  }
  std::size_t info = rest.find(" info: ");
  if (info == std::string_view::npos) return ParseStatus::kSkip;  // notices, other programs
  rest.remove_prefix(info + 7);
  std::string_view address = next_word(rest);
  if (!parse_client_address(address, record.client)) return ParseStatus::kSkip;  // other info
  record.name = next_word(rest);
  record.type = next_word(rest);
  std::string_view query_class = next_word(rest);
  if (record.name == "-") return ParseStatus::kSkip;  // a reply to an unparseable query
  if (query_class.empty()) {
    reason = "a query line has four fields: client, name, type, class";
    return ParseStatus::kMalformed;
  }
  if (rest.empty()) {
    record.kind = MessageKind::kQuery;
    return ParseStatus::kRecord;
  }
  next_word(rest);  // rcode
  next_word(rest);  // duration
  next_word(rest);  // cached
  std::string_view size = next_word(rest);
  if (size.empty() || !rest.empty()) {
    reason = "a reply line has eight fields: client, name, type, class, rcode, time, cached, size";
    return ParseStatus::kMalformed;
  }
  record.kind = MessageKind::kResponse;
  return ParseStatus::kRecord;
}

// "client @0x7f0e2c00a8c0 127.0.0.1#41234 (www.example.com): query: www.example.com IN A +E(0)K
// (127.0.0.1)", optionally after a time, "queries: info: ", or syslog framing, and with
// "view NAME: " before "query:" when views are configured. BIND before 9.11 has no "@0x...".
ParseStatus LogLineParser::parse_bind(std::string_view line, QueryRecord& record,
                                      std::string& reason) {
  if (line.empty()) return ParseStatus::kSkip;
  std::string_view rest = line;
  record.time = 0;
  leading_time(rest, record.time);
  std::size_t client = rest.find("client ");
  if (client == std::string_view::npos) return ParseStatus::kSkip;
  rest.remove_prefix(client + 7);
  if (rest.compare(0, 3, "@0x") == 0) next_word(rest);
  std::string_view address = next_word(rest);
  std::size_t port = address.rfind('#');
  if (port == std::string_view::npos || !parse_client_address(address.substr(0, port), record.client)) {
    reason = "no client ADDRESS#PORT after \"client\"";
    return ParseStatus::kMalformed;
  }
  if (!rest.empty() && rest[0] == '(') {
    std::size_t close = rest.find("): ");
    if (close == std::string_view::npos) {
      reason = "unterminated \"(name):\"";
      return ParseStatus::kMalformed;
    }
    rest.remove_prefix(close + 3);
  }
  if (rest.compare(0, 5, "view ") == 0) {
    std::size_t colon = rest.find(": ");
    if (colon == std::string_view::npos) return ParseStatus::kSkip;
    rest.remove_prefix(colon + 2);
  }
  if (rest.compare(0, 7, "query: ") != 0) return ParseStatus::kSkip;  // "query (cache) denied", ...
  rest.remove_prefix(7);
  record.name = next_word(rest);
  std::string_view query_class = next_word(rest);
  record.type = next_word(rest);
  if (record.type.empty() || query_class.empty()) {
    reason = "expected \"query: NAME CLASS TYPE FLAGS\"";
    return ParseStatus::kMalformed;
  }
  record.kind = MessageKind::kQuery;
  return ParseStatus::kRecord;
}

// Zeek dns.log (TSV): "#separator \x09", "#fields ts uid id.orig_h ... query ... qtype_name
// ...", then one tab-separated row per DNS transaction; "-" is an unset field.
ParseStatus LogLineParser::parse_zeek_tsv(std::string_view line, QueryRecord& record,
                                          std::string& reason) {
  if (line.empty()) return ParseStatus::kSkip;
  if (line[0] == '#') {
    if (line.compare(0, 11, "#separator ") == 0) {
      std::string_view value = line.substr(11);
      int high = 0, low = 0;
      if (value.size() == 4 && value.compare(0, 2, "\\x") == 0 &&
          (high = hex_digit(value[2])) >= 0 && (low = hex_digit(value[3])) >= 0) {
        zeek_separator_ = static_cast<char>(high * 16 + low);
      } else if (value.size() == 1) {
        zeek_separator_ = value[0];
      } else {
        reason = fmt::format("#separator {} is not \\xHH or one character", value);
        return ParseStatus::kMalformed;
      }
    } else if (line.compare(0, 8, "#fields\t") == 0 || line.compare(0, 8, "#fields ") == 0) {
      split(line, zeek_separator_, fields_);
      zeek_ts_ = zeek_client_ = zeek_query_ = zeek_qtype_name_ = -1;
      for (std::size_t i = 1; i < fields_.size(); ++i) {
        int column = static_cast<int>(i) - 1;
        if (fields_[i] == "ts") zeek_ts_ = column;
        else if (fields_[i] == "id.orig_h") zeek_client_ = column;
        else if (fields_[i] == "query") zeek_query_ = column;
        else if (fields_[i] == "qtype_name") zeek_qtype_name_ = column;
      }
    }
    return ParseStatus::kSkip;
  }
  if (zeek_ts_ < 0 || zeek_client_ < 0 || zeek_query_ < 0) {
    reason = "a Zeek row before a \"#fields\" header naming ts, id.orig_h and query";
    return ParseStatus::kMalformed;
  }
  split(line, zeek_separator_, fields_);
  int needed = std::max({zeek_ts_, zeek_client_, zeek_query_, zeek_qtype_name_});
  if (static_cast<int>(fields_.size()) <= needed) {
    reason = fmt::format("{} fields, the header names more", fields_.size());
    return ParseStatus::kMalformed;
  }
  if (!read_seconds(fields_[static_cast<std::size_t>(zeek_ts_)], record.time)) {
    reason = "ts is not unix seconds";
    return ParseStatus::kMalformed;
  }
  if (!parse_client_address(fields_[static_cast<std::size_t>(zeek_client_)], record.client)) {
    reason = "id.orig_h is not an address";
    return ParseStatus::kMalformed;
  }
  record.name = fields_[static_cast<std::size_t>(zeek_query_)];
  if (record.name == "-" || record.name.empty()) return ParseStatus::kSkip;  // no question
  record.type = zeek_qtype_name_ >= 0 ? fields_[static_cast<std::size_t>(zeek_qtype_name_)] : "";
  if (record.type == "-") record.type = {};
  return ParseStatus::kRecord;
}

namespace {
// The value of "key": in a flat JSON object: a string's contents (escapes other than \" and
// \\ are left as they are: names and addresses have none) or a number's text.
bool json_member(std::string_view line, std::string_view quoted_key, std::string_view& value,
                 bool& is_string) {
  std::size_t at = line.find(quoted_key);
  if (at == std::string_view::npos) return false;
  at += quoted_key.size();
  while (at < line.size() && line[at] == ' ') ++at;
  if (at >= line.size() || line[at] != ':') return false;
  ++at;
  while (at < line.size() && line[at] == ' ') ++at;
  if (at >= line.size()) return false;
  if (line[at] == '"') {
    std::size_t end = at + 1;
    while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
    if (end >= line.size()) return false;
    value = line.substr(at + 1, end - at - 1);
    is_string = true;
    return true;
  }
  std::size_t end = line.find_first_of(",}", at);
  if (end == std::string_view::npos) return false;
  value = trim_field(line.substr(at, end - at));
  is_string = false;
  return true;
}
}  // namespace

// Zeek dns.log as JSON: {"ts":1700000000.123456,"uid":"C...","id.orig_h":"192.0.2.1",...,
// "query":"example.com",...,"qtype_name":"A",...}; ts may be an ISO 8601 string
// (LogAscii::json_timestamps = JSON::TS_ISO8601).
ParseStatus LogLineParser::parse_zeek_json(std::string_view line, QueryRecord& record,
                                           std::string& reason) {
  std::string_view trimmed = trim_field(line);
  if (trimmed.empty()) return ParseStatus::kSkip;
  if (trimmed.front() != '{') {
    reason = "not a JSON object";
    return ParseStatus::kMalformed;
  }
  std::string_view ts, client, name, type;
  bool ts_string = false, is_string = false;
  if (!json_member(trimmed, "\"ts\"", ts, ts_string) ||
      !json_member(trimmed, "\"id.orig_h\"", client, is_string)) {
    reason = "no \"ts\" or \"id.orig_h\"";
    return ParseStatus::kMalformed;
  }
  if (!json_member(trimmed, "\"query\"", name, is_string)) return ParseStatus::kSkip;
  if (ts_string) {
    std::string_view rest = ts;
    if (!leading_time(rest, record.time)) {
      reason = "\"ts\" is not a time";
      return ParseStatus::kMalformed;
    }
  } else if (!read_seconds(ts, record.time)) {
    reason = "\"ts\" is not unix seconds";
    return ParseStatus::kMalformed;
  }
  if (!parse_client_address(client, record.client)) {
    reason = "\"id.orig_h\" is not an address";
    return ParseStatus::kMalformed;
  }
  record.name = name;
  record.type = json_member(trimmed, "\"qtype_name\"", type, is_string) ? type : "";
  return ParseStatus::kRecord;
}

// "time,client,qname,qtype" with a header naming the columns; time is unix seconds or ISO 8601.
ParseStatus LogLineParser::parse_csv(std::string_view line, QueryRecord& record,
                                     std::string& reason) {
  if (line.empty() || line[0] == '#') return ParseStatus::kSkip;
  split(line, ',', fields_);
  if (csv_time_ < 0 || equal_ignoring_case(trim_field(fields_[0]), "time") ||
      equal_ignoring_case(trim_field(fields_[0]), "client")) {
    int time = -1, client = -1, name = -1, type = -1;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      std::string_view field = trim_field(fields_[i]);
      int column = static_cast<int>(i);
      if (equal_ignoring_case(field, "time") || equal_ignoring_case(field, "ts")) time = column;
      else if (equal_ignoring_case(field, "client")) client = column;
      else if (equal_ignoring_case(field, "qname") || equal_ignoring_case(field, "name")) name = column;
      else if (equal_ignoring_case(field, "qtype") || equal_ignoring_case(field, "type")) type = column;
    }
    if (time >= 0 && client >= 0 && name >= 0) {
      csv_time_ = time, csv_client_ = client, csv_name_ = name, csv_type_ = type;
      csv_columns_ = fields_.size();
      return ParseStatus::kSkip;
    }
    if (csv_time_ < 0) {
      reason = "a CSV query log starts with the header \"time,client,qname,qtype\"";
      return ParseStatus::kMalformed;
    }
  }
  if (fields_.size() < csv_columns_) {
    reason = fmt::format("{} columns, the header has {}", fields_.size(), csv_columns_);
    return ParseStatus::kMalformed;
  }
  std::string_view time = trim_field(fields_[static_cast<std::size_t>(csv_time_)]);
  if (!read_seconds(time, record.time)) {
    std::string_view rest = time;
    if (!leading_time(rest, record.time) || !rest.empty()) {
      reason = fmt::format("\"{}\" is not a time (unix seconds or ISO 8601)", time);
      return ParseStatus::kMalformed;
    }
  }
  std::string_view client = trim_field(fields_[static_cast<std::size_t>(csv_client_)]);
  if (!parse_client_address(client, record.client)) {
    reason = fmt::format("\"{}\" is not an address", client);
    return ParseStatus::kMalformed;
  }
  record.name = trim_field(fields_[static_cast<std::size_t>(csv_name_)]);
  if (record.name.empty()) {
    reason = "empty qname";
    return ParseStatus::kMalformed;
  }
  record.type = csv_type_ >= 0 ? trim_field(fields_[static_cast<std::size_t>(csv_type_)]) : "";
  return ParseStatus::kRecord;
}

LogFormat detect_log_format(std::string_view head) {
  // Frame Streams: a data file begins with the escape (a zero frame length) and a control
  // frame; dnstap's content type follows in the START frame.
  if (head.size() >= 8 && head.compare(0, 4, std::string_view("\0\0\0\0", 4)) == 0)
    return LogFormat::kDnstap;
  // Only whole lines.
  std::size_t last_newline = head.rfind('\n');
  if (last_newline != std::string_view::npos) head = head.substr(0, last_newline + 1);
  LogFormat best = LogFormat::kAuto;
  int best_records = 0;
  for (LogFormat format : {LogFormat::kUnbound, LogFormat::kBind, LogFormat::kZeekTsv,
                           LogFormat::kZeekJson, LogFormat::kCsv}) {
    LogLineParser parser(format);
    QueryRecord record;
    std::string reason;
    int records = 0, malformed = 0, lines = 0;
    std::size_t start = 0;
    while (start < head.size() && lines < 400) {
      std::size_t end = head.find('\n', start);
      if (end == std::string_view::npos) end = head.size();
      std::string_view line = head.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = end + 1;
      ++lines;
      ParseStatus status = parser.parse(line, record, reason);
      if (status == ParseStatus::kRecord) ++records;
      if (status == ParseStatus::kMalformed) ++malformed;
    }
    // Most records wins; among equals, fewer malformed lines.
    int score = records * 1024 - std::min(malformed, 1023);
    if (records > 0 && score > best_records) {
      best = format;
      best_records = score;
    }
  }
  return best;
}

}  // namespace dnsverdict
