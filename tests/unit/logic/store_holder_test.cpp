#include "store_holder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <thread>

#include "test_support.h"

namespace dnsverdict {
namespace {

bool blocks(const VerdictStore* store, const char* name) {
  std::string wire, error;
  parse_name(name, wire, error);
  return store != nullptr &&
         store->lookup_wire(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), 0).hit();
}

TEST(StoreHolder, SwapsWhileReadersRunAndKeepsLastGood) {
  testing::TempDir dir;
  std::string path = dir.file("s.mdb");
  testing::build_store(path, {{FeedFormat::kDomains, "one.test\n"}});
  StoreHolder holder({path, std::chrono::milliseconds(10), {}, {}, {}});
  std::string error;
  ASSERT_TRUE(holder.load(error)) << error;
  std::atomic<bool> stop{false};
  std::atomic<long> lookups{0}, misses_of_one{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        if (!blocks(holder.current(), "one.test")) ++misses_of_one;
        ++lookups;
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    PublishOptions options;
    options.force = true;
    testing::build_store(path, {{FeedFormat::kDomains, "one.test\ntwo" + std::to_string(i) + ".test\n"}},
                         options);
    EXPECT_TRUE(holder.check());
  }
  // A broken file renamed into place: rejected once, the last good store stays.
  std::string garbage = dir.write("garbage", std::string(50000, 'x'));
  std::rename(garbage.c_str(), path.c_str());
  EXPECT_FALSE(holder.check());
  EXPECT_FALSE(holder.check());
  EXPECT_EQ(holder.failed_loads(), 1u);
  stop = true;
  for (auto& reader : readers) reader.join();
  EXPECT_GT(lookups.load(), 0);
  EXPECT_EQ(misses_of_one.load(), 0);
  EXPECT_EQ(holder.swaps(), 5u);
  EXPECT_TRUE(blocks(holder.current(), "two4.test"));
}

TEST(StoreHolder, MissingAtStartThenAppears) {
  testing::TempDir dir;
  std::string path = dir.file("s.mdb");
  StoreHolder holder({path, std::chrono::milliseconds(10), {}, {}, {}});
  std::string error;
  EXPECT_FALSE(holder.load(error));
  EXPECT_EQ(holder.current(), nullptr);
  testing::build_store(path, {{FeedFormat::kDomains, "one.test\n"}});
  EXPECT_TRUE(holder.check());
  EXPECT_TRUE(blocks(holder.current(), "one.test"));
}

struct LogLines {
  std::vector<std::pair<StoreHolder::Severity, std::string>> lines;
  StoreHolder::Logger logger() {
    return [this](StoreHolder::Severity severity, const std::string& line) {
      lines.emplace_back(severity, line);
    };
  }
  int count(const std::string& fragment) const {
    int found = 0;
    for (const auto& line : lines) found += line.second.find(fragment) != std::string::npos;
    return found;
  }
};

// A published store whose bytes do not match its checksum is refused before LMDB reads it:
// one error line, the last good store stays, and the next good file is taken.
TEST(StoreHolder, DamagedStoreIsRefusedOnceAndTheOldOneKept) {
  testing::TempDir dir;
  std::string path = dir.file("s.mdb");
  testing::build_store(path, {{FeedFormat::kDomains, "one.test\n"}});
  LogLines log;
  StoreHolder holder({path, std::chrono::milliseconds(10), log.logger(), {}, {}});
  std::string error;
  ASSERT_TRUE(holder.load(error)) << error;
  std::string damaged = dir.file("damaged.mdb");
  PublishOptions options;
  options.force = true;
  testing::build_store(damaged, {{FeedFormat::kDomains, "two.test\n"}}, options);
  std::string bytes = testing::read_file(damaged);
  bytes[4096 * 2 + 20] ^= 0x40;
  dir.write("damaged.mdb", bytes);
  ASSERT_EQ(std::rename(damaged.c_str(), path.c_str()), 0);
  EXPECT_FALSE(holder.check());
  EXPECT_FALSE(holder.check());
  EXPECT_EQ(holder.failed_loads(), 1u);
  EXPECT_EQ(log.count("checksum mismatch"), 1);
  EXPECT_EQ(log.count("still answering from " + path), 1);
  EXPECT_TRUE(blocks(holder.current(), "one.test"));
  testing::build_store(path, {{FeedFormat::kDomains, "two.test\n"}}, options);
  EXPECT_TRUE(holder.check());
  EXPECT_TRUE(blocks(holder.current(), "two.test"));
}

// A file refused for its permissions is tried again once they change: chmod keeps the
// file's identity (inode, size, modification time) but changes its inode change time. (The
// opener refuses mode 000 itself: the tests may run as root, which reads any file.)
TEST(StoreHolder, RefusedFileIsTriedAgainAfterChmod) {
  testing::TempDir dir;
  std::string path = dir.file("s.mdb");
  testing::build_store(path, {{FeedFormat::kDomains, "one.test\n"}});
  LogLines log;
  StoreHolder::Opener opener = [](const std::string& file) {
    struct stat info;
    if (::stat(file.c_str(), &info) == 0 && (info.st_mode & 0444) == 0)
      throw StoreError(file + ": cannot read the store (missing or inaccessible)");
    return VerdictStore::open(file);
  };
  StoreHolder holder({path, std::chrono::milliseconds(10), log.logger(), {}, opener});
  std::string error;
  ASSERT_TRUE(holder.load(error)) << error;
  std::string fresh = dir.file("fresh.mdb");
  PublishOptions options;
  options.force = true;
  testing::build_store(fresh, {{FeedFormat::kDomains, "two.test\n"}}, options);
  ASSERT_EQ(::chmod(fresh.c_str(), 0), 0);
  ASSERT_EQ(std::rename(fresh.c_str(), path.c_str()), 0);
  EXPECT_FALSE(holder.check());
  EXPECT_FALSE(holder.check());
  EXPECT_EQ(log.count("missing or inaccessible"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a later change time
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(holder.check());
  EXPECT_TRUE(blocks(holder.current(), "two.test"));
}

// A store written before checksums is used, with one warning when it is loaded.
TEST(StoreHolder, StoreWithoutChecksumIsUsedWithOneWarning) {
  testing::TempDir dir;
  std::string path = dir.file("s.mdb");
  testing::build_store(path, {{FeedFormat::kDomains, "one.test\n"}});
  std::string bytes = testing::read_file(path);
  dir.write("s.mdb", bytes.substr(0, bytes.size() - kChecksumTrailerSize));
  LogLines log;
  StoreHolder holder({path, std::chrono::milliseconds(10), log.logger(), {}, {}});
  std::string error;
  ASSERT_TRUE(holder.load(error)) << error;
  EXPECT_TRUE(blocks(holder.current(), "one.test"));
  EXPECT_FALSE(holder.check());
  EXPECT_EQ(log.count("the store has no checksum"), 1);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, StoreHolder::Severity::kWarning);
}

}  // namespace
}  // namespace dnsverdict
