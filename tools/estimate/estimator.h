// Infection-size estimation from query logs (docs/estimation.md).
//
// An Estimator matches each logged query against a verdict store with the module's own
// lookup (VerdictStore::lookup, expiry judged at the query's time) and accumulates, per
// campaign and per rule, an EntityStats: queries, distinct clients and sites (IPv6 /64s),
// distinct /24 and /56 networks, first/last seen, per-hour and per-day bins, and a sample of
// sites with what they did each active hour (the beacon sample, from which
// device_estimate.h derives the device range). EstimateState holds everything a run accumulates; it is
// mergeable (EstimateState::merge) and serializable (sketch_file.h), and every part of it
// depends only on the multiset of queries, never on their order, so shards merged give the
// figures of one run. The exceptions, documented: the suspect table's eviction under memory
// pressure (suspects.h), and counters of ignored lines.
//
// Memory: `memory_budget` fixes the exact limits of the client sets (client_set.h) and the
// size of the beacon sample and suspect table (EstimateLimits); beyond them the figures are
// estimates with a stated error.
//
// Thread safety: none; use one Estimator per thread and merge their states.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "client_set.h"
#include "log_formats.h"
#include "suspects.h"
#include "verdict_store.h"

namespace dnsverdict {

// Limits derived from --memory-budget (bytes); stored in sketches so merges use the same.
struct EstimateLimits {
  std::uint32_t clients = 1u << 20;        // exact clients per window-wide set
  std::uint32_t clients_per_bin = 1u << 16;  // exact clients per hour or day
  std::uint32_t beacon_sample = 1u << 12;  // sites sampled per entity for the beacon summary
  std::uint32_t suspect_names = 1u << 19;  // names kept for --suspects
  static EstimateLimits from_budget(std::uint64_t memory_budget_bytes);
};

// One hour or one day.
struct TimeBin {
  std::uint64_t queries = 0;
  ClientSet clients;
};

// What one sampled site did in one hour: its queries, and which of the hour's 64 slots
// (56.25 s each) they fell in. The slots tell a device that repeats a query within seconds
// from several devices, and a periodic beacon from a crowd (device_estimate.h).
struct HourActivity {
  std::uint32_t hour = 0;     // hours since 1970
  std::uint32_t queries = 0;
  std::uint64_t slots = 0;    // bit i: a query in slot i
};
inline constexpr std::uint32_t kSlotsPerHour = 64;

// An address seen at a sampled IPv6 site (its /64), and the first and last hour it was seen:
// temporary addresses of one device follow each other, several devices' overlap.
struct AddressSpan {
  std::uint64_t address = 0;  // the client hash
  std::uint32_t first_hour = 0;
  std::uint32_t last_hour = 0;
};
// Addresses kept per IPv6 site: the ones with the smallest hashes (order-free, mergeable).
inline constexpr std::size_t kAddressesPerSite = 16;

// What one sampled site (an IPv4 address, or an IPv6 /64) did.
struct ClientActivity {
  std::uint64_t queries = 0;
  std::vector<HourActivity> hours;     // sorted by hour, distinct
  std::vector<AddressSpan> addresses;  // IPv6 sites only; sorted by address
  void add(std::uint32_t hour, std::uint32_t queries, std::uint64_t slots);
  void add_address(std::uint64_t address, std::uint32_t first_hour, std::uint32_t last_hour);
};

// Sites whose hash is at most `threshold`: a uniform sample of the entity's sites that
// halves its threshold whenever it outgrows its limit. The final threshold is the largest
// power-of-two fraction that keeps the sample within the limit over all the data, whatever
// the order: shards merge into the same sample.
class ClientSample {
 public:
  explicit ClientSample(std::uint32_t limit = 1u << 12) : limit_(limit) {}
  // One query of `site` at `time`; `address` is the client hash for IPv6 sites, else 0.
  void add(std::uint64_t site, std::int64_t time, std::uint64_t address);
  // What `site` did in one hour (hours since 1970), as the module's site sample keeps it
  // (site_sample.h); `addresses` (IPv6 sites) are seen in that hour.
  void add_hour(std::uint64_t site, std::uint32_t hour, std::uint32_t queries, std::uint64_t slots,
                const std::vector<std::uint64_t>& addresses);
  // Keeps only the sites whose hash is at most `threshold` from now on.
  void restrict_to(std::uint64_t threshold);
  void merge(const ClientSample& other);
  const std::unordered_map<std::uint64_t, ClientActivity>& clients() const noexcept { return clients_; }
  // The fraction of all sites the sample keeps (1: every site).
  double fraction() const noexcept;
  void serialize(std::string& out) const;
  bool deserialize(std::string_view& in);

 private:
  void shrink();
  std::uint32_t limit_;
  std::uint64_t threshold_ = UINT64_MAX;
  std::unordered_map<std::uint64_t, ClientActivity> clients_;
};

enum class EntityKind : std::uint8_t { kCampaign = 1, kRule = 2 };

struct EntityStats {
  EntityKind kind = EntityKind::kCampaign;
  std::string name;      // campaign name ("(none)" for rules without one), or the rule's owner
  std::string campaign;  // rules: their campaign's name ("" when none)
  std::string action;    // rules: the action's name
  std::uint64_t queries = 0;
  ClientSet clients;      // addresses
  ClientSet sites;        // IPv4 addresses and IPv6 /64s: what the device estimate counts from
  ClientSet networks_v4;  // /24
  ClientSet networks_v6;  // /56
  std::int64_t first_seen = INT64_MAX;
  std::int64_t last_seen = INT64_MIN;
  std::map<std::int64_t, TimeBin> hours;  // hour index (unix seconds / 3600)
  std::map<std::int64_t, TimeBin> days;   // day index (unix seconds / 86400), UTC
  ClientSample beacon;    // keyed by site
  BottomK client_sketch;  // campaigns only, with --suspects: for Jaccard against suspects

  explicit EntityStats(const EstimateLimits& limits = {});
  // One matched query. `site` is the client hash for IPv4, the hash of its /64 for IPv6.
  void add(std::int64_t time, std::uint64_t client, std::uint64_t site, bool ipv6,
           std::uint64_t network_v4, std::uint64_t network_v6, bool track_sketch);
  void merge(const EntityStats& other);

 private:
  TimeBin& bin(std::map<std::int64_t, TimeBin>& bins, std::int64_t index, std::uint32_t limit);
  std::uint32_t bin_limit_ = 1u << 16;
};

// Lines and records seen, over all inputs.
struct InputCounters {
  std::uint64_t lines = 0;
  std::uint64_t records = 0;           // query (or response) records parsed
  std::uint64_t queries = 0;           // records counted as queries
  std::uint64_t responses_ignored = 0; // log-replies / CLIENT_RESPONSE when queries are logged too
  std::uint64_t malformed = 0;
  std::uint64_t skipped = 0;           // not queries: headers, notices, other programs' lines
  std::uint64_t bad_names = 0;         // names that are not valid DNS names
  std::uint64_t matched = 0;           // queries with an applicable rule
  std::uint64_t inputs = 0;            // files read
  void merge(const InputCounters& other);
};

struct EstimateState {
  EstimateLimits limits;
  bool suspects_enabled = false;
  std::string store_build_id;  // the store the queries were matched against
  InputCounters counters;
  ClientSet all_clients;       // every client in the logs, matched or not
  std::int64_t first_time = INT64_MAX;
  std::int64_t last_time = INT64_MIN;
  // Keyed by kind and name so shards agree without sharing ids.
  std::map<std::pair<EntityKind, std::string>, EntityStats> entities;
  SuspectTable suspects;

  EstimateState() = default;
  EstimateState(const EstimateLimits& limits, bool suspects);
  // Throws ToolError when the states come from different stores or limits.
  void merge(const EstimateState& other);
};

struct EstimatorOptions {
  std::uint64_t memory_budget = 1ull << 30;
  bool suspects = false;
};

class Estimator {
 public:
  Estimator(std::shared_ptr<const VerdictStore> store, const EstimatorOptions& options);
  // Counts one query: matched against the store; suspects collected from the misses.
  // Returns false when the record's name is not a valid DNS name (counted in bad_names).
  bool add(const QueryRecord& record);
  EstimateState& state() noexcept { return state_; }
  const EstimateState& state() const noexcept { return state_; }

 private:
  EntityStats& entity(EntityKind kind, std::string_view name);
  EntityStats& campaign_entity(std::uint32_t campaign_id);

  std::shared_ptr<const VerdictStore> store_;
  EstimateState state_;
  std::vector<EntityStats*> campaign_by_id_;  // campaign id -> its entity (nullptr: not yet)
  std::unordered_map<std::string, EntityStats*> rule_by_key_;
  std::string key_buffer_;
  std::string name_buffer_;
  std::string parse_error_;
};

// Key of a query name given as presentation text: fast for plain names, RFC 1035 escapes
// through parse_name. False for an invalid name.
bool query_name_key(std::string_view text, NameKey& key, std::string& scratch);

}  // namespace dnsverdict
