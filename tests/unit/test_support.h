// Test fixtures: temporary folders and tiny stores built through the real compiler code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "feed.h"
#include "rule_set.h"
#include "store_writer.h"

namespace dnsverdict::testing {

// A fresh folder under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }
  // Writes `content` to file(name) and returns its path.
  std::string write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

struct TestFeed {
  FeedFormat format;
  std::string content;
  FeedDefaults defaults = {};
  std::string name = "feed.txt";
};

// `text` compressed as one gzip member (what `gzip` writes).
std::string gzip(std::string_view text);

// Parses the feeds with the real parsers into a RuleSet (not finalized). Errors go to
// `diagnostics` (default: a silent one that tolerates many).
RuleSet parse_feeds(const std::vector<TestFeed>& feeds, Diagnostics* diagnostics = nullptr);

// Parses, finalizes and publishes the feeds to `path` with default options; returns path.
std::string build_store(const std::string& path, const std::vector<TestFeed>& feeds,
                        PublishOptions options = {});

std::string read_file(const std::string& path);

// A program's exit status (-1: it could not start or did not exit) and captured output.
struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs args[0] (looked up in PATH) with stdout and stderr captured in files of `folder`.
CliRun run_program(const std::string& folder, std::vector<std::string> args);

// The CLI beside this test in the build tree (build/tests/X -> build/tools/dnsverdict), or
// $DNSVERDICT_CLI.
std::string cli_path();

// `dnsverdict ARGS...`; a test failure when it cannot be started.
CliRun run_cli(const TempDir& dir, std::vector<std::string> args);

}  // namespace dnsverdict::testing
