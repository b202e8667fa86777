// What every feed parser shares: format names and detection, line splitting, name
// normalisation, the field helpers of feed_fields.h, and the parse_feed dispatcher.
#include <fmt/format.h>
#include <idn2.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dns_name.h"
#include "feed.h"
#include "feed_fields.h"

namespace dnsverdict {
namespace {

inline char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}
inline bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Characters that never appear in a feed's domain names unescaped: they are signs of a URL,
// a pattern or another format pasted into a list, and a rule made from them would match
// nothing (or, worse, something unintended).
constexpr bool forbidden_in_name(unsigned char octet) noexcept {
  if (octet <= ' ' || octet == 0x7f) return true;
  for (char c : std::string_view("*/:@?#\"'<>,;()[]{}|^=`$!"))
    if (octet == static_cast<unsigned char>(c)) return true;
  return false;
}

// One look-up per character on the hot path of every list feed.
struct ForbiddenTable {
  bool forbidden[256] = {};
  constexpr ForbiddenTable() {
    for (int octet = 0; octet < 256; ++octet)
      forbidden[octet] = forbidden_in_name(static_cast<unsigned char>(octet));
  }
};
constexpr ForbiddenTable kForbidden;

inline bool is_forbidden_in_name(char c) noexcept {
  return kForbidden.forbidden[static_cast<unsigned char>(c)];
}

std::string describe_character(char c) {
  auto octet = static_cast<unsigned char>(c);
  if (octet <= ' ' || octet == 0x7f)
    return fmt::format("control character or space (0x{:02x})", octet);
  if (c == '*') return "'*' (a wildcard is only allowed as a leading \"*.\")";
  return fmt::format("'{}'", c);
}

// IDNA2008 (UTS #46 non-transitional) conversion of a name with U-labels to A-labels.
bool to_ascii_name(std::string_view text, std::string& ascii, std::string& error) {
  std::string input(text);
  char* output = nullptr;
  int status = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NONTRANSITIONAL);
  if (status != IDN2_OK) {
    error = fmt::format("invalid internationalized name: {}", idn2_strerror(status));
    return false;
  }
  ascii = output;
  idn2_free(output);
  return true;
}

// The common case: no escapes. Builds the key (labels reversed, lowercase) directly.
bool plain_name_to_key(std::string_view text, std::string& key, std::string& error) {
  std::size_t starts[kMaxLabels];
  std::size_t sizes[kMaxLabels];
  std::size_t labels = 0;
  std::size_t wire_size = 1;  // the root octet
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '.') {
      if (is_forbidden_in_name(text[i])) {
        error = "invalid character in name: " + describe_character(text[i]);
        return false;
      }
      continue;
    }
    std::size_t size = i - start;
    if (size == 0) {
      error = "empty label";
      return false;
    }
    if (size > kMaxLabelOctets) {
      error = "label longer than 63 octets";
      return false;
    }
    wire_size += size + 1;
    if (wire_size > kMaxNameOctets || labels == kMaxLabels) {
      error = "name longer than 255 octets";
      return false;
    }
    starts[labels] = start;
    sizes[labels] = size;
    ++labels;
    start = i + 1;
  }
  key.resize(wire_size - 1);
  std::size_t out = 0;
  for (std::size_t n = labels; n-- > 0;) {
    key[out++] = static_cast<char>(sizes[n]);
    std::memcpy(&key[out], text.data() + starts[n], sizes[n]);
    out += sizes[n];
  }
  ascii_lowercase(key.data(), key.size());  // length octets (<= 63) are not letters
  return true;
}

// Names with RFC 1035 escapes go through the general parser; characters outside escapes
// are checked the same way as in plain names.
bool escaped_name_to_key(std::string_view text, std::string& key, std::string& error) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
      continue;
    }
    if (is_forbidden_in_name(text[i])) {
      error = "invalid character in name: " + describe_character(text[i]);
      return false;
    }
  }
  if (!text_to_key(text, key, error)) return false;
  if (key.empty()) {
    error = "empty name";
    return false;
  }
  return true;
}

bool ends_with_unescaped_dot(std::string_view text) noexcept {
  if (text.empty() || text.back() != '.') return false;
  std::size_t backslashes = 0;
  for (std::size_t i = text.size() - 1; i-- > 0 && text[i] == '\\';) ++backslashes;
  return backslashes % 2 == 0;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

bool is_leap_year(unsigned year) noexcept {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// Reads exactly `count` digits at `pos`.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t count,
                 unsigned& value) noexcept {
  if (pos + count > text.size()) return false;
  value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  pos += count;
  return true;
}

bool is_rpz_line(std::string_view line) noexcept {
  if (starts_with_ignoring_case(line, "$ORIGIN") || starts_with_ignoring_case(line, "$TTL"))
    return true;
  std::string_view rest = line;
  take_token(rest);  // the owner
  for (std::string_view token = take_token(rest); !token.empty(); token = take_token(rest))
    if (equal_ignoring_case(token, "SOA") || equal_ignoring_case(token, "CNAME")) return true;
  return false;
}

bool is_csv_header(std::string_view line) noexcept {
  if (line.find(',') == std::string_view::npos) return false;
  while (!line.empty()) {
    std::size_t comma = line.find(',');
    std::string_view field = trim(line.substr(0, comma));
    if (field.size() >= 2 && field.front() == '"' && field.back() == '"')
      field = field.substr(1, field.size() - 2);
    if (equal_ignoring_case(field, "domain") || equal_ignoring_case(field, "ip") ||
        equal_ignoring_case(field, "cidr"))
      return true;
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return false;
}

bool is_address(std::string_view text) {
  std::string ignored;
  return !text.empty() && (is_digit(text[0]) || text[0] == ':') && encode_address(text, ignored);
}

}  // namespace

// ---- Field helpers (feed_fields.h) ----

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool starts_with(std::string_view text, std::string_view prefix) noexcept {
  return text.substr(0, prefix.size()) == prefix;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && equal_ignoring_case(text.substr(0, prefix.size()), prefix);
}

std::string_view take_token(std::string_view& text) noexcept {
  std::size_t begin = 0;
  while (begin < text.size() && is_blank(text[begin])) ++begin;
  std::size_t end = begin;
  while (end < text.size() && !is_blank(text[end])) ++end;
  std::string_view token = text.substr(begin, end - begin);
  text.remove_prefix(end);
  return token;
}

bool reject_long_line(std::string_view file, std::size_t line_number, std::string_view line,
                      Diagnostics& diagnostics) {
  if (line.size() <= kMaxLineOctets) return false;
  diagnostics.error(
      file, line_number,
      fmt::format("line is {} octets long (limit {}); skipped", line.size(), kMaxLineOctets));
  return true;
}

std::optional<std::int64_t> parse_timestamp(std::string_view text, std::string& error) {
  text = trim(text);
  if (text.empty()) {
    error = "empty timestamp";
    return std::nullopt;
  }
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && is_digit(c);
  if (all_digits) {
    if (text.size() > 12) {
      error = fmt::format("timestamp {} is out of range", text);
      return std::nullopt;
    }
    std::int64_t seconds = 0;
    for (char c : text) seconds = seconds * 10 + (c - '0');
    return seconds;
  }
  auto invalid = [&]() -> std::optional<std::int64_t> {
    error = fmt::format(
        "invalid timestamp \"{}\" (expected unix seconds, 2024-01-02 or 2024-01-02T03:04:05Z)",
        text);
    return std::nullopt;
  };
  std::size_t pos = 0;
  unsigned year, month, day, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, day))
    return invalid();
  static constexpr unsigned kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1970 || month < 1 || month > 12 || day < 1 ||
      day > kDaysInMonth[month - 1] + (month == 2 && is_leap_year(year) ? 1u : 0u))
    return invalid();
  std::int64_t offset = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return invalid();
    ++pos;
    if (!read_digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
        !read_digits(text, pos, 2, minute))
      return invalid();
    if (pos < text.size() && text[pos] == ':' && !read_digits(text, ++pos, 2, second))
      return invalid();
    if (hour > 23 || minute > 59 || second > 60) return invalid();
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      std::size_t digits = 0;
      while (pos < text.size() && is_digit(text[pos])) ++pos, ++digits;
      if (digits == 0) return invalid();
    }
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
      ++pos;
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      int sign = text[pos++] == '+' ? 1 : -1;
      unsigned offset_hours, offset_minutes = 0;
      if (!read_digits(text, pos, 2, offset_hours)) return invalid();
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (pos < text.size() && !read_digits(text, pos, 2, offset_minutes)) return invalid();
      if (offset_hours > 23 || offset_minutes > 59) return invalid();
      offset = sign * static_cast<std::int64_t>(offset_hours * 3600 + offset_minutes * 60);
    }
    if (pos != text.size()) return invalid();
  }
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
}

std::optional<std::int64_t> parse_time_argument(std::string_view text, std::int64_t now,
                                                std::string& error) {
  text = trim(text);
  if (text == "now") return now;
  std::string_view amount = text;
  int sign = -1;  // a bare offset looks back, as in `--since 48h`
  if (!amount.empty() && (amount[0] == '+' || amount[0] == '-')) {
    sign = amount[0] == '+' ? 1 : -1;
    amount.remove_prefix(1);
  }
  std::int64_t unit = 0;
  if (!amount.empty()) {
    switch (amount.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: break;
    }
  }
  if (unit != 0) {
    amount.remove_suffix(1);
    std::int64_t value = 0;
    auto [end, failure] = std::from_chars(amount.data(), amount.data() + amount.size(), value);
    if (!amount.empty() && failure == std::errc() && end == amount.data() + amount.size() &&
        value >= 0 && value <= INT32_MAX)
      return now + sign * value * unit;
  } else if (std::optional<std::int64_t> time = parse_timestamp(text, error)) {
    return time;
  }
  error = fmt::format(
      "'{}' is not a time (unix seconds, 2026-01-31, 2026-01-31T14:00Z, now, or an offset from "
      "now: +7d, -48h or 48h, +30m, +90s)",
      text);
  return std::nullopt;
}

std::optional<std::uint8_t> parse_confidence(std::string_view text, std::string& error) {
  text = trim(text);
  bool digits = !text.empty() && text.size() <= 3;
  for (char c : text) digits = digits && is_digit(c);
  int value = 0;
  if (digits)
    for (char c : text) value = value * 10 + (c - '0');
  if (!digits || value > 100) {
    error = fmt::format("confidence \"{}\" is not an integer from 0 to 100", text);
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(value);
}

bool parse_address_list(std::string_view text, std::string& data, std::string& error) {
  std::size_t count = 0;
  while (!text.empty()) {
    std::size_t end = text.find_first_of(",; \t");
    std::string_view address = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (address.empty()) continue;
    if (!encode_address(address, data)) {
      error = fmt::format("\"{}\" is not an IPv4 or IPv6 address", address);
      return false;
    }
    ++count;
  }
  if (count == 0) {
    error = "no address given";
    return false;
  }
  return true;
}

bool strip_wildcard(std::string_view& name) noexcept {
  if (!starts_with(name, "*.")) return false;
  name.remove_prefix(2);
  return true;
}

RuleDraft make_rule_template(const FeedDefaults& defaults, std::uint16_t source_id,
                             RuleSet& rules) {
  RuleDraft rule;
  rule.source = source_id;
  rule.campaign = rules.intern_campaign(defaults.campaign);
  rule.category = rules.intern_category(defaults.category);
  rule.confidence = defaults.confidence;
  rule.expires = defaults.expires;
  rule.action = defaults.action.value_or(Action::kNxdomain);
  rule.kind = defaults.list_kind;
  return rule;
}

void add_rule(RuleDraft&& rule, const FeedDefaults& defaults, RuleSet& rules) {
  if (defaults.allowlist) {
    rule.allowlist = true;
    rule.action = Action::kAllow;
    rule.data.clear();
  }
  rules.add(std::move(rule));
}

void add_rule(const IpPrefix& prefix, RuleDraft&& rule, const FeedDefaults& defaults,
              RuleSet& rules) {
  if (defaults.allowlist) {
    rule.allowlist = true;
    rule.action = Action::kAllow;
    rule.data.clear();
  }
  rules.add_address(prefix, std::move(rule));
}

bool looks_like_ip_prefix(std::string_view text) noexcept {
  if (text.empty()) return false;
  bool colon = false, decimal = true;
  for (char c : text) {
    bool digit = c >= '0' && c <= '9';
    bool hex = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.' && c != '/') return false;
    colon = colon || c == ':';
    decimal = decimal && (digit || c == '.' || c == '/');
  }
  return colon || decimal;
}

bool parse_feed_prefix(std::string_view text, std::string_view file, std::size_t line,
                       Diagnostics& diagnostics, IpPrefix& prefix, std::string& error) {
  if (!parse_ip_prefix(text, prefix, error)) return false;
  IpPrefix written = prefix;
  if (mask_host_bits(prefix))
    diagnostics.warning(file, line,
                        fmt::format("{} has host bits set: read as {}",
                                    format_ip_prefix(written), format_ip_prefix(prefix)));
  return true;
}

// ---- feed.h ----

std::string_view format_name(FeedFormat format) noexcept {
  switch (format) {
    case FeedFormat::kAuto:
      return "auto";
    case FeedFormat::kRpz:
      return "rpz";
    case FeedFormat::kHosts:
      return "hosts";
    case FeedFormat::kDomains:
      return "domains";
    case FeedFormat::kAdblock:
      return "adblock";
    case FeedFormat::kCsv:
      return "csv";
    case FeedFormat::kJsonl:
      return "jsonl";
  }
  return "unknown";
}

std::optional<FeedFormat> parse_format(std::string_view name) noexcept {
  for (FeedFormat format :
       {FeedFormat::kAuto, FeedFormat::kRpz, FeedFormat::kHosts, FeedFormat::kDomains,
        FeedFormat::kAdblock, FeedFormat::kCsv, FeedFormat::kJsonl})
    if (equal_ignoring_case(name, format_name(format))) return format;
  if (equal_ignoring_case(name, "list") || equal_ignoring_case(name, "domain-list"))
    return FeedFormat::kDomains;
  if (equal_ignoring_case(name, "json-lines") || equal_ignoring_case(name, "ndjson"))
    return FeedFormat::kJsonl;
  return std::nullopt;
}

FeedFormat detect_format(std::string_view content) noexcept {
  constexpr std::size_t kSampleOctets = 8 * 1024;
  if (content.size() > kSampleOctets) {
    // Keep whole lines only: a cut line could look like anything.
    std::size_t last_newline = content.rfind('\n', kSampleOctets);
    content =
        content.substr(0, last_newline == std::string_view::npos ? kSampleOctets : last_newline);
  }
  LineReader lines(content);
  std::string_view line;
  while (lines.next(line)) {
    line = trim(line);
    if (line.empty()) continue;
    if (starts_with_ignoring_case(line, "[Adblock")) return FeedFormat::kAdblock;
    if (starts_with(line, "||") || starts_with(line, "@@||")) return FeedFormat::kAdblock;
    if (line[0] == '#' || line[0] == ';' || line[0] == '!') continue;
    if (line[0] == '{') return FeedFormat::kJsonl;
    if (is_rpz_line(line)) return FeedFormat::kRpz;
    if (is_csv_header(line)) return FeedFormat::kCsv;
    std::string_view rest = line;
    std::string_view first = take_token(rest);
    if (!take_token(rest).empty() && is_address(first)) return FeedFormat::kHosts;
  }
  return FeedFormat::kDomains;
}

LineReader::LineReader(std::string_view content) noexcept : rest_(content) {
  if (starts_with(rest_, kByteOrderMark)) rest_.remove_prefix(kByteOrderMark.size());
}

bool LineReader::next(std::string_view& line) noexcept {
  if (rest_.empty()) return false;
  std::size_t end = rest_.find('\n');
  if (end == std::string_view::npos) {
    line = rest_;
    rest_ = {};
  } else {
    line = rest_.substr(0, end);
    rest_.remove_prefix(end + 1);
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ++line_number_;
  return true;
}

bool feed_name_to_key(std::string_view text, std::string& key, std::string& error) {
  text = trim(text);
  if (ends_with_unescaped_dot(text)) text.remove_suffix(1);
  if (text.empty()) {
    error = "empty name";
    return false;
  }
  bool ascii = true;
  bool escaped = false;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    escaped = escaped || c == '\\';
  }
  std::string converted;
  if (!ascii) {
    if (!to_ascii_name(text, converted, error)) return false;
    text = converted;
  }
  return escaped ? escaped_name_to_key(text, key, error) : plain_name_to_key(text, key, error);
}

std::size_t parse_feed(FeedFormat format, std::string_view file, std::string_view content,
                       const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                       Diagnostics& diagnostics) {
  if (format == FeedFormat::kAuto) format = detect_format(content);
  // About a rule per line: room for them up front spares the vector's doubling copies.
  rules.reserve(rules.added() +
                static_cast<std::size_t>(std::count(content.begin(), content.end(), '\n')) + 1);
  switch (format) {
    case FeedFormat::kRpz:
      return parse_rpz(file, content, defaults, source_id, rules, diagnostics);
    case FeedFormat::kHosts:
      return parse_hosts(file, content, defaults, source_id, rules, diagnostics);
    case FeedFormat::kAdblock:
      return parse_adblock(file, content, defaults, source_id, rules, diagnostics);
    case FeedFormat::kCsv:
      return parse_csv(file, content, defaults, source_id, rules, diagnostics);
    case FeedFormat::kJsonl:
      return parse_jsonl(file, content, defaults, source_id, rules, diagnostics);
    case FeedFormat::kDomains:
    case FeedFormat::kAuto:
      break;
  }
  return parse_domain_list(file, content, defaults, source_id, rules, diagnostics);
}

}  // namespace dnsverdict
