// `dnsverdict compile` run as the real program: what it says when it cannot write, the times
// it takes, the per-feed safety valve, and input that is not a feed.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace dnsverdict {
namespace {

using testing::CliRun;
using testing::TempDir;
using testing::gzip;

class CompileCommand : public ::testing::Test {
 protected:
  CliRun run(std::vector<std::string> args) {
    args.insert(args.begin(), "compile");
    return testing::run_cli(dir_, std::move(args));
  }
  TempDir dir_;
};

// The store is written through a memory map of a sparse file: without its blocks allocated
// first, a full disk killed the compile with SIGBUS and left the temporary file behind.
TEST_F(CompileCommand, AFullDiskIsAnErrorAndLeavesNoTemporaryFile) {
  std::string small = dir_.file("small");
  ::mkdir(small.c_str(), 0755);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=1m") != 0)
    GTEST_SKIP() << "needs root to mount a 1 MB tmpfs";
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount(path.c_str()); }
  } unmount{small};
  std::string names;
  for (int i = 0; i < 20000; ++i) names += "name" + std::to_string(i) + ".example\n";
  std::string feed = dir_.write("feed.txt", names);
  CliRun result = run({"-q", "-o", small + "/x.mdb", feed});
  EXPECT_EQ(result.status, 1) << result.err;
  EXPECT_NE(result.err.find(small + "/x.mdb: cannot write: No space left on device"),
            std::string::npos)
      << result.err;
  for (const auto& entry : std::filesystem::directory_iterator(small))
    ADD_FAILURE() << "left behind: " << entry.path();
}

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

// The store being replaced is opened once, at the start; its rule count still guards the
// publication (a feed of another origin has no last good copy to fall back on).
TEST_F(CompileCommand, AStoreOfFarFewerRulesIsRefusedAndTheOldOneKept) {
  std::string names;
  for (int i = 0; i < 10; ++i) names += "name" + std::to_string(i) + ".example\n";
  std::string store = dir_.file("s.mdb");
  CliRun first = run({"-q", "-o", store, dir_.write("ten.txt", names)});
  ASSERT_EQ(first.status, 0) << first.err;
  CliRun second =
      run({"-q", "-o", store, dir_.write("three.txt", "a.example\nb.example\nc.example\n")});
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.err.find(store + ": refusing to replace the store: the new one has 3 rules, "
                                    "fewer than 50% of the 10 it holds now"),
            std::string::npos)
      << second.err;
  CliRun info = testing::run_cli(dir_, {"info", store});
  EXPECT_NE(info.out.find("rules             10"), std::string::npos) << info.out;
}

// The last good copy of a feed that arrives unchanged is kept as it is (not written, synced
// and renamed again); a changed feed replaces it, even at the same size.
TEST_F(CompileCommand, AnUnchangedFeedKeepsItsLastGoodCopyFile) {
  std::string feed = dir_.write("feed.txt", "aaa.example\nbbb.example\n");
  std::string store = dir_.file("s.mdb");
  auto copy = [&] {
    std::vector<std::string> copies;
    for (const auto& entry : std::filesystem::directory_iterator(store + ".feeds"))
      if (entry.path().extension() == ".feed") copies.push_back(entry.path().string());
    EXPECT_EQ(copies.size(), 1u);
    return copies.empty() ? std::string() : copies[0];
  };
  auto identity = [](const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_ino;
  };
  auto content = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_EQ(run({"-q", "-o", store, feed}).status, 0);
  const std::string path = copy();
  const ino_t first = identity(path);
  ASSERT_EQ(run({"-q", "-o", store, feed}).status, 0);
  EXPECT_EQ(identity(copy()), first);
  EXPECT_EQ(content(path), "aaa.example\nbbb.example\n");

  dir_.write("feed.txt", "aaa.example\nccc.example\n");
  ASSERT_EQ(run({"-q", "-o", store, feed}).status, 0);
  EXPECT_NE(identity(copy()), first);
  EXPECT_EQ(content(path), "aaa.example\nccc.example\n");
}

// A manifest of three feeds, the reported case: netlab-lookalike.csv carries a campaign.
class ManifestCompile : public CompileCommand {
 protected:
  void SetUp() override {
    csv_ = dir_.write("netlab-lookalike.csv",
                      "domain,kind,action,campaign\n"
                      "baidugif.com,subtree,sinkhole,Lookalike\n"
                      "qqjpeg.com,subtree,sinkhole,Lookalike\n"
                      "163pics.com,subtree,sinkhole,Lookalike\n"
                      "163image.com,subtree,sinkhole,Lookalike\n");
    dir_.write("domains.txt", "a.example\nb.example\nc.example\n");
    dir_.write("hosts.txt", "0.0.0.0 ads.example\n0.0.0.0 track.example\n");
    manifest_ = dir_.write("feeds.manifest",
                           "[campaign lookalike]\naction = sinkhole\nsinkhole = 10.66.66.66\n"
                           "[feed netlab-lookalike.csv]\nformat = csv\n"
                           "[feed domains.txt]\n[feed hosts.txt]\n");
    store_ = dir_.file("verdicts.mdb");
  }
  CliRun compile(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--manifest", manifest_, "-o", store_};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }
  CliRun lookup(const std::string& name) {
    return testing::run_cli(dir_, {"lookup", "--json", store_, name});
  }
  std::string csv_, manifest_, store_;
};

TEST_F(ManifestCompile, AFeedTruncatedToItsHeaderKeepsItsLastGoodRulesAndIsNamed) {
  CliRun first = compile();
  ASSERT_EQ(first.status, 0) << first.err;
  dir_.write("netlab-lookalike.csv", "domain,kind,action,campaign\n");
  CliRun second = compile();
  EXPECT_EQ(second.status, 3) << second.err;
  EXPECT_NE(second.err.find(csv_ + ": 0 entries, fewer than 50% of the 4 of its last good copy"),
            std::string::npos)
      << second.err;
  EXPECT_NE(lookup("baidugif.com").out.find("\"match\":true"), std::string::npos);
  EXPECT_NE(lookup("x.163image.com").out.find("\"campaign\":\"lookalike\""), std::string::npos)
      << lookup("x.163image.com").out;

  // --force takes the feed as it is now.
  CliRun forced = compile({"--force"});
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_NE(lookup("baidugif.com").out.find("\"match\":false"), std::string::npos);
}

TEST_F(ManifestCompile, AFeedThatShrinksBelowItsOwnRatioIsNotUsed) {
  ASSERT_EQ(compile().status, 0);
  dir_.write("domains.txt", "a.example\n");  // 1 of 3: below 0.5
  CliRun second = compile();
  EXPECT_EQ(second.status, 3) << second.err;
  EXPECT_NE(second.err.find(dir_.file("domains.txt") + ": 1 entries, fewer than 50% of the 3"),
            std::string::npos)
      << second.err;
  EXPECT_NE(lookup("c.example").out.find("\"match\":true"), std::string::npos);
}

TEST_F(ManifestCompile, CampaignNamesMatchWithoutRegardToCase) {
  CliRun result = compile();
  ASSERT_EQ(result.status, 0) << result.err;
  CliRun info = testing::run_cli(dir_, {"info", "--json", store_});
  EXPECT_NE(info.out.find("\"campaigns\":[{\"id\":1,\"name\":\"lookalike\",\"default_action\":"
                          "\"sinkhole\",\"sinkhole\":[\"10.66.66.66\"]"),
            std::string::npos)
      << info.out;
  EXPECT_EQ(info.out.find("Lookalike"), std::string::npos) << info.out;
}

TEST_F(CompileCommand, InputThatIsNotAFeedIsAnErrorThatSaysWhatItLooksLike) {
  std::string store = dir_.file("s.mdb");
  std::string binary = dir_.write("feed.bin", std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0", 12) +
                                                  std::string(200, '\0'));
  CliRun result = run({"-o", store, binary});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err, "dnsverdict compile: " + binary +
                            ": binary content (an executable), not a feed\n");

  std::string html = dir_.write("feed.html",
                                "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
                                "<body>nginx</body></html>\n");
  result = run({"-o", store, html});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find(html + ": an HTML page (\"502 Bad Gateway\"), not a feed"),
            std::string::npos)
      << result.err;

  std::string junk = dir_.write("junk.txt", "this is not\na feed at all\nnope nope\nok.example\n");
  result = run({"-o", store, junk});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find(junk + ": 3 of 4 entries are errors: not a domains feed"),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(std::ifstream(store).good()) << "nothing is published";

  // gzip is read as what it holds.
  std::string compressed = dir_.write("feed.txt.gz", gzip("evil.example\nworse.example\n"));
  result = run({"-o", store, compressed});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.err.find("2 entries read"), std::string::npos) << result.err;
}

// A compile runs on two threads where it can (tools/compile/parallel.h): a big feed is parsed
// in two halves, the sort and the store's records are split. What it writes and says must be
// what one thread writes and says: the same octets, the same messages in the same order.
class CompileThreads : public CompileCommand {
 protected:
  struct Outcome {
    CliRun run;
    std::string store;  // the store's octets ("" when none was published)
  };
  Outcome compile_with(const char* threads, std::vector<std::string> args) {
    ::setenv("DNSVERDICT_COMPILE_THREADS", threads, 1);
    std::string store = dir_.file(std::string("threads") + threads + ".mdb");
    std::filesystem::remove(store);
    args.insert(args.begin(), {"-q", "--build-time", "1700000000", "-o", store});
    Outcome outcome{run(args), ""};
    ::unsetenv("DNSVERDICT_COMPILE_THREADS");
    if (std::ifstream(store).good()) outcome.store = testing::read_file(store);
    // Messages name the feeds, never the store: the two runs' texts compare as they are.
    return outcome;
  }
  void expect_same(std::vector<std::string> args) {
    Outcome serial = compile_with("1", args);
    Outcome parallel = compile_with("2", args);
    EXPECT_EQ(serial.run.status, parallel.run.status);
    EXPECT_EQ(serial.run.err, parallel.run.err);
    EXPECT_TRUE(serial.store == parallel.store)
        << "the stores differ (" << serial.store.size() << " and " << parallel.store.size()
        << " octets)";
    last_err_ = serial.run.err;
    last_status_ = serial.run.status;
  }
  std::string last_err_;
  int last_status_ = -1;
};

TEST_F(CompileThreads, OneAndTwoThreadsWriteTheSameStoreAndSayTheSame) {
  // Big enough to be split; the same names in both halves (their rules compete, the earlier
  // line wins a tie), errors and warnings in both halves, addresses and prefixes.
  std::string domains, hosts, adblock;
  for (int i = 0; i < 12000; ++i) {
    domains += "name" + std::to_string(i) + ".example\n";
    if (i % 1000 == 7) domains += "twice.example\n*.twice.example\n";
    if (i % 3000 == 11) domains += "bad..name" + std::to_string(i) + "\n";
    if (i % 2500 == 3) domains += "10." + std::to_string(i % 250) + ".0.1/16\n";
    hosts += (i % 5 == 0 ? "10.1.1.1 sink" : "0.0.0.0 host") + std::to_string(i) + ".example\n";
    adblock += (i % 7 == 0 ? "@@||name" : "||ad") + std::to_string(i) + ".example^\n";
    if (i % 4000 == 1) adblock += "example.com##.banner\n";
  }
  // Name-server rules, hashed in key order whichever thread writes their heap entries.
  std::string rpz = "$ORIGIN rpz.example.\n@ SOA ns.rpz.example. h.rpz.example. 1 3600 600 "
                    "86400 300\n@ NS ns.rpz.example.\n";
  for (int i = 0; i < 6000; ++i) {
    rpz += "ns" + std::to_string(i) + ".hoster.example.rpz-nsdname CNAME .\n";
    if (i % 3 == 0) rpz += "32." + std::to_string(i % 250) + ".0.2.192.rpz-nsip CNAME .\n";
  }
  std::string domain_feed = dir_.write("domains.txt", domains);
  std::string hosts_feed = dir_.write("hosts.txt", hosts);
  std::string adblock_feed = dir_.write("adblock.txt", "[Adblock Plus 2.0]\n" + adblock);
  std::string rpz_feed = dir_.write("ns.rpz", rpz);
  expect_same({"--campaign", "one", domain_feed, "--action", "refuse", hosts_feed, adblock_feed,
               rpz_feed});
  EXPECT_EQ(last_status_, 0) << last_err_;
  EXPECT_NE(last_err_.find(domain_feed + ":9040: \"bad..name9011\": empty label"), std::string::npos)
      << last_err_;
  EXPECT_NE(last_err_.find(domain_feed + ":7527: warning: 10.3.0.1/16 has host bits set"), std::string::npos) << last_err_;

  // With an allowlist (its entries shadow the rules below them, resolved in one pass).
  std::string allow_feed = dir_.write("allow.txt", "name1.example\ntwice.example\n");
  expect_same({domain_feed, "--allow", allow_feed, adblock_feed});
  EXPECT_EQ(last_status_, 0) << last_err_;
}

TEST_F(CompileThreads, TheFirstErrorsAndWhereMaxErrorsGivesUpAreThoseOfOneThread) {
  std::string names;
  for (int i = 0; i < 12000; ++i) {
    names += "name" + std::to_string(i) + ".example\n";
    if (i == 100 || i >= 9000) names += "bad name" + std::to_string(i) + "\n";
  }
  std::string feed = dir_.write("feed.txt", names);
  // Errors in both halves: the first half's first.
  expect_same({"--max-errors", "5", feed});
  EXPECT_EQ(last_status_, 1);
  EXPECT_EQ(last_err_.find(feed + ":102: "), 0u) << last_err_;
  EXPECT_NE(last_err_.find(feed + ":9011: giving up after 6 errors (--max-errors 5)"),
            std::string::npos)
      << last_err_;
  // Errors only in the second half.
  std::string late;
  for (int i = 0; i < 12000; ++i)
    late += (i >= 11990 ? "bad name" : "name") + std::to_string(i) + ".example\n";
  std::string late_feed = dir_.write("late.txt", late);
  expect_same({"--max-errors", "3", late_feed});
  EXPECT_EQ(last_status_, 1);
  EXPECT_NE(last_err_.find(late_feed + ":11994: giving up after 4 errors (--max-errors 3)"),
            std::string::npos)
      << last_err_;
}

}  // namespace
}  // namespace dnsverdict
