// dnsverdict lookup: the verdict a resolver would apply to names, and why.
#include <fmt/format.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "cmd_inspect.h"
#include "commands.h"
#include "diagnostics.h"
#include "feed.h"
#include "feed_fields.h"
#include "module_config.h"
#include "policy.h"

namespace dnsverdict {
namespace {

constexpr const char* kLookupUsage =
    "usage: dnsverdict lookup [--json] [--at TIME] [--config FILE] [--client ADDRESS]\n"
    "                         STORE NAME|ADDRESS...\n"
    "\n"
    "The verdict a resolver using STORE would apply to each NAME, and why: the action the\n"
    "resolver applies, the matching rule's owner name and kind, action, campaign, category,\n"
    "source, confidence, first seen and expiry. The most specific rule wins; expired rules are\n"
    "not applied (a note says when one was skipped); a blocking rule below the module's\n"
    "confidence-block is only tagged, below confidence-tag only logged (a line gives the\n"
    "rule's own action and why). Names are normalised as in feeds: case, trailing dot,\n"
    "RFC 1035 escapes, IDN U-labels to A-labels.\n"
    "\n"
    "An IPv4 or IPv6 ADDRESS (47.100.164.28, 2001:db8::1) gets the address rule an answer\n"
    "holding it meets: the longest listed prefix of its family that holds it. A prefix\n"
    "(10.0.0.0/8) gets the longest rule holding all of it, and a count of the longer rules\n"
    "inside it.\n"
    "\n"
    "options:\n"
    "  --json         one JSON object per name, one per line (JSON Lines)\n"
    "  --at TIME      apply expiry as at TIME instead of now: unix seconds, YYYY-MM-DD,\n"
    "                 YYYY-MM-DDTHH:MM[:SS]Z (or a +hh:mm offset), now, or an offset\n"
    "                 from now: +7d, +30m, -12h (12h is the same: earlier)\n"
    "  --config FILE  the module config whose thresholds apply (default: $DNSVERDICT_CONFIG,\n"
    "                 else /etc/dnsverdict/dnsverdict.conf; when that file does not exist,\n"
    "                 the built-in thresholds, and a note on standard error)\n"
    "  --client ADDRESS  grade as for a client at ADDRESS: its client group's policy and\n"
    "                 thresholds, exempt or not (default: a client in no group, not exempt)\n"
    "  -h, --help     this help\n"
    "\n"
    "exit codes: 0 every lookup ran (hit or miss), 1 error (unreadable store or config,\n"
    "invalid name), 2 usage error\n";

// Parses --at: the command line's one time syntax (parse_time_argument).
std::int64_t parse_time(const std::string& text, std::int64_t now) {
  std::string error;
  if (std::optional<std::int64_t> time = parse_time_argument(text, now, error)) return *time;
  throw UsageError("--at: " + error);
}

std::string_view effect(Action action, bool allowlisted) {
  switch (action) {
    case Action::kNxdomain:
      return "answers NXDOMAIN";
    case Action::kNodata:
      return "answers NOERROR with no data";
    case Action::kRefuse:
      return "answers REFUSED";
    case Action::kDrop:
      return "drops the query, no answer";
    case Action::kSinkhole:
      return "answers with sinkhole addresses";
    case Action::kRedirect:
      return "answers with a CNAME to the redirect target";
    case Action::kLog:
      return "resolves normally, the query is logged";
    case Action::kTag:
      return "resolves normally, the query is tagged";
    case Action::kAllow:
      return allowlisted ? "resolves normally: allowlisted, passes whatever blocks it"
                         : "resolves normally: allowed";
    case Action::kTcpOnly:
      return "UDP gets a truncated answer, TCP resolves normally";
  }
  return "";
}

// What one name's lookup found, in the terms both output forms use.
struct Verdict {
  std::string input;
  std::string name;   // normalised presentation form
  std::string error;  // set when the lookup could not run
  LookupResult result;
  // The resolver's decision on a hit: the action it applies (the rule's own unless the
  // confidence thresholds grade it down) and the hit log's note saying why.
  Decision decision;
  std::string owner;     // presentation form of the matched rule's owner name or prefix
  LookupResult skipped;  // the most specific rule, when it was skipped as expired
  std::string skipped_owner;
  bool address = false;           // an address or prefix was looked up: address rules
  std::uint64_t rules_inside = 0;  // a prefix: longer rules inside it
  bool outside_group = false;      // the rule is not the client group's business: it passes
  std::string group;               // the client group graded for (when groups or --client)
};

// The kind a text line or JSON shows: the rule's kind for names, "address" for prefixes.
std::string_view rule_kind_text(const Verdict& verdict, const Rule& rule) {
  return verdict.address ? std::string_view("address") : kind_name(rule.kind);
}

// Who asks: a client (--client) or, by default, a client in no group and not exempt.
struct Asker {
  QueryContext context;
  std::string client;  // as given; empty: the default
  bool show_group = false;  // --client given or the config has groups
};

// The decision for a hit, as the module takes it for this client.
void grade(Verdict& verdict, const VerdictStore& store, const ModuleConfig& config,
           const Asker& asker) {
  verdict.decision = decide(verdict.result, store, config, asker.context);
  if (asker.show_group) verdict.group = asker.context.group->name;
  if (verdict.decision.hit) return;
  // decide() leaves allow rules out (no verdict, no hit line): they apply as they are; any
  // other rule it leaves out is outside the client group's categories and campaigns.
  const Rule& rule = verdict.result.rule;
  verdict.outside_group = rule.action != Action::kAllow;
  verdict.decision.applied = verdict.outside_group ? Action::kAllow : rule.action;
  if (verdict.outside_group) verdict.decision.note = "outside-group-policy";
}

// The address rule for an address (the longest prefix holding it), or for a prefix (the
// longest holding all of it: found by a scan, this is a command, not the query path).
Verdict look_up_address(const VerdictStore& store, const ModuleConfig& config,
                        const Asker& asker, const std::string& input, std::int64_t at) {
  Verdict verdict;
  verdict.input = input;
  verdict.address = true;
  IpPrefix query;
  if (!parse_ip_prefix(input, query, verdict.error)) return verdict;
  if (mask_host_bits(query)) {
    verdict.error = fmt::format("host bits set (the network is {})", format_ip_prefix(query));
    return verdict;
  }
  verdict.name = format_ip_prefix(query, false);
  auto find = [&](std::int64_t now, IpPrefix& found) {
    AddressLookupResult result;
    if (query.length == query.max_length()) {
      result = store.lookup_address(query.bytes.data(), query.address_size(), now);
      found = query;
      found.length = result.prefix_length;
      mask_host_bits(found);
      return result;
    }
    store.for_each_address([&](const IpPrefix& prefix, const Rule& rule) {
      if (prefix_encloses(prefix, query) && !rule.expired(now) &&
          (!result.hit() || prefix.length > found.length)) {
        result.status = LookupStatus::kHit;
        result.rule = rule;
        result.prefix_length = prefix.length;
        found = prefix;
      }
      return true;
    });
    return result;
  };
  if (query.length != query.max_length()) {
    store.for_each_address([&](const IpPrefix& prefix, const Rule&) {
      verdict.rules_inside += prefix.length > query.length && prefix_encloses(query, prefix);
      return true;
    });
  }
  IpPrefix found;
  AddressLookupResult result = find(at, found);
  verdict.result = result.as_lookup();
  if (result.status == LookupStatus::kError) {
    verdict.error = "the store could not be read for this address (damaged record?)";
    return verdict;
  }
  if (result.hit()) {
    verdict.owner = format_ip_prefix(found);
    grade(verdict, store, config, asker);
  }
  IpPrefix longest;
  AddressLookupResult everything = find(kAnyTime, longest);
  if (everything.hit() && everything.rule.expired(at)) {
    verdict.skipped = everything.as_lookup();
    verdict.skipped_owner = format_ip_prefix(longest);
  }
  return verdict;
}

Verdict look_up(const VerdictStore& store, const ModuleConfig& config, const Asker& asker,
                const std::string& input, std::int64_t at) {
  if (looks_like_ip_prefix(input)) return look_up_address(store, config, asker, input, at);
  Verdict verdict;
  verdict.input = input;
  std::string key;
  if (!feed_name_to_key(input, key, verdict.error)) return verdict;
  verdict.name = key_to_text(key);
  std::string wire = key_to_wire(key);
  NameKey name_key;
  if (!make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), name_key)) {
    verdict.error = "invalid name";
    return verdict;
  }
  verdict.result = store.lookup(name_key, at);
  if (verdict.result.status == LookupStatus::kError) {
    verdict.error = "the store could not be read for this name (damaged record?)";
    return verdict;
  }
  if (verdict.result.hit()) {
    verdict.owner = key_to_text(verdict.result.owner_key);
    grade(verdict, store, config, asker);
  }
  // Ask again with nothing expired: a more specific rule found then was skipped for expiry.
  LookupResult everything = store.lookup(name_key, kAnyTime);
  if (everything.hit() && everything.rule.expired(at)) {
    verdict.skipped = everything;
    verdict.skipped_owner = key_to_text(everything.owner_key);
  }
  return verdict;
}

// Where a sinkhole rule's addresses come from: "rule", "campaign", or "default" (the store has
// none; the module answers with its configured default addresses).
std::string_view sinkhole_origin(const VerdictStore& store, const Rule& rule) {
  if (!rule.data.empty()) return "rule";
  return inspect::sinkhole_data(store, rule).empty() ? "default" : "campaign";
}

// Why the resolver applies another action than the rule's: the client is exempt, its group
// only monitors, the rule is outside the group's policy, or the threshold the rule is below.
std::string grading_reason(const Rule& rule, const ModuleConfig& config, const Asker& asker,
                           const Verdict& verdict) {
  const ClientGroup& group =
      asker.context.group != nullptr ? *asker.context.group : config.default_group;
  std::string_view note = verdict.decision.note;
  if (note == "exempt-client") return "the client is exempt";
  if (note == "monitor-group") return fmt::format("client group {} only monitors", group.name);
  if (verdict.outside_group)
    return fmt::format("not among client group {}'s categories and campaigns", group.name);
  std::uint8_t tag = group.confidence_tag.value_or(config.confidence_tag);
  std::uint8_t block = group.confidence_block.value_or(config.confidence_block);
  bool below_tag = rule.confidence < tag;
  return fmt::format("confidence {} is below {} {}", rule.confidence,
                     below_tag ? "confidence-tag" : "confidence-block", below_tag ? tag : block);
}

void print_text(std::FILE* out, const VerdictStore& store, const ModuleConfig& config,
                const Asker& asker, const Verdict& verdict) {
  if (!verdict.error.empty()) {
    fmt::print(out, "{}: error: {}\n", verdict.input, verdict.error);
    return;
  }
  const LookupResult& result = verdict.result;
  if (!result.hit()) {
    fmt::print(out, "{}: no rule\n", verdict.name);
  } else {
    const Rule& rule = result.rule;
    const Action applied = verdict.decision.applied;
    bool allowlisted = (rule.flags & kFlagAllowlist) != 0;
    fmt::print(out, "{}: {} ({})\n", verdict.name, action_name(applied),
               verdict.outside_group ? "resolves normally: the rule does not apply to this client"
                                     : effect(applied, allowlisted));
    if (applied != rule.action)
      fmt::print(out, "  {:<11} {} (not applied: {})\n", "rule action", action_name(rule.action),
                 grading_reason(rule, config, asker, verdict));
    if (!verdict.group.empty())
      fmt::print(out, "  {:<11} {} ({})\n", "group", verdict.group,
                 asker.client.empty() ? "a client in no group" : "client " + asker.client);
    fmt::print(out, "  {:<11} {} ({} rule{})\n", "matched", verdict.owner,
               rule_kind_text(verdict, rule), allowlisted ? ", allowlist" : "");
    if (applied == Action::kRedirect) {
      std::string target = inspect::redirect_target_text(rule.data);
      fmt::print(out, "  {:<11} CNAME {}.\n", "answer", target.empty() ? "?" : target);
    } else if (applied == Action::kSinkhole) {
      std::string_view origin = sinkhole_origin(store, rule);
      if (origin == "default")
        fmt::print(out, "  {:<11} the module's default sinkhole addresses\n", "answer");
      else
        fmt::print(out, "  {:<11} {} (the {}'s addresses)\n", "answer",
                   addresses_to_text(inspect::sinkhole_data(store, rule), ", "), origin);
    }
    const CampaignRecord* campaign = store.campaign(rule.campaign);
    if (campaign != nullptr) fmt::print(out, "  {:<11} {}\n", "campaign", campaign->name);
    std::string_view category = store.category(rule.category);
    if (!category.empty()) fmt::print(out, "  {:<11} {}\n", "category", category);
    if (const SourceRecord* source = store.source(rule.source))
      fmt::print(out, "  {:<11} {} ({}, {})\n", "source", source->file, source->format,
                 source->role);
    fmt::print(out, "  {:<11} {}\n", "confidence", rule.confidence);
    fmt::print(out, "  {:<11} {}\n", "first seen",
               rule.first_seen == 0 ? "unknown" : inspect::format_time(rule.first_seen));
    fmt::print(out, "  {:<11} {}\n", "expires",
               rule.expires == 0 ? "never" : inspect::format_time(rule.expires));
  }
  if (verdict.rules_inside != 0)
    fmt::print(out, "  {:<11} {} longer prefix{} inside {} (dnsverdict dump lists them)\n",
               "inside", verdict.rules_inside, verdict.rules_inside == 1 ? "" : "es",
               verdict.name);
  if (verdict.skipped.hit()) {
    const Rule& rule = verdict.skipped.rule;
    fmt::print(out, "  {:<11} not applied: the {} {} rule on {} expired {}\n", "expired",
               rule_kind_text(verdict, rule), action_name(rule.action), verdict.skipped_owner,
               inspect::format_time(rule.expires));
  }
}

void print_json(std::FILE* out, const VerdictStore& store, const Verdict& verdict,
                std::int64_t at) {
  using inspect::json_string;
  std::string line = fmt::format("{{\"input\":{}", json_string(verdict.input));
  if (!verdict.error.empty()) {
    line += fmt::format(",\"error\":{}}}", json_string(verdict.error));
    fmt::print(out, "{}\n", line);
    return;
  }
  line += fmt::format(",\"name\":{},\"at\":{}", json_string(verdict.name),
                      json_string(inspect::format_time(at)));
  const LookupResult& result = verdict.result;
  line += fmt::format(",\"match\":{}", result.hit() ? "true" : "false");
  if (result.hit()) {
    const Rule& rule = result.rule;
    const CampaignRecord* campaign = store.campaign(rule.campaign);
    std::string_view category = store.category(rule.category);
    const SourceRecord* source = store.source(rule.source);
    const Action applied = verdict.decision.applied;
    line += fmt::format(",\"action\":{},\"blocking\":{},\"allowlist\":{},\"rule_action\":{}",
                        json_string(action_name(applied)), is_blocking(applied) ? "true" : "false",
                        (rule.flags & kFlagAllowlist) != 0 ? "true" : "false",
                        json_string(action_name(rule.action)));
    if (verdict.decision.note[0] != '\0')
      line += fmt::format(",\"note\":{}", json_string(verdict.decision.note));
    if (!verdict.group.empty()) line += fmt::format(",\"group\":{}", json_string(verdict.group));
    line += fmt::format(",\"owner\":{},\"kind\":{}", json_string(verdict.owner),
                        json_string(rule_kind_text(verdict, rule)));
    line += fmt::format(",\"campaign\":{},\"category\":{},\"source\":{}",
                        campaign != nullptr ? json_string(campaign->name) : "null",
                        category.empty() ? "null" : json_string(category),
                        source != nullptr ? json_string(source->file) : "null");
    line += fmt::format(",\"confidence\":{},\"first_seen\":{},\"expires\":{}", rule.confidence,
                        inspect::json_time(rule.first_seen), inspect::json_time(rule.expires));
    if (rule.action == Action::kRedirect) {
      std::string target = inspect::redirect_target_text(rule.data);
      line += fmt::format(",\"target\":{}", target.empty() ? "null" : json_string(target));
    } else if (rule.action == Action::kSinkhole) {
      // Addresses are plain text (digits, dots, colons, hex): no JSON escaping needed.
      std::string_view data = inspect::sinkhole_data(store, rule);
      line += fmt::format(",\"addresses\":[{}],\"addresses_from\":{}",
                          data.empty() ? "" : "\"" + addresses_to_text(data, "\",\"") + "\"",
                          json_string(sinkhole_origin(store, rule)));
    }
  }
  if (verdict.address && verdict.rules_inside != 0)
    line += fmt::format(",\"rules_inside\":{}", verdict.rules_inside);
  if (verdict.skipped.hit()) {
    const Rule& rule = verdict.skipped.rule;
    line +=
        fmt::format(",\"expired_rule\":{{\"owner\":{},\"kind\":{},\"action\":{},\"expires\":{}}}",
                    json_string(verdict.skipped_owner), json_string(rule_kind_text(verdict, rule)),
                    json_string(action_name(rule.action)), inspect::json_time(rule.expires));
  }
  fmt::print(out, "{}}}\n", line);
}

// The module config whose thresholds grade the rules: `path` (--config) must be readable;
// without it the module's own default may be missing (the CLI also runs where no resolver
// is installed), and then the built-in values apply.
}  // namespace

namespace inspect {
ModuleConfig grading_config(const std::string& path, const char* command) {
  if (!path.empty()) return load_config(path);
  std::string default_path = config_path_from_environment();
  struct stat info;
  if (stat(default_path.c_str(), &info) != 0 && errno == ENOENT) {
    ModuleConfig defaults;
    fmt::print(stderr,
               "dnsverdict {}: note: {} does not exist: grading with the built-in thresholds "
               "(confidence-tag {}, confidence-block {})\n",
               command, default_path, defaults.confidence_tag, defaults.confidence_block);
    return defaults;
  }
  return load_config(default_path);
}
}  // namespace inspect

int run_lookup(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kLookupUsage);
    return 0;
  }
  bool json = false;
  std::string at_text;
  std::string config_path;
  std::string client;
  std::vector<std::string> operands;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      operands.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "--json") {
      json = true;
    } else if (!take_option(args, i, "--at", at_text) &&
               !take_option(args, i, "--config", config_path) &&
               !take_option(args, i, "--client", client)) {
      throw UsageError(fmt::format("unknown option '{}'", arg));
    }
  }
  if (operands.size() < 2) throw UsageError("expected a store and at least one name or address");

  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::int64_t at = at_text.empty() ? now : parse_time(at_text, now);
  auto store = VerdictStore::open(operands[0]);
  ModuleConfig config = inspect::grading_config(config_path, "lookup");
  Asker asker;
  asker.context = QueryContext{kTypeA, false, true, &config.default_group};
  if (!client.empty()) {
    std::uint8_t address[16];
    int family = inet_pton(AF_INET, client.c_str(), address) == 1    ? AF_INET
                 : inet_pton(AF_INET6, client.c_str(), address) == 1 ? AF_INET6
                                                                      : 0;
    if (family == 0) throw UsageError("--client: not an IPv4 or IPv6 address: '" + client + "'");
    asker.client = client;
    asker.context.client_exempt = config.is_exempt(family, address);
    asker.context.group = &config.group_for(family, address);
  }
  asker.show_group = !client.empty() || config.has_groups();

  int status = 0;
  for (std::size_t i = 1; i < operands.size(); ++i) {
    Verdict verdict = look_up(*store, config, asker, operands[i], at);
    if (!verdict.error.empty()) status = 1;
    if (json)
      print_json(stdout, *store, verdict, at);
    else
      print_text(stdout, *store, config, asker, verdict);
  }
  return status;
}

}  // namespace dnsverdict
