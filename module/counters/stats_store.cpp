#include "stats_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>
#include <tuple>

namespace dnsverdict {
namespace {

constexpr std::uint8_t kBucketVersion = 2;
constexpr std::uint8_t kBucketVersionWithoutSites = 1;
constexpr std::uint8_t kBucketCountsSites = 1;  // flags bit
constexpr std::uint64_t kHourBias = std::uint64_t{1} << 63;

void put_u16(std::string& out, std::size_t value) {
  out.push_back(static_cast<char>(value & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
}
void put_u32(std::string& out, std::size_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Reads little-endian fields from a value; any read past the end marks it bad.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t number(std::size_t size) {
    if (!ok_ || bytes_.size() - offset_ < size) {
      ok_ = false;
      return 0;
    }
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i)
      value |= std::uint64_t{static_cast<unsigned char>(bytes_[offset_ + i])} << (8 * i);
    offset_ += size;
    return value;
  }
  std::string_view bytes(std::size_t size) {
    if (!ok_ || bytes_.size() - offset_ < size) {
      ok_ = false;
      return {};
    }
    std::string_view view = bytes_.substr(offset_, size);
    offset_ += size;
    return view;
  }
  // Lets `parse` read from the rest of the value, advancing its view as far as it read.
  template <typename Parse>
  bool read_with(Parse parse) {
    if (!ok_) return false;
    std::string_view rest = bytes_.substr(offset_);
    const std::size_t before = rest.size();
    ok_ = parse(rest);
    offset_ += before - rest.size();
    return ok_;
  }
  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return offset_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t offset_ = 0;
  bool ok_ = true;
};

std::string hour_prefix(StatsScope scope, std::int64_t hour) {
  std::string key(1, static_cast<char>(scope));
  std::uint64_t biased = static_cast<std::uint64_t>(hour) ^ kHourBias;
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((biased >> (8 * i)) & 0xff));
  return key;
}

std::int64_t key_hour(std::string_view key) noexcept {
  std::uint64_t biased = 0;
  for (std::size_t i = 1; i < 9; ++i) biased = biased << 8 | static_cast<unsigned char>(key[i]);
  return static_cast<std::int64_t>(biased ^ kHourBias);
}

void check(int code, const std::string& path, std::string_view what) {
  if (code != MDB_SUCCESS) {
    std::string context = path;
    context += ": ";
    context += what;
    throw StoreError(lmdb_message(context, code), code);
  }
}

// Takes from an existing file what kStatsFileMode does not grant (a store created
// world-readable before); a file that cannot be changed is left as it is.
void restrict_mode(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 0777 & ~kStatsFileMode) != 0)
    ::chmod(path.c_str(), info.st_mode & 07777 & kStatsFileMode);
}

std::string describe_fingerprint(const std::string& fingerprint) {
  return fingerprint.empty() ? "unkeyed hashes" : "key fingerprint " + fingerprint;
}

std::string mebibytes(std::size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

LmdbTxn begin(MDB_env* env, unsigned flags, const std::string& path) {
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, flags, &txn), path, "begin transaction");
  return LmdbTxn(txn);
}

[[noreturn]] void outside_the_file(const std::string& path) {
  throw StoreError(path + ": the stats store is damaged (a record runs past the end of the file)");
}

// A meta value, "" when absent. Readers pass their file's mappings (lmdb_handle.h): a value
// outside them throws.
std::string meta_value(MDB_txn* txn, MDB_dbi dbi, const char* name,
                       const FileMappings& file = {}, const std::string& path = {}) {
  MDB_val key = to_val(name), value;
  if (mdb_get(txn, dbi, &key, &value) != MDB_SUCCESS) return {};
  if (!file.contains(value)) outside_the_file(path);
  return std::string(from_val(value));
}

void put_meta(MDB_txn* txn, MDB_dbi dbi, const char* name, const std::string& text,
              const std::string& path) {
  MDB_val key = to_val(name), value = to_val(text);
  check(mdb_put(txn, dbi, &key, &value, 0), path, "write meta");
}

// Checks the stats format version in `meta_dbi`. A verdict store has a meta database and a
// format_version too: it is named for what it is rather than as a stats store of another
// version.
void check_version(MDB_txn* txn, MDB_dbi meta_dbi, const std::string& path,
                   const FileMappings& file = {}) {
  std::string version = meta_value(txn, meta_dbi, stats_meta::kFormatVersion, file, path);
  if (!meta_value(txn, meta_dbi, meta::kBuildId, file, path).empty())
    throw StoreError(path + ": a verdict store (written by dnsverdict compile), not a stats " +
                     "store (the module's stats-store file)");
  for (std::uint32_t known = kOldestStatsFormatVersion; known <= kStatsFormatVersion; ++known)
    if (version == std::to_string(known)) return;
  throw StoreError(path + ": not a stats store of format version " +
                   std::to_string(kOldestStatsFormatVersion) + " to " +
                   std::to_string(kStatsFormatVersion) +
                   (version.empty() ? " (no format_version)" : " (version " + version + ")"));
}

// Merges `counts` for `subject` into the stored bucket (or stores it), in `txn`.
void merge_into(MDB_txn* txn, MDB_dbi dbi, const StatsSubject& subject, const HourlyCounts& counts,
                const std::string& resolver, const std::string& path) {
  std::string key = bucket_key(subject.scope, counts.hour, subject);
  MDB_val mdb_key = to_val(key), mdb_value;
  StatsBucket bucket;
  int rc = mdb_get(txn, dbi, &mdb_key, &mdb_value);
  if (rc == MDB_SUCCESS) {
    if (!decode_bucket(key, from_val(mdb_value), bucket))
      throw StoreError(path + ": malformed bucket; refusing to overwrite it");
    bucket.counts.merge(counts);
  } else if (rc == MDB_NOTFOUND) {
    bucket.subject = subject;
    bucket.counts = counts;
  } else {
    check(rc, path, "read bucket");
  }
  bucket.resolver = resolver;
  std::string value = encode_bucket(bucket);
  mdb_value = to_val(value);
  check(mdb_put(txn, dbi, &mdb_key, &mdb_value, 0), path, "write bucket");
}

// Visits the buckets matching `query` in key order (both read paths).
void visit_buckets(MDB_txn* txn, MDB_dbi buckets_dbi, const std::string& path,
                   const StatsQuery& query, const std::function<void(StatsBucket&&)>& visit,
                   const FileMappings& file = {}) {
  MDB_cursor* raw_cursor = nullptr;
  check(mdb_cursor_open(txn, buckets_dbi, &raw_cursor), path, "open cursor");
  LmdbCursor cursor(raw_cursor);
  int rc = MDB_SUCCESS;
  for (StatsScope scope : {StatsScope::kCampaign, StatsScope::kRule}) {
    if ((scope == StatsScope::kCampaign && !query.campaigns) ||
        (scope == StatsScope::kRule && !query.rules))
      continue;
    std::string start = hour_prefix(scope, query.since);
    MDB_val key = to_val(start), value;
    for (rc = mdb_cursor_get(raw_cursor, &key, &value, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(raw_cursor, &key, &value, MDB_NEXT)) {
      if (!file.contains(key) || !file.contains(value)) outside_the_file(path);
      std::string_view found = from_val(key);
      if (found.size() < 9 || found[0] != static_cast<char>(scope)) break;
      if (key_hour(found) >= query.until) break;
      StatsBucket bucket;
      if (!decode_bucket(found, from_val(value), bucket))
        throw StoreError(path + ": malformed bucket (hour " + std::to_string(key_hour(found)) +
                         ")");
      visit(std::move(bucket));
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, path, "read buckets");
  }
}

}  // namespace

bool StatsSubject::operator<(const StatsSubject& other) const noexcept {
  return std::tie(scope, campaign, rule_key, kind) <
         std::tie(other.scope, other.campaign, other.rule_key, other.kind);
}
bool StatsSubject::operator==(const StatsSubject& other) const noexcept {
  return scope == other.scope && campaign == other.campaign && rule_key == other.rule_key &&
         kind == other.kind;
}

std::string bucket_key(StatsScope scope, std::int64_t hour, const StatsSubject& subject) {
  std::string key = hour_prefix(scope, hour);
  if (scope == StatsScope::kCampaign) {
    key += subject.campaign;
  } else {
    key.push_back(static_cast<char>(subject.kind));
    key += subject.rule_key;
  }
  return key;
}

std::string encode_bucket(const StatsBucket& bucket) {
  std::string out;
  out.push_back(static_cast<char>(kBucketVersion));
  std::string_view resolver = std::string_view(bucket.resolver).substr(0, 0xffff);
  put_u16(out, resolver.size());
  out += resolver;
  std::string_view campaign = std::string_view(bucket.subject.campaign).substr(0, 0xffff);
  put_u16(out, campaign.size());
  out += campaign;
  put_u64(out, bucket.counts.queries);
  put_u64(out, static_cast<std::uint64_t>(bucket.counts.first_seen));
  put_u64(out, static_cast<std::uint64_t>(bucket.counts.last_seen));
  for (const HyperLogLog* sketch : {&bucket.counts.clients, &bucket.counts.networks}) {
    std::string bytes = sketch->serialize();
    put_u32(out, bytes.size());
    out += bytes;
  }
  out.push_back(static_cast<char>(bucket.counts.counts_sites ? kBucketCountsSites : 0));
  if (bucket.counts.counts_sites) {
    std::string bytes = bucket.counts.sites.serialize();
    put_u32(out, bytes.size());
    out += bytes;
    bucket.counts.site_sample.serialize(out);
  }
  return out;
}

bool decode_bucket(std::string_view key, std::string_view value, StatsBucket& bucket) {
  if (key.size() < 9) return false;
  auto scope = static_cast<StatsScope>(key[0]);
  StatsBucket decoded;
  decoded.subject.scope = scope;
  decoded.counts.hour = key_hour(key);
  std::string_view subject = key.substr(9);
  if (scope == StatsScope::kRule) {
    if (subject.empty()) return false;
    auto kind = static_cast<RuleKind>(subject[0]);
    if (kind != RuleKind::kExact && kind != RuleKind::kSubtree && kind != RuleKind::kWildcard)
      return false;
    decoded.subject.kind = kind;
    decoded.subject.rule_key = std::string(subject.substr(1));
  } else if (scope != StatsScope::kCampaign) {
    return false;
  }
  Reader reader(value);
  const std::uint64_t version = reader.number(1);
  if (version != kBucketVersion && version != kBucketVersionWithoutSites) return false;
  decoded.resolver = std::string(reader.bytes(reader.number(2)));
  std::string_view campaign = reader.bytes(reader.number(2));
  if (scope == StatsScope::kCampaign && campaign != subject) return false;
  decoded.subject.campaign = std::string(campaign);
  decoded.counts.queries = reader.number(8);
  decoded.counts.first_seen = static_cast<std::int64_t>(reader.number(8));
  decoded.counts.last_seen = static_cast<std::int64_t>(reader.number(8));
  for (HyperLogLog* sketch : {&decoded.counts.clients, &decoded.counts.networks}) {
    std::string_view bytes = reader.bytes(reader.number(4));
    if (!reader.ok() || !HyperLogLog::deserialize(bytes, *sketch)) return false;
  }
  if (version == kBucketVersion) {
    std::uint64_t flags = reader.number(1);
    if (flags & ~std::uint64_t{kBucketCountsSites}) return false;
    decoded.counts.counts_sites = flags != 0;
    if (decoded.counts.counts_sites) {
      std::string_view bytes = reader.bytes(reader.number(4));
      if (!reader.ok() || !HyperLogLog::deserialize(bytes, decoded.counts.sites)) return false;
      if (!reader.read_with([&](std::string_view& in) {
            return decoded.counts.site_sample.deserialize(in);
          }))
        return false;
    }
  }
  if (!reader.ok() || !reader.at_end()) return false;
  bucket = std::move(decoded);
  return true;
}

StatsStore StatsStore::open(const std::string& path, Options options) {
  if (options.resolver.empty()) options.resolver = default_resolver_name();
  StatsStore store;
  store.path_ = path;
  store.options_ = options;
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), path, "create environment");
  store.env_ = LmdbEnv(env);
  check(mdb_env_set_maxdbs(env, 2), path, "set databases");
  check(mdb_env_set_mapsize(env, options.map_size), path, "set map size");
  check(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, kStatsFileMode), path, "open");
  restrict_mode(path);
  restrict_mode(path + "-lock");
  LmdbTxn txn = begin(env, 0, path);
  check(mdb_dbi_open(txn.get(), stats_db::kMeta, MDB_CREATE, &store.meta_dbi_), path, "open meta");
  check(mdb_dbi_open(txn.get(), stats_db::kBuckets, MDB_CREATE, &store.buckets_dbi_), path,
        "open buckets");
  std::string version = meta_value(txn.get(), store.meta_dbi_, stats_meta::kFormatVersion);
  if (version.empty()) {
    put_meta(txn.get(), store.meta_dbi_, stats_meta::kFormatVersion,
             std::to_string(kStatsFormatVersion), path);
    put_meta(txn.get(), store.meta_dbi_, stats_meta::kCreated,
             std::to_string(static_cast<long long>(::time(nullptr))), path);
  } else {
    check_version(txn.get(), store.meta_dbi_, path);
    if (version != std::to_string(kStatsFormatVersion))  // its buckets stay readable
      put_meta(txn.get(), store.meta_dbi_, stats_meta::kFormatVersion,
               std::to_string(kStatsFormatVersion), path);
  }
  const std::string& fingerprint = options.client_key_fingerprint;
  const std::string stored =
      meta_value(txn.get(), store.meta_dbi_, stats_meta::kClientKeyFingerprint);
  if (stored != fingerprint) {
    MDB_stat buckets{};
    check(mdb_stat(txn.get(), store.buckets_dbi_, &buckets), path, "count buckets");
    if (buckets.ms_entries != 0)
      throw StoreError(path + ": its client addresses were hashed with another key (" +
                       describe_fingerprint(stored) + "; this resolver's key: " +
                       describe_fingerprint(fingerprint) +
                       "): adding to it would count the same client twice. Use that key "
                       "(stats-hash-key-file) or move the store aside");
    if (fingerprint.empty()) {
      MDB_val key = to_val(stats_meta::kClientKeyFingerprint);
      int rc = mdb_del(txn.get(), store.meta_dbi_, &key, nullptr);
      if (rc != MDB_NOTFOUND) check(rc, path, "write meta");
    } else {
      put_meta(txn.get(), store.meta_dbi_, stats_meta::kClientKeyFingerprint, fingerprint, path);
    }
  }
  put_meta(txn.get(), store.meta_dbi_, stats_meta::kResolver, options.resolver, path);
  put_meta(txn.get(), store.meta_dbi_, stats_meta::kRetentionDays,
           std::to_string(options.retention_days), path);
  txn.commit(path);
  return store;
}

StatsStore::FlushResult StatsStore::flush(const CountersSnapshot& snapshot, std::int64_t now) {
  FlushResult result;
  if (options_.retention_days > 0)
    result.pruned = prune_when_full(
        hour_of(now) - options_.retention_days * 24 * kSecondsPerHour, result);
  const std::int64_t kept = hour_of(now) - kSecondsPerHour;  // never pruned to make room
  for (;;) {
    try {
      merge(snapshot, now);
      return result;
    } catch (const StoreError& error) {
      if (error.code() != MDB_MAP_FULL) throw;
      ++result.map_full;
    }
    const std::int64_t oldest = oldest_hour();
    if (oldest >= kept)
      throw StoreError(path_ + ": this flush does not fit in the map (" +
                           mebibytes(usage().map_bytes) +
                           ") even with only the last two hours kept; raise stats-map-size",
                       MDB_MAP_FULL);
    result.pruned_for_room += prune_when_full(oldest + kSecondsPerHour, result);
    // LMDB reuses the pages a transaction freed only two transactions later: one small
    // write lets the retried merge use them (if even that cannot allocate, the next round
    // prunes another hour).
    try {
      LmdbTxn txn = begin(env_.get(), 0, path_);
      put_meta(txn.get(), meta_dbi_, stats_meta::kLastPrunedForRoom, std::to_string(now), path_);
      txn.commit(path_);
    } catch (const StoreError& error) {
      if (error.code() != MDB_MAP_FULL) throw;
    }
  }
}

void StatsStore::merge(const CountersSnapshot& snapshot, std::int64_t now) {
  LmdbTxn txn = begin(env_.get(), 0, path_);
  StatsSubject subject;
  subject.scope = StatsScope::kCampaign;
  for (const CampaignCounts& campaign : snapshot.campaigns) {
    subject.campaign = campaign.campaign;
    for (const HourlyCounts& counts : campaign.hours)
      merge_into(txn.get(), buckets_dbi_, subject, counts, options_.resolver, path_);
  }
  subject.scope = StatsScope::kRule;
  for (const RuleCounts& rule : snapshot.rules) {
    subject.campaign = rule.campaign;
    subject.rule_key = rule.rule_key;
    subject.kind = rule.kind;
    for (const HourlyCounts& counts : rule.hours)
      merge_into(txn.get(), buckets_dbi_, subject, counts, options_.resolver, path_);
  }
  put_meta(txn.get(), meta_dbi_, stats_meta::kLastFlush, std::to_string(now), path_);
  txn.commit(path_);
}

std::size_t StatsStore::prune(std::int64_t cutoff) {
  LmdbTxn txn = begin(env_.get(), 0, path_);
  std::size_t pruned = prune_in(txn.get(), cutoff);
  txn.commit(path_);
  return pruned;
}

std::size_t StatsStore::prune_when_full(std::int64_t cutoff, FlushResult& result) {
  try {
    return prune(cutoff);
  } catch (const StoreError& error) {
    if (error.code() != MDB_MAP_FULL) throw;
    ++result.map_full;
  }
  // Deleting copies the pages on the way to each deleted record and records the freed ones:
  // a map with no free page left cannot even prune. Lend it 1/64 more (at least 1 MiB) for
  // this one transaction, then set the limit again (LMDB keeps the map at least as large as
  // the pages in use, so the file may end a few pages above the limit).
  MDB_env* env = env_.get();
  const std::size_t room = std::max(options_.map_size / 64, std::size_t{1} << 20);
  check(mdb_env_set_mapsize(env, usage().map_bytes + room), path_, "set map size");
  std::size_t pruned = 0;
  try {
    pruned = prune(cutoff);
  } catch (...) {
    mdb_env_set_mapsize(env, options_.map_size);
    throw;
  }
  check(mdb_env_set_mapsize(env, options_.map_size), path_, "set map size");
  return pruned;
}

std::int64_t StatsStore::oldest_hour() const {
  LmdbTxn txn = begin(env_.get(), MDB_RDONLY, path_);
  MDB_cursor* raw = nullptr;
  check(mdb_cursor_open(txn.get(), buckets_dbi_, &raw), path_, "open cursor");
  LmdbCursor cursor(raw);
  std::int64_t oldest = INT64_MAX;
  for (StatsScope scope : {StatsScope::kCampaign, StatsScope::kRule}) {
    std::string start = hour_prefix(scope, INT64_MIN);
    MDB_val key = to_val(start), value;
    int rc = mdb_cursor_get(raw, &key, &value, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) continue;
    check(rc, path_, "read buckets");
    std::string_view found = from_val(key);
    if (found.size() >= 9 && found[0] == static_cast<char>(scope))
      oldest = std::min(oldest, key_hour(found));
  }
  return oldest;
}

StatsStore::Usage StatsStore::usage() const noexcept {
  Usage usage;
  MDB_envinfo info{};
  MDB_stat stat{};
  if (mdb_env_info(env_.get(), &info) != MDB_SUCCESS ||
      mdb_env_stat(env_.get(), &stat) != MDB_SUCCESS)
    return usage;
  usage.used_bytes = (info.me_last_pgno + 1) * static_cast<std::size_t>(stat.ms_psize);
  usage.map_bytes = info.me_mapsize;
  return usage;
}

std::size_t StatsStore::prune_in(MDB_txn* txn, std::int64_t cutoff) {
  std::size_t pruned = 0;
  for (StatsScope scope : {StatsScope::kCampaign, StatsScope::kRule}) {
    MDB_cursor* raw = nullptr;
    check(mdb_cursor_open(txn, buckets_dbi_, &raw), path_, "open cursor");
    LmdbCursor cursor(raw);
    std::string start = hour_prefix(scope, INT64_MIN);
    MDB_val key = to_val(start), value;
    int rc = mdb_cursor_get(raw, &key, &value, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS) {
      std::string_view found = from_val(key);
      if (found.size() < 9 || found[0] != static_cast<char>(scope) || key_hour(found) >= cutoff)
        break;
      check(mdb_cursor_del(raw, 0), path_, "delete bucket");
      ++pruned;
      // After a delete the cursor already rests on the following record; MDB_NEXT returns it.
      rc = mdb_cursor_get(raw, &key, &value, MDB_NEXT);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, path_, "prune");
  }
  return pruned;
}

void StatsStore::read(const StatsQuery& query,
                      const std::function<void(StatsBucket&&)>& visit) const {
  LmdbTxn txn = begin(env_.get(), MDB_RDONLY, path_);
  visit_buckets(txn.get(), buckets_dbi_, path_, query, visit);
}

std::string default_resolver_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "unknown";
  return name;
}

std::string read_stats_buckets(const std::string& path, const StatsQuery& query,
                               const std::function<void(StatsBucket&&)>& visit) {
  check_meta_pages(path);
  MDB_env* raw_env = nullptr;
  check(mdb_env_create(&raw_env), path, "create environment");
  LmdbEnv env(raw_env);
  check(mdb_env_set_maxdbs(raw_env, 2), path, "set databases");
  int rc = mdb_env_open(raw_env, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY, kStatsFileMode);
  if (rc == EACCES || rc == EROFS) {
    // A copy in a folder we cannot write: read without the lock file (nobody writes it).
    env.reset();
    check(mdb_env_create(&raw_env), path, "create environment");
    env = LmdbEnv(raw_env);
    check(mdb_env_set_maxdbs(raw_env, 2), path, "set databases");
    rc = mdb_env_open(raw_env, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, kStatsFileMode);
  }
  check(rc, path, "open");
  check_file_complete(raw_env, path);
  MDB_txn* raw_txn = nullptr;
  rc = mdb_txn_begin(raw_env, nullptr, MDB_RDONLY, &raw_txn);
  if (rc == MDB_MAP_RESIZED) {  // the writer lent its map room to prune (StatsStore::flush)
    check(mdb_env_set_mapsize(raw_env, 0), path, "adopt the map size");
    rc = mdb_txn_begin(raw_env, nullptr, MDB_RDONLY, &raw_txn);
  }
  check(rc, path, "begin transaction");
  LmdbTxn txn(raw_txn);
  // After the transaction began: the map is final, and the file holds every page it reads
  // (the writer writes pages before the meta page that makes them visible).
  FileMappings file = FileMappings::of(raw_env);
  MDB_dbi meta_dbi, buckets_dbi;
  rc = mdb_dbi_open(txn.get(), stats_db::kMeta, 0, &meta_dbi);
  if (rc == MDB_NOTFOUND) throw StoreError(path + ": not a stats store (no meta database)");
  check(rc, path, "open meta");
  check_version(txn.get(), meta_dbi, path, file);
  check(mdb_dbi_open(txn.get(), stats_db::kBuckets, 0, &buckets_dbi), path, "open buckets");
  std::string fingerprint =
      meta_value(txn.get(), meta_dbi, stats_meta::kClientKeyFingerprint, file, path);

  visit_buckets(txn.get(), buckets_dbi, path, query, visit, file);
  return fingerprint;
}

void merge_bucket(MergedStats& merged, StatsBucket&& bucket) {
  merged.resolvers.insert(bucket.resolver);
  auto& hours = merged.subjects[bucket.subject];
  auto [position, inserted] = hours.try_emplace(bucket.counts.hour);
  MergedStats::Hour& hour = position->second;
  if (inserted) {
    hour.counts = std::move(bucket.counts);
    hour.resolvers.insert(std::move(bucket.resolver));
    return;
  }
  if (!hour.resolvers.insert(bucket.resolver).second) {
    ++merged.duplicate_buckets;  // the same resolver's counts again: counting them twice
    return;                      // would double the queries
  }
  hour.counts.merge(bucket.counts);
}

MergedStats merge_stats_stores(const std::vector<std::string>& paths, const StatsQuery& query) {
  MergedStats merged;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::string fingerprint = read_stats_buckets(
        paths[i], query, [&](StatsBucket&& bucket) { merge_bucket(merged, std::move(bucket)); });
    if (i == 0) {
      merged.client_key_fingerprint = fingerprint;
    } else if (fingerprint != merged.client_key_fingerprint) {
      throw StoreError(paths[0] + " and " + paths[i] +
                       " hash client addresses with different keys (" +
                       describe_fingerprint(merged.client_key_fingerprint) + ", " +
                       describe_fingerprint(fingerprint) +
                       "): their distinct counts cannot be merged. Resolvers whose stats are "
                       "merged share one stats-hash-key-file");
    }
  }
  return merged;
}

}  // namespace dnsverdict
