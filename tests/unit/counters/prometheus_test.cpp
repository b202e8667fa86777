// The Prometheus textfile: a strict check of the exposition format, `promtool check metrics`
// when promtool is installed, label escaping, windows, and the atomic write.
#include "prometheus.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "counters_support.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

constexpr std::int64_t kHour = 1767225600;

// Parses exposition text strictly; returns "" when valid, else the first problem.
// Rules checked: every line is HELP, TYPE or a sample; HELP and TYPE once per family, before
// its samples; samples belong to the family declared last; metric and label names are
// valid; label values are quoted with only \\ \" \n escapes; values parse as numbers; no
// series appears twice; counters end in _total; no timestamps; the text ends in a newline.
std::string check_exposition(const std::string& text, std::map<std::string, double>* samples) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+))");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? ([-+]?[0-9.eE+-]+|NaN|[-+]Inf))");
  if (text.empty() || text.back() != '\n') return "does not end in a newline";
  std::istringstream lines(text);
  std::string line, family, family_type;
  std::set<std::string> helped, typed, series;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::smatch match;
    std::string where = "line " + std::to_string(number) + ": " + line;
    if (std::regex_match(line, match, help)) {
      if (!helped.insert(match[1]).second) return where + ": second HELP";
      family = match[1];
    } else if (std::regex_match(line, match, type)) {
      if (match[1] != family) return where + ": TYPE without HELP";
      if (!typed.insert(match[1]).second) return where + ": second TYPE";
      family_type = match[2];
      if (family_type == "counter" && family.size() < 6) return where + ": short counter";
      if (family_type == "counter" && family.compare(family.size() - 6, 6, "_total") != 0)
        return where + ": counter not ending in _total";
    } else if (std::regex_match(line, match, sample)) {
      if (match[1] != family || typed.count(family) == 0) return where + ": undeclared family";
      if (!series.insert(match[1].str() + match[2].str()).second) return where + ": duplicate";
      const std::string text = match[4].str();  // strtod's end must point into a live string
      char* end = nullptr;
      double value = std::strtod(text.c_str(), &end);
      if (*end != '\0') return where + ": bad value";
      if (samples != nullptr) (*samples)[match[1].str() + match[2].str()] = value;
    } else {
      return where + ": not HELP, TYPE or a sample";
    }
  }
  return "";
}

PrometheusReport sample_report() {
  PrometheusReport report;
  report.now = kHour + 3 * kSecondsPerHour + 60;
  report.health.store_loaded = true;
  report.health.store_build_id = "0123456789abcdef0123456789abcdef";
  report.health.store_build_time = report.now - 600;
  report.health.lookups = 123456;
  report.health.hits = 789;
  report.health.errors = 1;
  report.health.hit_log_dropped = 2;
  report.health.hit_log_configured = true;
  report.health.hit_log_open = false;
  report.health.hit_log_written = 40;
  report.health.hit_log_suppressed = 5000;
  report.health.hit_log_open_errors = 3;
  report.health.hit_log_write_errors = 7;
  report.counters.hits = 789;
  report.counters.evicted_rules = 3;
  report.stats.store_open = true;
  report.stats.flush_errors = 4;
  report.stats.last_flush = report.now;
  report.stats.map_full = 2;
  report.stats.store_used_bytes = 1 << 20;
  report.stats.map_size_bytes = std::size_t{4} << 30;
  report.counters_memory_bytes = 1000;
  report.counters_memory_budget = 128 << 20;
  CampaignWindows windows;
  windows.campaign = "img-lookalikes";
  windows.hits_current_hour = 10;
  windows.hits_hour = 100;
  windows.hits_day = 1000;
  windows.clients_current_hour = 4.4;
  windows.clients_hour = 40.6;
  windows.clients_day = 400;
  report.campaigns.push_back(windows);
  windows.campaign = "weird \"name\" \\ with\nnewline";
  report.campaigns.push_back(windows);
  return report;
}

TEST(Prometheus, FormatIsStrictlyValid) {
  std::map<std::string, double> samples;
  std::string text = format_prometheus(sample_report());
  EXPECT_EQ(check_exposition(text, &samples), "") << text;
  EXPECT_EQ(samples["dnsverdict_store_info{build_id=\"0123456789abcdef0123456789abcdef\"}"], 1);
  EXPECT_EQ(samples["dnsverdict_store_age_seconds"], 600);
  EXPECT_EQ(samples["dnsverdict_lookups_total"], 123456);
  EXPECT_EQ(samples["dnsverdict_hit_log_dropped_total"], 2);
  EXPECT_EQ(samples.at("dnsverdict_hit_log_open"), 0);
  EXPECT_EQ(samples["dnsverdict_hit_log_written_total"], 40);
  EXPECT_EQ(samples["dnsverdict_hit_log_suppressed_total"], 5000);
  EXPECT_EQ(samples["dnsverdict_hit_log_open_errors_total"], 3);
  EXPECT_EQ(samples["dnsverdict_hit_log_write_errors_total"], 7);
  EXPECT_EQ(samples["dnsverdict_counters_evicted_rules_total"], 3);
  EXPECT_EQ(samples["dnsverdict_stats_store_open"], 1);
  EXPECT_EQ(samples["dnsverdict_stats_flush_errors_total"], 4);
  EXPECT_EQ(samples["dnsverdict_stats_map_full_total"], 2);
  EXPECT_EQ(samples["dnsverdict_stats_map_size_bytes"], 4294967296.0);
  EXPECT_EQ(samples["dnsverdict_counters_memory_budget_bytes"], 128 << 20);
  EXPECT_EQ(samples["dnsverdict_campaign_hits{campaign=\"img-lookalikes\",window=\"1h\"}"], 100);
  EXPECT_EQ(
      samples["dnsverdict_campaign_unique_clients{campaign=\"img-lookalikes\",window=\"1h\"}"], 41);
  EXPECT_EQ(samples["dnsverdict_campaign_unique_clients{campaign=\"weird \\\"name\\\" \\\\ with"
                    "\\nnewline\",window=\"24h\"}"],
            400);
}

TEST(Prometheus, StrictCheckerCatchesMistakes) {
  EXPECT_NE(check_exposition("x 1\n", nullptr), "");
  EXPECT_NE(check_exposition("# HELP x h\n# TYPE x counter\nx 1\n", nullptr), "");
  EXPECT_NE(check_exposition("# HELP x h\n# TYPE x gauge\nx{a=\"b\"c} 1\n", nullptr), "");
  EXPECT_NE(check_exposition("# HELP x h\n# TYPE x gauge\nx 1 1700000000\n", nullptr), "");
  EXPECT_NE(check_exposition("# HELP x h\n# TYPE x gauge\nx 1\nx 2\n", nullptr), "");
  EXPECT_NE(check_exposition("# HELP x h\n# TYPE x gauge\nx 1", nullptr), "");
  EXPECT_EQ(check_exposition("# HELP x h\n# TYPE x gauge\nx{a=\"\\\"\"} 1\n", nullptr), "");
}

TEST(Prometheus, NoStoreLoaded) {
  PrometheusReport report;
  report.now = kHour;
  std::string text = format_prometheus(report);
  EXPECT_EQ(check_exposition(text, nullptr), "") << text;
  EXPECT_NE(text.find("dnsverdict_store_loaded 0\n"), std::string::npos);
  EXPECT_EQ(text.find("dnsverdict_campaign_hits"), std::string::npos);
  EXPECT_EQ(text.find("dnsverdict_hit_log_open"), std::string::npos);  // no hit log configured
}

// promtool (Debian package `prometheus`) is the real parser and linter.
TEST(Prometheus, PromtoolAcceptsTheFile) {
  const char* candidates[] = {"/usr/bin/promtool", "/usr/local/bin/promtool"};
  std::string promtool;
  for (const char* candidate : candidates)
    if (::access(candidate, X_OK) == 0) promtool = candidate;
  if (promtool.empty())
    GTEST_SKIP() << "promtool not installed (Debian: apt-get install prometheus)";
  testing::TempDir dir;
  std::string path = dir.file("dnsverdict.prom");
  std::string error;
  ASSERT_TRUE(write_text_file_atomically(path, format_prometheus(sample_report()), error)) << error;
  std::string output_path = dir.file("promtool.out");
  std::string command = promtool + " check metrics < " + path + " > " + output_path + " 2>&1";
  int status = std::system(command.c_str());
  std::string output = testing::read_file(output_path);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "") << output;
}

TEST(Prometheus, CampaignWindowsUseCompleteHoursAndUnions) {
  MergedStats merged;
  const std::int64_t now = kHour + 30 * kSecondsPerHour + 120;  // current hour: kHour + 30h
  auto add = [&](std::int64_t hour, std::uint32_t first, std::uint32_t clients) {
    StatsBucket bucket;
    bucket.subject.campaign = "c";
    bucket.resolver = "r";
    bucket.counts.hour = hour;
    for (std::uint32_t i = 0; i < clients; ++i) {
      std::uint32_t address = htonl(first + i);
      ClientHashes hashes = client_hashes(ClientAddress::from(AF_INET, &address), testing::client_key());
      bucket.counts.add(hour + 1, &hashes, true, /*sites=*/true);
    }
    merge_bucket(merged, std::move(bucket));
  };
  add(kHour + 30 * kSecondsPerHour, 0, 5);    // current hour
  add(kHour + 29 * kSecondsPerHour, 0, 50);   // last complete hour
  add(kHour + 10 * kSecondsPerHour, 25, 50);  // within the day: 25 overlap
  add(kHour + 5 * kSecondsPerHour, 1000, 7);  // older than 24 complete hours
  std::vector<CampaignWindows> windows = campaign_windows(merged, now);
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0].hits_current_hour, 5u);
  EXPECT_EQ(windows[0].hits_hour, 50u);
  EXPECT_EQ(windows[0].hits_day, 100u);
  EXPECT_NEAR(windows[0].clients_hour, 50, 0.5);
  EXPECT_NEAR(windows[0].clients_day, 75, 0.5);  // union, not 100
  EXPECT_NEAR(windows[0].sites_hour, 50, 0.5);    // IPv4: a site is an address
  EXPECT_NEAR(windows[0].sites_day, 75, 0.5);
}

TEST(Prometheus, AtomicWriteReplacesWholeFile) {
  testing::TempDir dir;
  std::string path = dir.file("x.prom");
  std::string error;
  ASSERT_TRUE(write_text_file_atomically(path, "first\n", error)) << error;
  ASSERT_TRUE(write_text_file_atomically(path, "second\n", error)) << error;
  EXPECT_EQ(testing::read_file(path), "second\n");
  struct stat info {};
  EXPECT_NE(::stat((path + ".tmp").c_str(), &info), 0);  // no temporary left behind
  EXPECT_FALSE(write_text_file_atomically(dir.file("missing/x.prom"), "x\n", error));
  EXPECT_NE(error.find("missing/x.prom"), std::string::npos);
}

// The textfile is created 0640 (with umask 022), and its temporary file is never opened
// through a symbolic link someone left in its place.
TEST(Prometheus, AtomicWriteModeAndNoFollow) {
  testing::TempDir dir;
  const std::string path = dir.file("x.prom");
  const mode_t saved = ::umask(022);
  std::string error;
  ASSERT_TRUE(write_text_file_atomically(path, "first\n", error)) << error;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);

  const std::string victim = dir.write("victim", "keep me\n");
  ASSERT_EQ(::symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  EXPECT_TRUE(write_text_file_atomically(path, "second\n", error)) << error;
  EXPECT_EQ(testing::read_file(victim), "keep me\n");
  EXPECT_EQ(testing::read_file(path), "second\n");
  ASSERT_EQ(::lstat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode));
  EXPECT_EQ(info.st_mode & 07777, 0640u);
  ::umask(saved);
}

}  // namespace
}  // namespace dnsverdict
