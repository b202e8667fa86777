// dnsverdict info: a store's metadata, counts, sources, campaigns and categories.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "cmd_inspect.h"
#include "commands.h"
#include "diagnostics.h"

namespace dnsverdict {
namespace {

constexpr const char* kInfoUsage =
    "usage: dnsverdict info [--json] STORE\n"
    "\n"
    "Describes a verdict store: format version, build id, build time and compiler version;\n"
    "rules by action and by kind; address rules (IPv4, IPv6); the sources it was compiled\n"
    "from (file, format, content hash, rules, modification time, role) and where each came\n"
    "from (file, URL and ETag, zone and serial, or its last good copy and why), its entries\n"
    "and their change since the build before; campaigns (name, default action, sinkhole\n"
    "addresses, description); categories; triggers the compiler skipped; file size and bytes\n"
    "per rule; the checksum (verified before the store is read; none for a store written by\n"
    "an older compile).\n"
    "\n"
    "options:\n"
    "  --json       one JSON object instead of text\n"
    "  -h, --help   this help\n"
    "\n"
    "exit codes: 0 ok, 1 error (missing or unreadable store), 2 usage error\n";

std::uint64_t meta_count(const StoreInfo& info, const std::string& key) {
  auto it = info.meta.find(key);
  if (it == info.meta.end()) return 0;
  std::uint64_t value = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  return value;
}

// Triggers the compiler counted but could not store, from the "skipped.<trigger>" entries.
std::vector<std::pair<std::string, std::uint64_t>> skipped_triggers(const StoreInfo& info) {
  std::vector<std::pair<std::string, std::uint64_t>> skipped;
  const std::string prefix = meta::kSkippedPrefix;
  for (auto it = info.meta.lower_bound(prefix);
       it != info.meta.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    skipped.emplace_back(it->first.substr(prefix.size()), meta_count(info, it->first));
  return skipped;
}

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double size = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (size >= 1024 && unit + 1 < std::size(units)) {
    size /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} bytes", bytes) : fmt::format("{:.1f} {}", size, units[unit]);
}

double bytes_per_rule(const VerdictStore& store) {
  std::uint64_t rules = store.info().rule_count;
  return rules == 0 ? 0.0 : static_cast<double>(store.identity().size) / static_cast<double>(rules);
}

// Prints rows as columns separated by two spaces, indented by two; the last column unpadded.
void print_table(std::FILE* out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line = " ";
    for (std::size_t i = 0; i < row.size(); ++i)
      line += i + 1 == row.size() ? fmt::format(" {}", row[i])
                                  : fmt::format(" {:<{}}", row[i], widths[i] + 1);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print(out, "{}\n", line);
  }
}

// Name-server rules by name (rpz-nsdname) or by address (rpz-nsip), from "meta".
std::string name_server_rule_count(const VerdictStore& store, const char* key) {
  auto it = store.info().meta.find(key);
  return it == store.info().meta.end() ? "0" : it->second;
}

void print_text(std::FILE* out, const VerdictStore& store) {
  const StoreInfo& info = store.info();
  fmt::print(out, "store             {}\n", store.path());
  fmt::print(out, "format version    {}\n", info.format_version);
  fmt::print(out, "build id          {}\n", info.build_id);
  fmt::print(out, "build time        {} ({})\n", inspect::format_time(info.build_time),
             info.build_time);
  fmt::print(out, "compiler          {}\n", info.compiler_version);
  fmt::print(out, "file size         {} ({}), {:.1f} bytes per rule\n",
             human_size(static_cast<std::uint64_t>(store.identity().size)), store.identity().size,
             bytes_per_rule(store));
  fmt::print(out, "checksum          {}\n", describe(store.checksum()));
  fmt::print(out, "rules             {} under {} names\n", info.rule_count, info.key_count);
  fmt::print(out, "address rules     {} IPv4, {} IPv6 prefixes\n", store.address_rule_count(4),
             store.address_rule_count(6));
  if (store.has_name_server_rules())
    fmt::print(out, "name-server rules {} by name, {} by address\n",
               name_server_rule_count(store, meta::kNsdnameRuleCount),
               name_server_rule_count(store, meta::kNsipRuleCount));

  std::vector<std::vector<std::string>> rows;
  for (Action action : kAllActions) {
    std::uint64_t count =
        meta_count(info, meta::kCountActionPrefix + std::string(action_name(action)));
    if (count != 0) rows.push_back({std::string(action_name(action)), std::to_string(count)});
  }
  fmt::print(out, "\nrules by action\n");
  if (rows.empty()) fmt::print(out, "  (none)\n");
  print_table(out, rows);
  rows.clear();
  for (RuleKind kind : kAllKinds)
    rows.push_back(
        {std::string(kind_name(kind)),
         std::to_string(meta_count(info, meta::kCountKindPrefix + std::string(kind_name(kind))))});
  fmt::print(out, "\nname rules by kind\n");
  print_table(out, rows);

  fmt::print(out, "\nsources ({})\n", store.sources().size());
  rows = {{"id", "file", "format", "role", "rules", "modified", "content hash"}};
  for (const auto& [id, source] : store.sources())
    rows.push_back({std::to_string(id), source.file, source.format, source.role,
                    std::to_string(source.rules),
                    source.time == 0 ? "-" : inspect::format_time(source.time),
                    source.content_hash.empty() ? "-" : source.content_hash});
  print_table(out, rows);
  // Where each feed came from (stores compiled before provenance was recorded have none).
  rows = {{"id", "entries", "since last build", "from"}};
  for (const auto& [id, source] : store.sources()) {
    if (!source.has_provenance) continue;
    std::string change = "new";
    if (source.previous_entries != 0) {
      auto delta = static_cast<std::int64_t>(source.entries) -
                   static_cast<std::int64_t>(source.previous_entries);
      change = delta == 0 ? "unchanged" : fmt::format("{:+}", delta);
    }
    rows.push_back({std::to_string(id), std::to_string(source.entries), change,
                    source.version.empty() ? source.status : source.status + ", " + source.version});
  }
  if (rows.size() > 1) {
    fmt::print(out, "\nsource provenance\n");
    print_table(out, rows);
  }

  fmt::print(out, "\ncampaigns ({})\n", store.campaigns().size());
  if (!store.campaigns().empty()) {
    rows = {{"id", "name", "default action", "sinkhole", "description"}};
    for (const auto& [id, campaign] : store.campaigns()) {
      std::string sinkhole = addresses_to_text(campaign.sinkhole, ",");
      rows.push_back(
          {std::to_string(id), campaign.name,
           campaign.default_action ? std::string(action_name(*campaign.default_action)) : "-",
           sinkhole.empty() ? "-" : sinkhole, campaign.description});
    }
    print_table(out, rows);
  }

  fmt::print(out, "\ncategories ({})\n", store.categories().size());
  if (!store.categories().empty()) {
    rows = {{"id", "name"}};
    for (const auto& [id, name] : store.categories()) rows.push_back({std::to_string(id), name});
    print_table(out, rows);
  }

  auto skipped = skipped_triggers(info);
  if (!skipped.empty()) {
    fmt::print(out, "\nskipped triggers (counted, not in the store)\n");
    rows.clear();
    for (const auto& [trigger, count] : skipped) rows.push_back({trigger, std::to_string(count)});
    print_table(out, rows);
  }
}

void print_json(std::FILE* out, const VerdictStore& store) {
  using inspect::json_string;
  const StoreInfo& info = store.info();
  std::string json = fmt::format(
      "{{\"path\":{},\"format_version\":{},\"build_id\":{},\"build_time\":{},"
      "\"build_time_unix\":{},\"compiler_version\":{},\"rules\":{},\"keys\":{},"
      "\"address_rules\":{{\"ipv4\":{},\"ipv6\":{}}},"
      "\"name_server_rules\":{{\"by_name\":{},\"by_address\":{}}},"
      "\"file_size\":{},\"bytes_per_rule\":{:.1f},\"checksum\":{}",
      json_string(store.path()), info.format_version, json_string(info.build_id),
      json_string(inspect::format_time(info.build_time)), info.build_time,
      json_string(info.compiler_version), info.rule_count, info.key_count,
      store.address_rule_count(4), store.address_rule_count(6),
      name_server_rule_count(store, meta::kNsdnameRuleCount),
      name_server_rule_count(store, meta::kNsipRuleCount), store.identity().size,
      bytes_per_rule(store),
      store.checksum().state == ChecksumState::kVerified ? json_string(store.checksum().hash)
                                                          : std::string("null"));

  std::vector<std::string> items;
  auto join = [&items] {
    std::string joined;
    for (const auto& item : items) joined += (joined.empty() ? "" : ",") + item;
    items.clear();
    return joined;
  };
  for (Action action : kAllActions)
    items.push_back(
        fmt::format("{}:{}", json_string(action_name(action)),
                    meta_count(info, meta::kCountActionPrefix + std::string(action_name(action)))));
  json += fmt::format(",\"actions\":{{{}}}", join());
  for (RuleKind kind : kAllKinds)
    items.push_back(
        fmt::format("{}:{}", json_string(kind_name(kind)),
                    meta_count(info, meta::kCountKindPrefix + std::string(kind_name(kind)))));
  json += fmt::format(",\"kinds\":{{{}}}", join());

  for (const auto& [id, source] : store.sources()) {
    std::string provenance =
        source.has_provenance
            ? fmt::format(",\"origin\":{},\"version\":{},\"status\":{},\"entries\":{},"
                          "\"previous_entries\":{}",
                          json_string(source.origin), json_string(source.version),
                          json_string(source.status), source.entries, source.previous_entries)
            : "";
    items.push_back(fmt::format(
        "{{\"id\":{},\"file\":{},\"format\":{},\"role\":{},\"rules\":{},\"time\":{},\"hash\":{}{}}}",
        id, json_string(source.file), json_string(source.format), json_string(source.role),
        source.rules, inspect::json_time(source.time), json_string(source.content_hash),
        provenance));
  }
  json += fmt::format(",\"sources\":[{}]", join());

  for (const auto& [id, campaign] : store.campaigns()) {
    std::string sinkhole = addresses_to_text(campaign.sinkhole, "\",\"");
    items.push_back(fmt::format(
        "{{\"id\":{},\"name\":{},\"default_action\":{},\"sinkhole\":[{}],\"description\":{}}}", id,
        json_string(campaign.name),
        campaign.default_action ? json_string(action_name(*campaign.default_action)) : "null",
        sinkhole.empty() ? "" : "\"" + sinkhole + "\"", json_string(campaign.description)));
  }
  json += fmt::format(",\"campaigns\":[{}]", join());

  for (const auto& [id, name] : store.categories())
    items.push_back(fmt::format("{{\"id\":{},\"name\":{}}}", id, json_string(name)));
  json += fmt::format(",\"categories\":[{}]", join());

  for (const auto& [trigger, count] : skipped_triggers(info))
    items.push_back(fmt::format("{}:{}", json_string(trigger), count));
  json += fmt::format(",\"skipped\":{{{}}}", join());

  for (const auto& [key, value] : info.meta)
    items.push_back(fmt::format("{}:{}", json_string(key), json_string(value)));
  json += fmt::format(",\"meta\":{{{}}}}}", join());
  fmt::print(out, "{}\n", json);
}

}  // namespace

int run_info(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kInfoUsage);
    return 0;
  }
  bool json = false;
  std::vector<std::string> operands;
  for (const auto& arg : args) {
    if (arg == "--json")
      json = true;
    else if (arg.size() > 1 && arg[0] == '-')
      throw UsageError(fmt::format("unknown option '{}'", arg));
    else
      operands.push_back(arg);
  }
  if (operands.size() != 1) throw UsageError("expected exactly one store");
  auto store = VerdictStore::open(operands[0]);
  if (json)
    print_json(stdout, *store);
  else
    print_text(stdout, *store);
  return 0;
}

}  // namespace dnsverdict
