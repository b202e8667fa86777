#include "hit_rate_limit.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "dns_name.h"

namespace dnsverdict {
namespace {

constexpr std::int64_t kSecond = 1000000;
constexpr std::int64_t kStart = 1795676400 * kSecond;  // on a minute boundary

HitRecord hit(const std::string& rule, const char* client, std::int64_t time_us) {
  HitRecord record;
  std::string key, error;
  EXPECT_TRUE(text_to_key(rule, key, error)) << error;
  record.rule_key.assign(key);
  record.kind = RuleKind::kSubtree;
  record.action_applied = Action::kNxdomain;
  record.campaign.assign("flood");
  in_addr address{};
  inet_pton(AF_INET, client, &address);
  record.set_client(AF_INET, &address, 53);
  record.time_us = time_us;
  return record;
}

HitLogLimits limits(std::uint32_t per_client, std::uint32_t lines_per_second,
                    std::int64_t interval_seconds = 60) {
  HitLogLimits result;
  result.per_client = per_client;
  result.lines_per_second = lines_per_second;
  result.interval = std::chrono::seconds(interval_seconds);
  return result;
}

// admit() for `count` hits at `time`; returns how many were admitted.
int admit_many(HitRateLimiter& limiter, const HitRecord& record, int count, std::int64_t time) {
  int admitted = 0;
  for (int i = 0; i < count; ++i) admitted += limiter.admit(record, time) ? 1 : 0;
  return admitted;
}

TEST(HitRateLimiter, PerRuleAndClientPerInterval) {
  HitRateLimiter limiter(limits(3, 0));
  EXPECT_TRUE(limiter.roll(kStart).empty());
  EXPECT_EQ(admit_many(limiter, hit("a.example", "192.0.2.1", kStart + 1), 5, kStart), 3);
  EXPECT_EQ(admit_many(limiter, hit("a.example", "192.0.2.2", kStart + 2), 5, kStart), 3);
  EXPECT_EQ(admit_many(limiter, hit("b.example", "192.0.2.1", kStart + 3), 2, kStart), 2);
  EXPECT_TRUE(limiter.roll(kStart + 59 * kSecond).empty());  // same interval
  EXPECT_FALSE(limiter.admit(hit("a.example", "192.0.2.1", kStart + 4), kStart + 59 * kSecond));

  auto summaries = limiter.roll(kStart + 60 * kSecond);
  ASSERT_EQ(summaries.size(), 2u);
  std::uint64_t total = 0;
  for (const SuppressedHits& hits : summaries) {
    EXPECT_EQ(hits.limit, SuppressedHits::Limit::kPerClient);
    EXPECT_EQ(key_to_text(hits.rule_key), "a.example");
    EXPECT_EQ(hits.client_family, AF_INET);
    EXPECT_EQ(hits.campaign, "flood");
    EXPECT_EQ(hits.action_applied, Action::kNxdomain);
    total += hits.count;
    if (hits.count == 3) {  // 192.0.2.1: two from the burst, one later
      EXPECT_EQ(hits.first_us, kStart + 1);
      EXPECT_EQ(hits.last_us, kStart + 4);
    }
  }
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(limiter.tracked(), 0u);  // emptied with the interval
  EXPECT_EQ(admit_many(limiter, hit("a.example", "192.0.2.1", 0), 5, kStart + 60 * kSecond), 3);
}

TEST(HitRateLimiter, GlobalCapPerSecondSummarisedPerRule) {
  HitRateLimiter limiter(limits(0, 10));
  limiter.roll(kStart);
  int admitted = 0;
  for (int i = 0; i < 30; ++i) {
    const std::string client = "198.51.100." + std::to_string(i);
    admitted +=
        limiter.admit(hit(i % 2 ? "a.example" : "b.example", client.c_str(), kStart), kStart) ? 1
                                                                                              : 0;
  }
  EXPECT_EQ(admitted, 10);
  EXPECT_EQ(limiter.tracked(), 0u);  // no per-client entries without a per-client limit
  // The next second has room again.
  EXPECT_TRUE(limiter.admit(hit("a.example", "198.51.100.1", 0), kStart + kSecond));
  auto summaries = limiter.finish();
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].count + summaries[1].count, 20u);
  for (const SuppressedHits& hits : summaries) {
    EXPECT_EQ(hits.limit, SuppressedHits::Limit::kGlobal);
    EXPECT_EQ(hits.client_family, 0);
    EXPECT_FALSE(hits.rule_key.empty());
  }
}

TEST(HitRateLimiter, LinesLeftOutByTheGlobalCapDoNotUseTheClientsAllowance) {
  HitRateLimiter limiter(limits(2, 1));
  limiter.roll(kStart);
  const HitRecord record = hit("a.example", "192.0.2.1", kStart);
  EXPECT_TRUE(limiter.admit(record, kStart));
  EXPECT_FALSE(limiter.admit(record, kStart));  // the global cap
  EXPECT_TRUE(limiter.admit(record, kStart + kSecond));
  EXPECT_FALSE(limiter.admit(record, kStart + 2 * kSecond));  // now the client's limit
  auto summaries = limiter.finish();
  ASSERT_EQ(summaries.size(), 2u);
}

TEST(HitRateLimiter, TrackingIsBounded) {
  HitRateLimiter limiter(limits(1, 0), 4);
  limiter.roll(kStart);
  int admitted = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string client = "203.0.113." + std::to_string(i);
    const std::string rule = "r" + std::to_string(i % 10) + ".example";
    admitted += limiter.admit(hit(rule, client.c_str(), kStart), kStart) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 4);
  EXPECT_EQ(limiter.tracked(), 4u);
  // 96 left out: 4 rules tracked, the hits of the 6 others in one summary without a rule.
  auto summaries = limiter.finish();
  ASSERT_EQ(summaries.size(), 5u);
  std::uint64_t total = 0, without_rule = 0;
  for (const SuppressedHits& hits : summaries) {
    EXPECT_EQ(hits.limit, SuppressedHits::Limit::kGlobal);
    total += hits.count;
    if (hits.rule_key.empty()) without_rule += hits.count;
  }
  EXPECT_EQ(total, 96u);
  EXPECT_GT(without_rule, 0u);
}

TEST(HitRateLimiter, ClockSteppingBackEndsTheInterval) {
  HitRateLimiter limiter(limits(1, 0));
  limiter.roll(kStart);
  const HitRecord record = hit("a.example", "192.0.2.1", kStart);
  EXPECT_TRUE(limiter.admit(record, kStart));
  EXPECT_FALSE(limiter.admit(record, kStart));
  auto summaries = limiter.roll(kStart - 3600 * kSecond);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_TRUE(limiter.admit(record, kStart - 3600 * kSecond));
}

TEST(HitRateLimiter, FormatOfASummary) {
  SuppressedHits hits;
  hits.limit = SuppressedHits::Limit::kGlobal;
  hits.count = 12345;
  hits.first_us = kStart + 1;
  hits.last_us = kStart + 59 * kSecond;
  std::string key, error;
  ASSERT_TRUE(text_to_key("flood.example", key, error)) << error;
  hits.rule_key = key;
  hits.kind = RuleKind::kSubtree;
  hits.action_applied = Action::kNxdomain;
  EXPECT_EQ(format_suppressed_json(hits, kStart + 60 * kSecond),
            "{\"time\":\"2026-11-26T07:01:00.000000Z\",\"suppressed\":12345,\"limit\":\"global\","
            "\"client\":null,\"rule\":\"flood.example\",\"kind\":\"subtree\","
            "\"action\":\"nxdomain\",\"campaign\":null,\"first\":\"2026-11-26T07:00:00.000001Z\","
            "\"last\":\"2026-11-26T07:00:59.000000Z\"}");
  hits.rule_key.clear();
  EXPECT_NE(format_suppressed_json(hits, kStart).find("\"rule\":null"), std::string::npos);
}

}  // namespace
}  // namespace dnsverdict
