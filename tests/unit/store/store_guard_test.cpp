// A store file rewritten in place under a live mapping: reads fault with SIGBUS. With the
// guard installed, the fault is absorbed, the store reads as empty, and the process lives.
#include "store_guard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "test_support.h"
#include "verdict_store.h"

namespace dnsverdict {
namespace {

// Reads every byte through a volatile pointer (a fault cannot be optimised away).
unsigned sum(const void* begin, std::size_t size) {
  const volatile unsigned char* bytes = static_cast<const volatile unsigned char*>(begin);
  unsigned total = 0;
  for (std::size_t i = 0; i < size; i += 512) total += bytes[i];
  return total;
}

TEST(StoreGuard, TruncatedMappingReadsZerosInsteadOfKilling) {
  ASSERT_TRUE(install_store_guard());
  std::string path = ::testing::TempDir() + "/guarded-" + std::to_string(::getpid());
  const std::size_t size = 64 * 1024;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  std::string ones(size, '\1');
  ASSERT_EQ(::write(fd, ones.data(), size), static_cast<ssize_t>(size));
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  {
    StoreGuardWatch watch(map, size);
    ASSERT_TRUE(watch.watched());
    EXPECT_EQ(sum(map, size), size / 512);
    EXPECT_FALSE(watch.faulted());
    std::uint64_t faults = store_guard_faults();
    ASSERT_EQ(::ftruncate(fd, 0), 0);  // what `cp new old` does first
    EXPECT_EQ(sum(map, size), 0u);     // faulted once, then zeros
    EXPECT_TRUE(watch.faulted());
    EXPECT_EQ(store_guard_faults(), faults + 1);
  }
  ::munmap(map, size);
  ::close(fd);
  std::remove(path.c_str());
}

TEST(StoreGuard, FaultsOutsideWatchedMappingsStillKill) {
  ASSERT_TRUE(install_store_guard());
  EXPECT_EXIT(
      {
        std::string path = ::testing::TempDir() + "/unguarded-" + std::to_string(::getpid());
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
        std::string ones(8192, '\1');
        if (::write(fd, ones.data(), ones.size()) != 8192) std::_Exit(3);
        void* map = ::mmap(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0);
        std::remove(path.c_str());
        if (::ftruncate(fd, 0) != 0) std::_Exit(4);
        sum(map, 8192);
        std::_Exit(0);
      },
      // Killed by SIGBUS; under AddressSanitizer its own handler reports and exits instead.
      [](int status) {
        return (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) ||
               (WIFEXITED(status) && WEXITSTATUS(status) != 0);
      },
      "");
}

TEST(StoreGuard, VerdictStoreRewrittenInPlaceMissesAndSaysSo) {
  ASSERT_TRUE(install_store_guard());
  testing::TempDir dir;
  std::string path = testing::build_store(dir.file("verdicts.mdb"),
                                          {{FeedFormat::kDomains, "listed.example\n"}});
  std::shared_ptr<const VerdictStore> store = VerdictStore::open(path);
  const auto* name = reinterpret_cast<const std::uint8_t*>("\6listed\7example");
  EXPECT_TRUE(store->lookup_wire(name, 16, 0).hit());
  EXPECT_FALSE(store->damaged());
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  EXPECT_FALSE(store->lookup_wire(name, 16, 0).hit());  // faulted, absorbed: reads as empty
  EXPECT_TRUE(store->damaged());
}

}  // namespace
}  // namespace dnsverdict
