// Response Policy Zones (draft-vixie-dnsop-dns-rpz) in master-file format.
//
// Zone-file syntax accepted: $ORIGIN, $TTL (value ignored), "@", relative and absolute
// owners, a blank owner (continues the previous owner), optional TTL and class (IN) in either
// order, ";" comments, "( ... )" across lines, quoted strings. $INCLUDE and $GENERATE are
// reported as unsupported. SOA and NS records are zone housekeeping and ignored.
//
// The origin is the last $ORIGIN, else the SOA owner; a rule's name is its owner relative to
// the origin ("bad.com.rpz.example." in zone rpz.example -> bad.com). Absolute owners outside
// the origin are errors. With no origin at all, owners are taken as the names themselves.
//
// QNAME triggers ("name" -> exact rule, "*.name" -> wildcard rule):
//   CNAME .                nxdomain
//   CNAME *.               nodata
//   CNAME rpz-passthru.    allow (also CNAME to the owner's own name, the legacy form)
//   CNAME rpz-drop.        drop
//   CNAME rpz-tcp-only.    tcp-only
//   CNAME other.name.      redirect to other.name (a relative target is relative to the origin)
//   A / AAAA               sinkhole; adjacent A/AAAA records of one owner form one rule
// IP triggers ("32.28.164.100.47.rpz-ip", "48.zz.1.db8.2001.rpz-ip": the prefix length, then
// the address reversed; ip_prefix.h) take the same policies and become address rules. Host
// bits past the prefix length are cleared with a warning.
// Everything the store cannot hold yet is counted through RuleSet::count_skipped and thus
// reported in the compile summary and the store's "skipped.*" metadata:
//   owners ending in rpz-client-ip, rpz-nsdname or rpz-nsip          -> that label
//   CNAME *.target (rewrite that prepends the query name)            -> "rpz cname *.target"
//   other local-data types for a QNAME trigger (TXT, MX, ...)       -> "local-data TXT", ...
// Local data of other types is skipped rather than rejected: a resolver that honours the zone
// still applies the A/AAAA/CNAME policy we keep, so the zone as a whole stays usable.
#include <fmt/format.h>

#include <optional>
#include <vector>

#include "address_trigger.h"
#include "dns_name.h"
#include "feed.h"
#include "feed_fields.h"

namespace dnsverdict {
namespace {

constexpr std::string_view kIpTrigger = kRpzIpLabel;
constexpr std::string_view kNsdnameTrigger = kRpzNsdnameLabel;
constexpr std::string_view kNsipTrigger = kRpzNsipLabel;
constexpr std::string_view kTriggerLabels[] = {kIpTrigger, "rpz-client-ip", kNsdnameTrigger,
                                               kNsipTrigger};

bool is_ttl(std::string_view token) noexcept {
  if (token.empty() || token[0] < '0' || token[0] > '9') return false;
  for (char c : token)
    if (!((c >= '0' && c <= '9') ||
          std::string_view("smhdwSMHDW").find(c) != std::string_view::npos))
      return false;
  return true;
}

bool is_class(std::string_view token) noexcept {
  return equal_ignoring_case(token, "IN") || equal_ignoring_case(token, "CH") ||
         equal_ignoring_case(token, "HS") || equal_ignoring_case(token, "CS");
}

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - ('a' - 'A'));
  return result;
}

// The first label of a key (the rightmost label of the name).
std::string_view top_label(std::string_view key) noexcept {
  if (key.empty()) return {};
  return key.substr(1, static_cast<std::uint8_t>(key[0]));
}

// An owner resolved against the origin.
struct Owner {
  std::string key;           // relative to the origin; empty: the apex
  std::string_view trigger;  // non-empty: an rpz-ip/nsdname/... trigger label
  IpPrefix prefix;           // of an rpz-ip trigger
  RuleKind kind = RuleKind::kExact;
  bool valid = false;
};

class RpzParser {
 public:
  RpzParser(std::string_view file, const FeedDefaults& defaults, std::uint16_t source_id,
            RuleSet& rules, Diagnostics& diagnostics)
      : file_(file),
        defaults_(defaults),
        rules_(rules),
        diagnostics_(diagnostics),
        rule_template_(make_rule_template(defaults, source_id, rules)) {}

  std::size_t parse(std::string_view content);

 private:
  bool read_record(LineReader& lines, std::string_view& record, bool& blank_owner);
  void tokenize(std::string_view record);
  void directive();
  void record(bool blank_owner);
  bool resolve_owner(std::string_view text, Owner& owner);
  bool set_origin(std::string_view text);
  void policy_record(std::string_view type, const std::vector<std::string_view>& rdata);
  void start_rule(Action action, std::string data);
  void flush();
  void error(std::string_view reason) { diagnostics_.error(file_, line_, reason); }

  std::string_view file_;
  const FeedDefaults& defaults_;
  RuleSet& rules_;
  Diagnostics& diagnostics_;
  const RuleDraft rule_template_;

  std::size_t line_ = 0;                  // first line of the current record
  std::string joined_;                    // a record spread over several lines
  std::vector<std::string_view> tokens_;  // of the current record
  std::vector<std::string_view> rdata_;

  bool have_origin_ = false;
  std::string origin_text_;  // absolute, for messages and relative CNAME targets
  std::string origin_key_;

  std::string owner_text_;  // the last owner written out, for blank owners
  Owner owner_;             // owner_text_ resolved
  bool owner_resolved_ = false;

  // The rule of the current owner, until it changes. (Not a std::optional: GCC 12 warns
  // falsely that its strings may be used uninitialized.)
  RuleDraft pending_;
  std::optional<IpPrefix> pending_prefix_;  // set: pending_ is an address rule (rpz-ip)
  bool has_pending_ = false;
  std::size_t added_ = 0;
};

std::size_t RpzParser::parse(std::string_view content) {
  LineReader lines(content);
  std::string_view record_text;
  bool blank_owner = false;
  while (read_record(lines, record_text, blank_owner)) {
    tokenize(record_text);
    if (tokens_.empty()) continue;
    if (!blank_owner && tokens_[0][0] == '$') {
      directive();
    } else {
      record(blank_owner);
    }
  }
  flush();
  return added_;
}

// The next record without comments, its parenthesized continuation lines joined. Returns
// false at the end of the content.
bool RpzParser::read_record(LineReader& lines, std::string_view& record, bool& blank_owner) {
  std::string_view line;
  while (lines.next(line)) {
    line_ = lines.line_number();
    if (reject_long_line(file_, line_, line, diagnostics_)) continue;
    blank_owner = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    joined_.clear();
    int depth = 0;
    bool continued = false;
    for (;;) {
      bool quoted = false;
      std::size_t end = line.size();
      for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          quoted = !quoted;
        } else if (!quoted && c == ';') {
          end = i;
          break;
        } else if (!quoted && c == '(') {
          ++depth;
        } else if (!quoted && c == ')') {
          --depth;
        }
      }
      line = line.substr(0, end);
      if (depth < 0) {
        error("unbalanced ')'");
        depth = 0;
        line = {};
        break;
      }
      if (depth == 0 && !continued) break;
      joined_ += line;
      joined_ += ' ';
      if (depth == 0) break;
      continued = true;
      if (joined_.size() > kMaxLineOctets) {
        error(fmt::format("record continues past {} octets; unbalanced '('?", kMaxLineOctets));
        record = {};
        return true;  // what remains is parsed as ordinary lines
      }
      if (!lines.next(line)) {
        error("unbalanced '(': the file ends inside the record");
        return false;
      }
    }
    record = continued ? std::string_view(joined_) : line;
    return true;
  }
  return false;
}

void RpzParser::tokenize(std::string_view record) {
  tokens_.clear();
  std::size_t i = 0;
  while (i < record.size()) {
    char c = record[i];
    if (is_blank(c) || c == '(' || c == ')') {
      ++i;
      continue;
    }
    std::size_t begin = i;
    if (c == '"') {
      for (++i; i < record.size() && record[i] != '"'; ++i)
        if (record[i] == '\\') ++i;
      i = std::min(i + 1, record.size());
    } else {
      for (; i < record.size() && !is_blank(record[i]) && record[i] != '(' && record[i] != ')'; ++i)
        if (record[i] == '\\') ++i;
      i = std::min(i, record.size());
    }
    tokens_.push_back(record.substr(begin, i - begin));
  }
}

void RpzParser::directive() {
  std::string_view name = tokens_[0];
  if (equal_ignoring_case(name, "$ORIGIN")) {
    if (tokens_.size() != 2) return error("$ORIGIN needs exactly one name");
    flush();
    set_origin(tokens_[1]);
  } else if (equal_ignoring_case(name, "$TTL")) {
    if (tokens_.size() != 2 || !is_ttl(tokens_[1])) error("$TTL needs one TTL value");
  } else if (equal_ignoring_case(name, "$INCLUDE") || equal_ignoring_case(name, "$GENERATE")) {
    error(
        fmt::format("{} is not supported: give every zone file to the compiler as a feed of "
                    "its own",
                    upper(name)));
  } else {
    error(fmt::format("unknown directive {}", name));
  }
}

bool RpzParser::set_origin(std::string_view text) {
  std::string absolute(text);
  if (!absolute.empty() && absolute.back() != '.' && have_origin_) {
    absolute += '.';
    absolute += origin_text_;
  }
  std::string key, reason;
  if (absolute != "." && !feed_name_to_key(absolute, key, reason)) {
    error(fmt::format("origin \"{}\": {}", text, reason));
    return false;
  }
  have_origin_ = true;
  origin_key_ = std::move(key);
  origin_text_ = key_to_text(origin_key_);
  if (origin_text_ != ".") origin_text_ += '.';
  owner_resolved_ = false;
  return true;
}

bool RpzParser::resolve_owner(std::string_view text, Owner& owner) {
  owner = Owner{};
  if (text == "@") {
    if (!have_origin_) {
      error("\"@\" used before $ORIGIN or an SOA record");
      return false;
    }
    owner.valid = true;  // the apex: empty relative key
    return true;
  }
  if (text == "*") {
    owner.kind = RuleKind::kWildcard;
    owner.valid = true;
    return true;
  }
  std::string_view name = text;
  if (strip_wildcard(name)) owner.kind = RuleKind::kWildcard;
  bool absolute = !name.empty() && name.back() == '.';
  std::string reason;
  if (!feed_name_to_key(name, owner.key, reason)) {
    error(fmt::format("owner \"{}\": {}", text, reason));
    return false;
  }
  if (absolute && have_origin_) {
    if (owner.key.compare(0, origin_key_.size(), origin_key_) != 0) {
      error(fmt::format("owner \"{}\" is outside the zone origin {}", text, origin_text_));
      return false;
    }
    owner.key.erase(0, origin_key_.size());
  }
  std::string_view top = top_label(owner.key);
  for (std::string_view trigger : kTriggerLabels)
    if (equal_ignoring_case(top, trigger)) owner.trigger = trigger;
  if (owner.trigger == kIpTrigger || owner.trigger == kNsipTrigger) {
    if (owner.kind == RuleKind::kWildcard) {
      error(fmt::format("owner \"{}\": an {} trigger cannot be a wildcard", text, owner.trigger));
      return false;
    }
    std::string labels = key_to_text(owner.key.substr(1 + top.size()));
    if (!labels.empty() && labels.back() == '.') labels.pop_back();
    if (!parse_rpz_ip_labels(labels, owner.prefix, reason)) {
      error(fmt::format("owner \"{}\": {}", text, reason));
      return false;
    }
    IpPrefix written = owner.prefix;
    if (mask_host_bits(owner.prefix))
      diagnostics_.warning(file_, line_,
                           fmt::format("owner \"{}\": {} has host bits set: read as {}", text,
                                       format_ip_prefix(written), format_ip_prefix(owner.prefix)));
    if (owner.trigger == kNsipTrigger) {
      // Kept as a name rule under its owner name, written the one way the module builds it
      // from a name server's address (address_trigger.h).
      NameKey canonical;
      if (!address_rule_key(owner.prefix.bytes.data(), owner.prefix.address_size(),
                            owner.prefix.length, canonical, kRpzNsipLabel)) {
        error(fmt::format("owner \"{}\": not an address prefix", text));
        return false;
      }
      owner.key.assign(canonical.view());
    }
  }
  owner.valid = true;
  return true;
}

void RpzParser::record(bool blank_owner) {
  std::size_t next = 0;
  if (!blank_owner) {
    std::string_view text = tokens_[next++];
    if (!owner_resolved_ || text != owner_text_) {
      flush();
      owner_text_.assign(text);
      owner_resolved_ = true;
      resolve_owner(text, owner_);
    }
  } else if (!owner_resolved_) {
    return error("record without an owner (the first record starts with a blank)");
  }
  // Optional TTL and class, in either order.
  for (int i = 0; i < 2 && next < tokens_.size(); ++i) {
    if (is_ttl(tokens_[next])) {
      ++next;
    } else if (is_class(tokens_[next])) {
      if (!equal_ignoring_case(tokens_[next], "IN"))
        return error(fmt::format("class {} is not IN", tokens_[next]));
      ++next;
    }
  }
  if (next >= tokens_.size())
    return error(fmt::format("record for \"{}\" has no type", owner_text_));
  std::string_view type = tokens_[next++];
  if (equal_ignoring_case(type, "SOA")) {
    // The SOA owner is the origin when no $ORIGIN named one.
    if (!have_origin_ && !blank_owner && owner_text_ != "@") {
      std::string absolute = owner_text_;
      if (absolute.back() != '.') absolute += '.';
      if (set_origin(absolute)) {
        resolve_owner(owner_text_, owner_);
        owner_resolved_ = true;
      }
    }
    return;
  }
  if (equal_ignoring_case(type, "NS")) return;
  if (!owner_.valid) return;  // already reported
  if (!owner_.trigger.empty() && owner_.trigger != kIpTrigger &&
      owner_.trigger != kNsdnameTrigger && owner_.trigger != kNsipTrigger) {
    rules_.count_skipped(owner_.trigger);
    return;
  }
  if (owner_.key.empty())
    return error(fmt::format(
        "{} record at the zone apex{}: a policy needs a name below the origin", upper(type),
        owner_.kind == RuleKind::kWildcard ? " (\"*\" would match every name)" : ""));
  rdata_.assign(tokens_.begin() + static_cast<std::ptrdiff_t>(next), tokens_.end());
  policy_record(type, rdata_);
}

void RpzParser::policy_record(std::string_view type, const std::vector<std::string_view>& rdata) {
  bool is_a = equal_ignoring_case(type, "A");
  bool is_aaaa = equal_ignoring_case(type, "AAAA");
  bool is_cname = equal_ignoring_case(type, "CNAME");
  if (!is_a && !is_aaaa && !is_cname) {
    rules_.count_skipped("local-data " + upper(type));
    return;
  }
  if (rdata.size() != 1)
    return error(
        fmt::format("{} record needs exactly one value, found {}", upper(type), rdata.size()));
  std::string_view value = rdata[0];
  bool same_owner = has_pending_ && pending_.key == owner_.key && pending_.kind == owner_.kind;

  if (is_a || is_aaaa) {
    std::string address;
    if (!encode_address(value, address) || address[0] != (is_a ? 4 : 6))
      return error(fmt::format("\"{}\" is not an {} address", value, is_a ? "IPv4" : "IPv6"));
    if (same_owner) {
      if (pending_.action != Action::kSinkhole)
        return error(fmt::format("\"{}\" has both a CNAME and address records", owner_text_));
      pending_.data += address;
      return;
    }
    return start_rule(Action::kSinkhole, std::move(address));
  }

  if (same_owner)
    return error(fmt::format("\"{}\" has a CNAME besides other policy records", owner_text_));
  if (value == ".") return start_rule(Action::kNxdomain, {});
  if (value == "*.") return start_rule(Action::kNodata, {});
  if (equal_ignoring_case(value, "rpz-passthru.")) return start_rule(Action::kAllow, {});
  if (equal_ignoring_case(value, "rpz-drop.")) return start_rule(Action::kDrop, {});
  if (equal_ignoring_case(value, "rpz-tcp-only.")) return start_rule(Action::kTcpOnly, {});
  if (starts_with(value, "*.")) {
    rules_.count_skipped("rpz cname *.target");
    return;
  }
  std::string target(value);
  if (target.back() != '.' && have_origin_ && origin_text_ != ".") target += '.' + origin_text_;
  std::string target_key, reason;
  if (!feed_name_to_key(target, target_key, reason))
    return error(fmt::format("CNAME target \"{}\": {}", value, reason));
  if (target_key == owner_.key && owner_.kind == RuleKind::kExact)
    return start_rule(Action::kAllow, {});  // CNAME to itself: the old passthru form
  start_rule(Action::kRedirect, key_to_wire(target_key));
}

void RpzParser::start_rule(Action action, std::string data) {
  flush();
  pending_ = rule_template_;
  pending_.key = owner_.key;
  pending_.kind = owner_.kind;
  pending_.action = action;
  pending_.data = std::move(data);
  pending_.line = static_cast<std::uint32_t>(line_);
  has_pending_ = true;
  pending_prefix_ = owner_.trigger == kIpTrigger ? std::optional<IpPrefix>(owner_.prefix)
                                                 : std::nullopt;
}

void RpzParser::flush() {
  if (!has_pending_) return;
  if (pending_prefix_) {
    add_rule(*pending_prefix_, std::move(pending_), defaults_, rules_);
  } else {
    add_rule(std::move(pending_), defaults_, rules_);
  }
  pending_ = RuleDraft();
  has_pending_ = false;
  ++added_;
}

}  // namespace

std::size_t parse_rpz(std::string_view file, std::string_view content, const FeedDefaults& defaults,
                      std::uint16_t source_id, RuleSet& rules, Diagnostics& diagnostics) {
  return RpzParser(file, defaults, source_id, rules, diagnostics).parse(content);
}

}  // namespace dnsverdict
