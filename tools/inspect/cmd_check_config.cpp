// dnsverdict check-config: whether the module starts with a config file, and what it uses.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "diagnostics.h"
#include "lmdb_handle.h"
#include "module_config.h"
#include "verdict_store.h"

namespace dnsverdict {
namespace {

constexpr const char* kCheckConfigUsage =
    "usage: dnsverdict check-config [FILE]\n"
    "\n"
    "Checks the module config FILE (default: $DNSVERDICT_CONFIG, else\n"
    "/etc/dnsverdict/dnsverdict.conf) with the module's own parser, and the files it names,\n"
    "before Unbound is started or reloaded. Prints \"FILE: ok\" and the settings in effect.\n"
    "\n"
    "Errors (the module would not start): the file cannot be read, a syntax or value error\n"
    "(\"file:line: key: reason\").\n"
    "Warnings (the module starts, without what is missing, and keeps trying): a store that\n"
    "cannot be opened (fail-mode applies until one can), a hit-log, stats-store or\n"
    "prometheus-file that cannot be written (no hit lines, nothing counted), files or folders\n"
    "this user cannot write (Unbound's user may). Nothing is created or changed.\n"
    "\n"
    "options:\n"
    "  -h, --help   this help\n"
    "\n"
    "exit codes: 0 the module starts with FILE (warnings on standard error), 1 it would not\n"
    "(the reasons on standard error), 2 usage error\n";

// The line of the last `key:` in the config text (the one parse_config keeps), 0 when the key
// is not set and its default applies.
std::size_t line_of_key(std::string_view text, std::string_view key) {
  std::size_t found = 0;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line.compare(start, key.size(), key) != 0) continue;
    std::size_t colon = line.find_first_not_of(" \t", start + key.size());
    if (colon != std::string_view::npos && line[colon] == ':') found = number;
  }
  return found;
}

enum class Writable {
  kYes,
  kNotByThisUser,  // Unbound's user may still be able to
  kNever,          // no folder, or a folder where a file belongs: nobody can
};

// Whether a file the module opens for writing (creating it when missing) can be written: the
// file itself when it exists, else its folder. `reason` says why not ("path: reason").
Writable check_writable(const std::string& path, std::string& reason) {
  struct stat info;
  if (stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      reason = path + ": is a folder";
      return Writable::kNever;
    }
    if (access(path.c_str(), W_OK) != 0) {
      reason = fmt::format("{}: not writable by this user: {}", path, std::strerror(errno));
      return Writable::kNotByThisUser;
    }
    return Writable::kYes;
  }
  std::size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    reason = folder + ": no such folder";
    return Writable::kNever;
  }
  if (access(folder.c_str(), W_OK | X_OK) != 0) {
    reason = fmt::format("{}: folder not writable by this user: {}", folder, std::strerror(errno));
    return Writable::kNotByThisUser;
  }
  return Writable::kYes;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void print_setting(std::string_view key, std::string_view value) {
  fmt::print("{:<18}{}\n", key, value);
}

std::string path_or_none(const std::string& path) { return path.empty() ? "none" : path; }

}  // namespace

int run_check_config(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kCheckConfigUsage);
    return 0;
  }
  std::vector<std::string> operands;
  for (const std::string& arg : args) {
    if (!arg.empty() && arg[0] == '-' && arg != "-")
      throw UsageError(fmt::format("unknown option '{}'", arg));
    operands.push_back(arg);
  }
  if (operands.size() > 1) throw UsageError("expected at most one config file");
  std::string path = operands.empty() ? config_path_from_environment() : operands[0];

  ModuleConfig config;
  try {
    config = load_config(path);  // the module's own reader and parser
  } catch (const ConfigError& error) {
    fmt::print(stderr, "{}\n", error.what());
    return 1;
  }
  std::string text = read_text(path);
  Diagnostics problems(SIZE_MAX, stderr);
  auto report = [&](bool fatal, std::string_view key, std::string_view reason) {
    std::string message = fmt::format("{}: {}", key, reason);
    if (fatal)
      problems.error(path, line_of_key(text, key), message);
    else
      problems.warning(path, line_of_key(text, key), message);
  };

  // The store: without it the module starts and applies fail-mode until one can be opened.
  std::string store_summary;
  try {
    auto store = VerdictStore::open(config.store_path);
    store_summary = fmt::format("{} (build {}, {} rules)", config.store_path,
                                store->info().build_id, store->info().rule_count);
  } catch (const StoreError& error) {
    store_summary = config.store_path + " (cannot be opened)";
    report(false, "store",
           fmt::format("{}; fail-mode {}", error.what(),
                       config.fail_mode == FailMode::kOpen
                           ? "open: the module answers without verdicts until it can be opened"
                           : "closed: the module answers SERVFAIL until it can be opened"));
  }

  // The hit log and the counters' files are observations: the module starts without them
  // and keeps trying to open them.
  std::string reason;
  if (!config.hit_log_path.empty()) {
    switch (check_writable(config.hit_log_path, reason)) {
      case Writable::kYes: break;
      case Writable::kNotByThisUser:
        report(false, "hit-log", reason + " (Unbound's user must be able to write it)");
        break;
      case Writable::kNever:
        report(false, "hit-log", reason + "; the module writes no hit lines until it can");
        break;
    }
  }
  if (!config.stats_store_path.empty() &&
      check_writable(config.stats_store_path, reason) != Writable::kYes)
    report(false, "stats-store", reason + "; the module counts nothing");
  if (!config.prometheus_file.empty() &&
      check_writable(config.prometheus_file, reason) != Writable::kYes)
    report(false, "prometheus-file", reason + "; the module writes no metrics");
  if (problems.errors() > 0) return 1;

  if (problems.warnings() == 0)
    fmt::print("{}: ok\n", path);
  else
    fmt::print("{}: ok, {} warning{}\n", path, problems.warnings(),
               problems.warnings() == 1 ? "" : "s");
  print_setting("store", store_summary);
  print_setting("fail-mode", config.fail_mode == FailMode::kOpen ? "open" : "closed");
  print_setting("hit-log", path_or_none(config.hit_log_path));
  std::string exempt;
  for (const Network& network : config.exempt)
    exempt += (exempt.empty() ? "" : ", ") + network.to_text();
  print_setting("exempt", exempt.empty() ? "none" : exempt);
  print_setting("confidence-tag", fmt::format("{} (below: only logged)", config.confidence_tag));
  print_setting("confidence-block", fmt::format("{} (below: tagged)", config.confidence_block));
  std::vector<const ClientGroup*> groups{&config.default_group};
  for (const ClientGroup& group : config.groups) groups.push_back(&group);
  for (const ClientGroup* group : groups) {
    if (group->networks.empty() && group->mode == GroupMode::kEnforce &&
        group->categories.empty() && group->campaigns.empty() && !group->confidence_tag) {
      continue;  // the default group as it is without settings of its own
    }
    std::string text = group->mode == GroupMode::kMonitor ? "monitor" : "enforce";
    std::string networks;
    for (const Network& network : group->networks)
      networks += (networks.empty() ? "" : ", ") + network.to_text();
    text += group->networks.empty() ? "; clients in no other group" : "; " + networks;
    if (!group->categories.empty() || !group->campaigns.empty()) {
      text += "; only";
      if (!group->categories.empty())
        text += fmt::format(" categories {}", fmt::join(group->categories, " "));
      if (!group->campaigns.empty())
        text += fmt::format(" campaigns {}", fmt::join(group->campaigns, " "));
    }
    if (group->confidence_tag) {
      text += fmt::format("; confidence {} {}", *group->confidence_tag, *group->confidence_block);
    }
    print_setting("group " + group->name, text);
  }
  print_setting("stats-store", path_or_none(config.stats_store_path));
  print_setting("prometheus-file", path_or_none(config.prometheus_file));
  return 0;
}

}  // namespace dnsverdict
