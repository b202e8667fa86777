// The hit log's rate limits: which hits get a line of their own, and the summaries of the
// ones left out.
//
// A random-subdomain flood under a blocked name hits the same rule with a new name on every
// query, and blocked answers are never cached: without a limit every query is a line (100k
// queries a second fill terabytes a day). Time is cut into fixed intervals (aligned on the
// clock: one interval ends for every rule and client at once, and the tables are emptied).
// Within one interval a rule and client address get at most `per_client` lines; and all
// hits together get at most `lines_per_second` lines in each clock second. What is left out
// is counted, per rule and client (per rule alone for the global cap, which stands for
// floods from many clients), and summarised when the interval ends.
//
// Memory is bounded: at most `max_tracked` rule-and-client entries and as many rules per
// interval. A hit that would need a new entry beyond that is treated as over the global cap;
// past `max_tracked` rules, such hits share one summary without a rule.
//
// Thread safety: none; the hit log's writer thread owns it. May allocate (never on the
// query path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "hit_log.h"

namespace dnsverdict {

class HitRateLimiter {
 public:
  static constexpr std::size_t kDefaultMaxTracked = 16384;

  explicit HitRateLimiter(HitLogLimits limits, std::size_t max_tracked = kDefaultMaxTracked);

  // Ends the current interval when `now_us` (unix microseconds) lies outside it — after it,
  // or before it when the clock stepped back — and returns its summaries (hits left out, in
  // no particular order); otherwise returns nothing. Call it before admit() with the same
  // time.
  std::vector<SuppressedHits> roll(std::int64_t now_us);

  // True: the hit gets its line. False: it is counted in a summary of this interval.
  bool admit(const HitRecord& record, std::int64_t now_us);

  // The current interval's summaries, now (the log is closing); the tables are emptied.
  std::vector<SuppressedHits> finish();

  // Rule-and-client entries held for the current interval.
  std::size_t tracked() const noexcept { return clients_.size(); }

 private:
  struct ClientEntry {
    std::uint32_t lines = 0;
    std::unique_ptr<SuppressedHits> left_out;  // null until the first hit left out
  };

  void leave_out_globally(const HitRecord& record);

  const HitLogLimits limits_;
  const std::int64_t interval_us_;
  const std::size_t max_tracked_;
  std::int64_t interval_ = INT64_MIN;  // the current interval's number (time / interval_us_)
  std::int64_t second_ = INT64_MIN;    // the current clock second
  std::uint32_t lines_this_second_ = 0;
  std::unordered_map<std::uint64_t, ClientEntry> clients_;   // by hash of rule and client
  std::unordered_map<std::uint64_t, SuppressedHits> rules_;  // by hash of rule
  SuppressedHits untracked_rules_;                           // count 0: none
};

}  // namespace dnsverdict
