// Stats store: flush merges into stored buckets, retention prunes, stores merge as a union,
// and the flusher drains counters into a store on its own thread.
#include "stats_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dns_name.h"
#include "hit_counters.h"
#include "lmdb_handle.h"
#include "stats_flusher.h"
#include "counters_support.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

constexpr std::int64_t kHour = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kDay = 24 * kSecondsPerHour;

ClientAddress ipv4(std::uint32_t host_order) {
  std::uint32_t network_order = htonl(host_order);
  return ClientAddress::from(AF_INET, &network_order);
}

std::string key_of(const std::string& name) {
  std::string key, error;
  EXPECT_TRUE(text_to_key(name, key, error)) << error;
  return key;
}

// Counts `clients` distinct clients, numbered from `first`, hitting one rule of `campaign`.
void count(HitCounters& counters, const std::string& name, const std::string& campaign,
           std::uint32_t first, std::uint32_t clients, std::int64_t time) {
  const std::string key = key_of(name);
  for (std::uint32_t i = 0; i < clients; ++i) {
    HitEvent hit;
    hit.rule_key = key;
    hit.kind = RuleKind::kSubtree;
    hit.campaign = campaign;
    hit.client = ipv4(0x0A000000 + first + i);
    hit.time = time;
    counters.record_hit(hit);
  }
}

StatsStore::Options options(const std::string& resolver, std::int64_t retention_days = 30) {
  StatsStore::Options result;
  result.resolver = resolver;
  result.retention_days = retention_days;
  result.map_size = std::size_t{64} << 20;
  result.client_key_fingerprint = testing::client_key().fingerprint();
  return result;
}

const MergedStats::Hour* campaign_hour(const MergedStats& merged, const std::string& campaign,
                                       std::int64_t hour) {
  StatsSubject subject;
  subject.campaign = campaign;
  auto found = merged.subjects.find(subject);
  if (found == merged.subjects.end()) return nullptr;
  auto position = found->second.find(hour);
  return position == found->second.end() ? nullptr : &position->second;
}

TEST(StatsStore, BucketEncodingRoundTrip) {
  StatsBucket bucket;
  bucket.subject.scope = StatsScope::kRule;
  bucket.subject.campaign = "img";
  bucket.subject.rule_key = key_of("evil.example");
  bucket.subject.kind = RuleKind::kWildcard;
  bucket.resolver = "resolver-a";
  bucket.counts.hour = kHour;
  bucket.counts.add(kHour + 5, nullptr);
  ClientHashes hashes = client_hashes(ipv4(1), testing::client_key());
  bucket.counts.add(kHour + 9, &hashes);
  std::string key = bucket_key(bucket.subject.scope, kHour, bucket.subject);
  std::string value = encode_bucket(bucket);
  StatsBucket decoded;
  ASSERT_TRUE(decode_bucket(key, value, decoded));
  EXPECT_EQ(decoded.subject, bucket.subject);
  EXPECT_EQ(decoded.resolver, "resolver-a");
  EXPECT_EQ(decoded.counts.hour, kHour);
  EXPECT_EQ(decoded.counts.queries, 2u);
  EXPECT_EQ(decoded.counts.first_seen, kHour + 5);
  EXPECT_EQ(decoded.counts.last_seen, kHour + 9);
  EXPECT_EQ(decoded.counts.clients, bucket.counts.clients);
  EXPECT_FALSE(decode_bucket(key, value.substr(0, value.size() - 1), decoded));
  EXPECT_FALSE(decode_bucket(key, value + "x", decoded));
  // Hours before 1970 sort before later ones.
  EXPECT_LT(bucket_key(StatsScope::kCampaign, -3600, {}), bucket_key(StatsScope::kCampaign, 0, {}));
}

TEST(StatsStore, FlushMergesIntoStoredBuckets) {
  testing::TempDir dir;
  const std::string path = dir.file("stats.lmdb");
  HitCounters counters(testing::counting());
  {
    StatsStore store = StatsStore::open(path, options("r1"));
    count(counters, "img.example", "img", 0, 1000, kHour + 10);
    store.flush(counters.take_snapshot(), kHour + 100);
    // The same hour again, overlapping clients, after a restart-like reopen below.
  }
  {
    StatsStore store = StatsStore::open(path, options("r1"));
    count(counters, "img.example", "img", 500, 1000, kHour + 20);
    count(counters, "img.example", "img", 0, 10, kHour + kSecondsPerHour + 1);
    store.flush(counters.take_snapshot(), kHour + kSecondsPerHour + 100);
  }
  MergedStats merged = merge_stats_stores({path}, {});
  const MergedStats::Hour* first = campaign_hour(merged, "img", kHour);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->counts.queries, 2000u);
  EXPECT_NEAR(first->counts.clients.estimate(), 1500, 1500 * 3 * HyperLogLog::kStandardError);
  EXPECT_EQ(first->counts.first_seen, kHour + 10);
  EXPECT_EQ(first->counts.last_seen, kHour + 20);
  const MergedStats::Hour* second = campaign_hour(merged, "img", kHour + kSecondsPerHour);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->counts.queries, 10u);
  EXPECT_EQ(merged.subjects.size(), 2u);  // the campaign and its one rule
  EXPECT_EQ(merged.resolvers, std::set<std::string>{"r1"});
}

TEST(StatsStore, RetentionPrunesOldBuckets) {
  testing::TempDir dir;
  const std::string path = dir.file("stats.lmdb");
  HitCounters counters(testing::counting());
  StatsStore store = StatsStore::open(path, options("r1", 2));
  count(counters, "a.example", "a", 0, 5, kHour);
  count(counters, "a.example", "a", 0, 5, kHour + kDay);
  count(counters, "a.example", "a", 0, 5, kHour + 2 * kDay);
  EXPECT_EQ(store.flush(counters.take_snapshot(), kHour + 2 * kDay).pruned, 0u);
  // Two days later the first day's buckets (campaign + rule) fall out.
  EXPECT_EQ(store.flush(counters.take_snapshot(), kHour + 2 * kDay + kSecondsPerHour).pruned, 2u);
  MergedStats merged;
  store.read({}, [&](StatsBucket&& bucket) { merge_bucket(merged, std::move(bucket)); });
  EXPECT_EQ(campaign_hour(merged, "a", kHour), nullptr);
  EXPECT_NE(campaign_hour(merged, "a", kHour + kDay), nullptr);
  EXPECT_EQ(store.prune(INT64_MAX), 4u);
}

// Two resolvers see overlapping clients: merged stores give the union, not the sum.
TEST(StatsStore, TwoStoresMergeAsUnionNotSum) {
  testing::TempDir dir;
  HitCounters counters_a(testing::counting()), counters_b(testing::counting());
  count(counters_a, "img.example", "img", 0, 60000, kHour);
  count(counters_b, "img.example", "img", 30000, 60000, kHour);  // 30000 shared
  StatsStore a = StatsStore::open(dir.file("a.lmdb"), options("resolver-a"));
  StatsStore b = StatsStore::open(dir.file("b.lmdb"), options("resolver-b"));
  a.flush(counters_a.take_snapshot(), kHour + 10);
  b.flush(counters_b.take_snapshot(), kHour + 10);

  MergedStats merged = merge_stats_stores({dir.file("a.lmdb"), dir.file("b.lmdb")}, {});
  const MergedStats::Hour* hour = campaign_hour(merged, "img", kHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->counts.queries, 120000u);  // queries do add: each went to one resolver
  double clients = hour->counts.clients.estimate();
  EXPECT_LT(std::fabs(clients - 90000) / 90000, 3 * HyperLogLog::kStandardError) << clients;
  EXPECT_EQ(hour->resolvers, (std::set<std::string>{"resolver-a", "resolver-b"}));

  // The same store given twice is counted once.
  MergedStats twice = merge_stats_stores({dir.file("a.lmdb"), dir.file("a.lmdb")}, {});
  EXPECT_EQ(campaign_hour(twice, "img", kHour)->counts.queries, 60000u);
  EXPECT_EQ(twice.duplicate_buckets, 2u);  // its campaign and its rule bucket
}

// Writes `value` under `key` in one of a stats store's databases with LMDB directly, past
// the store's own checks (a damaged bucket, another format version).
void put_raw(const std::string& path, const char* database, const std::string& key,
             const std::string& value) {
  MDB_env* raw = nullptr;
  ASSERT_EQ(mdb_env_create(&raw), MDB_SUCCESS);
  LmdbEnv env(raw);
  ASSERT_EQ(mdb_env_set_maxdbs(raw, 2), MDB_SUCCESS);
  ASSERT_EQ(mdb_env_open(raw, path.c_str(), MDB_NOSUBDIR, 0640), MDB_SUCCESS);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(raw, nullptr, 0, &txn), MDB_SUCCESS);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, database, 0, &dbi), MDB_SUCCESS);
  MDB_val mdb_key = to_val(key), mdb_value = to_val(value);
  ASSERT_EQ(mdb_put(txn, dbi, &mdb_key, &mdb_value, 0), MDB_SUCCESS);
  ASSERT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
}

// Writes `value` under a campaign bucket's key (a damaged bucket).
void put_raw_bucket(const std::string& path, const std::string& campaign, std::int64_t hour,
                    const std::string& value) {
  StatsSubject subject;
  subject.campaign = campaign;
  put_raw(path, stats_db::kBuckets, bucket_key(StatsScope::kCampaign, hour, subject), value);
}

// Retention pruning is a transaction of its own: a merge that fails (here on a damaged
// bucket; in the field on a full map) does not take the pruning down with it.
TEST(StatsStore, RetentionPruneCommitsEvenWhenTheMergeFails) {
  testing::TempDir dir;
  const std::string path = dir.file("stats.lmdb");
  const std::int64_t later = kHour + 40 * kDay;
  HitCounters counters(testing::counting());
  {
    StatsStore store = StatsStore::open(path, options("r1", 2));
    count(counters, "a.example", "a", 0, 5, kHour);
    store.flush(counters.take_snapshot(), kHour + 60);
  }
  put_raw_bucket(path, "a", later, "damaged");
  StatsStore store = StatsStore::open(path, options("r1", 2));
  count(counters, "a.example", "a", 0, 5, later);
  EXPECT_THROW(store.flush(counters.take_snapshot(), later + 60), StoreError);
  std::size_t old_buckets = 0;
  StatsQuery query;
  query.until = later;
  store.read(query, [&](StatsBucket&&) { ++old_buckets; });
  EXPECT_EQ(old_buckets, 0u);  // the hour 40 days back is gone although the merge failed
}

// A map too small for 30 days of busy hours: every flush still succeeds, by pruning the
// oldest hours when LMDB reports the map full; the newest hours are all there.
TEST(StatsStore, FullMapPrunesOldestHoursAndNeverJams) {
  testing::TempDir dir;
  const std::string path = dir.file("stats.lmdb");
  StatsStore::Options small = options("r1");
  small.map_size = std::size_t{1} << 20;  // about 30 of the hours below (2 x 16 KiB of pages)
  StatsStore store = StatsStore::open(path, small);
  HitCounters counters(testing::counting());
  StatsStore::FlushResult total;
  constexpr int kHours = 48;
  for (int h = 0; h < kHours; ++h) {
    const std::int64_t hour = kHour + h * kSecondsPerHour;
    count(counters, "busy.example", "busy", static_cast<std::uint32_t>(h) * 10000, 4000, hour);
    StatsStore::FlushResult result;
    ASSERT_NO_THROW(result = store.flush(counters.take_snapshot(), hour + 60)) << "hour " << h;
    total.map_full += result.map_full;
    total.pruned_for_room += result.pruned_for_room;
  }
  EXPECT_GT(total.map_full, 0u);
  EXPECT_GT(total.pruned_for_room, 0u);
  MergedStats merged;
  store.read({}, [&](StatsBucket&& bucket) { merge_bucket(merged, std::move(bucket)); });
  EXPECT_EQ(campaign_hour(merged, "busy", kHour), nullptr);  // the oldest went for room
  for (int h = kHours - 4; h < kHours; ++h) {
    const MergedStats::Hour* hour = campaign_hour(merged, "busy", kHour + h * kSecondsPerHour);
    ASSERT_NE(hour, nullptr) << "hour " << h;
    EXPECT_EQ(hour->counts.queries, 4000u);
  }
  const StatsStore::Usage usage = store.usage();
  EXPECT_LE(usage.used_bytes, small.map_size + (std::size_t{1} << 20));
  std::printf("1 MiB map, %d busy hours: %zu map-full events, %zu buckets pruned for room, "
              "%zu bytes used, %zu hours kept\n",
              kHours, total.map_full, total.pruned_for_room, usage.used_bytes,
              merged.subjects.begin()->second.size());
}

// A flush bigger than the whole map fails alone: it is not stored, and the next one is.
TEST(StatsStore, FlushLargerThanTheMapFailsAlone) {
  testing::TempDir dir;
  StatsStore::Options small = options("r1");
  small.map_size = std::size_t{256} << 10;
  StatsStore store = StatsStore::open(dir.file("stats.lmdb"), small);
  HitCounters counters(testing::counting());
  for (int rule = 0; rule < 40; ++rule)
    count(counters, "r" + std::to_string(rule) + ".example", "c", 0, 4000, kHour);
  try {
    store.flush(counters.take_snapshot(), kHour + 60);
    ADD_FAILURE() << "40 dense rule buckets fit in 256 KiB";
  } catch (const StoreError& error) {
    EXPECT_EQ(error.code(), MDB_MAP_FULL);
    EXPECT_NE(std::string(error.what()).find("stats-map-size"), std::string::npos) << error.what();
  }
  count(counters, "r0.example", "c", 0, 10, kHour + kSecondsPerHour);
  EXPECT_NO_THROW(store.flush(counters.take_snapshot(), kHour + kSecondsPerHour + 60));
}

mode_t file_mode(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

// With the usual umask 022 the store and its lock file are not world-readable: the sketches
// say which hashed addresses asked for what. A store made world-readable before is
// tightened when the writer opens it.
TEST(StatsStore, FilesAreNotWorldReadable) {
  testing::TempDir dir;
  const std::string path = dir.file("stats.lmdb");
  const mode_t saved = ::umask(022);
  { StatsStore store = StatsStore::open(path, options("r1")); }
  EXPECT_EQ(file_mode(path), 0640u);
  EXPECT_EQ(file_mode(path + "-lock"), 0640u);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_EQ(::chmod((path + "-lock").c_str(), 0666), 0);
  { StatsStore store = StatsStore::open(path, options("r1")); }
  EXPECT_EQ(file_mode(path), 0640u);
  EXPECT_EQ(file_mode(path + "-lock"), 0640u);
  ::umask(saved);
}

// A store records its key's fingerprint: the writer refuses buckets hashed with another key
// (an empty store takes the new one), and readers refuse to merge stores of different keys.
TEST(StatsStore, KeysOfStoresMustMatch) {
  testing::TempDir dir;
  HitCounters counters(testing::counting());
  StatsStore::Options other = options("r2");
  other.client_key_fingerprint = ClientHashKey::random().fingerprint();
  {
    StatsStore store = StatsStore::open(dir.file("a.lmdb"), options("r1"));
    count(counters, "a.example", "a", 0, 5, kHour);
    store.flush(counters.take_snapshot(), kHour + 60);
  }
  try {
    StatsStore::open(dir.file("a.lmdb"), other);
    ADD_FAILURE() << "opened a store of another key";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("another key"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(testing::client_key().fingerprint()),
              std::string::npos)
        << error.what();
  }
  { StatsStore empty = StatsStore::open(dir.file("b.lmdb"), options("r2")); }
  { StatsStore adopted = StatsStore::open(dir.file("b.lmdb"), other); }  // no buckets yet
  {
    StatsStore store = StatsStore::open(dir.file("b.lmdb"), other);
    count(counters, "a.example", "a", 0, 5, kHour);
    store.flush(counters.take_snapshot(), kHour + 60);
  }
  EXPECT_EQ(merge_stats_stores({dir.file("a.lmdb")}, {}).client_key_fingerprint,
            testing::client_key().fingerprint());
  try {
    merge_stats_stores({dir.file("a.lmdb"), dir.file("b.lmdb")}, {});
    ADD_FAILURE() << "merged stores of different keys";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("different keys"), std::string::npos)
        << error.what();
  }
}

TEST(StatsStore, QueryLimitsHoursAndScopes) {
  testing::TempDir dir;
  HitCounters counters(testing::counting());
  for (int h = 0; h < 5; ++h) count(counters, "x.example", "x", 0, 3, kHour + h * kSecondsPerHour);
  StatsStore store = StatsStore::open(dir.file("s.lmdb"), options("r"));
  store.flush(counters.take_snapshot(), kHour + 5 * kSecondsPerHour);
  StatsQuery query;
  query.since = kHour + kSecondsPerHour;
  query.until = kHour + 3 * kSecondsPerHour;
  query.rules = false;
  int buckets = 0;
  read_stats_buckets(dir.file("s.lmdb"), query, [&](StatsBucket&& bucket) {
    EXPECT_EQ(bucket.subject.scope, StatsScope::kCampaign);
    EXPECT_GE(bucket.counts.hour, query.since);
    EXPECT_LT(bucket.counts.hour, query.until);
    ++buckets;
  });
  EXPECT_EQ(buckets, 2);
}

// A version 1 bucket value as that version wrote it (docs/stats-format.md): the layout of
// version 2 without the flags, sites sketch and site sample.
std::string version1_value(const std::string& resolver, const std::string& campaign,
                           std::uint64_t queries, std::int64_t time, const HyperLogLog& clients) {
  std::string out(1, '\x01');
  auto put = [&](std::uint64_t value, int size) {
    for (int i = 0; i < size; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  put(resolver.size(), 2);
  out += resolver;
  put(campaign.size(), 2);
  out += campaign;
  put(queries, 8);
  put(static_cast<std::uint64_t>(time), 8);
  put(static_cast<std::uint64_t>(time), 8);
  for (const HyperLogLog* sketch : {&clients, &clients}) {
    std::string bytes = sketch->serialize();
    put(bytes.size(), 4);
    out += bytes;
  }
  return out;
}

void set_format_version(const std::string& path, const std::string& version) {
  put_raw(path, stats_db::kMeta, stats_meta::kFormatVersion, version);
}

// Campaign buckets carry their sites sketch and site sample; rule buckets do not.
TEST(StatsStore, CampaignBucketsKeepSitesAndTheirSample) {
  HitCounters counters(testing::counting());
  const std::string key = key_of("evil.example");
  std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  for (int device = 0; device < 3; ++device) {
    v6[15] = static_cast<std::uint8_t>(device + 1);  // three addresses in one /64
    HitEvent hit;
    hit.rule_key = key;
    hit.campaign = "img";
    hit.client = ClientAddress::from(AF_INET6, v6);
    hit.time = kHour + 60 * device;
    counters.record_hit(hit);
    hit.client = ipv4(0x0A000001);
    counters.record_hit(hit);
  }
  testing::TempDir dir;
  StatsStore store = StatsStore::open(dir.file("s.lmdb"), options("a"));
  store.flush(counters.take_snapshot(), kHour + 600);
  MergedStats merged = merge_stats_stores({dir.file("s.lmdb")}, {});
  const MergedStats::Hour* hour = campaign_hour(merged, "img", kHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_TRUE(hour->counts.counts_sites);
  EXPECT_NEAR(hour->counts.clients.estimate(), 4, 0.01);
  EXPECT_NEAR(hour->counts.sites.estimate(), 2, 0.01);  // the /64 and the IPv4 address
  ASSERT_EQ(hour->counts.site_sample.sites().size(), 2u);
  std::size_t addresses = 0, queries = 0;
  for (const SampledSite& site : hour->counts.site_sample.sites()) {
    addresses += site.address_count();
    queries += site.queries;
  }
  EXPECT_EQ(addresses, 3u);  // the IPv6 site's three; none for IPv4
  EXPECT_EQ(queries, 6u);
  for (const auto& [subject, hours] : merged.subjects)
    if (subject.scope == StatsScope::kRule) {
      EXPECT_FALSE(hours.at(kHour).counts.counts_sites);
    }
}

// A store of format version 1 is read: its buckets count no sites. A writer takes it over
// (format_version becomes 2), keeps its buckets, and a later hour counts sites again; the
// hour where old and new buckets meet does not (its sites would be partial).
TEST(StatsStore, Version1StoresStayReadable) {
  testing::TempDir dir;
  const std::string path = dir.file("old.lmdb");
  StatsStore::open(path, options("old"));
  set_format_version(path, "1");
  HyperLogLog clients;
  clients.add_hash(11);
  clients.add_hash(12);
  put_raw_bucket(path, "img", kHour, version1_value("old", "img", 5, kHour + 7, clients));

  MergedStats merged = merge_stats_stores({path}, {});
  const MergedStats::Hour* hour = campaign_hour(merged, "img", kHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->counts.queries, 5u);
  EXPECT_EQ(hour->counts.clients, clients);
  EXPECT_FALSE(hour->counts.counts_sites);

  HitCounters counters(testing::counting());
  count(counters, "evil.example", "img", 1, 3, kHour + 60);
  count(counters, "evil.example", "img", 1, 3, kHour + kSecondsPerHour);
  {
    StatsStore store = StatsStore::open(path, options("old"));
    store.flush(counters.take_snapshot(), kHour + kSecondsPerHour + 60);
  }
  merged = merge_stats_stores({path}, {});
  hour = campaign_hour(merged, "img", kHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->counts.queries, 8u);
  EXPECT_FALSE(hour->counts.counts_sites);
  hour = campaign_hour(merged, "img", kHour + kSecondsPerHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_TRUE(hour->counts.counts_sites);
  set_format_version(path, "3");
  try {
    read_stats_buckets(path, {}, [](StatsBucket&&) {});
    ADD_FAILURE() << "version 3 read";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("not a stats store of format version 1 to 2 (version 3)"),
              std::string::npos)
        << error.what();
  }
}

TEST(StatsStore, RejectsFilesThatAreNotStatsStores) {
  testing::TempDir dir;
  EXPECT_THROW(read_stats_buckets(dir.file("missing.lmdb"), {}, [](StatsBucket&&) {}), StoreError);
  std::string junk = dir.write("junk.lmdb", std::string(8192, 'x'));
  EXPECT_THROW(read_stats_buckets(junk, {}, [](StatsBucket&&) {}), StoreError);
}

// Found by fuzz_stats_store_file: a truncated file faulted (SIGBUS) in LMDB, a node whose size
// runs past the end of the file was read past it, and a meta page's page size of 0 raised
// SIGFPE in mdb_env_open. Each is now a StoreError.
TEST(StatsStore, DamagedFilesAreRefusedBeforeTheyAreRead) {
  testing::TempDir dir;
  {
    HitCounters counters(testing::counting());
    count(counters, "evil.example", "img", 1, 3, kHour + 5);
    StatsStore store = StatsStore::open(dir.file("s.lmdb"), options("resolver-a"));
    store.flush(counters.take_snapshot(), kHour + 100);
  }
  std::string bytes = testing::read_file(dir.file("s.lmdb"));
  auto expect_refused = [&](const std::string& name, const std::string& damaged,
                            const std::string& fragment) {
    try {
      read_stats_buckets(dir.write(name, damaged), {}, [](StatsBucket&&) {});
      ADD_FAILURE() << name << " was read";
    } catch (const StoreError& error) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
    }
  };
  expect_refused("truncated.lmdb", bytes.substr(0, bytes.size() - 4096), "truncated");
  // LMDB's leaf node: u16 size (low), u16 size (high), u16 flags, u16 key size, key, data.
  // Every copy of the node: pages an earlier transaction replaced are still in the file.
  std::string node = std::string(1, static_cast<char>(std::strlen(stats_meta::kFormatVersion))) +
                     '\0' + stats_meta::kFormatVersion;
  std::string long_value = bytes;
  for (std::size_t at = bytes.find(node); at != std::string::npos; at = bytes.find(node, at + 1))
    long_value[at - 4] = '\x10';  // 1 MiB more: past the end of the file
  ASSERT_NE(long_value, bytes);
  expect_refused("long-value.lmdb", long_value, "runs past the end of the file");
  std::string no_page_size = bytes;  // the first meta page's page size, at offset 40
  no_page_size.replace(40, 4, std::string(4, '\0'));
  expect_refused("page-size.lmdb", no_page_size, "damaged LMDB meta page");
}

TEST(StatsFlusher, FlushesOnItsThreadAndAtStop) {
  testing::TempDir dir;
  HitCounters counters;  // the flusher starts it with the store's key
  std::atomic<std::int64_t> clock{kHour + 30};
  StatsFlusher flusher;
  StatsFlusher::Options flusher_options;
  flusher_options.counters = &counters;
  flusher_options.stats_path = dir.file("stats.lmdb");
  flusher_options.key_path = dir.write("stats.key", testing::client_key().to_text());
  flusher_options.prometheus_path = dir.file("dnsverdict.prom");
  flusher_options.resolver = "test";
  flusher_options.interval = std::chrono::seconds(1);
  flusher_options.clock = [&] { return clock.load(); };
  flusher_options.health = [] {
    ModuleHealth health;
    health.store_loaded = true;
    health.store_build_id = "0123456789abcdef0123456789abcdef";
    health.lookups = 7;
    return health;
  };
  std::string error;
  ASSERT_TRUE(flusher.start(flusher_options, error)) << error;
  count(counters, "img.example", "img", 0, 100, kHour + 10);
  // Wait (bounded) for the background flush.
  for (int i = 0; i < 50 && flusher.last_flush() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(flusher.last_flush(), 0);
  count(counters, "img.example", "img", 100, 100, kHour + 20);
  flusher.stop();  // the final flush stores the second batch
  EXPECT_EQ(flusher.flush_errors(), 0u);

  MergedStats merged = merge_stats_stores({dir.file("stats.lmdb")}, {});
  const MergedStats::Hour* hour = campaign_hour(merged, "img", kHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->counts.queries, 200u);
  EXPECT_NEAR(hour->counts.clients.estimate(), 200, 2);
  std::string prom = testing::read_file(dir.file("dnsverdict.prom"));
  EXPECT_NE(prom.find("dnsverdict_lookups_total 7\n"), std::string::npos) << prom;
  EXPECT_NE(
      prom.find(
          "dnsverdict_campaign_unique_clients{campaign=\"img\",window=\"current_hour\"} 200\n"),
      std::string::npos)
      << prom;
}

// flush_now() is noexcept: whatever its callbacks throw (the clock, the health callback, even
// something that is not a std::exception) comes back as false with an error.
TEST(StatsFlusher, FlushNowReportsWhatItsCallbacksThrow) {
  testing::TempDir dir;
  HitCounters counters;
  std::atomic<bool> clock_throws{false}, health_throws{false};
  StatsFlusher flusher;
  StatsFlusher::Options flusher_options;
  flusher_options.counters = &counters;
  flusher_options.stats_path = dir.file("stats.lmdb");
  flusher_options.prometheus_path = dir.file("dnsverdict.prom");
  flusher_options.interval = std::chrono::seconds(3600);
  flusher_options.clock = [&]() -> std::int64_t {
    if (clock_throws) throw 42;
    return kHour;
  };
  flusher_options.health = [&] {
    if (health_throws) throw std::string("not a std::exception");
    return ModuleHealth{};
  };
  std::string error;
  ASSERT_TRUE(flusher.start(flusher_options, error)) << error;
  clock_throws = true;
  EXPECT_FALSE(flusher.flush_now(error));
  EXPECT_NE(error, "");
  clock_throws = false;
  health_throws = true;
  error.clear();
  EXPECT_FALSE(flusher.flush_now(error));
  EXPECT_NE(error.find("prometheus"), std::string::npos) << error;
  health_throws = false;
  EXPECT_TRUE(flusher.flush_now(error)) << error;
  clock_throws = true;
  flusher.stop();  // the final flush fails too, without terminating
}

// Flushes that fail and succeed by turns (a disk at the edge of full: a failed write gives
// back what it took, so the next flush fits): the flusher logs the failure once, and that the
// store works again only after two flushes in a row succeed.
TEST(StatsFlusher, AFlushBetweenFailuresIsNoRecovery) {
  testing::TempDir dir;
  HitCounters counters;
  std::atomic<bool> clock_throws{false};
  std::vector<std::string> errors, infos;
  std::mutex log_mutex;
  StatsFlusher flusher;
  StatsFlusher::Options flusher_options;
  flusher_options.counters = &counters;
  flusher_options.stats_path = dir.file("stats.lmdb");
  flusher_options.interval = std::chrono::seconds(3600);
  flusher_options.clock = [&]() -> std::int64_t {
    if (clock_throws) throw std::runtime_error("No space left on device");
    return kHour + 30;
  };
  flusher_options.logger = [&](StatsFlusher::Severity severity, const std::string& message) {
    std::lock_guard<std::mutex> lock(log_mutex);
    (severity == StatsFlusher::Severity::kInfo ? infos : errors).push_back(message);
  };
  std::string error;
  ASSERT_TRUE(flusher.start(flusher_options, error)) << error;
  for (int round = 0; round < 3; ++round) {
    clock_throws = true;
    EXPECT_FALSE(flusher.flush_now(error));
    clock_throws = false;
    EXPECT_TRUE(flusher.flush_now(error)) << error;
  }
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    EXPECT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    for (const std::string& message : infos)
      EXPECT_EQ(message.find("working again"), std::string::npos) << message;
  }
  EXPECT_TRUE(flusher.flush_now(error)) << error;  // the second in a row
  flusher.stop();
  std::lock_guard<std::mutex> lock(log_mutex);
  EXPECT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  int recoveries = 0;
  for (const std::string& message : infos)
    recoveries += message.find("working again after 3 failed flushes") != std::string::npos;
  EXPECT_EQ(recoveries, 1) << ::testing::PrintToString(infos);
}

// A stats store that cannot be opened at start (its folder is not there yet) does not stop
// the flusher: it logs once, counts the failed flushes in the Prometheus file, and opens the
// store, counting from then on, once the folder appears.
TEST(StatsFlusher, KeepsTryingAStoreThatCannotOpenYet) {
  testing::TempDir dir;
  const std::string folder = dir.file("later");
  HitCounters counters;
  std::vector<std::string> errors, infos;
  std::mutex log_mutex;
  StatsFlusher flusher;
  StatsFlusher::Options flusher_options;
  flusher_options.counters = &counters;
  flusher_options.stats_path = folder + "/stats.lmdb";
  flusher_options.prometheus_path = dir.file("dnsverdict.prom");
  flusher_options.interval = std::chrono::seconds(3600);
  flusher_options.clock = [] { return kHour + 30; };
  flusher_options.logger = [&](StatsFlusher::Severity severity, const std::string& message) {
    std::lock_guard<std::mutex> lock(log_mutex);
    (severity == StatsFlusher::Severity::kInfo ? infos : errors).push_back(message);
  };
  std::string error;
  ASSERT_TRUE(flusher.start(flusher_options, error)) << error;
  EXPECT_TRUE(flusher.running());
  EXPECT_FALSE(flusher.store_open());
  count(counters, "img.example", "img", 0, 10, kHour + 10);  // not counted: no key yet
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(flusher.flush_now(error));
    EXPECT_NE(error.find(folder), std::string::npos) << error;
  }
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    ASSERT_EQ(errors.size(), 1u);  // once for the run of failures
    EXPECT_NE(errors[0].find(folder), std::string::npos) << errors[0];
  }
  std::string prom = testing::read_file(dir.file("dnsverdict.prom"));
  EXPECT_NE(prom.find("dnsverdict_stats_store_open 0\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("dnsverdict_stats_flush_errors_total 4\n"), std::string::npos) << prom;

  ASSERT_EQ(::mkdir(folder.c_str(), 0750), 0);
  EXPECT_TRUE(flusher.flush_now(error)) << error;
  EXPECT_TRUE(flusher.store_open());
  EXPECT_TRUE(counters.counting());
  count(counters, "img.example", "img", 0, 10, kHour + 20);
  EXPECT_TRUE(flusher.flush_now(error)) << error;
  prom = testing::read_file(dir.file("dnsverdict.prom"));
  EXPECT_NE(prom.find("dnsverdict_stats_store_open 1\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("dnsverdict_campaign_hits{campaign=\"img\",window=\"current_hour\"} 10\n"),
            std::string::npos)
      << prom;
  flusher.stop();
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    EXPECT_EQ(errors.size(), 1u);
    bool recovered = false;
    for (const std::string& message : infos)
      recovered |= message.find("working again after 4 failed flushes") != std::string::npos;
    EXPECT_TRUE(recovered);
  }
  EXPECT_EQ(file_mode(folder + "/stats.lmdb.key"), 0600u);
  EXPECT_EQ(merge_stats_stores({folder + "/stats.lmdb"}, {}).subjects.size(), 2u);
}

// The counters' byte budget brings the flush forward: a flood of random clients over many
// rules, with an hour between regular flushes, keeps the counters near their budget and
// stores every query.
TEST(StatsFlusher, BudgetBringsTheFlushForward) {
  testing::TempDir dir;
  HitCounters::Options counter_options;
  counter_options.shards = 2;
  counter_options.memory_budget = std::size_t{1} << 20;
  HitCounters counters(counter_options);
  StatsFlusher flusher;
  StatsFlusher::Options flusher_options;
  flusher_options.counters = &counters;
  flusher_options.stats_path = dir.file("stats.lmdb");
  flusher_options.interval = std::chrono::seconds(3600);
  flusher_options.clock = [] { return kHour + 30; };
  std::string error;
  ASSERT_TRUE(flusher.start(flusher_options, error)) << error;
  std::vector<std::string> rules;
  for (int i = 0; i < 500; ++i) rules.push_back(key_of("r" + std::to_string(i) + ".example"));
  constexpr int kThreads = 2, kPerThread = 200000;
  std::atomic<std::size_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 random(7 + t);
      for (int i = 0; i < kPerThread; ++i) {
        HitEvent hit;
        hit.rule_key = rules[random() % rules.size()];
        hit.kind = RuleKind::kExact;
        hit.campaign = "flood";
        hit.client = ipv4(static_cast<std::uint32_t>(random()));
        hit.time = kHour + 10;
        counters.record_hit(hit);
        std::size_t now = counters.memory_bytes(), seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
      }
    });
  for (auto& thread : threads) thread.join();
  flusher.stop();
  std::printf("budget %zu bytes: peak %zu, %llu early flushes\n",
              counter_options.memory_budget, peak.load(),
              static_cast<unsigned long long>(flusher.early_flushes()));
  EXPECT_GT(flusher.early_flushes(), 0u);
  EXPECT_LE(peak.load(), counter_options.memory_budget + counter_options.shards * 64 * 1024);
  EXPECT_EQ(flusher.flush_errors(), 0u);
  const MergedStats merged = merge_stats_stores({dir.file("stats.lmdb")}, {});
  const MergedStats::Hour* hour = campaign_hour(merged, "flood", kHour);
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->counts.queries, static_cast<std::uint64_t>(kThreads) * kPerThread);
}

}  // namespace
}  // namespace dnsverdict
