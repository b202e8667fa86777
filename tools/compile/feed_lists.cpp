// The name-list formats: hosts files, plain domain lists and Adblock-style DNS filter lists.
// These are the feeds with millions of lines, so the path per line is string_view slicing and
// one key build; no regex, no streams.
//
// Every entry takes the source's defaults: action (nxdomain when unset), list_kind for a bare
// name (subtree unless configured), campaign, category, confidence, expiry. "*.name" is a
// wildcard on name (every name below it, not name itself).
//
// A plain domain list may also list addresses and CIDR prefixes ("47.100.164.28",
// "10.0.0.0/8", "2001:db8::/32"), one per line like names: they become address rules with the
// same defaults (host bits past the length are cleared with a warning). An entry is read as
// an address when it looks like one (looks_like_ip_prefix), which no valid name does.
#include <fmt/format.h>

#include <algorithm>

#include "feed.h"
#include "feed_fields.h"
#include "parallel.h"

namespace dnsverdict {
namespace {

// Keys and adds one list entry; reports an invalid name. Returns true when a rule was added.
bool add_list_entry(std::string_view name, const RuleDraft& rule_template, Action action,
                    std::string_view file, std::size_t line_number, const FeedDefaults& defaults,
                    RuleSet& rules, Diagnostics& diagnostics) {
  RuleDraft rule = rule_template;
  if (strip_wildcard(name)) rule.kind = RuleKind::kWildcard;
  std::string error;
  if (!feed_name_to_key(name, rule.key, error)) {
    diagnostics.error(file, line_number, fmt::format("\"{}\": {}", name, error));
    return false;
  }
  rule.action = action;
  rule.line = static_cast<std::uint32_t>(line_number);
  add_rule(std::move(rule), defaults, rules);
  return true;
}

// Names hosts files map to loopback for the system's own use, not as blocks.
bool is_hosts_housekeeping_name(std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return equal_ignoring_case(name, "localhost") ||
         equal_ignoring_case(name, "localhost.localdomain") ||
         equal_ignoring_case(name, "broadcasthost") || equal_ignoring_case(name, "local") ||
         equal_ignoring_case(name, "0.0.0.0") || starts_with_ignoring_case(name, "ip6-");
}

// The "block" addresses of hosts files: the name resolves to nothing useful.
bool is_null_address(std::string_view address) noexcept {
  return address == "0.0.0.0" || address == "127.0.0.1" || address == "::" || address == "::1" ||
         address == "0:0:0:0:0:0:0:0" || address == "0:0:0:0:0:0:0:1";
}

// A hosts line with a real address: its names answer with that address, unless the source
// names an action. False when `address` is not an address.
bool set_hosts_address(std::string_view address, const FeedDefaults& defaults, RuleDraft& rule) {
  std::string data;
  if (!encode_address(address, data)) return false;
  if (!defaults.action) {
    rule.action = Action::kSinkhole;
    rule.data = std::move(data);
  }
  return true;
}

std::string not_an_address(std::string_view text) {
  return fmt::format("\"{}\" is not an address (hosts lines are \"ADDRESS NAME...\")", text);
}

std::string_view strip_comment(std::string_view line, char marker) noexcept {
  std::size_t comment = line.find(marker);
  return comment == std::string_view::npos ? line : line.substr(0, comment);
}

// Feeds at least this big are parsed in two halves when the compile has two threads.
constexpr std::size_t kSplitOctets = 64 * 1024;

// Parses `content` line by line with parse_line(line, line_number, RuleSet&, Diagnostics&),
// which returns the rules it added (lines too long are rejected before): as a whole, or, for
// a big feed and two threads (parallel.h), cut after the line ending nearest its middle, the
// second half on another thread into a rule set and deferred diagnostics of its own, appended
// and replayed after the first half's. Every line is parsed on its own, so the drafts, their
// order, the line numbers and the messages (the first error, where --max-errors gives up) are
// those of a parse as a whole.
template <typename ParseLine>
std::size_t parse_in_halves(std::string_view file, std::string_view content, RuleSet& rules,
                            Diagnostics& diagnostics, const ParseLine& parse_line) {
  auto parse_lines = [&](LineReader lines, RuleSet& rules, Diagnostics& diagnostics) {
    std::size_t added = 0;
    std::string_view line;
    while (lines.next(line)) {
      if (reject_long_line(file, lines.line_number(), line, diagnostics)) continue;
      added += parse_line(line, lines.line_number(), rules, diagnostics);
    }
    return added;
  };
  std::size_t cut = content.size() < kSplitOctets || compile_threads() < 2
                        ? std::string_view::npos
                        : content.find('\n', content.size() / 2);
  if (cut == std::string_view::npos || cut + 1 == content.size())
    return parse_lines(LineReader(content), rules, diagnostics);
  const std::string_view first = content.substr(0, cut + 1);
  const std::string_view second = content.substr(cut + 1);
  RuleSet second_rules;
  Diagnostics second_diagnostics = Diagnostics::deferred(diagnostics.max_errors());
  std::size_t first_added = 0, second_added = 0;
  run_in_parallel(
      [&] { first_added = parse_lines(LineReader(first), rules, diagnostics); },
      [&] {
        second_rules.reserve(
            static_cast<std::size_t>(std::count(second.begin(), second.end(), '\n')) + 1);
        LineReader lines(second,
                         static_cast<std::size_t>(std::count(first.begin(), first.end(), '\n')));
        try {
          second_added = parse_lines(lines, second_rules, second_diagnostics);
        } catch (const ToolError&) {
          // Past --max-errors: the replay below gives up at the same line.
        }
      });
  diagnostics.replay(second_diagnostics);
  rules.append(std::move(second_rules));
  return first_added + second_added;
}

}  // namespace

// "ADDRESS NAME [NAME...]  # comment". A null or loopback address blocks with the default
// action; any other address makes the names sinkholes to that address, unless the source
// names an action. Housekeeping names (localhost, broadcasthost, ip6-*, ...) are skipped.
std::size_t parse_hosts(std::string_view file, std::string_view content,
                        const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                        Diagnostics& diagnostics) {
  const RuleDraft rule_template = make_rule_template(defaults, source_id, rules);
  return parse_in_halves(
      file, content, rules, diagnostics,
      [&](std::string_view line, std::size_t line_number, RuleSet& rules,
          Diagnostics& diagnostics) -> std::size_t {
        std::string_view rest = strip_comment(line, '#');
        std::string_view address = take_token(rest);
        if (address.empty()) return 0;
        // The address is looked at only once a name needs it: housekeeping lines carry
        // addresses like "fe80::1%lo0" that are no business of ours.
        RuleDraft line_template = rule_template;
        std::size_t added = 0;
        bool address_checked = false;
        bool any_name = false;
        for (std::string_view name = take_token(rest); !name.empty(); name = take_token(rest)) {
          any_name = true;
          if (is_hosts_housekeeping_name(name)) continue;
          if (!address_checked) {
            address_checked = true;
            if (!is_null_address(address) && !set_hosts_address(address, defaults, line_template)) {
              diagnostics.error(file, line_number, not_an_address(address));
              break;
            }
          }
          added += add_list_entry(name, line_template, line_template.action, file, line_number,
                                  defaults, rules, diagnostics);
        }
        std::string ignored;
        if (!any_name)
          diagnostics.error(file, line_number,
                            encode_address(address, ignored)
                                ? fmt::format("address \"{}\" without a name", address)
                                : not_an_address(address));
        return added;
      });
}

// One name per line; "#", ";" and "!" start comments (whole-line, or after the name).
std::size_t parse_domain_list(std::string_view file, std::string_view content,
                              const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                              Diagnostics& diagnostics) {
  const RuleDraft rule_template = make_rule_template(defaults, source_id, rules);
  return parse_in_halves(
      file, content, rules, diagnostics,
      [&](std::string_view line, std::size_t line_number, RuleSet& rules,
          Diagnostics& diagnostics) -> std::size_t {
        std::string_view rest = line;
        std::string_view name = take_token(rest);
        if (name.empty() || name[0] == '#' || name[0] == ';' || name[0] == '!') return 0;
        std::string_view extra = take_token(rest);
        if (!extra.empty() && extra[0] != '#' && extra[0] != ';' && extra[0] != '!') {
          diagnostics.error(
              file, line_number,
              fmt::format("expected one name per line, found \"{}\" after \"{}\"", extra, name));
          return 0;
        }
        if (looks_like_ip_prefix(name)) {
          IpPrefix prefix;
          std::string error;
          if (!parse_feed_prefix(name, file, line_number, diagnostics, prefix, error)) {
            diagnostics.error(file, line_number, error);
            return 0;
          }
          RuleDraft rule = rule_template;
          rule.line = static_cast<std::uint32_t>(line_number);
          add_rule(prefix, std::move(rule), defaults, rules);
          return 1;
        }
        return add_list_entry(name, rule_template, rule_template.action, file, line_number,
                              defaults, rules, diagnostics);
      });
}

// Adblock-style DNS filter lists. Rules: "||name^" blocks name and what is below it (the
// source's list_kind), "@@||name^" allows it; "$important", "$third-party" and other options
// that do not narrow a DNS match are accepted. Everything a DNS verdict cannot express is
// counted as skipped, never an error, since browser filter lists mix such rules in freely:
//   "adblock cosmetic"  element hiding and scriptlets (##, #@#, #?#, #$#, #%#)
//   "adblock pattern"   paths, URL parts, regexes, bare patterns
//   "adblock option"    options that restrict or rewrite a rule ($client, $dnstype, ...)
// An invalid name inside "||...^" is an error. "[Adblock ...]" headers and "!" comments are
// ignored.
std::size_t parse_adblock(std::string_view file, std::string_view content,
                          const FeedDefaults& defaults, std::uint16_t source_id, RuleSet& rules,
                          Diagnostics& diagnostics) {
  const RuleDraft rule_template = make_rule_template(defaults, source_id, rules);
  return parse_in_halves(
      file, content, rules, diagnostics,
      [&](std::string_view line, std::size_t line_number, RuleSet& rules,
          Diagnostics& diagnostics) -> std::size_t {
        line = trim(line);
        if (line.empty() || line[0] == '!' || line[0] == '[' || line[0] == '#') {
          bool cosmetic_without_domain = starts_with(line, "##") || starts_with(line, "#@#");
          if (cosmetic_without_domain) rules.count_skipped("adblock cosmetic");
          return 0;
        }
        if (line.find("##") != std::string_view::npos ||
            line.find("#@#") != std::string_view::npos ||
            line.find("#?#") != std::string_view::npos ||
            line.find("#$#") != std::string_view::npos ||
            line.find("#%#") != std::string_view::npos) {
          rules.count_skipped("adblock cosmetic");
          return 0;
        }
        bool allow = starts_with(line, "@@");
        if (allow) line.remove_prefix(2);
        if (!starts_with(line, "||")) {
          rules.count_skipped("adblock pattern");
          return 0;
        }
        line.remove_prefix(2);
        std::size_t caret = line.find('^');
        if (caret == std::string_view::npos) {
          rules.count_skipped("adblock pattern");
          return 0;
        }
        std::string_view name = line.substr(0, caret);
        std::string_view after = line.substr(caret + 1);
        if (starts_with(after, "|")) after.remove_prefix(1);
        std::string_view options;
        if (starts_with(after, "$")) {
          options = after.substr(1);
        } else if (!after.empty()) {
          rules.count_skipped("adblock pattern");
          return 0;
        }
        bool restricted = false;
        while (!options.empty()) {
          std::size_t comma = options.find(',');
          std::string_view option = options.substr(0, comma);
          options.remove_prefix(comma == std::string_view::npos ? options.size() : comma + 1);
          if (!(equal_ignoring_case(option, "important") ||
                equal_ignoring_case(option, "third-party") || equal_ignoring_case(option, "3p") ||
                equal_ignoring_case(option, "all") || equal_ignoring_case(option, "document") ||
                equal_ignoring_case(option, "doc") || equal_ignoring_case(option, "popup")))
            restricted = true;
        }
        if (restricted) {
          rules.count_skipped("adblock option");
          return 0;
        }
        std::string_view bare = name;
        strip_wildcard(bare);
        if (bare.find_first_of("*/|") != std::string_view::npos) {
          rules.count_skipped("adblock pattern");
          return 0;
        }
        return add_list_entry(name, rule_template, allow ? Action::kAllow : rule_template.action,
                              file, line_number, defaults, rules, diagnostics);
      });
}

}  // namespace dnsverdict
