#include "bloom_filter.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "dns_name.h"
#include "name_hash.h"

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

// A wire name as received (any case, labels leaf first) hashes to its key's hashes, every
// ancestor's, and filter_hash() of a key gives the same and its anchor's. The wire name lies
// in a buffer of its exact size (the hash reads nothing past it: ASan and valgrind check).
TEST(NameHash, WireHashesAreTheKeyHashes) {
  std::mt19937 random(3);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    int labels = 1 + static_cast<int>(random() % 5);
    for (int label = 0; label < labels; ++label) {
      if (label != 0) text += '.';
      int length = 1 + static_cast<int>(random() % (round % 3 == 0 ? 63 : 12));
      for (int i = 0; i < length; ++i) {
        const char alphabet[] = "abcXYZ09-_";
        text += alphabet[random() % 10];
      }
    }
    std::string lowered_wire, error;
    ASSERT_TRUE(parse_name(text, lowered_wire, error)) << text;
    // The received form keeps the case: letters of the text put back into the wire name.
    std::string case_wire = lowered_wire;
    for (std::size_t at = 0, t = 0; case_wire[at] != 0; at += static_cast<std::uint8_t>(case_wire[at]) + 1u) {
      for (std::size_t i = 1; i <= static_cast<std::uint8_t>(case_wire[at]); ++i) case_wire[at + i] = text[t++];
      ++t;  // the dot
    }
    std::vector<std::uint8_t> wire(case_wire.begin(), case_wire.end());
    std::uint64_t from_wire[kMaxLabels], from_key[kMaxLabels];
    ASSERT_EQ(wire_ancestor_hashes(wire.data(), wire.size(), from_wire), labels) << text;
    std::string key;
    ASSERT_TRUE(text_to_key(text, key, error));
    std::vector<std::uint8_t> key_bytes(key.begin(), key.end());
    ASSERT_EQ(key_ancestor_hashes(key_bytes.data(), key_bytes.size(), from_key, kMaxLabels),
              static_cast<std::size_t>(labels));
    NameKey name_key;
    ASSERT_TRUE(make_name_key(wire.data(), wire.size(), name_key));
    for (int n = 1; n <= labels; ++n) {
      ASSERT_EQ(from_wire[n - 1], from_key[n - 1]) << text << " " << n;
      std::uint64_t anchor_hash;
      EXPECT_EQ(filter_hash(name_key.prefix(n), anchor_hash), from_key[n - 1]);
      EXPECT_EQ(anchor_hash, from_key[n >= 2 ? 1 : 0]);
      EXPECT_EQ(filter_hash(filter_anchor(name_key.prefix(n))), anchor_hash);
    }
  }
  std::uint64_t hashes[kMaxLabels];
  const std::uint8_t pointer[] = {3, 'w', 'w', 'w', 0xc0, 0x0c};
  EXPECT_EQ(wire_ancestor_hashes(pointer, sizeof pointer, hashes), -1);
  const std::uint8_t truncated[] = {3, 'w', 'w', 'w', 3, 'c'};
  EXPECT_EQ(wire_ancestor_hashes(truncated, sizeof truncated, hashes), -1);
  const std::uint8_t root[] = {0};
  EXPECT_EQ(wire_ancestor_hashes(root, 1, hashes), 0);
}

// The filter's false-positive rate with this hash against XXH3-64 of each key (store format
// 2) for the same keys, sizes and queries: printed, and no worse (within noise).
TEST(BloomFilter, FalsePositiveRateIsNoWorseThanXxh3) {
  constexpr int kKeys = 300000, kQueries = 1000000;
  std::mt19937_64 random(11);
  const char* tlds[] = {"com", "net", "org", "io", "de", "example"};
  auto name = [&](const char* prefix) {
    std::string text = prefix + std::to_string(random() % 100000000);
    int labels = static_cast<int>(random() % 3);
    for (int i = 0; i < labels; ++i) text += ".l" + std::to_string(random() % 10000000);
    return text + "." + tlds[random() % 6];
  };
  auto xxh3 = [](std::string_view key) {
    return XXH3_64bits_withSeed(key.data(), key.size(), kBloomSeed);
  };
  BloomFilterBuilder ours(kKeys), theirs(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    std::string key = key_of(name("k"));
    std::uint64_t anchor_hash;
    std::uint64_t hash = filter_hash(key, anchor_hash);
    ours.add(anchor_hash, hash);
    theirs.add(xxh3(filter_anchor(key)), xxh3(key));
  }
  std::string our_bytes = ours.finish(), their_bytes = theirs.finish();
  BloomFilterView our_view, their_view;
  ASSERT_TRUE(our_view.attach(our_bytes));
  ASSERT_TRUE(their_view.attach(their_bytes));
  int our_positives = 0, their_positives = 0;
  for (int i = 0; i < kQueries; ++i) {
    std::string key = key_of(name("q"));  // "q...": never a listed key
    std::uint64_t anchor_hash;
    std::uint64_t hash = filter_hash(key, anchor_hash);
    our_positives += our_view.may_contain(anchor_hash, hash);
    their_positives += their_view.may_contain(xxh3(filter_anchor(key)), xxh3(key));
  }
  double ours_rate = 100.0 * our_positives / kQueries, theirs_rate = 100.0 * their_positives / kQueries;
  std::printf("false positives at 12 bits per key, %d keys, %d queries: name hash %.3f%%, "
              "XXH3-64 %.3f%%\n", kKeys, kQueries, ours_rate, theirs_rate);
  EXPECT_LE(our_positives, their_positives + their_positives / 10 + 50);
}

// The header records which label counts the keys have; a key added without its count marks
// every depth.
TEST(BloomFilter, RecordsTheKeysLabelDepths) {
  BloomFilterBuilder builder(10);
  for (const char* name : {"a.example.com", "b.example.com", "x.y.z.w.example.org"}) {
    std::string key = key_of(name);
    std::uint64_t anchor_hash;
    std::size_t labels = 0;
    std::uint64_t hash = filter_hash(key, anchor_hash, &labels);
    builder.add(anchor_hash, hash, labels);
  }
  std::string bytes = builder.finish();
  BloomFilterView view;
  ASSERT_TRUE(view.attach(bytes));
  EXPECT_EQ(view.depths(), (1u << 2) | (1u << 5));
  EXPECT_FALSE(view.holds_depth(1));
  EXPECT_FALSE(view.holds_depth(2));
  EXPECT_TRUE(view.holds_depth(3));
  EXPECT_TRUE(view.holds_depth(6));
  EXPECT_FALSE(view.holds_depth(127));

  BloomFilterBuilder unknown(10);
  unknown.add(1, 2);
  bytes = unknown.finish();
  ASSERT_TRUE(view.attach(bytes));
  EXPECT_TRUE(view.holds_depth(1));
  EXPECT_TRUE(view.holds_depth(127));
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
