// The module's in-memory hit counters: for every rule and every campaign, per clock hour,
// how many queries hit it, how many distinct client addresses and client networks asked
// (HyperLogLog, hll.h), and when it was first and last hit. Campaigns also count their
// distinct sites (IPv4 addresses and IPv6 /64s) and keep a bounded sample of what those sites
// did (site_sample.h), from which `dnsverdict stats` estimates devices. docs/counters.md explains the
// numbers; the stats flusher (stats_flusher.h) drains them into the stats store.
//
// Hit path. Counters are sharded: each thread counts into one shard (its slot modulo the
// shard count; an instance numbers the threads in the order they first count into it, so
// a reload, which makes a new instance, numbers the new workers afresh beside the main
// thread that survives it), and each shard has its own mutex. With at least as many
// shards as Unbound worker threads no two threads ever share a shard, so the mutex is only
// ever contended by the flusher taking a snapshot (a pointer swap, once per flush). Per-thread
// shards were chosen over locks striped by rule hash because one hot campaign (the case
// that matters) would put every thread on the same stripe.
//
// Memory bound. At most max_rules rule entries are tracked between snapshots, over all shards
// (plus at most shards - 1 when threads race at the cap, or a shard without entries adds
// one). At the cap, a hit on a new rule evicts the least recently hit rule *of its thread's
// shard*, whose counts since the last flush are lost (counted in evicted_rules /
// evicted_queries). The count of entries is one shared atomic, written only when an entry
// is created below the cap or drained by a snapshot: never on a hit on a tracked rule, nor
// on an eviction, so it is no contended cache line in a steady state or in a flood. Campaign
// counters are kept apart from rule counters and are never evicted: campaign totals stay exact
// (their sketches keep their 0.81% error) however many rules are evicted. Campaigns are at most
// max_campaigns per shard (hits beyond are counted in untracked_campaign_hits). Sketches
// are sparse while small; a rule hour costs at most 2 x 16 KiB of registers (a campaign hour 3
// x 16 KiB and its site sample, at most 513 entries), so
// the rule cap alone allows gigabytes under a flood of spoofed sources: the byte budget
// (Options::memory_budget) bounds the whole. At the budget the counters ask for an early
// flush (start_counting()'s callback), and until a snapshot drains them nothing grows: a new
// rule evicts, and a client whose sketch would need memory is left out of it (counted in
// budget_skipped_clients; queries are still counted).
// Rules are identified by a 64-bit hash of (kind, owner key), campaigns by a hash of their
// name; a collision (odds about n^2 / 2^65) would merge two rules' counts.
//
// Thread safety: record_hit() from any number of threads at once; take_snapshot(),
// totals() and memory_bytes() from any thread (usually the flusher's).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client_hash.h"
#include "hll.h"
#include "site_sample.h"
#include "store_format.h"

namespace dnsverdict {

// A client address as the query path has it. `family` is AF_INET or AF_INET6; anything else
// means unknown (the query is counted, the client is not).
struct ClientAddress {
  int family = 0;
  std::uint8_t bytes[16] = {};  // network byte order; IPv4 uses the first 4

  // Copies 4 octets for AF_INET, 16 for AF_INET6 (an in_addr / in6_addr); other families
  // give an unknown address.
  static ClientAddress from(int family, const void* address) noexcept;
  bool known() const noexcept;
};

// The hashes a client contributes: its address, its network (/24 for IPv4, /56 for IPv6)
// and its site (the address itself for IPv4, the /64 for IPv6). Keyed (client_hash.h) over
// family + octets, so IPv4 and IPv6 never collide by construction, and without the key nobody
// can tell which addresses a sketch has seen.
struct ClientHashes {
  std::uint64_t address = 0;
  std::uint64_t network = 0;
  std::uint64_t site = 0;
  bool ipv6 = false;
};
ClientHashes client_hashes(const ClientAddress& client, const ClientHashKey& key) noexcept;

inline constexpr std::int64_t kSecondsPerHour = 3600;
// The start of the clock hour (UTC) that `unix_seconds` falls in.
inline std::int64_t hour_of(std::int64_t unix_seconds) noexcept {
  std::int64_t hour = unix_seconds - unix_seconds % kSecondsPerHour;
  return unix_seconds < 0 && unix_seconds % kSecondsPerHour != 0 ? hour - kSecondsPerHour : hour;
}

// One subject's counts for one clock hour.
struct HourlyCounts {
  std::int64_t hour = 0;  // unix seconds at the start of the hour
  std::uint64_t queries = 0;
  std::int64_t first_seen = 0;  // unix seconds; 0 when queries == 0
  std::int64_t last_seen = 0;
  HyperLogLog clients;   // client addresses
  HyperLogLog networks;  // client /24 (IPv4) and /56 (IPv6) networks
  // Campaigns only (counts_sites): distinct sites, and the sample of what sites did. False
  // for rules, and for buckets written before sites were counted (stats format version 1).
  bool counts_sites = false;
  HyperLogLog sites;
  SiteSample site_sample;

  // Counts one query, and the client (when known) in the sketches (and, with `sites`, in the
  // sites sketch and sample). With `may_grow` false a sketch that would need more memory
  // leaves the client out: returns false then.
  bool add(std::int64_t time, const ClientHashes* client, bool may_grow = true,
           bool sites = false) noexcept;
  // Sums queries, merges sketches, widens first/last seen. `other.hour` must equal `hour`.
  // Sites stay counted only when both sides count them (or one side is empty).
  void merge(const HourlyCounts& other);
};

// One hit as the glue reports it. Views are read during record_hit() only.
struct HitEvent {
  std::string_view rule_key;  // the matched rule's owner as a store key (dns_name.h)
  RuleKind kind = RuleKind::kExact;
  std::string_view campaign;  // the rule's campaign name; empty: none
  ClientAddress client;
  std::int64_t time = 0;  // unix seconds
};

struct RuleCounts {
  std::string rule_key;
  RuleKind kind = RuleKind::kExact;
  std::string campaign;
  std::vector<HourlyCounts> hours;  // ascending hour, one entry per hour
};

struct CampaignCounts {
  std::string campaign;
  std::vector<HourlyCounts> hours;  // ascending hour
};

// Cumulative since the counters were created (never reset by a snapshot).
struct CounterTotals {
  std::uint64_t hits = 0;
  std::uint64_t evicted_rules = 0;    // rule entries dropped at the cap
  std::uint64_t evicted_queries = 0;  // queries those entries held (lost at rule level only)
  std::uint64_t untracked_campaign_hits = 0;  // hits beyond max_campaigns (rule level kept)
  std::uint64_t budget_skipped_clients = 0;   // clients left out of a sketch at the budget
};

// Everything counted since the previous snapshot, shards merged.
struct CountersSnapshot {
  std::vector<RuleCounts> rules;          // sorted by (rule_key, kind)
  std::vector<CampaignCounts> campaigns;  // sorted by name
  CounterTotals totals;
  bool empty() const noexcept { return rules.empty() && campaigns.empty(); }
};

class HitCounters {
 public:
  struct Options {
    std::size_t shards = 16;            // >= Unbound's num-threads avoids all sharing
    std::size_t max_rules = 100000;     // rule entries tracked at once, over all shards
    std::size_t max_campaigns = 10000;  // campaign entries per shard
    // Bytes the counters may hold (memory_bytes()); 0: no budget. At the budget they ask for
    // an early flush, and until it comes no sketch grows and a new rule evicts.
    std::size_t memory_budget = std::size_t{128} << 20;
    // The key client addresses are hashed with. Without one, hits are ignored until
    // start_counting() gives it (the module learns it when the stats store opens).
    std::optional<ClientHashKey> client_key;
  };

  HitCounters();  // default Options: not counting until start_counting()
  explicit HitCounters(Options options);
  ~HitCounters();
  HitCounters(const HitCounters&) = delete;
  HitCounters& operator=(const HitCounters&) = delete;

  // Starts counting with `key`; `on_over_budget` (may be empty) is called on the hitting
  // thread, outside any lock, once each time the memory reaches the budget, until the next
  // snapshot; it must be quick and must not call back into the counters. Once counting, the
  // key stays: false when it was already started with another key. Call from one thread
  // (the stats flusher's).
  bool start_counting(const ClientHashKey& key,
                      std::function<void()> on_over_budget = {}) noexcept;
  bool counting() const noexcept { return counting_.load(std::memory_order_acquire); }

  // Counts one hit for its rule and (if any) its campaign, once counting has started. Never
  // throws; allocates only when the rule or campaign is new since the last snapshot or a
  // sketch grows.
  void record_hit(const HitEvent& hit) noexcept;

  // Moves out everything counted so far and starts afresh. Holds each shard's mutex only to
  // swap its tables; merging the shards happens after.
  CountersSnapshot take_snapshot();

  CounterTotals totals() const;
  std::size_t tracked_rules() const;
  // Approximate: entries, tables and sketches, kept up to date by every hit that allocates
  // (reading it costs one atomic load). Between two snapshots at most the budget plus, per
  // shard, one entry's growth; a snapshot being flushed is no longer counted here.
  std::size_t memory_bytes() const noexcept;
  const Options& options() const noexcept { return options_; }

 private:
  struct Shard;
  Shard& shard_for_this_thread() noexcept;
  // Adds to (or takes from) the shard's and the total byte count.
  void account(Shard& shard, std::ptrdiff_t bytes) noexcept;

  Options options_;
  ClientHashKey client_key_;  // written once, before counting_ turns true
  std::atomic<bool> counting_{false};
  const std::uint64_t instance_;  // process-wide number (thread slots are per instance)
  std::atomic<std::size_t> next_slot_{0};
  std::unique_ptr<Shard[]> shards_;
  // Rule entries in all shards. Written only when a rule entry is created (below the cap)
  // or drained by a snapshot, never on a hit on a tracked rule nor on an eviction.
  std::atomic<std::size_t> tracked_rules_{0};
  // This object's and all shards' bytes. Written only when a hit allocates or frees (a new
  // entry, a sketch that grows, an eviction) or a snapshot drains a shard.
  std::atomic<std::size_t> memory_bytes_{0};
  std::function<void()> on_over_budget_;  // written once, before counting_ turns true
  std::atomic<bool> over_budget_signalled_{false};  // until the next snapshot
};

}  // namespace dnsverdict
