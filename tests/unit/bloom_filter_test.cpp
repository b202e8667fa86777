#include "bloom_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace dnsverdict {
namespace {

TEST(BloomFilter, HasNoFalseNegativesAndFewFalsePositives) {
  constexpr int kKeys = 100000;
  BloomFilterBuilder builder(kKeys);
  for (int i = 0; i < kKeys; ++i) builder.add(filter_hash("key-" + std::to_string(i)));
  std::string bytes = builder.finish();
  BloomFilterView view;
  ASSERT_TRUE(view.attach(bytes));
  EXPECT_EQ(view.key_count(), static_cast<std::uint64_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(view.may_contain(filter_hash("key-" + std::to_string(i))));
  int false_positives = 0;
  for (int i = 0; i < kKeys; ++i) false_positives += view.may_contain(filter_hash("other-" + std::to_string(i)));
  // About 12 bits per key in 512-bit blocks with 8 probes: well under 2%.
  EXPECT_LT(false_positives, kKeys / 50) << false_positives;
}

TEST(BloomFilter, RejectsMalformedBytes) {
  BloomFilterView view;
  EXPECT_FALSE(view.attach(""));
  EXPECT_FALSE(view.attach(std::string(100, 'x')));
  std::string bytes = BloomFilterBuilder(10).finish();
  EXPECT_TRUE(view.attach(bytes));
  EXPECT_FALSE(view.attach(bytes.substr(0, bytes.size() - 1)));
  bytes[0] = 'X';
  EXPECT_FALSE(view.attach(bytes));
  EXPECT_TRUE(view.empty());
}

}  // namespace
}  // namespace dnsverdict
