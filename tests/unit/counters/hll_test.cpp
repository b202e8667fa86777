// HyperLogLog: error within its bound, merge = sketch of the union, serialization.
#include "hll.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace dnsverdict {
namespace {

std::uint64_t item_hash(std::uint64_t item, std::uint64_t seed = 0) {
  return XXH3_64bits_withSeed(&item, sizeof item, seed);
}

HyperLogLog sketch_of(std::uint64_t first, std::uint64_t last, std::uint64_t seed = 0) {
  HyperLogLog sketch;
  for (std::uint64_t i = first; i < last; ++i) sketch.add_hash(item_hash(i, seed));
  return sketch;
}

double relative_error(const HyperLogLog& sketch, double truth) {
  return std::fabs(sketch.estimate() - truth) / truth;
}

TEST(HyperLogLog, EmptyEstimatesZero) {
  HyperLogLog sketch;
  EXPECT_EQ(sketch.estimate(), 0.0);
  EXPECT_TRUE(sketch.empty());
  EXPECT_FALSE(sketch.is_dense());
}

TEST(HyperLogLog, SmallSetsAreNearlyExact) {
  for (std::uint64_t n : {1, 2, 10, 100}) {
    HyperLogLog sketch = sketch_of(0, n);
    EXPECT_NEAR(sketch.estimate(), static_cast<double>(n), 0.01 * n + 0.5) << n;
  }
}

TEST(HyperLogLog, DuplicatesDoNotCount) {
  HyperLogLog sketch;
  for (int round = 0; round < 50; ++round)
    for (std::uint64_t i = 0; i < 500; ++i) sketch.add_hash(item_hash(i));
  EXPECT_NEAR(sketch.estimate(), 500, 5);
}

// Single sketches at the sizes docs/counters.md quotes, each within three standard errors.
TEST(HyperLogLog, ErrorWithinBoundAt1k100k1M) {
  const double bound = 3 * HyperLogLog::kStandardError;
  for (std::uint64_t n : {1000, 100000, 1000000}) {
    HyperLogLog sketch = sketch_of(0, n);
    double error = relative_error(sketch, static_cast<double>(n));
    RecordProperty("n" + std::to_string(n) + "_error_percent", std::to_string(error * 100));
    std::printf("n=%llu estimate=%.0f error=%.3f%%\n", static_cast<unsigned long long>(n),
                sketch.estimate(), error * 100);
    EXPECT_LT(error, bound) << n;
  }
}

// The root-mean-square error over independent sketches matches the 0.81% standard error.
TEST(HyperLogLog, RootMeanSquareErrorMatchesStandardError) {
  for (std::uint64_t n : {1000, 100000}) {
    const int trials = n == 1000 ? 200 : 20;
    double sum_squares = 0;
    for (int trial = 0; trial < trials; ++trial) {
      double error = relative_error(sketch_of(0, n, 1000 + trial), static_cast<double>(n));
      sum_squares += error * error;
    }
    double rms = std::sqrt(sum_squares / trials);
    std::printf("n=%llu trials=%d rms error=%.3f%%\n", static_cast<unsigned long long>(n), trials,
                rms * 100);
    EXPECT_LT(rms, 1.4 * HyperLogLog::kStandardError) << n;
  }
}

TEST(HyperLogLog, StaysSparseWhileSmall) {
  HyperLogLog sketch = sketch_of(0, 100);
  EXPECT_FALSE(sketch.is_dense());
  EXPECT_LT(sketch.memory_bytes(), 2048u);
  HyperLogLog big = sketch_of(0, 5000);
  EXPECT_TRUE(big.is_dense());
  EXPECT_LE(big.memory_bytes(), HyperLogLog::kRegisters + 256);
}

TEST(HyperLogLog, MergeEqualsSketchOfUnion) {
  // Overlapping sets in every combination of sparse and dense.
  struct Range {
    std::uint64_t first, last;
  };
  const Range cases[][2] = {{{0, 100}, {50, 300}},
                            {{0, 800}, {400, 1200}},  // sparse + sparse -> dense
                            {{0, 50000}, {40000, 90000}},
                            {{0, 100}, {0, 60000}},
                            {{0, 60000}, {59000, 59100}}};
  for (const auto& pair : cases) {
    HyperLogLog a = sketch_of(pair[0].first, pair[0].last);
    HyperLogLog b = sketch_of(pair[1].first, pair[1].last);
    HyperLogLog both =
        sketch_of(std::min(pair[0].first, pair[1].first), std::max(pair[0].last, pair[1].last));
    HyperLogLog merged = a;
    merged.merge(b);
    EXPECT_EQ(merged, both);
    EXPECT_EQ(merged.estimate(), both.estimate());
    HyperLogLog reverse = b;
    reverse.merge(a);
    EXPECT_EQ(reverse, both);
    merged.merge(merged);  // idempotent
    merged.merge(b);
    EXPECT_EQ(merged, both);
  }
}

TEST(HyperLogLog, MergedEstimateIsUnionNotSum) {
  HyperLogLog a = sketch_of(0, 100000);
  HyperLogLog b = sketch_of(50000, 150000);
  a.merge(b);
  EXPECT_LT(relative_error(a, 150000), 3 * HyperLogLog::kStandardError);
}

TEST(HyperLogLog, SerializationRoundTrip) {
  for (std::uint64_t n : {0, 1, 300, 3000, 200000}) {
    HyperLogLog sketch = sketch_of(0, n);
    std::string bytes = sketch.serialize();
    HyperLogLog copy;
    ASSERT_TRUE(HyperLogLog::deserialize(bytes, copy)) << n;
    EXPECT_EQ(copy, sketch) << n;
    EXPECT_EQ(copy.estimate(), sketch.estimate()) << n;
    EXPECT_LE(bytes.size(), 6 + 12288 + 4u);
  }
  EXPECT_EQ(sketch_of(0, 10).serialize().size(), 6 + 4 + 10 * 4 + 4u);
}

TEST(HyperLogLog, DeserializeRejectsDamage) {
  HyperLogLog out;
  std::string good = sketch_of(0, 50).serialize();
  ASSERT_TRUE(HyperLogLog::deserialize(good, out));
  EXPECT_FALSE(HyperLogLog::deserialize("", out));
  EXPECT_FALSE(HyperLogLog::deserialize(good.substr(0, good.size() - 1), out));
  for (std::size_t i = 0; i < good.size(); i += 7) {
    std::string bad = good;
    bad[i] ^= 0x10;
    EXPECT_FALSE(HyperLogLog::deserialize(bad, out)) << i;
  }
  EXPECT_TRUE(out.empty());
  std::string dense = sketch_of(0, 100000).serialize();
  dense[100] ^= 1;
  EXPECT_FALSE(HyperLogLog::deserialize(dense, out));
}

}  // namespace
}  // namespace dnsverdict
