// The `dnsverdict` subcommands. Each takes the arguments after its name and returns the
// process exit code: 0 ok, 1 error (ToolError), 2 usage (UsageError). main.cpp catches and
// prints what they throw.
#pragma once

#include <string>
#include <vector>

namespace dnsverdict {

using Arguments = std::vector<std::string>;

int run_compile(const Arguments& args);
int run_lookup(const Arguments& args);
int run_info(const Arguments& args);
int run_dump(const Arguments& args);
int run_estimate(const Arguments& args);
int run_merge(const Arguments& args);
int run_stats(const Arguments& args);
int run_check_config(const Arguments& args);

// Small argument helpers shared by the commands (main.cpp).
// True when args[i] is `flag`; then `value` takes the next argument (UsageError if none).
bool take_option(const Arguments& args, std::size_t& i, const char* flag, std::string& value);
bool wants_help(const Arguments& args);

}  // namespace dnsverdict
