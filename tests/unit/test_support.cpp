#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dnsverdict::testing {

std::string gzip(std::string_view text) {
  std::string out(compressBound(static_cast<uLong>(text.size())) + 64, '\0');
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/dnsverdict-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(std::string_view name, std::string_view content) const {
  std::string path = file(name);
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return path;
}

RuleSet parse_feeds(const std::vector<TestFeed>& feeds, Diagnostics* diagnostics) {
  Diagnostics quiet(1000000, nullptr);
  Diagnostics& report = diagnostics != nullptr ? *diagnostics : quiet;
  RuleSet rules;
  for (const auto& feed : feeds) {
    FeedFormat format = feed.format == FeedFormat::kAuto ? detect_format(feed.content) : feed.format;
    SourceRecord source;
    source.file = feed.name;
    source.format = std::string(format_name(format));
    source.role = feed.defaults.allowlist ? "allow" : "block";
    std::uint16_t id = rules.add_source(source);
    parse_feed(format, feed.name, feed.content, feed.defaults, id, rules, report);
  }
  return rules;
}

std::string build_store(const std::string& path, const std::vector<TestFeed>& feeds,
                        PublishOptions options) {
  RuleSet rules = parse_feeds(feeds);
  rules.finalize();
  write_store(rules, path, options);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

CliRun run_program(const std::string& folder, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::string out_path = folder + "/run.out", err_path = folder + "/run.err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = 0;
  CliRun run;
  int error = posix_spawnp(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return run;
  int status = 0;
  waitpid(pid, &status, 0);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = read_file(out_path);
  run.err = read_file(err_path);
  return run;
}

std::string cli_path() {
  if (const char* path = std::getenv("DNSVERDICT_CLI")) return path;
  char self[PATH_MAX];
  ssize_t size = readlink("/proc/self/exe", self, sizeof self - 1);
  if (size <= 0) return "dnsverdict";
  std::string path(self, static_cast<std::size_t>(size));
  path.erase(path.rfind('/'));
  return path.substr(0, path.rfind('/')) + "/tools/dnsverdict";
}

CliRun run_cli(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), cli_path());
  CliRun run = run_program(dir.path(), std::move(args));
  if (run.status == -1) ADD_FAILURE() << "cannot run " << cli_path() << " (build the dnsverdict target)";
  return run;
}

}  // namespace dnsverdict::testing
