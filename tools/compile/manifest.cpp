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

#include <cerrno>
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
  std::set<std::string, std::less<>> campaign_names_;
};

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
    FeedSource feed;
    std::filesystem::path path(name);
    feed.path = name == "-" || path.is_absolute() || folder_.empty() ? std::string(name)
                                                                     : (folder_ / path).string();
    manifest_.feeds.push_back(std::move(feed));
    section_ = Section::kFeed;
  } else if (type == "campaign") {
    if (name.empty()) fail("[campaign] needs a name: [campaign NAME]");
    if (!campaign_names_.emplace(name).second)
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
  FeedDefaults& defaults = manifest_.feeds.back().defaults;
  std::string error;
  if (key == "format") {
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
                    "role, kind, expires)",
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
    const FeedDefaults& defaults = manifest_.feeds.back().defaults;
    if (defaults.allowlist && defaults.action && *defaults.action != Action::kAllow) {
      line_ = section_line_;
      fail(fmt::format("feed with role allow has action {}: allowlist entries always allow",
                       action_name(*defaults.action)));
    }
  }
  section_ = Section::kNone;
}

}  // namespace

Manifest read_manifest(const std::string& path) {
  return ManifestReader(path).read();
}

}  // namespace dnsverdict
