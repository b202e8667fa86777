#include "test_support.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dnsverdict::testing {

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

}  // namespace dnsverdict::testing
