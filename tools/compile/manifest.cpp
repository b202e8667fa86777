// The feeds manifest: which feeds to compile, with their defaults, and the campaigns they
// refer to. docs/feeds.md describes the same format for users.
//
// An INI-like text file. "#" or ";" at the start of a line begins a comment; blank lines are
// ignored; every other line is a section header or a "key = value" line in a section.
//
//   [feed PATH]          a feed; PATH relative to the manifest's folder ("-": stdin)
//   format = auto        rpz, hosts, domains, adblock, csv, jsonl (default: auto-detect)
//   action = nxdomain    default action of list entries (not redirect: that needs a target)
//   category = NAME      category of every rule without one of its own
//   campaign = NAME      campaign of every rule without one of its own
//   confidence = 0-100   default 100
//   role = block         block, or allow: every entry is an allowlist entry
//   kind = subtree       what a bare name in a list means: exact, subtree or wildcard
//   expires = DATE       unix seconds, 2024-01-02 or 2024-01-02T03:04:05Z
//   min-ratio = 0.5      the per-feed safety valve (0 disables)
//
//   [feed NAME]          a fetched feed: NAME only names it
//   url = https://...    fetched over HTTPS (or HTTP)
//   ca-file = PATH       trust these CAs for url instead of the system's
//   primary = ADDR@PORT  transferred (IXFR, else AXFR) from this primary ...
//   zone = NAME          ... this zone (default: NAME of the section)
//   tsig = KEY:ALG:FILE  signed with TSIG key KEY, algorithm ALG, base64 secret in FILE
//   timeout = 60         seconds for one fetch
//   max-size = 256M      largest feed accepted (K, M, G suffixes)
//
//   [campaign NAME]
//   description = TEXT
//   action = sinkhole    the campaign's default action
//   sinkhole = ADDR,...  IPv4/IPv6 addresses its sinkhole rules answer with
//
// A feed may appear more than once (say, once per role); a campaign only once. Unknown
// sections or keys, a key given twice in a section, and bad values are errors:
// ToolError("file:line: reason"), thrown at the first one.
#include <fmt/format.h>

#include <arpa/inet.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "feed.h"
#include "feed_fields.h"

namespace dnsverdict {
namespace {

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ToolError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw ToolError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  return buffer.str();
}

class ManifestReader {
 public:
  explicit ManifestReader(const std::string& path)
      : path_(path), folder_(std::filesystem::path(path).parent_path()) {}

  Manifest read();

 private:
  [[noreturn]] void fail(std::string_view reason) const {
    throw ToolError(fmt::format("{}:{}: {}", path_, line_, reason));
  }
  void section(std::string_view header);
  void feed_key(std::string_view key, std::string_view value);
  void campaign_key(std::string_view key, std::string_view value);
  void finish_section();

  enum class Section { kNone, kFeed, kCampaign };

  std::string path_;
  std::filesystem::path folder_;
  std::size_t line_ = 0;
  Manifest manifest_;
  Section section_ = Section::kNone;
  std::size_t section_line_ = 0;
  std::set<std::string, std::less<>> section_keys_;
  std::set<std::string, std::less<>> campaign_names_;  // lowercase: names match without case
  std::string feed_name_;                               // [feed NAME] as written
};

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t multiplier = 1;
  if (!text.empty()) {
    switch (std::toupper(static_cast<unsigned char>(text.back()))) {
      case 'K': multiplier = 1ull << 10; break;
      case 'M': multiplier = 1ull << 20; break;
      case 'G': multiplier = 1ull << 30; break;
      default: break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > (1ull << 40) / multiplier)
    return std::nullopt;
  return value * multiplier;
}

Manifest ManifestReader::read() {
  std::string content = read_whole_file(path_);
  LineReader lines(content);
  std::string_view line;
  while (lines.next(line)) {
    line_ = lines.line_number();
    if (line.size() > kMaxLineOctets) fail(fmt::format("line is {} octets long", line.size()));
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section(line);
      continue;
    }
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos)
      fail(fmt::format("expected \"key = value\", found \"{}\"", line));
    std::string_view key = trim(line.substr(0, equals));
    std::string_view value = trim(line.substr(equals + 1));
    if (key.empty()) fail("a key is missing before '='");
    if (value.empty()) fail(fmt::format("\"{}\" has no value", key));
    if (section_ == Section::kNone)
      fail(fmt::format("\"{}\" outside a [feed] or [campaign] section", key));
    if (!section_keys_.emplace(key).second)
      fail(fmt::format("\"{}\" given twice in this section", key));
    if (section_ == Section::kFeed) {
      feed_key(key, value);
    } else {
      campaign_key(key, value);
    }
  }
  finish_section();
  return std::move(manifest_);
}

void ManifestReader::section(std::string_view header) {
  finish_section();
  if (header.back() != ']') fail("a section header must end with ']'");
  std::string_view inside = trim(header.substr(1, header.size() - 2));
  std::string_view type = take_token(inside);
  std::string_view name = trim(inside);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
    name = name.substr(1, name.size() - 2);
  section_line_ = line_;
  section_keys_.clear();
  if (type == "feed") {
    if (name.empty()) fail("[feed] needs a path: [feed PATH]");
    feed_name_ = std::string(name);
    FeedSource feed;
    std::filesystem::path path(name);
    feed.path = name == "-" || path.is_absolute() || folder_.empty() ? std::string(name)
                                                                     : (folder_ / path).string();
    manifest_.feeds.push_back(std::move(feed));
    section_ = Section::kFeed;
  } else if (type == "campaign") {
    if (name.empty()) fail("[campaign] needs a name: [campaign NAME]");
    if (!campaign_names_.emplace(lowercase(name)).second)
      fail(fmt::format("campaign \"{}\" described twice", name));
    CampaignRecord campaign;
    campaign.name = std::string(name);
    manifest_.campaigns.push_back(std::move(campaign));
    section_ = Section::kCampaign;
  } else {
    fail(fmt::format("unknown section \"[{}]\" (expected [feed PATH] or [campaign NAME])", type));
  }
}

void ManifestReader::feed_key(std::string_view key, std::string_view value) {
  FeedSource& feed = manifest_.feeds.back();
  FeedDefaults& defaults = feed.defaults;
  std::string error;
  auto relative_path = [this](std::string_view path) {
    std::filesystem::path file(path);
    return file.is_absolute() || folder_.empty() ? std::string(path) : (folder_ / file).string();
  };
  if (key == "url") {
    if (value.rfind("https://", 0) != 0 && value.rfind("http://", 0) != 0)
      fail(fmt::format("url \"{}\" is neither https:// nor http://", value));
    feed.fetch.url = std::string(value);
  } else if (key == "primary") {
    std::string_view address = value.substr(0, value.rfind('@'));
    unsigned char bytes[16];
    std::string copy(address);
    if (inet_pton(AF_INET, copy.c_str(), bytes) != 1 && inet_pton(AF_INET6, copy.c_str(), bytes) != 1)
      fail(fmt::format("primary \"{}\" is not ADDRESS or ADDRESS@PORT", value));
    if (address.size() != value.size()) {
      unsigned port = 0;
      std::string_view digits = value.substr(address.size() + 1);
      auto [end, error_code] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      if (error_code != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535)
        fail(fmt::format("primary \"{}\": the port is not a number from 1 to 65535", value));
    }
    feed.fetch.primary = std::string(value);
  } else if (key == "zone") {
    feed.fetch.zone = std::string(value);
  } else if (key == "tsig") {
    std::size_t first = value.find(':'), second = value.find(':', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos || first == 0 ||
        second == first + 1 || second + 1 == value.size())
      fail(fmt::format("tsig \"{}\" is not NAME:ALGORITHM:SECRET-FILE", value));
    feed.fetch.tsig = std::string(value.substr(0, second + 1)) +
                      relative_path(value.substr(second + 1));
  } else if (key == "ca-file") {
    feed.fetch.ca_file = relative_path(value);
  } else if (key == "timeout") {
    long seconds = 0;
    auto [end, error_code] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error_code != std::errc() || end != value.data() + value.size() || seconds < 1 || seconds > 3600)
      fail(fmt::format("timeout \"{}\" is not a number of seconds from 1 to 3600", value));
    feed.fetch.timeout_seconds = seconds;
  } else if (key == "max-size") {
    std::optional<std::uint64_t> size = parse_size(value);
    if (!size) fail(fmt::format("max-size \"{}\" is not a size (bytes, or with K, M, G)", value));
    feed.fetch.max_bytes = *size;
  } else if (key == "min-ratio") {
    char* end = nullptr;
    std::string copy(value);
    double ratio = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || !(ratio >= 0 && ratio <= 1))
      fail(fmt::format("min-ratio \"{}\" is not a number from 0 to 1", value));
    feed.min_ratio = ratio;
  } else if (key == "format") {
    std::optional<FeedFormat> format = parse_format(value);
    if (!format)
      fail(fmt::format("unknown format \"{}\" (auto, rpz, hosts, domains, adblock, csv, jsonl)",
                       value));
    manifest_.feeds.back().format = *format;
  } else if (key == "action") {
    std::optional<Action> action = parse_action(value);
    if (!action) fail(fmt::format("unknown action \"{}\"", value));
    if (*action == Action::kRedirect)
      fail(
          "a feed's default action cannot be redirect: each redirect needs its own target "
          "(an RPZ CNAME, or a redirect column in CSV/JSON Lines)");
    defaults.action = *action;
  } else if (key == "category") {
    defaults.category = std::string(value);
  } else if (key == "campaign") {
    defaults.campaign = std::string(value);
  } else if (key == "confidence") {
    std::optional<std::uint8_t> confidence = parse_confidence(value, error);
    if (!confidence) fail(error);
    defaults.confidence = *confidence;
  } else if (key == "role") {
    if (value != "block" && value != "allow")
      fail(fmt::format("role \"{}\" is neither block nor allow", value));
    defaults.allowlist = value == "allow";
  } else if (key == "kind") {
    std::optional<RuleKind> kind = parse_kind(value);
    if (!kind) fail(fmt::format("unknown kind \"{}\" (exact, subtree or wildcard)", value));
    defaults.list_kind = *kind;
  } else if (key == "expires") {
    std::optional<std::int64_t> expires = parse_timestamp(value, error);
    if (!expires) fail(error);
    defaults.expires = *expires;
  } else {
    fail(
        fmt::format("unknown feed key \"{}\" (format, action, category, campaign, confidence, "
                    "role, kind, expires, min-ratio, url, ca-file, primary, zone, tsig, timeout, "
                    "max-size)",
                    key));
  }
}

void ManifestReader::campaign_key(std::string_view key, std::string_view value) {
  CampaignRecord& campaign = manifest_.campaigns.back();
  std::string error;
  if (key == "description") {
    campaign.description = std::string(value);
  } else if (key == "action") {
    std::optional<Action> action = parse_action(value);
    if (!action) fail(fmt::format("unknown action \"{}\"", value));
    campaign.default_action = *action;
  } else if (key == "sinkhole") {
    if (!parse_address_list(value, campaign.sinkhole, error)) fail("sinkhole: " + error);
  } else {
    fail(fmt::format("unknown campaign key \"{}\" (description, action, sinkhole)", key));
  }
}

// Checks that need the whole section.
void ManifestReader::finish_section() {
  if (section_ == Section::kFeed) {
    FeedSource& feed = manifest_.feeds.back();
    const FeedDefaults& defaults = feed.defaults;
    FeedFetch& fetch = feed.fetch;
    const std::size_t current_line = line_;
    line_ = section_line_;  // errors here are the section's
    if (!fetch.url.empty() && !fetch.primary.empty())
      fail("a feed has either a url or a primary, not both");
    if (fetch.primary.empty() && (!fetch.zone.empty() || !fetch.tsig.empty()))
      fail(fmt::format("\"{}\" needs a primary to transfer the zone from",
                       fetch.zone.empty() ? "tsig" : "zone"));
    if (fetch.url.empty() && !fetch.ca_file.empty()) fail("ca-file needs a url");
    if (!fetch.url.empty()) {
      feed.path = fetch.url;
    } else if (!fetch.primary.empty()) {
      if (fetch.zone.empty()) fetch.zone = feed_name_;
      if (fetch.zone.back() != '.') fetch.zone += '.';
      feed.path = fmt::format("{} from {}", fetch.zone, fetch.primary);
    }
    if (defaults.allowlist && defaults.action && *defaults.action != Action::kAllow) {
      fail(fmt::format("feed with role allow has action {}: allowlist entries always allow",
                       action_name(*defaults.action)));
    }
    line_ = current_line;
  }
  section_ = Section::kNone;
}

}  // namespace

Manifest read_manifest(const std::string& path) {
  return ManifestReader(path).read();
}

}  // namespace dnsverdict
