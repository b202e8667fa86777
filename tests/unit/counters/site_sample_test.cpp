// The site sample: bounded by its threshold, the same whatever the order of the hits or how
// they were split before merging, and its encoding read back or refused.
#include "site_sample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace dnsverdict {
namespace {

struct Hit {
  std::uint64_t site;
  std::uint32_t slot;
  std::uint64_t address;
};

std::vector<Hit> hits(std::size_t sites, std::size_t per_site, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<Hit> result;
  for (std::size_t s = 0; s < sites; ++s) {
    std::uint64_t site = random();
    for (std::size_t q = 0; q < per_site; ++q)
      result.push_back({site, static_cast<std::uint32_t>(random() % 64), s % 2 ? random() : 0});
  }
  return result;
}

TEST(SiteSampleTest, KeepsEverySiteBelowTheLimit) {
  SiteSample sample;
  sample.add(7, 0, 0);
  sample.add(7, 63, 0);
  sample.add(3, 5, 0x55);
  sample.add(3, 5, 0x44);
  EXPECT_EQ(sample.threshold(), UINT64_MAX);
  ASSERT_EQ(sample.sites().size(), 2u);
  EXPECT_EQ(sample.sites()[0].site, 3u);
  EXPECT_EQ(sample.sites()[0].queries, 2u);
  EXPECT_EQ(sample.sites()[0].slots, std::uint64_t{1} << 5);
  EXPECT_EQ(sample.sites()[0].address_count(), 2u);
  EXPECT_EQ(sample.sites()[0].addresses[0], 0x44u);
  EXPECT_EQ(sample.sites()[1].slots, (std::uint64_t{1} << 63) | 1);
}

TEST(SiteSampleTest, HalvesItsThresholdToStayWithinTheLimit) {
  SiteSample sample;
  for (const Hit& hit : hits(5000, 1, 1)) sample.add(hit.site, hit.slot, hit.address);
  EXPECT_LE(sample.sites().size(), kSiteSampleLimit);
  EXPECT_GT(sample.sites().size(), kSiteSampleLimit / 4);  // a uniform sample: about 5000 / 2^k
  EXPECT_LT(sample.threshold(), UINT64_MAX);
  for (const SampledSite& site : sample.sites()) EXPECT_LE(site.site, sample.threshold());
}

TEST(SiteSampleTest, KeepsTheSmallestAddressesOfASite) {
  SampledSite site;
  for (std::uint64_t address : {9, 2, 7, 5, 1, 8, 2}) site.add_address(address);
  ASSERT_EQ(site.address_count(), kSampledSiteAddresses);
  EXPECT_EQ(std::vector<std::uint64_t>(site.addresses, site.addresses + 4),
            (std::vector<std::uint64_t>{1, 2, 5, 7}));
}

TEST(SiteSampleTest, MergedShardsEqualOneSampleInAnyOrder) {
  std::vector<Hit> all = hits(3000, 3, 2);
  SiteSample whole;
  for (const Hit& hit : all) whole.add(hit.site, hit.slot, hit.address);
  std::shuffle(all.begin(), all.end(), std::mt19937_64(3));
  SiteSample parts[3];
  for (std::size_t i = 0; i < all.size(); ++i)
    parts[i % 3].add(all[i].site, all[i].slot, all[i].address);
  SiteSample merged = parts[2];
  merged.merge(parts[0]);
  merged.merge(parts[1]);
  EXPECT_EQ(merged, whole);
}

TEST(SiteSampleTest, WithoutRoomLeavesANewSiteOut) {
  SiteSample sample;
  sample.add(1, 0, 0);
  for (std::uint64_t site = 2; sample.add(site, 0, 0, false); ++site) {
  }
  EXPECT_LT(sample.sites().size(), kSiteSampleLimit + 1);
  EXPECT_TRUE(sample.add(1, 1, 0, false));  // a site already kept is still counted
  EXPECT_EQ(sample.sites().front().queries, 2u);
}

TEST(SiteSampleTest, EncodingRoundTripsAndRefusesDamage) {
  SiteSample sample;
  for (const Hit& hit : hits(1000, 2, 4)) sample.add(hit.site, hit.slot, hit.address);
  std::string bytes;
  sample.serialize(bytes);
  bytes += "tail";
  std::string_view in = bytes;
  SiteSample read;
  ASSERT_TRUE(read.deserialize(in));
  EXPECT_EQ(read, sample);
  EXPECT_EQ(in, "tail");

  for (std::size_t cut : {std::size_t{3}, std::size_t{10}, bytes.size() - 6}) {
    std::string_view truncated = std::string_view(bytes).substr(0, cut);
    SiteSample refused;
    EXPECT_FALSE(refused.deserialize(truncated)) << cut;
  }
  std::string unordered;
  SiteSample two;
  two.add(5, 0, 0);
  two.add(9, 0, 0);
  two.serialize(unordered);
  std::swap(unordered[10], unordered[10 + 21]);  // the two sites' first octets
  in = unordered;
  EXPECT_FALSE(read.deserialize(in));
}

}  // namespace
}  // namespace dnsverdict
