#include "bloom_filter.h"

#include <gtest/gtest.h>

#include <string>

#include "dns_name.h"

namespace dnsverdict {
namespace {

std::string key_of(const std::string& name) {
  std::string key, error;
  EXPECT_TRUE(text_to_key(name, key, error)) << name << ": " << error;
  return key;
}

void add(BloomFilterBuilder& builder, const std::string& key) {
  builder.add(filter_hash(filter_anchor(key)), filter_hash(key));
}

bool may_contain(const BloomFilterView& view, const std::string& key) {
  return view.may_contain(filter_hash(filter_anchor(key)), filter_hash(key));
}

TEST(BloomFilter, AnchorIsTheFirstTwoLabels) {
  EXPECT_EQ(filter_anchor(key_of("a.b.example.com")), key_of("example.com"));
  EXPECT_EQ(filter_anchor(key_of("example.com")), key_of("example.com"));
  EXPECT_EQ(filter_anchor(key_of("com")), key_of("com"));
  EXPECT_EQ(filter_anchor(""), "");
}

TEST(BloomFilter, HasNoFalseNegativesAndFewFalsePositives) {
  constexpr int kKeys = 100000;
  BloomFilterBuilder builder(kKeys);
  for (int i = 0; i < kKeys; ++i) add(builder, key_of("key" + std::to_string(i) + ".com"));
  std::string bytes = builder.finish();
  BloomFilterView view;
  ASSERT_TRUE(view.attach(bytes));
  EXPECT_EQ(view.key_count(), static_cast<std::uint64_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(may_contain(view, key_of("key" + std::to_string(i) + ".com")));
  int false_positives = 0;
  for (int i = 0; i < kKeys; ++i)
    false_positives += may_contain(view, key_of("www.other" + std::to_string(i) + ".com"));
  // About 12 bits per key in 512-bit blocks with 8 probes: well under 2%.
  EXPECT_LT(false_positives, kKeys / 50) << false_positives;
}

TEST(BloomFilter, ManyKeysUnderOneAnchorStayCorrect) {
  // A feed listing 20,000 names below one domain fills that domain's block: lookups below it
  // become false positives (answered by the index), never false negatives, and names under
  // other anchors keep their low false-positive rate.
  constexpr int kKeys = 20000;
  BloomFilterBuilder builder(2 * kKeys);
  for (int i = 0; i < kKeys; ++i) add(builder, key_of("d" + std::to_string(i) + ".dyn.example"));
  for (int i = 0; i < kKeys; ++i) add(builder, key_of("site" + std::to_string(i) + ".net"));
  std::string bytes = builder.finish();
  BloomFilterView view;
  ASSERT_TRUE(view.attach(bytes));
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(may_contain(view, key_of("d" + std::to_string(i) + ".dyn.example")));
    ASSERT_TRUE(may_contain(view, key_of("site" + std::to_string(i) + ".net")));
  }
  int false_positives = 0;
  for (int i = 0; i < kKeys; ++i)
    false_positives += may_contain(view, key_of("www.other" + std::to_string(i) + ".org"));
  EXPECT_LT(false_positives, kKeys / 25) << false_positives;
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
