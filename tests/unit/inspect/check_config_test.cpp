// `dnsverdict check-config` run as the real program against configs and stores in a temporary
// folder: what it prints, and when the module would refuse to start (exit 1) or start with
// something missing (exit 0, warnings).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "test_support.h"

namespace dnsverdict {
namespace {

using testing::CliRun;
using testing::TempDir;

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

class CheckConfig : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("DNSVERDICT_CONFIG"); }
  void TearDown() override { unsetenv("DNSVERDICT_CONFIG"); }
  CliRun run(std::vector<std::string> args) {
    args.insert(args.begin(), "check-config");
    return testing::run_cli(dir_, std::move(args));
  }
  std::string build_store() {
    FeedDefaults defaults;
    defaults.action = Action::kNxdomain;
    return testing::build_store(dir_.file("verdicts.mdb"),
                                {{FeedFormat::kDomains, "a.example\nb.example\n", defaults}});
  }

  TempDir dir_;
};

TEST_F(CheckConfig, AGoodConfigIsOkAndItsSettingsAreShown) {
  std::string store = build_store();
  std::string config = dir_.write(
      "dnsverdict.conf",
      "store: " + store + "\nfail-mode: closed\nhit-log: " + dir_.file("hits.jsonl") +
          "\nexempt: 10.0.0.0/8, 2001:db8::/32\nconfidence-tag: 40\nconfidence-block: 70\n"
          "stats-store: " + dir_.file("stats.mdb") + "\n");
  CliRun result = run({config});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_TRUE(has_line(result.out, config + ": ok")) << result.out;
  EXPECT_NE(result.out.find("store             " + store + " (build "), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find(", 2 rules)\n"), std::string::npos) << result.out;
  EXPECT_TRUE(has_line(result.out, "fail-mode         closed")) << result.out;
  EXPECT_TRUE(has_line(result.out, "hit-log           " + dir_.file("hits.jsonl"))) << result.out;
  EXPECT_TRUE(has_line(result.out, "exempt            10.0.0.0/8, 2001:db8::/32")) << result.out;
  EXPECT_TRUE(has_line(result.out, "confidence-tag    40 (below: only logged)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "confidence-block  70 (below: tagged)")) << result.out;
  EXPECT_TRUE(has_line(result.out, "stats-store       " + dir_.file("stats.mdb"))) << result.out;
  EXPECT_TRUE(has_line(result.out, "prometheus-file   none")) << result.out;
  // Nothing was created: the module creates the hit log and the stats store itself.
  struct stat info;
  EXPECT_NE(stat(dir_.file("hits.jsonl").c_str(), &info), 0);
  EXPECT_NE(stat(dir_.file("stats.mdb").c_str(), &info), 0);
}

TEST_F(CheckConfig, WithoutAFileItChecksTheModulesOwn) {
  std::string config = dir_.write("module.conf", "store: " + build_store() + "\nhit-log:\n");
  setenv("DNSVERDICT_CONFIG", config.c_str(), 1);
  CliRun result = run({});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, config + ": ok")) << result.out;
  EXPECT_TRUE(has_line(result.out, "hit-log           none")) << result.out;
  EXPECT_TRUE(has_line(result.out, "stats-store       none")) << result.out;
}

TEST_F(CheckConfig, ASyntaxOrValueErrorIsFileLineKeyReason) {
  std::string config = dir_.write("bad.conf", "store: /s.mdb\nfail-mode: ajar\n");
  CliRun result = run({config});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, config + ":2: fail-mode: expected open or closed, got \"ajar\"\n");
  EXPECT_EQ(result.out, "");

  result = run({dir_.file("missing.conf")});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, dir_.file("missing.conf") + ": cannot read: No such file or directory\n");
}

TEST_F(CheckConfig, WhatTheModuleStartsWithoutIsAWarning) {
  // No store (the module applies fail-mode until one appears), no folder for the stats store
  // or the Prometheus file (the module then counts nothing).
  std::string config = dir_.write(
      "dnsverdict.conf", "store: " + dir_.file("none.mdb") + "\nhit-log:\nstats-store: " +
                             dir_.file("no/such/stats.mdb") + "\n\nprometheus-file: " +
                             dir_.file("nowhere/dnsverdict.prom") + "\n");
  CliRun result = run({config});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(has_line(result.out, config + ": ok, 3 warnings")) << result.out;
  EXPECT_TRUE(has_line(result.out, "store             " + dir_.file("none.mdb") + " (cannot be opened)"))
      << result.out;
  EXPECT_TRUE(has_line(result.err, config + ":1: warning: store: " + dir_.file("none.mdb") +
                                       ": cannot read the store (missing or inaccessible); "
                                       "fail-mode open: the module answers without verdicts "
                                       "until it can be opened"))
      << result.err;
  EXPECT_TRUE(has_line(result.err, config + ":3: warning: stats-store: " + dir_.file("no/such") +
                                       ": no such folder; the module counts nothing"))
      << result.err;
  EXPECT_TRUE(has_line(result.err, config + ":5: warning: prometheus-file: " +
                                       dir_.file("nowhere") +
                                       ": no such folder; the module writes no metrics"))
      << result.err;
}

TEST_F(CheckConfig, AHitLogInAMissingFolderIsAWarning) {
  std::string config = dir_.write("dnsverdict.conf", "store: " + build_store() +
                                                         "\nhit-log: " +
                                                         dir_.file("logs/hits.jsonl") + "\n");
  CliRun result = run({config});
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.err, config + ":2: warning: hit-log: " + dir_.file("logs") +
                            ": no such folder; the module writes no hit lines until it can\n");
  EXPECT_EQ(result.out.rfind(config + ": ok, 1 warning", 0), 0u) << result.out;
}

TEST_F(CheckConfig, HelpAndUsage) {
  CliRun help = run({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_EQ(help.out.rfind("usage: dnsverdict check-config [FILE]", 0), 0u) << help.out;
  EXPECT_NE(help.out.find("exit codes: 0"), std::string::npos) << help.out;
  EXPECT_EQ(run({"a.conf", "b.conf"}).status, 2);
  EXPECT_EQ(run({"--bogus"}).status, 2);

  CliRun usage = testing::run_cli(dir_, {"--help"});
  EXPECT_NE(usage.out.find("  check-config "), std::string::npos) << usage.out;
}

}  // namespace
}  // namespace dnsverdict
