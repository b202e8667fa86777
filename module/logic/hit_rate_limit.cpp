#include "hit_rate_limit.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace dnsverdict {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1000000;

// Floor division: the interval or second a time falls in, also before 1970.
std::int64_t period_of(std::int64_t time, std::int64_t length) noexcept {
  std::int64_t period = time / length;
  return time % length < 0 ? period - 1 : period;
}

std::uint64_t rule_hash(const HitRecord& record) noexcept {
  return XXH3_64bits(record.rule_key.bytes, record.rule_key.size);
}

std::uint64_t rule_and_client_hash(const HitRecord& record) noexcept {
  std::uint8_t client[17];
  client[0] = record.client_family;
  std::memcpy(client + 1, record.client_address, sizeof record.client_address);
  return XXH3_64bits_withSeed(client, sizeof client, rule_hash(record));
}

// A summary's fields from the first hit it holds.
void start_summary(SuppressedHits& hits, SuppressedHits::Limit limit, const HitRecord& record,
                   bool with_rule, bool with_client) {
  hits.limit = limit;
  hits.first_us = record.time_us;
  hits.last_us = record.time_us;
  if (with_rule) {
    hits.rule_key.assign(record.rule_key.view());
    hits.kind = record.kind;
    hits.campaign.assign(record.campaign.view());
  }
  hits.action_applied = record.action_applied;
  if (with_client) {
    hits.client_family = record.client_family;
    std::memcpy(hits.client_address, record.client_address, sizeof hits.client_address);
  }
}

void count_in(SuppressedHits& hits, const HitRecord& record) noexcept {
  ++hits.count;
  hits.first_us = std::min(hits.first_us, record.time_us);
  hits.last_us = std::max(hits.last_us, record.time_us);
}

}  // namespace

HitRateLimiter::HitRateLimiter(HitLogLimits limits, std::size_t max_tracked)
    : limits_(limits),
      interval_us_(std::max<std::int64_t>(limits.interval.count(), 1) * kMicrosPerSecond),
      max_tracked_(std::max<std::size_t>(max_tracked, 1)) {}

std::vector<SuppressedHits> HitRateLimiter::roll(std::int64_t now_us) {
  const std::int64_t interval = period_of(now_us, interval_us_);
  if (interval == interval_) return {};
  interval_ = interval;
  return finish();
}

std::vector<SuppressedHits> HitRateLimiter::finish() {
  std::vector<SuppressedHits> summaries;
  std::size_t count = rules_.size() + (untracked_rules_.count != 0 ? 1 : 0);
  for (const auto& [hash, entry] : clients_) count += entry.left_out ? 1 : 0;
  summaries.reserve(count);
  for (auto& [hash, entry] : clients_) {
    if (entry.left_out) summaries.push_back(std::move(*entry.left_out));
  }
  for (auto& [hash, hits] : rules_) summaries.push_back(std::move(hits));
  if (untracked_rules_.count != 0) summaries.push_back(std::move(untracked_rules_));
  clients_.clear();
  rules_.clear();
  untracked_rules_ = SuppressedHits();
  return summaries;
}

bool HitRateLimiter::admit(const HitRecord& record, std::int64_t now_us) {
  const std::int64_t second = period_of(now_us, kMicrosPerSecond);
  if (second != second_) {
    second_ = second;
    lines_this_second_ = 0;
  }
  std::uint64_t client_hash = 0;
  ClientEntry* entry = nullptr;
  if (limits_.per_client != 0) {
    client_hash = rule_and_client_hash(record);
    auto found = clients_.find(client_hash);
    if (found != clients_.end()) {
      entry = &found->second;
      if (entry->lines >= limits_.per_client) {
        if (!entry->left_out) {
          entry->left_out = std::make_unique<SuppressedHits>();
          start_summary(*entry->left_out, SuppressedHits::Limit::kPerClient, record, true, true);
        }
        count_in(*entry->left_out, record);
        return false;
      }
    }
  }
  if (limits_.lines_per_second != 0 && lines_this_second_ >= limits_.lines_per_second) {
    leave_out_globally(record);
    return false;
  }
  if (limits_.per_client != 0 && entry == nullptr) {
    if (clients_.size() >= max_tracked_) {
      leave_out_globally(record);  // too many clients to tell apart: a flood all the same
      return false;
    }
    entry = &clients_[client_hash];
  }
  if (entry != nullptr) ++entry->lines;
  ++lines_this_second_;
  return true;
}

void HitRateLimiter::leave_out_globally(const HitRecord& record) {
  const std::uint64_t hash = rule_hash(record);
  auto found = rules_.find(hash);
  if (found == rules_.end()) {
    if (rules_.size() >= max_tracked_) {
      if (untracked_rules_.count == 0) {
        start_summary(untracked_rules_, SuppressedHits::Limit::kGlobal, record, false, false);
      }
      count_in(untracked_rules_, record);
      return;
    }
    found = rules_.emplace(hash, SuppressedHits()).first;
    start_summary(found->second, SuppressedHits::Limit::kGlobal, record, true, false);
  }
  count_in(found->second, record);
}

}  // namespace dnsverdict
