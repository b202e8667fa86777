// dnsverdict: the offline command line (compile, lookup, info, dump, ...).
#include <fmt/format.h>

#include <cstring>
#include <exception>

#include "commands.h"
#include "diagnostics.h"
#include "lmdb_handle.h"

namespace dnsverdict {

bool take_option(const Arguments& args, std::size_t& i, const char* flag, std::string& value) {
  const std::string& arg = args[i];
  std::size_t flag_size = std::strlen(flag);
  if (arg.compare(0, flag_size, flag) == 0 && arg.size() > flag_size && arg[flag_size] == '=') {
    value = arg.substr(flag_size + 1);
    return true;
  }
  if (arg != flag) return false;
  if (i + 1 >= args.size()) throw UsageError(fmt::format("{} needs a value", flag));
  value = args[++i];
  return true;
}

bool wants_help(const Arguments& args) {
  for (const auto& arg : args)
    if (arg == "--help" || arg == "-h") return true;
  return false;
}

namespace {

struct Command {
  const char* name;
  int (*run)(const Arguments&);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"compile", run_compile, "compile threat feeds into a verdict store"},
    {"lookup", run_lookup, "the verdict a resolver would apply to names, and why"},
    {"info", run_info, "a store's metadata, counts, sources and campaigns"},
    {"dump", run_dump, "write a store back out as a feed (rpz or csv)"},
    {"estimate", run_estimate, "infection size per campaign from query logs, and suspects"},
    {"merge", run_merge, "combine the sketches of sharded estimate runs"},
    {"stats", run_stats, "distinct clients per campaign and rule, from stats stores"},
    {"check-config", run_check_config, "check the module's config file before a (re)start"},
};

void print_usage(std::FILE* out) {
  fmt::print(out,
             "usage: dnsverdict COMMAND [OPTIONS] ...\n\n"
             "Compiles threat feeds into a memory-mapped verdict store for the dnsverdict Unbound\n"
             "module, inspects stores, and checks the module's config.\n\ncommands:\n");
  for (const auto& command : kCommands) fmt::print(out, "  {:<12} {}\n", command.name, command.summary);
  fmt::print(out,
             "\n`dnsverdict COMMAND --help` describes each command.\n"
             "exit codes: 0 ok, 1 error, 2 usage error.\n");
}

}  // namespace
}  // namespace dnsverdict

int main(int argc, char** argv) {
  using namespace dnsverdict;
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    fmt::print("dnsverdict {}\n", DNSVERDICT_VERSION);
    return 0;
  }
  Arguments args(argv + 2, argv + argc);
  for (const auto& command : kCommands) {
    if (name != command.name) continue;
    try {
      return command.run(args);
    } catch (const UsageError& error) {
      fmt::print(stderr, "dnsverdict {}: {}\n(see dnsverdict {} --help)\n", name, error.what(), name);
      return 2;
    } catch (const std::exception& error) {
      fmt::print(stderr, "dnsverdict {}: {}\n", name, error.what());
      return 1;
    }
  }
  fmt::print(stderr, "dnsverdict: unknown command '{}'\n\n", name);
  print_usage(stderr);
  return 2;
}
