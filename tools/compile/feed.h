// Threat feeds: formats, per-source defaults, and the parsers that turn a feed's text into
// rules. Every parser reports bad lines through Diagnostics as "file:line: reason" and goes
// on with the next line; it never throws except through Diagnostics' error limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostics.h"
#include "rule_set.h"

namespace dnsverdict {

enum class FeedFormat { kAuto, kRpz, kHosts, kDomains, kAdblock, kCsv, kJsonl };

std::string_view format_name(FeedFormat format) noexcept;
std::optional<FeedFormat> parse_format(std::string_view name) noexcept;

// Guesses a feed's format from its first lines (up to a few KiB of content).
// RPZ: an SOA record, $ORIGIN/$TTL or "CNAME ." style records; hosts: lines starting with an
// address and a name; adblock: "||name^" lines or a "[Adblock" header; CSV: a header line
// naming a "domain", "ip" or "cidr" column; JSON Lines: lines starting with "{"; otherwise a
// plain list (of names, addresses and CIDR prefixes).
FeedFormat detect_format(std::string_view content) noexcept;

// Defaults for one source, from the command line or a manifest. A field a feed line sets
// itself (a CSV "action" column, an RPZ record's own action) overrides the default, except
// that `action` set here overrides the default action of plain lists, hosts and adblock.
struct FeedDefaults {
  std::optional<Action> action;  // plain lists/hosts/adblock: nxdomain when unset
  std::string category;
  std::string campaign;
  std::uint8_t confidence = 100;
  bool allowlist = false;          // role "allow": every entry passes, whatever blocks it
  RuleKind list_kind = RuleKind::kSubtree;  // what a bare name in a list means
  std::int64_t expires = 0;
};

// Where a fetched feed comes from (manifest keys url, primary, zone, tsig, ca-file, timeout,
// max-size). Neither url nor primary: a local file.
struct FeedFetch {
  std::string url;        // https:// or http://
  std::string primary;    // "ADDRESS@PORT" of the zone's primary
  std::string zone;       // the zone to transfer
  std::string tsig;       // "NAME:ALGORITHM:SECRET-FILE", the file's path resolved
  std::string ca_file;    // HTTPS: trust these CAs instead of the system's
  long timeout_seconds = 60;
  std::uint64_t max_bytes = std::uint64_t{256} << 20;
};

struct FeedSource {
  std::string path;  // "-" for standard input; for a fetched feed its URL or "ZONE from PRIMARY"
  FeedFormat format = FeedFormat::kAuto;
  FeedDefaults defaults;
  FeedFetch fetch;
  // The per-feed safety valve: a feed with fewer entries than this fraction of its last good
  // copy's is not used (0 disables).
  double min_ratio = 0.5;

  bool fetched() const noexcept { return !fetch.url.empty() || !fetch.primary.empty(); }
};

// Parses `content` (the whole feed) as `format` (not kAuto) into `rules`, with `source_id`
// from RuleSet::add_source. `file` names the feed in messages. Returns the rules added.
std::size_t parse_feed(FeedFormat format, std::string_view file, std::string_view content,
                       const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                       Diagnostics& diagnostics);

// The individual parsers, same contract as parse_feed.
std::size_t parse_rpz(std::string_view file, std::string_view content, const FeedDefaults& defaults,
                      std::uint16_t source_id, RuleSet& rules, Diagnostics& diagnostics);
std::size_t parse_hosts(std::string_view file, std::string_view content,
                        const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                        Diagnostics& diagnostics);
std::size_t parse_domain_list(std::string_view file, std::string_view content,
                              const FeedDefaults& defaults, std::uint16_t source_id,
                              RuleSet& rules, Diagnostics& diagnostics);
std::size_t parse_adblock(std::string_view file, std::string_view content,
                          const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                          Diagnostics& diagnostics);
std::size_t parse_csv(std::string_view file, std::string_view content, const FeedDefaults& defaults,
                      std::uint16_t source_id, RuleSet& rules, Diagnostics& diagnostics);
std::size_t parse_jsonl(std::string_view file, std::string_view content,
                        const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                        Diagnostics& diagnostics);

// Normalises a domain as it appears in a feed into a store key: trims, strips one trailing
// dot, lowercases, decodes RFC 1035 escapes, converts IDN U-labels to A-labels (libidn2,
// IDNA2008 non-transitional). Returns false with a reason for an invalid name.
bool feed_name_to_key(std::string_view text, std::string& key, std::string& error);

// Splits text into lines: handles a UTF-8 byte-order mark, LF and CRLF endings. Line numbers
// start at 1.
class LineReader {
 public:
  explicit LineReader(std::string_view content) noexcept;
  // Continues a text split just after a line ending: `rest` is what follows, `lines_before`
  // the lines before it (numbers go on from there; no byte-order mark is looked for).
  LineReader(std::string_view rest, std::size_t lines_before) noexcept
      : rest_(rest), line_number_(lines_before) {}
  // Next line without its ending; false at the end.
  bool next(std::string_view& line) noexcept;
  std::size_t line_number() const noexcept { return line_number_; }

 private:
  std::string_view rest_;
  std::size_t line_number_ = 0;
};

// A manifest lists feeds with their defaults, and describes campaigns (manifest.cpp).
struct Manifest {
  std::vector<FeedSource> feeds;
  std::vector<CampaignRecord> campaigns;
};
// Reads a manifest file; relative feed paths are relative to the manifest's folder.
// Throws ToolError("file:line: reason") on a bad line.
Manifest read_manifest(const std::string& path);

}  // namespace dnsverdict
