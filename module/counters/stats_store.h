// The stats store: hourly hit counts per campaign and per rule, persisted across restarts in
// an LMDB file of its own (docs/stats-format.md describes the layout byte by byte).
//
// One writer: the module's stats flusher (stats_flusher.h) opens it for writing and merges
// every counters snapshot into it; retention prunes buckets older than N days. Any number of
// readers (`dnsverdict stats`, `dnsverdict estimate`) may read it at the same time, from the
// same machine or from a copy: read_stats_buckets() falls back to MDB_NOLOCK when the lock
// file cannot be created (a read-only copy).
//
// Every bucket carries the resolver identity (hostname or configured name), so buckets read
// from several stores can be merged: sketches by register maximum, never summed; the same
// resolver's bucket seen twice (the same store given twice) is counted once.
//
// Thread safety: a StatsStore (writer) is used by one thread at a time; the free functions
// may be called from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hit_counters.h"
#include "hll.h"
#include "lmdb_handle.h"
#include "store_format.h"

namespace dnsverdict {

// Version 2 adds the campaigns' sites sketch and site sample to the buckets. Version 1 stores
// are still read (their buckets count no sites) and are taken over by a version 2 writer,
// which keeps their buckets and writes version 2 buckets from then on.
inline constexpr std::uint32_t kStatsFormatVersion = 2;
inline constexpr std::uint32_t kOldestStatsFormatVersion = 1;

// The store and its lock file (before the umask): the resolver's user and group, no one
// else; the sketches are about clients.
inline constexpr mode_t kStatsFileMode = 0640;

namespace stats_db {
inline constexpr const char* kMeta = "meta";
inline constexpr const char* kBuckets = "buckets";
}  // namespace stats_db

namespace stats_meta {
inline constexpr const char* kFormatVersion = "format_version";  // decimal
inline constexpr const char* kResolver = "resolver";             // the last writer's identity
inline constexpr const char* kCreated = "created";               // unix seconds, decimal
inline constexpr const char* kLastFlush = "last_flush";          // unix seconds, decimal
inline constexpr const char* kRetentionDays = "retention_days";
inline constexpr const char* kLastPrunedForRoom = "last_pruned_for_room";  // unix seconds
// ClientHashKey::fingerprint() of the key every bucket's client hashes were made with;
// absent: unkeyed hashes (stores written before keys).
inline constexpr const char* kClientKeyFingerprint = "client_key_fingerprint";
}  // namespace stats_meta

// What a bucket counts.
enum class StatsScope : std::uint8_t { kCampaign = 'C', kRule = 'R' };

// Who: a campaign name, or a rule (owner key and kind) with its campaign.
struct StatsSubject {
  StatsScope scope = StatsScope::kCampaign;
  std::string campaign;  // campaign buckets: the campaign; rule buckets: the rule's (may be "")
  std::string rule_key;  // rule buckets only: owner as a store key (dns_name.h)
  RuleKind kind = RuleKind::kExact;  // rule buckets only

  bool operator<(const StatsSubject& other) const noexcept;
  bool operator==(const StatsSubject& other) const noexcept;
};

// One stored hourly bucket.
struct StatsBucket {
  StatsSubject subject;
  std::string resolver;
  HourlyCounts counts;
};

// Bucket keys: u8 scope, u64 big-endian (hour + 2^63), then for campaigns the name, for rules
// u8 kind + owner key. Hour first, so retention deletes a prefix and time ranges are seeks.
std::string bucket_key(StatsScope scope, std::int64_t hour, const StatsSubject& subject);
// Bucket values (version 2): u8 version, u16 resolver length, resolver, u16 campaign length,
// campaign, u64 queries, i64 first_seen, i64 last_seen, u32 sketch length, clients sketch,
// u32 sketch length, networks sketch (hll.h serialization), u8 flags (bit 0: sites counted),
// and with sites counted: u32 sketch length, sites sketch, the site sample (site_sample.h).
// Little-endian. Version 1 values end after the networks sketch; they decode with
// counts_sites false.
std::string encode_bucket(const StatsBucket& bucket);
// False when the key or value is malformed (sketches checked too).
bool decode_bucket(std::string_view key, std::string_view value, StatsBucket& bucket);

// What a reader wants: hours in [since, until) and which scopes.
struct StatsQuery {
  std::int64_t since = INT64_MIN;
  std::int64_t until = INT64_MAX;
  bool campaigns = true;
  bool rules = true;
};

// The writer's map: LMDB's map is address space, and the file grows page by page as data is
// written, so the map is simply the limit on the file's size.
inline constexpr std::size_t kDefaultStatsMapSize = std::size_t{4} << 30;

class StatsStore {
 public:
  struct Options {
    std::string resolver;              // identity stored with every bucket (default: the hostname)
    std::int64_t retention_days = 30;  // 0: keep forever
    std::size_t map_size = kDefaultStatsMapSize;  // bytes the file may use (stats-map-size)
    // Of the key the flushed snapshots' clients are hashed with (client_hash.h); "" for
    // unkeyed hashes.
    std::string client_key_fingerprint;
  };

  // What one flush did besides merging.
  struct FlushResult {
    std::size_t pruned = 0;            // buckets past the retention
    std::size_t pruned_for_room = 0;   // buckets of the oldest hours dropped to make room
    std::size_t map_full = 0;          // times LMDB answered MDB_MAP_FULL (each then pruned)
  };

  // How much of its map the file uses.
  struct Usage {
    std::size_t used_bytes = 0;  // pages up to the highest in use (free pages inside included)
    std::size_t map_bytes = 0;   // the map: what used_bytes may reach
  };

  // Opens (creating when missing) `path` for writing; checks the format version of an
  // existing file, and that its buckets were hashed with the key of
  // options.client_key_fingerprint (a store without buckets takes on the new key). Throws
  // StoreError naming the path and the problem.
  static StatsStore open(const std::string& path, Options options);

  StatsStore(StatsStore&&) noexcept = default;
  StatsStore& operator=(StatsStore&&) noexcept = default;
  StatsStore(const StatsStore&) = delete;
  StatsStore& operator=(const StatsStore&) = delete;

  // Prunes buckets older than the retention (a transaction of its own, so a full map never
  // stops pruning), then merges every bucket of the snapshot into the stored ones (queries
  // summed, sketches merged, first/last seen widened) in one transaction: after a crash
  // either all of the merge is stored or none of it.
  //
  // A full map never jams the store: on MDB_MAP_FULL the oldest stored hour is pruned (in a
  // transaction of its own, with a little extra map when even that cannot allocate) and
  // the merge retried, down to the last two hours (`now`'s and the one before). Throws
  // StoreError when the snapshot does not fit even then (its counts are not stored; the
  // next flush starts afresh) or on any other LMDB or format error.
  FlushResult flush(const CountersSnapshot& snapshot, std::int64_t now);

  // Deletes buckets whose hour is before `cutoff` (unix seconds), in a transaction of its
  // own. Returns how many. Throws StoreError.
  std::size_t prune(std::int64_t cutoff);

  Usage usage() const noexcept;

  // Reads buckets through this store's own environment (LMDB allows one environment per
  // file per process, so the writer must not open the file a second time to read it).
  // Same contract as read_stats_buckets().
  void read(const StatsQuery& query, const std::function<void(StatsBucket&&)>& visit) const;

  const std::string& path() const noexcept { return path_; }
  const Options& options() const noexcept { return options_; }

 private:
  StatsStore() = default;
  std::size_t prune_in(MDB_txn* txn, std::int64_t cutoff);
  void merge(const CountersSnapshot& snapshot, std::int64_t now);
  // prune() that, when even pruning meets a full map, lends the map some room for it.
  std::size_t prune_when_full(std::int64_t cutoff, FlushResult& result);
  // The oldest hour any bucket holds; INT64_MAX when there is none.
  std::int64_t oldest_hour() const;

  std::string path_;
  Options options_;
  LmdbEnv env_;
  MDB_dbi meta_dbi_ = 0;
  MDB_dbi buckets_dbi_ = 0;
};

// The host name, for the default resolver identity ("unknown" if it cannot be read).
std::string default_resolver_name();

// Calls visit() for every bucket of `path` matching the query, in key order, and returns the
// store's client-key fingerprint ("" for unkeyed hashes). Throws StoreError when the file
// cannot be opened, is not a stats store or has another version; a malformed bucket throws
// too (naming the store).
std::string read_stats_buckets(const std::string& path, const StatsQuery& query,
                               const std::function<void(StatsBucket&&)>& visit);

// Buckets of one or more stores merged: for each subject, its hours in order.
struct MergedStats {
  struct Hour {
    HourlyCounts counts;
    std::set<std::string> resolvers;  // whose buckets were merged into it
  };
  std::map<StatsSubject, std::map<std::int64_t, Hour>> subjects;
  std::set<std::string> resolvers;
  std::uint64_t duplicate_buckets = 0;  // the same resolver's bucket seen again: skipped
  std::string client_key_fingerprint;   // shared by every store merged
};

// Reads and merges the stores (sketches merged, never summed). Throws StoreError, also when
// two stores' clients were hashed with different keys: the same client would count twice.
MergedStats merge_stats_stores(const std::vector<std::string>& paths, const StatsQuery& query);
// Adds one bucket to a merge.
void merge_bucket(MergedStats& merged, StatsBucket&& bucket);

}  // namespace dnsverdict
