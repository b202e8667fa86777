// Indicator feeds: CSV (RFC 4180) with a header row, and JSON Lines. Both carry the same
// fields per indicator, each optional except the domain or the ip (exactly one of them):
//   domain      the name; "*.name" is a wildcard on name
//   ip          an address or CIDR prefix ("47.100.164.28", "10.0.0.0/8", "2001:db8::/32"):
//               an address rule; host bits past the length are cleared with a warning. The
//               column may also be called "cidr".
//   action      nxdomain, nodata, refuse, drop, sinkhole, redirect, log, tag, allow, tcp-only
//   category, campaign   names (interned)
//   confidence  integer 0-100
//   first_seen, expires  unix seconds, 2024-01-02 or 2024-01-02T03:04:05Z
//   kind        exact, subtree or wildcard (default: the source's list_kind); names only
//   sinkhole    addresses separated by commas, semicolons or blanks (implies action sinkhole)
//   redirect    a target name (implies action redirect)
//   data        the sinkhole addresses or redirect target, whichever the action needs
// A missing or empty field (JSON null) takes the source's default. Unknown CSV columns are
// reported once as a warning; unknown JSON fields are ignored.
#include <fmt/format.h>

#include <vector>

#include "dns_name.h"
#include "feed.h"
#include "feed_fields.h"

namespace dnsverdict {
namespace {

enum class Field {
  kDomain,
  kIp,
  kAction,
  kCategory,
  kCampaign,
  kConfidence,
  kFirstSeen,
  kExpires,
  kKind,
  kData,
  kSinkhole,
  kRedirect,
  kCount
};

constexpr std::string_view kFieldNames[] = {"domain",   "ip",         "action",     "category",
                                            "campaign", "confidence", "first_seen", "expires",
                                            "kind",     "data",       "sinkhole",   "redirect"};
static_assert(std::size(kFieldNames) == static_cast<std::size_t>(Field::kCount));

// "First-Seen", "first seen" and "first_seen" all name the same column.
std::optional<Field> field_by_name(std::string_view name) {
  std::string normal(trim(name));
  for (char& c : normal) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    if (c == '-' || c == ' ') c = '_';
  }
  if (normal == "cidr") return Field::kIp;
  for (std::size_t i = 0; i < std::size(kFieldNames); ++i)
    if (normal == kFieldNames[i]) return static_cast<Field>(i);
  return std::nullopt;
}

// One indicator's fields as text; empty means absent.
struct Indicator {
  std::string_view fields[static_cast<std::size_t>(Field::kCount)];
  std::string_view operator[](Field field) const { return fields[static_cast<std::size_t>(field)]; }
  std::string_view& operator[](Field field) { return fields[static_cast<std::size_t>(field)]; }
};

// Turns an indicator into a rule on top of the source's template: a name rule, or only the
// rule's fields when `address` (the caller keys it by the ip field). False with `error`.
bool indicator_to_rule(const Indicator& indicator, bool address, RuleSet& rules, RuleDraft& rule,
                       std::string& error) {
  if (!address) {
    std::string_view name = trim(indicator[Field::kDomain]);
    if (name.empty()) {
      error = "no domain or ip";
      return false;
    }
    bool wildcard = strip_wildcard(name);
    if (!feed_name_to_key(name, rule.key, error)) {
      error = fmt::format("\"{}\": {}", indicator[Field::kDomain], error);
      return false;
    }
    if (std::string_view text = trim(indicator[Field::kKind]); !text.empty()) {
      std::optional<RuleKind> kind = parse_kind(text);
      if (!kind) {
        error = fmt::format("unknown kind \"{}\" (exact, subtree or wildcard)", text);
        return false;
      }
      if (wildcard && *kind != RuleKind::kWildcard) {
        error = fmt::format("\"*.\" name with kind {}", kind_name(*kind));
        return false;
      }
      rule.kind = *kind;
    } else if (wildcard) {
      rule.kind = RuleKind::kWildcard;
    }
  }

  std::string_view sinkhole = trim(indicator[Field::kSinkhole]);
  std::string_view redirect = trim(indicator[Field::kRedirect]);
  std::string_view data = trim(indicator[Field::kData]);
  if (std::string_view text = trim(indicator[Field::kAction]); !text.empty()) {
    std::optional<Action> action = parse_action(text);
    if (!action) {
      error = fmt::format("unknown action \"{}\"", text);
      return false;
    }
    rule.action = *action;
  } else if (!sinkhole.empty()) {
    rule.action = Action::kSinkhole;
  } else if (!redirect.empty()) {
    rule.action = Action::kRedirect;
  }
  if (!sinkhole.empty() && rule.action != Action::kSinkhole) {
    error = fmt::format("sinkhole addresses given for action {}", action_name(rule.action));
    return false;
  }
  if (!redirect.empty() && rule.action != Action::kRedirect) {
    error = fmt::format("redirect target given for action {}", action_name(rule.action));
    return false;
  }
  if (rule.action == Action::kSinkhole) {
    std::string_view addresses = !sinkhole.empty() ? sinkhole : data;
    // No addresses: the campaign's or the resolver's default sinkhole answers.
    if (!addresses.empty() && !parse_address_list(addresses, rule.data, error)) return false;
  } else if (rule.action == Action::kRedirect) {
    std::string_view target = !redirect.empty() ? redirect : data;
    if (target.empty()) {
      error = "redirect without a target (a redirect or data field)";
      return false;
    }
    std::string target_key;
    if (!feed_name_to_key(target, target_key, error)) {
      error = fmt::format("redirect target \"{}\": {}", target, error);
      return false;
    }
    rule.data = key_to_wire(target_key);
  } else if (!data.empty()) {
    error = fmt::format("data given for action {}, which takes none", action_name(rule.action));
    return false;
  }

  if (std::string_view text = trim(indicator[Field::kCategory]); !text.empty())
    rule.category = rules.intern_category(text);
  if (std::string_view text = trim(indicator[Field::kCampaign]); !text.empty())
    rule.campaign = rules.intern_campaign(text);
  if (std::string_view text = trim(indicator[Field::kConfidence]); !text.empty()) {
    std::optional<std::uint8_t> confidence = parse_confidence(text, error);
    if (!confidence) return false;
    rule.confidence = *confidence;
  }
  if (std::string_view text = trim(indicator[Field::kFirstSeen]); !text.empty()) {
    std::optional<std::int64_t> time = parse_timestamp(text, error);
    if (!time) {
      error = "first_seen: " + error;
      return false;
    }
    rule.first_seen = *time;
  }
  if (std::string_view text = trim(indicator[Field::kExpires]); !text.empty()) {
    std::optional<std::int64_t> time = parse_timestamp(text, error);
    if (!time) {
      error = "expires: " + error;
      return false;
    }
    rule.expires = *time;
  }
  return true;
}

// ---- CSV ----

// Splits one CSV record into fields, reading further lines while a quoted field is open.
// False with `error` on a malformed quote.
bool read_csv_record(std::string_view first_line, LineReader& lines,
                     std::vector<std::string>& fields, std::string& error) {
  fields.clear();
  fields.emplace_back();
  std::string_view line = first_line;
  std::size_t i = 0;
  bool quoted = false;
  bool was_quoted = false;  // the current field had a quoted part: only blanks may follow
  std::size_t octets = 0;
  for (;;) {
    if (i == line.size()) {
      if (!quoted) return true;
      octets += line.size();
      if (octets > kMaxLineOctets || !lines.next(line)) {
        error = "unterminated quoted field";
        return false;
      }
      fields.back() += '\n';
      i = 0;
      continue;
    }
    char c = line[i++];
    if (quoted) {
      if (c != '"') {
        fields.back() += c;
      } else if (i < line.size() && line[i] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == ',') {
      fields.emplace_back();
      was_quoted = false;
    } else if (c == '"' && trim(fields.back()).empty() && !was_quoted) {
      fields.back().clear();
      quoted = true;
      was_quoted = true;
    } else if (was_quoted && !is_blank(c)) {
      error = fmt::format("text after the closing quote of field {}", fields.size());
      return false;
    } else if (!was_quoted) {
      fields.back() += c;
    }
  }
}

// ---- JSON Lines ----

// A strict parser for one flat JSON object: string, number, true, false and null values.
class FlatJsonObject {
 public:
  struct Member {
    std::string name;
    std::string value;  // strings decoded; numbers and literals as written
    bool is_string = false;
    bool is_null = false;
  };

  // False with `error` when `text` is not exactly one flat JSON object.
  bool parse(std::string_view text, std::string& error);
  const std::vector<Member>& members() const { return members_; }

 private:
  bool fail(std::string message) {
    error_ = fmt::format("{} at column {}", message, pos_ + 1);
    return false;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\n'))
      ++pos_;
  }
  bool string(std::string& out);
  bool hex4(unsigned& value);
  bool number(std::string& out);
  bool value(Member& member);

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
  std::vector<Member> members_;
};

bool FlatJsonObject::parse(std::string_view text, std::string& error) {
  text_ = text;
  pos_ = 0;
  members_.clear();
  bool ok = [&] {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '{') return fail("expected '{'");
    ++pos_;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
    } else {
      for (;;) {
        Member member;
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a field name");
        if (!string(member.name)) return false;
        for (const Member& seen : members_)
          if (seen.name == member.name)
            return fail(fmt::format("field \"{}\" given twice", member.name));
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':'");
        ++pos_;
        skip_space();
        if (!value(member)) return false;
        members_.push_back(std::move(member));
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == '}') {
          ++pos_;
          break;
        }
        return fail("expected ',' or '}'");
      }
    }
    skip_space();
    if (pos_ != text_.size()) return fail("text after the object");
    return true;
  }();
  if (!ok) error = error_;
  return ok;
}

bool FlatJsonObject::hex4(unsigned& value) {
  if (pos_ + 4 > text_.size()) return fail("truncated \\u escape");
  value = 0;
  for (int i = 0; i < 4; ++i) {
    char c = text_[pos_++];
    value <<= 4;
    if (c >= '0' && c <= '9')
      value |= static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      value |= static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      value |= static_cast<unsigned>(c - 'A' + 10);
    else
      return fail("bad \\u escape");
  }
  return true;
}

bool FlatJsonObject::string(std::string& out) {
  ++pos_;  // the opening quote
  for (;;) {
    if (pos_ >= text_.size()) return fail("unterminated string");
    char c = text_[pos_++];
    if (c == '"') return true;
    if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos_ >= text_.size()) return fail("unterminated string");
    char escape = text_[pos_++];
    switch (escape) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        unsigned code;
        if (!hex4(code)) return false;
        if (code >= 0xD800 && code <= 0xDBFF) {
          unsigned low;
          if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
            return fail("unpaired surrogate");
          pos_ += 2;
          if (!hex4(low)) return false;
          if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired surrogate");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          return fail("unpaired surrogate");
        }
        if (code < 0x80) {
          out += static_cast<char>(code);
        } else if (code < 0x800) {
          out += static_cast<char>(0xC0 | (code >> 6));
          out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
          out += static_cast<char>(0xE0 | (code >> 12));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
          out += static_cast<char>(0xF0 | (code >> 18));
          out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (code & 0x3F));
        }
        break;
      }
      default:
        return fail(fmt::format("bad escape \\{}", escape));
    }
  }
}

// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool FlatJsonObject::number(std::string& out) {
  std::size_t begin = pos_;
  auto digits = [&] {
    std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ - start;
  };
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (pos_ < text_.size() && text_[pos_] == '0') {
    ++pos_;
  } else if (digits() == 0) {
    return fail("bad number");
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (digits() == 0) return fail("bad number");
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (digits() == 0) return fail("bad number");
  }
  out.assign(text_.substr(begin, pos_ - begin));
  return true;
}

bool FlatJsonObject::value(Member& member) {
  if (pos_ >= text_.size()) return fail("expected a value");
  char c = text_[pos_];
  if (c == '"') {
    member.is_string = true;
    return string(member.value);
  }
  if (c == '{' || c == '[')
    return fail(
        fmt::format("field \"{}\" has a nested value (only strings, numbers, true, false "
                    "and null are supported)",
                    member.name));
  for (std::string_view literal : {"true", "false", "null"}) {
    if (text_.substr(pos_, literal.size()) == literal) {
      pos_ += literal.size();
      member.value.assign(literal);
      member.is_null = literal == "null";
      return true;
    }
  }
  if (c == '-' || (c >= '0' && c <= '9')) return number(member.value);
  return fail("expected a value");
}

// One CSV row or JSON object, as a rule; 1 when added, 0 (and the error reported) if not.
std::size_t add_indicator(const Indicator& indicator, const RuleDraft& rule_template,
                          std::string_view file, std::size_t line_number,
                          const FeedDefaults& defaults, RuleSet& rules, Diagnostics& diagnostics) {
  RuleDraft rule = rule_template;
  rule.line = static_cast<std::uint32_t>(line_number);
  std::string error;
  std::string_view ip = trim(indicator[Field::kIp]);
  bool address = !ip.empty();
  IpPrefix prefix;
  if (address && !trim(indicator[Field::kDomain]).empty()) {
    diagnostics.error(file, line_number, "both a domain and an ip: one indicator per line");
    return 0;
  }
  if (address && !parse_feed_prefix(ip, file, line_number, diagnostics, prefix, error)) {
    diagnostics.error(file, line_number, "ip: " + error);
    return 0;
  }
  if (!indicator_to_rule(indicator, address, rules, rule, error)) {
    diagnostics.error(file, line_number, error);
    return 0;
  }
  if (address) {
    add_rule(prefix, std::move(rule), defaults, rules);
  } else {
    add_rule(std::move(rule), defaults, rules);
  }
  return 1;
}

}  // namespace

std::size_t parse_csv(std::string_view file, std::string_view content, const FeedDefaults& defaults,
                      std::uint16_t source_id, RuleSet& rules, Diagnostics& diagnostics) {
  const RuleDraft rule_template = make_rule_template(defaults, source_id, rules);
  std::size_t added = 0;
  LineReader lines(content);
  std::string_view line;
  std::vector<std::string> fields;
  std::vector<std::optional<Field>> columns;  // field of each column; nullopt: ignored
  std::string error;
  while (lines.next(line)) {
    std::size_t line_number = lines.line_number();
    if (reject_long_line(file, line_number, line, diagnostics)) continue;
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    if (!read_csv_record(line, lines, fields, error)) {
      diagnostics.error(file, line_number, error);
      continue;
    }
    if (columns.empty()) {
      bool has_domain = false;  // or an ip column
      bool ok = true;
      for (std::size_t i = 0; i < fields.size(); ++i) {
        std::optional<Field> field = field_by_name(fields[i]);
        if (!field) {
          diagnostics.warning(
              file, line_number,
              fmt::format("column \"{}\" is not a known field; ignored", fields[i]));
        } else {
          for (const auto& seen : columns)
            if (seen == field) {
              diagnostics.error(file, line_number,
                                fmt::format("column \"{}\" appears twice", fields[i]));
              ok = false;
            }
        }
        has_domain = has_domain || field == Field::kDomain || field == Field::kIp;
        columns.push_back(field);
      }
      if (!has_domain) {
        diagnostics.error(file, line_number,
                          "the header row has no \"domain\" or \"ip\" column (the first line "
                          "that is not blank or a # comment is the header)");
        return added;
      }
      if (!ok) return added;
      continue;
    }
    if (fields.size() != columns.size()) {
      diagnostics.error(
          file, line_number,
          fmt::format("{} fields, but the header names {} columns", fields.size(), columns.size()));
      continue;
    }
    Indicator indicator;
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (columns[i]) indicator[*columns[i]] = fields[i];
    added += add_indicator(indicator, rule_template, file, line_number, defaults, rules,
                           diagnostics);
  }
  return added;
}

std::size_t parse_jsonl(std::string_view file, std::string_view content,
                        const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                        Diagnostics& diagnostics) {
  const RuleDraft rule_template = make_rule_template(defaults, source_id, rules);
  std::size_t added = 0;
  LineReader lines(content);
  std::string_view line;
  FlatJsonObject object;
  std::string error;
  while (lines.next(line)) {
    std::size_t line_number = lines.line_number();
    if (reject_long_line(file, line_number, line, diagnostics)) continue;
    if (trim(line).empty()) continue;
    if (!object.parse(line, error)) {
      diagnostics.error(file, line_number, "invalid JSON object: " + error);
      continue;
    }
    Indicator indicator;
    bool ok = true;
    for (const auto& member : object.members()) {
      std::optional<Field> field = field_by_name(member.name);
      if (!field || member.is_null) continue;
      if (!member.is_string && (member.value == "true" || member.value == "false")) {
        diagnostics.error(
            file, line_number,
            fmt::format("field \"{}\" is a boolean; expected a string or number", member.name));
        ok = false;
        break;
      }
      indicator[*field] = member.value;
    }
    if (!ok) continue;
    added += add_indicator(indicator, rule_template, file, line_number, defaults, rules,
                           diagnostics);
  }
  return added;
}

}  // namespace dnsverdict
