// The compile's two-way parallelism (parallel.h): batches claimed from both ends.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "parallel.h"

namespace dnsverdict {
namespace {

TEST(EndClaims, BatchesFromBothEndsMeetWithoutOverlap) {
  EndClaims claims(10);
  EXPECT_EQ(claims.front(3), std::make_pair(std::size_t{0}, std::size_t{3}));
  EXPECT_EQ(claims.back(4), std::make_pair(std::size_t{6}, std::size_t{10}));
  EXPECT_EQ(claims.back(4), std::make_pair(std::size_t{3}, std::size_t{6}));  // what is left
  EXPECT_EQ(claims.front(3).second, 0u);
  EXPECT_EQ(claims.back(3).second, 0u);

  EndClaims none(0);
  EXPECT_EQ(none.front(5).second, 0u);
  EXPECT_EQ(none.back(5).second, 0u);
}

// Two threads claiming at once, as the store writer's heap threads do: every index once.
TEST(EndClaims, TwoThreadsClaimEveryIndexOnce) {
  constexpr std::size_t kCount = 200000;
  EndClaims claims(kCount);
  std::vector<unsigned char> claimed(kCount, 0);
  std::size_t taken[2] = {0, 0};
  auto take = [&](bool from_front, std::size_t& total) {
    for (;;) {
      auto batch = from_front ? claims.front(7) : claims.back(5);
      if (batch.first >= batch.second) return;
      for (std::size_t i = batch.first; i < batch.second; ++i) ++claimed[i];
      total += batch.second - batch.first;
    }
  };
  std::thread back([&] { take(false, taken[1]); });
  take(true, taken[0]);
  back.join();
  EXPECT_EQ(taken[0] + taken[1], kCount);
  for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(claimed[i], 1u) << i;
}

TEST(EndClaims, RefusesMoreIndexesThanItsEndsHold) {
  EXPECT_THROW(EndClaims(std::size_t{1} << 32), std::length_error);
}

}  // namespace
}  // namespace dnsverdict
