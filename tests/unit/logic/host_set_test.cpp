#include "host_set.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace dnsverdict {
namespace {

std::uint64_t name_hash(const std::string& wire) {
  return HostSet::hash_name(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size());
}

TEST(HostSet, HoldsWhatWasAddedAndNothingElse) {
  HostSet set(1024);
  const std::uint64_t host = name_hash(std::string("\2ns\4evil\2zz\0", 12));
  EXPECT_FALSE(set.holds(host));
  EXPECT_TRUE(set.add(host));
  EXPECT_FALSE(set.add(host));  // held already
  EXPECT_TRUE(set.holds(host));
  EXPECT_FALSE(set.holds(name_hash(std::string("\3ns2\4evil\2zz\0", 13))));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_FALSE(set.full());
}

TEST(HostSet, NamesDifferingInCaseAreOne) {
  EXPECT_EQ(name_hash(std::string("\2NS\4Evil\2zz\0", 12)),
            name_hash(std::string("\2ns\4evil\2ZZ\0", 12)));
  EXPECT_NE(name_hash(std::string("\2ns\4evil\2zz\0", 12)),
            name_hash(std::string("\2ns\4evil\2zy\0", 12)));
}

TEST(HostSet, ZeroIsAHashLikeAnyOther) {
  HostSet set(64);
  EXPECT_FALSE(set.holds(0));
  EXPECT_TRUE(set.add(0));
  EXPECT_TRUE(set.holds(0));
}

TEST(HostSet, FullAtHalfItsSlotsAndStaysFull) {
  HostSet set(64);
  EXPECT_EQ(set.capacity(), 64u);
  std::size_t added = 0;
  for (std::uint64_t i = 1; i <= 200; ++i) {
    if (set.add(i * 0x9e3779b97f4a7c15ULL)) ++added;
  }
  EXPECT_TRUE(set.full());
  EXPECT_EQ(added, 33u);  // the add that passed half the table was the last
  EXPECT_FALSE(set.add(12345));
  for (std::uint64_t i = 1; i <= added; ++i) {  // nothing added is ever lost
    EXPECT_TRUE(set.holds(i * 0x9e3779b97f4a7c15ULL)) << i;
  }
}

TEST(HostSet, CollidingSlotsProbeOnAndFillWhenTheProbeEnds) {
  HostSet set(1 << 16);
  // Every value 7 + k * capacity starts its probe at slot 7.
  auto colliding = [&set](std::uint64_t k) { return 7 + k * set.capacity(); };
  for (std::uint64_t k = 1; k <= HostSet::kMaxProbe; ++k) EXPECT_TRUE(set.add(colliding(k))) << k;
  EXPECT_FALSE(set.full());
  EXPECT_TRUE(set.holds(colliding(HostSet::kMaxProbe)));
  EXPECT_FALSE(set.holds(colliding(HostSet::kMaxProbe + 1)));
  EXPECT_FALSE(set.add(colliding(HostSet::kMaxProbe + 1)));  // no empty slot within reach
  EXPECT_TRUE(set.full());
}

TEST(HostSet, ThreadsAddingAtOnceLoseNothing) {
  HostSet set(1 << 14);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&set, t] {
      for (std::uint64_t i = 0; i < 2000; ++i) set.add((i * 4 + t) * 0x9e3779b97f4a7c15ULL + 1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(set.full());
  EXPECT_EQ(set.size(), 8000u);
  for (std::uint64_t i = 0; i < 8000; ++i) EXPECT_TRUE(set.holds(i * 0x9e3779b97f4a7c15ULL + 1));
}

}  // namespace
}  // namespace dnsverdict
