#include "module_config.h"

#include <arpa/inet.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "store_format.h"

namespace dnsverdict {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool parse_unsigned(std::string_view text, std::uint64_t max, std::uint64_t& value) {
  if (text.empty() || text.size() > 19) return false;
  value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value <= max;
}

// "4096", "64k", "512m", "4g", "1t" (powers of 1024, either case) -> bytes, at most `max`.
bool parse_size(std::string_view text, std::uint64_t max, std::uint64_t& bytes) {
  int shift = 0;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: break;
    }
  }
  if (shift != 0) text.remove_suffix(1);
  std::uint64_t number = 0;
  if (!parse_unsigned(text, max >> shift, number)) return false;
  bytes = number << shift;
  return bytes <= max;
}

// "1", "1s", "0.5s", "500ms" -> milliseconds. Plain decimals only (no sign, exponent, inf or
// nan); false when the value does not fit in milliseconds.
bool parse_duration(std::string_view text, std::chrono::milliseconds& duration) {
  double scale = 1000.0;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    scale = 1.0;
    text.remove_suffix(2);
  } else if (text.size() > 1 && text.back() == 's') {
    text.remove_suffix(1);
  }
  std::size_t digits = 0, points = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.') {
      ++points;
    } else {
      return false;
    }
  }
  if (digits == 0 || points > 1) return false;
  std::string number(text);
  errno = 0;
  double milliseconds = std::strtod(number.c_str(), nullptr) * scale + 0.5;
  // Converting a double outside the target's range is undefined: check before the cast.
  // 2^63 is exact as a double; everything below it fits.
  if (errno != 0 || !(milliseconds < 9223372036854775808.0)) return false;
  duration = std::chrono::milliseconds(static_cast<std::int64_t>(milliseconds));
  return true;
}

bool parse_switch(std::string_view text, bool& value) {
  if (text == "yes" || text == "on" || text == "true") {
    value = true;
    return true;
  }
  if (text == "no" || text == "off" || text == "false") {
    value = false;
    return true;
  }
  return false;
}

[[noreturn]] void fail(std::string_view file, std::size_t line, std::string_view key,
                       std::string_view reason) {
  std::ostringstream message;
  message << file << ':' << line << ": " << key << ": " << reason;
  throw ConfigError(message.str());
}

// The default sinkhole data, from the two address settings.
void encode_default_sinkhole(ModuleConfig& config) {
  config.default_sinkhole.clear();
  if (!config.sinkhole_ipv4.empty()) encode_address(config.sinkhole_ipv4, config.default_sinkhole);
  if (!config.sinkhole_ipv6.empty()) encode_address(config.sinkhole_ipv6, config.default_sinkhole);
}

}  // namespace

std::optional<Network> Network::parse(std::string_view text, std::string& error) {
  Network network;
  std::string_view address_text = text;
  std::optional<std::uint64_t> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    std::uint64_t value = 0;
    if (!parse_unsigned(text.substr(slash + 1), 128, value)) {
      error = "bad prefix length in \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    prefix = value;
  }
  std::string address(address_text);
  if (inet_pton(AF_INET, address.c_str(), network.address) == 1) {
    network.family = AF_INET;
  } else if (inet_pton(AF_INET6, address.c_str(), network.address) == 1) {
    network.family = AF_INET6;
  } else {
    error = "not an IPv4 or IPv6 network: \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  unsigned max_prefix = network.family == AF_INET ? 32 : 128;
  if (prefix && *prefix > max_prefix) {
    error = "prefix length " + std::to_string(*prefix) + " longer than " +
            std::to_string(max_prefix) + " in \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  network.prefix_length = static_cast<std::uint8_t>(prefix ? *prefix : max_prefix);
  // Clear the host bits so that contains() compares whole octets and one mask.
  unsigned bits = network.prefix_length;
  for (unsigned i = 0; i < max_prefix / 8; ++i) {
    if (bits >= 8) {
      bits -= 8;
    } else {
      network.address[i] &= static_cast<std::uint8_t>(0xff00u >> bits);
      bits = 0;
    }
  }
  return network;
}

bool Network::contains(int client_family, const std::uint8_t* client) const noexcept {
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (client_family == AF_INET6 && family == AF_INET &&
      std::memcmp(client, kMappedPrefix, sizeof kMappedPrefix) == 0) {
    client += 12;  // ::ffff:a.b.c.d matches IPv4 networks
    client_family = AF_INET;
  }
  if (client_family != family) return false;
  unsigned whole = prefix_length / 8;
  if (std::memcmp(client, address, whole) != 0) return false;
  unsigned rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (client[whole] & mask) == address[whole];
}

std::string Network::to_text() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, address, buffer, sizeof buffer);
  return std::string(buffer) + "/" + std::to_string(prefix_length);
}

bool ModuleConfig::is_exempt(int family, const std::uint8_t* address) const noexcept {
  for (const Network& network : exempt) {
    if (network.contains(family, address)) return true;
  }
  return false;
}

namespace {

bool same_text_any_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Words separated by spaces or commas.
std::vector<std::string> words_of(std::string_view value) {
  std::string list(value);
  for (char& c : list) {
    if (c == ',') c = ' ';
  }
  std::istringstream stream(list);
  std::vector<std::string> words;
  std::string word;
  while (stream >> word) words.push_back(word);
  return words;
}

bool valid_group_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

bool ClientGroup::applies(std::string_view category, std::string_view campaign) const noexcept {
  if (categories.empty() && campaigns.empty()) return true;
  for (const std::string& listed : categories) {
    if (!category.empty() && same_text_any_case(listed, category)) return true;
  }
  for (const std::string& listed : campaigns) {
    if (!campaign.empty() && same_text_any_case(listed, campaign)) return true;
  }
  return false;
}

const ClientGroup& ModuleConfig::group_for(int family, const std::uint8_t* address) const noexcept {
  const ClientGroup* best = &default_group;
  int best_length = -1;
  if (family == 0) return *best;
  for (const ClientGroup& group : groups) {
    for (const Network& network : group.networks) {
      // An IPv4 network matching an IPv4-mapped client counts as that many bits of IPv6.
      int length = network.prefix_length + (network.family == AF_INET && family == AF_INET6 ? 96 : 0);
      if (length > best_length && network.contains(family, address)) {
        best = &group;
        best_length = length;
      }
    }
  }
  return *best;
}

ModuleConfig parse_config(std::string_view text, std::string_view file) {
  ModuleConfig config;
  config.default_group.name = "default";
  std::size_t line_number = 0;
  std::size_t tag_line = 0;
  std::size_t block_line = 0;
  std::size_t stats_store_line = 0;
  std::size_t prometheus_line = 0;
  std::size_t stats_key_line = 0;
  while (!text.empty()) {
    ++line_number;
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    std::size_t colon = line.find_first_of(":#");
    if (colon == std::string_view::npos || line[colon] == '#') {
      line = trim(line.substr(0, colon));
      if (line.empty()) continue;
      fail(file, line_number, line, "expected \"key: value\"");
    }
    std::string_view key = trim(line.substr(0, colon));
    auto bad = [&](std::string_view reason) { fail(file, line_number, key, reason); };
    // As in unbound.conf, `#` starts a comment outside quotes; a quoted value is taken whole.
    std::string_view value = trim(line.substr(colon + 1));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      std::size_t close = value.find(value.front(), 1);
      if (close == std::string_view::npos) bad("unterminated quote");
      std::string_view rest = trim(value.substr(close + 1));
      if (!rest.empty() && rest.front() != '#') bad("unexpected text after the closing quote");
      value = value.substr(1, close - 1);
    } else {
      value = trim(value.substr(0, value.find('#')));
      if (value.empty() && (key == "server" || key == "dnsverdict")) continue;  // section header
    }
    std::uint64_t number = 0;

    if (key == "store") {
      if (value.empty()) bad("needs a path");
      config.store_path = std::string(value);
    } else if (key == "fail-mode") {
      if (value == "open") {
        config.fail_mode = FailMode::kOpen;
      } else if (value == "closed") {
        config.fail_mode = FailMode::kClosed;
      } else {
        bad("expected open or closed, got \"" + std::string(value) + "\"");
      }
    } else if (key == "sinkhole-ipv4" || key == "sinkhole-ipv6") {
      bool v4 = key == "sinkhole-ipv4";
      std::uint8_t scratch[16];
      std::string address(value);
      if (!address.empty() && inet_pton(v4 ? AF_INET : AF_INET6, address.c_str(), scratch) != 1) {
        bad(std::string("not an ") + (v4 ? "IPv4" : "IPv6") + " address: \"" + address + "\"");
      }
      (v4 ? config.sinkhole_ipv4 : config.sinkhole_ipv6) = address;
    } else if (key == "answer-ttl") {
      if (!parse_unsigned(value, 604800, number)) bad("expected 0 to 604800 seconds");
      config.answer_ttl = static_cast<std::uint32_t>(number);
    } else if (key == "hit-log") {
      config.hit_log_path = std::string(value);
    } else if (key == "hit-log-capacity") {
      if (!parse_unsigned(value, 16u << 20, number) || number == 0) {
        bad("expected 1 to 16777216 lines");
      }
      config.hit_log_capacity = number;
    } else if (key == "hit-log-rate-limit") {
      if (!parse_unsigned(value, 1000000, number)) bad("expected 0 (no limit) to 1000000 lines");
      config.hit_log_rate_limit = static_cast<std::uint32_t>(number);
    } else if (key == "hit-log-rate-interval") {
      std::chrono::milliseconds interval{};
      if (!parse_duration(value, interval)) bad("expected a duration such as 60s");
      if (interval.count() % 1000 != 0 || interval < std::chrono::seconds(1) ||
          interval > std::chrono::hours(1)) {
        bad("expected whole seconds from 1s to 3600s");
      }
      config.hit_log_rate_interval = std::chrono::duration_cast<std::chrono::seconds>(interval);
    } else if (key == "hit-log-max-lines-per-second") {
      if (!parse_unsigned(value, 10000000, number)) bad("expected 0 (no cap) to 10000000 lines");
      config.hit_log_max_lines_per_second = static_cast<std::uint32_t>(number);
    } else if (key == "exempt") {
      // A list separated by spaces or commas; the key may repeat.
      std::string list(value);
      for (char& c : list) {
        if (c == ',') c = ' ';
      }
      std::istringstream words(list);
      std::string word;
      bool any = false;
      while (words >> word) {
        std::string error;
        auto network = Network::parse(word, error);
        if (!network) bad(error);
        config.exempt.push_back(*network);
        any = true;
      }
      if (!any) bad("needs at least one network");
    } else if (key == "client-group") {
      // NAME NETWORK...; the key may repeat to add networks to a group.
      std::vector<std::string> words = words_of(value);
      if (words.size() < 2) bad("expected a group name and at least one network");
      if (!valid_group_name(words[0])) {
        bad("group name \"" + words[0] + "\": expected up to 32 letters, digits, - or _");
      }
      if (words[0] == "default") bad("\"default\" is every client in no group: it has no networks");
      ClientGroup* group = nullptr;
      for (ClientGroup& existing : config.groups) {
        if (existing.name == words[0]) group = &existing;
      }
      if (group == nullptr) {
        config.groups.emplace_back();
        group = &config.groups.back();
        group->name = words[0];
      }
      for (std::size_t i = 1; i < words.size(); ++i) {
        std::string error;
        auto network = Network::parse(words[i], error);
        if (!network) bad(error);
        group->networks.push_back(*network);
      }
    } else if (key == "group-mode" || key == "group-categories" || key == "group-campaigns" ||
               key == "group-confidence") {
      // GROUP VALUE...: the group must be defined above ("default" always is).
      std::vector<std::string> words = words_of(value);
      if (words.size() < 2) bad("expected a group name and a value");
      ClientGroup* group = words[0] == "default" ? &config.default_group : nullptr;
      for (ClientGroup& existing : config.groups) {
        if (existing.name == words[0]) group = &existing;
      }
      if (group == nullptr) bad("no client-group \"" + words[0] + "\" above");
      if (key == "group-mode") {
        if (words.size() != 2) bad("expected a group name and enforce or monitor");
        if (words[1] == "enforce") {
          group->mode = GroupMode::kEnforce;
        } else if (words[1] == "monitor") {
          group->mode = GroupMode::kMonitor;
        } else {
          bad("expected enforce or monitor, got \"" + words[1] + "\"");
        }
      } else if (key == "group-confidence") {
        std::uint64_t tag = 0, block = 0;
        if (words.size() != 3 || !parse_unsigned(words[1], 101, tag) ||
            !parse_unsigned(words[2], 101, block)) {
          bad("expected a group name, then the tag and block thresholds (0 to 101)");
        }
        if (tag > block) bad("the tag threshold must not be above the block threshold");
        group->confidence_tag = static_cast<std::uint8_t>(tag);
        group->confidence_block = static_cast<std::uint8_t>(block);
      } else {
        auto& list = key == "group-categories" ? group->categories : group->campaigns;
        list.assign(words.begin() + 1, words.end());
      }
    } else if (key == "confidence-tag" || key == "confidence-block") {
      if (!parse_unsigned(value, 101, number)) bad("expected 0 to 101");
      auto threshold = static_cast<std::uint8_t>(number);
      if (key == "confidence-tag") {
        config.confidence_tag = threshold;
        tag_line = line_number;
      } else {
        config.confidence_block = threshold;
        block_line = line_number;
      }
    } else if (key == "check-interval") {
      std::chrono::milliseconds interval{};
      if (!parse_duration(value, interval)) bad("expected a duration such as 1s or 250ms");
      if (interval < std::chrono::milliseconds(10) || interval > std::chrono::hours(1)) {
        bad("expected 10ms to 3600s");
      }
      config.check_interval = interval;
    } else if (key == "ede-code") {
      if (value == "blocked" || value == "15") {
        config.ede = EdeChoice::kBlocked;
      } else if (value == "filtered" || value == "17") {
        config.ede = EdeChoice::kFiltered;
      } else if (value == "none") {
        config.ede = EdeChoice::kNone;
      } else {
        bad("expected blocked (15), filtered (17) or none");
      }
    } else if (key == "ede") {  // shorthand switch
      bool on = true;
      if (!parse_switch(value, on)) bad("expected yes or no");
      config.ede = on ? EdeChoice::kBlocked : EdeChoice::kNone;
    } else if (key == "stats-store") {
      config.stats_store_path = std::string(value);
      stats_store_line = line_number;
    } else if (key == "stats-flush-interval") {
      if (!parse_unsigned(value, 3600, number) || number == 0) bad("expected 1 to 3600 seconds");
      config.stats_flush_interval = std::chrono::seconds(number);
    } else if (key == "stats-retention-days") {
      if (!parse_unsigned(value, 36500, number)) bad("expected 0 (keep all) to 36500 days");
      config.stats_retention_days = static_cast<std::uint32_t>(number);
    } else if (key == "stats-resolver-name") {
      // Stored with every bucket and shown by `dnsverdict stats`: one printable word.
      if (value.size() > 255) bad("longer than 255 characters");
      for (char c : value) {
        if (!std::isgraph(static_cast<unsigned char>(c))) {
          bad("expected printable characters without spaces");
        }
      }
      config.stats_resolver_name = std::string(value);
    } else if (key == "prometheus-file") {
      config.prometheus_file = std::string(value);
      prometheus_line = line_number;
    } else if (key == "stats-map-size") {
      if (!parse_size(value, std::uint64_t{1} << 40, number) || number < (1u << 20)) {
        bad("expected a size from 1m to 1t (such as 512m or 4g)");
      }
      config.stats_map_size = number;
    } else if (key == "stats-memory-budget") {
      if (!parse_size(value, std::uint64_t{64} << 30, number) || number < (1u << 20)) {
        bad("expected a size from 1m to 64g (such as 128m)");
      }
      config.stats_memory_budget = number;
    } else if (key == "stats-hash-key-file") {
      if (value.empty()) bad("needs a path (leave the key out for the default beside the store)");
      config.stats_hash_key_file = std::string(value);
      stats_key_line = line_number;
    } else if (key == "stats-max-rules") {
      if (!parse_unsigned(value, 10000000, number) || number == 0) {
        bad("expected 1 to 10000000 rules");
      }
      config.stats_max_rules = number;
    } else {
      bad("unknown key");
    }
  }
  if (!config.stats_store_path.empty() && config.stats_store_path == config.store_path) {
    fail(file, stats_store_line, "stats-store", "must not be the verdict store");
  }
  // The textfile is written from the stats store: without one it would silently never appear.
  if (!config.prometheus_file.empty() && config.stats_store_path.empty()) {
    fail(file, prometheus_line, "prometheus-file", "needs stats-store (it is written from it)");
  }
  if (!config.stats_hash_key_file.empty() && config.stats_store_path.empty()) {
    fail(file, stats_key_line, "stats-hash-key-file", "needs stats-store (the key is for its hashes)");
  }
  // The conflict is reported at whichever threshold was set last (one of them was: the
  // defaults agree).
  if (config.confidence_tag > config.confidence_block) {
    if (tag_line > block_line) {
      fail(file, tag_line, "confidence-tag",
           "must not be above confidence-block (" + std::to_string(config.confidence_block) + ")");
    }
    fail(file, block_line, "confidence-block",
         "must not be below confidence-tag (" + std::to_string(config.confidence_tag) + ")");
  }
  encode_default_sinkhole(config);
  return config;
}

ModuleConfig load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return parse_config(content.str(), path);
}

std::string config_path_from_environment() {
  const char* path = std::getenv(kConfigPathVariable);
  return path != nullptr && path[0] != '\0' ? std::string(path) : std::string(kDefaultConfigPath);
}

}  // namespace dnsverdict
