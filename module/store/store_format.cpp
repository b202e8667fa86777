#include "store_format.h"

#include <arpa/inet.h>

#include <cctype>

namespace dnsverdict {
namespace {

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // the formats are little-endian; so are our hosts
  out.append(bytes, sizeof(T));
}

void put_string(std::string& out, std::string_view text) {
  put<std::uint16_t>(out, static_cast<std::uint16_t>(text.size()));
  out.append(text.substr(0, 0xffff));
}

// Bounds-checked reader over a record.
struct Reader {
  std::string_view in;
  bool ok = true;

  template <typename T>
  T get() noexcept {
    T value{};
    if (in.size() < sizeof(T)) {
      ok = false;
      return value;
    }
    std::memcpy(&value, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return value;
  }
  std::string_view get_bytes(std::size_t size) noexcept {
    if (in.size() < size) {
      ok = false;
      return {};
    }
    std::string_view bytes = in.substr(0, size);
    in.remove_prefix(size);
    return bytes;
  }
  std::string_view get_string() noexcept { return get_bytes(get<std::uint16_t>()); }
};

bool valid_action(std::uint8_t value) noexcept {
  return value >= static_cast<std::uint8_t>(Action::kNxdomain) &&
         value <= static_cast<std::uint8_t>(Action::kTcpOnly);
}
bool valid_kind(std::uint8_t value) noexcept {
  return value >= static_cast<std::uint8_t>(RuleKind::kExact) &&
         value <= static_cast<std::uint8_t>(RuleKind::kWildcard);
}

// The fields before the data are put together and appended at once: a compile encodes a
// rule per name, and an append per field was most of its time.
void encode_rule(const Rule& rule, std::string& out) {
  char bytes[30];
  char* at = bytes;
  auto put_field = [&at](auto value) {
    std::memcpy(at, &value, sizeof value);  // little-endian, as put()
    at += sizeof value;
  };
  put_field(static_cast<std::uint8_t>(rule.action));
  put_field(static_cast<std::uint8_t>(rule.kind));
  put_field(rule.confidence);
  put_field(rule.flags);
  put_field(rule.category);
  put_field(rule.source);
  put_field(rule.campaign);
  put_field(rule.first_seen);
  put_field(rule.expires);
  put_field(static_cast<std::uint16_t>(rule.data.size()));  // as put_string()
  out.append(bytes, sizeof bytes);
  out.append(rule.data.substr(0, 0xffff));
}

bool decode_rule(Reader& reader, Rule& rule) noexcept {
  auto action = reader.get<std::uint8_t>();
  auto kind = reader.get<std::uint8_t>();
  rule.confidence = reader.get<std::uint8_t>();
  rule.flags = reader.get<std::uint8_t>();
  rule.category = reader.get<std::uint16_t>();
  rule.source = reader.get<std::uint16_t>();
  rule.campaign = reader.get<std::uint32_t>();
  rule.first_seen = reader.get<std::int64_t>();
  rule.expires = reader.get<std::int64_t>();
  rule.data = reader.get_string();
  if (!reader.ok || !valid_action(action) || !valid_kind(kind)) return false;
  rule.action = static_cast<Action>(action);
  rule.kind = static_cast<RuleKind>(kind);
  return true;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::string_view action_name(Action action) noexcept {
  switch (action) {
    case Action::kNxdomain: return "nxdomain";
    case Action::kNodata: return "nodata";
    case Action::kRefuse: return "refuse";
    case Action::kDrop: return "drop";
    case Action::kSinkhole: return "sinkhole";
    case Action::kRedirect: return "redirect";
    case Action::kLog: return "log";
    case Action::kTag: return "tag";
    case Action::kAllow: return "allow";
    case Action::kTcpOnly: return "tcp-only";
  }
  return "unknown";
}

std::optional<Action> parse_action(std::string_view name) noexcept {
  for (Action action : kAllActions)
    if (equal_ignoring_case(name, action_name(action))) return action;
  if (equal_ignoring_case(name, "block")) return Action::kNxdomain;
  if (equal_ignoring_case(name, "passthru") || equal_ignoring_case(name, "pass"))
    return Action::kAllow;
  return std::nullopt;
}

std::string_view kind_name(RuleKind kind) noexcept {
  switch (kind) {
    case RuleKind::kExact: return "exact";
    case RuleKind::kSubtree: return "subtree";
    case RuleKind::kWildcard: return "wildcard";
  }
  return "unknown";
}

std::optional<RuleKind> parse_kind(std::string_view name) noexcept {
  for (RuleKind kind : kAllKinds)
    if (equal_ignoring_case(name, kind_name(kind))) return kind;
  return std::nullopt;
}

int action_strictness(Action action) noexcept {
  // drop > refuse > nxdomain > nodata > tcp-only > sinkhole > redirect > tag > log > allow.
  switch (action) {
    case Action::kDrop: return 10;
    case Action::kRefuse: return 9;
    case Action::kNxdomain: return 8;
    case Action::kNodata: return 7;
    case Action::kTcpOnly: return 6;
    case Action::kSinkhole: return 5;
    case Action::kRedirect: return 4;
    case Action::kTag: return 3;
    case Action::kLog: return 2;
    case Action::kAllow: return 1;
  }
  return 0;
}

void encode_slots(const RuleSlots& slots, std::string& out) {
  bool shared = slots.self && slots.below && slots.self->kind == RuleKind::kSubtree &&
                slots.below->kind == RuleKind::kSubtree &&
                slots.self->action == slots.below->action &&
                slots.self->confidence == slots.below->confidence &&
                slots.self->flags == slots.below->flags &&
                slots.self->category == slots.below->category &&
                slots.self->source == slots.below->source &&
                slots.self->campaign == slots.below->campaign &&
                slots.self->first_seen == slots.below->first_seen &&
                slots.self->expires == slots.below->expires &&
                slots.self->data == slots.below->data;
  std::uint8_t bits = (slots.self ? kSlotSelf : 0) | (slots.below ? kSlotBelow : 0) |
                      (shared ? kSlotBelowIsSelf : 0);
  put<std::uint8_t>(out, bits);
  if (slots.self) encode_rule(*slots.self, out);
  if (slots.below && !shared) encode_rule(*slots.below, out);
}

bool decode_slots(std::string_view record, RuleSlots& slots) noexcept {
  Reader reader{record};
  auto bits = reader.get<std::uint8_t>();
  if (!reader.ok || bits > 7 || ((bits & kSlotBelowIsSelf) && (bits & 3) != 3)) return false;
  slots.self.reset();
  slots.below.reset();
  if (bits & kSlotSelf) {
    Rule rule;
    if (!decode_rule(reader, rule)) return false;
    slots.self = rule;
  }
  if (bits & kSlotBelow) {
    if (bits & kSlotBelowIsSelf) {
      slots.below = slots.self;
    } else {
      Rule rule;
      if (!decode_rule(reader, rule)) return false;
      slots.below = rule;
    }
  }
  return true;
}

std::string encode_campaign(const CampaignRecord& campaign) {
  std::string out;
  put<std::uint8_t>(out, campaign.default_action
                             ? static_cast<std::uint8_t>(*campaign.default_action)
                             : std::uint8_t{0});
  put_string(out, campaign.name);
  put_string(out, campaign.description);
  put_string(out, campaign.sinkhole);
  return out;
}

bool decode_campaign(std::string_view value, CampaignRecord& campaign) {
  Reader reader{value};
  auto action = reader.get<std::uint8_t>();
  campaign.name = std::string(reader.get_string());
  campaign.description = std::string(reader.get_string());
  campaign.sinkhole = std::string(reader.get_string());
  if (!reader.ok || (action != 0 && !valid_action(action))) return false;
  campaign.default_action =
      action == 0 ? std::nullopt : std::optional<Action>(static_cast<Action>(action));
  return true;
}

std::string encode_source(const SourceRecord& source) {
  std::string out;
  put<std::int64_t>(out, source.time);
  put<std::uint64_t>(out, source.rules);
  put_string(out, source.file);
  put_string(out, source.format);
  put_string(out, source.content_hash);
  put_string(out, source.role);
  put_string(out, source.origin);
  put_string(out, source.version);
  put_string(out, source.status);
  put<std::uint64_t>(out, source.entries);
  put<std::uint64_t>(out, source.previous_entries);
  return out;
}

bool decode_source(std::string_view value, SourceRecord& source) {
  Reader reader{value};
  source.time = reader.get<std::int64_t>();
  source.rules = reader.get<std::uint64_t>();
  source.file = std::string(reader.get_string());
  source.format = std::string(reader.get_string());
  source.content_hash = std::string(reader.get_string());
  source.role = std::string(reader.get_string());
  if (!reader.ok || reader.in.empty()) return reader.ok;  // a store without provenance
  source.origin = std::string(reader.get_string());
  source.version = std::string(reader.get_string());
  source.status = std::string(reader.get_string());
  source.entries = reader.get<std::uint64_t>();
  source.previous_entries = reader.get<std::uint64_t>();
  source.has_provenance = reader.ok;
  return reader.ok;
}

std::string id_key(std::uint32_t id, std::size_t width) {
  std::string key(width, '\0');
  for (std::size_t i = 0; i < width; ++i)
    key[width - 1 - i] = static_cast<char>((id >> (8 * i)) & 0xff);
  return key;
}

std::uint32_t parse_id_key(std::string_view key) noexcept {
  std::uint32_t id = 0;
  for (char c : key) id = (id << 8) | static_cast<std::uint8_t>(c);
  return id;
}

bool encode_address(std::string_view text, std::string& data) {
  std::string copy(text);
  unsigned char bytes[16];
  if (inet_pton(AF_INET, copy.c_str(), bytes) == 1) {
    data.push_back(4);
    data.append(reinterpret_cast<char*>(bytes), 4);
    return true;
  }
  if (inet_pton(AF_INET6, copy.c_str(), bytes) == 1) {
    data.push_back(6);
    data.append(reinterpret_cast<char*>(bytes), 16);
    return true;
  }
  return false;
}

std::string addresses_to_text(std::string_view data, std::string_view separator) {
  std::string text;
  std::size_t i = 0;
  while (i < data.size()) {
    int family = data[i] == 4 ? AF_INET : AF_INET6;
    std::size_t size = family == AF_INET ? 4 : 16;
    if (i + 1 + size > data.size()) break;
    char buffer[INET6_ADDRSTRLEN];
    if (inet_ntop(family, data.data() + i + 1, buffer, sizeof buffer) != nullptr) {
      if (!text.empty()) text.append(separator);
      text += buffer;
    }
    i += 1 + size;
  }
  return text;
}

}  // namespace dnsverdict
