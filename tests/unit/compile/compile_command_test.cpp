// `dnsverdict compile` run as the real program: what it says when it cannot write, and the
// times it takes.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace dnsverdict {
namespace {

using testing::CliRun;
using testing::TempDir;

class CompileCommand : public ::testing::Test {
 protected:
  CliRun run(std::vector<std::string> args) {
    args.insert(args.begin(), "compile");
    return testing::run_cli(dir_, std::move(args));
  }
  TempDir dir_;
};

TEST_F(CompileCommand, AnOutputFolderThatCannotTakeTheStoreIsNamedNotTheTemporaryFile) {
  std::string feed = dir_.write("feed.txt", "evil.example\n");
  std::string target = dir_.file("missing-dir/x.mdb");
  CliRun result = run({"-o", target, feed});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, "dnsverdict compile: " + target + ": cannot write: folder " +
                            dir_.file("missing-dir") + ": No such file or directory\n");
  EXPECT_EQ(result.err.find(".tmp."), std::string::npos) << result.err;

  std::string file = dir_.write("plain-file", "");
  result = run({"-o", file + "/x.mdb", feed});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, "dnsverdict compile: " + file + "/x.mdb: cannot write: " + file +
                            " is not a folder\n");
}

TEST_F(CompileCommand, ExpiresAndBuildTimeTakeTheTimesOfEveryCommand) {
  std::string feed = dir_.write("feed.txt", "evil.example\n");
  std::string store = dir_.file("s.mdb");
  CliRun result =
      run({"-q", "-o", store, "--build-time", "2025-01-01", "--expires", "2027-01-01", feed});
  ASSERT_EQ(result.status, 0) << result.err;
  CliRun info = testing::run_cli(dir_, {"info", store});
  EXPECT_NE(info.out.find("build time        2025-01-01T00:00:00Z (1735689600)"),
            std::string::npos)
      << info.out;
  CliRun lookup = testing::run_cli(dir_, {"lookup", "--json", "--at", "2026-06-01", store, "evil.example"});
  EXPECT_NE(lookup.out.find("\"expires\":\"2027-01-01T00:00:00Z\""), std::string::npos)
      << lookup.out;

  result = run({"-q", "-o", store, "--force", "--expires", "+30d", feed});
  ASSERT_EQ(result.status, 0) << result.err;
  lookup = testing::run_cli(dir_, {"lookup", "--json", "--at", "+29d", store, "evil.example"});
  EXPECT_NE(lookup.out.find("\"match\":true,\"action\":\"nxdomain\""), std::string::npos)
      << lookup.out;
  lookup = testing::run_cli(dir_, {"lookup", "--json", "--at", "+31d", store, "evil.example"});
  EXPECT_NE(lookup.out.find("\"expired_rule\""), std::string::npos) << lookup.out;

  result = run({"-q", "-o", store, "--expires", "soon", feed});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("--expires: 'soon' is not a time (unix seconds, 2026-01-31"),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace dnsverdict
