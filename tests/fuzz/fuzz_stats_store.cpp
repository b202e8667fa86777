// Arbitrary content opened as a stats store with read_stats_buckets, as `dnsverdict stats`
// and `estimate` read one. Two targets from this source (FUZZ_RAW_FILE, as for
// fuzz_verdict_store.cpp): stats_store_file (the bytes are the file) and stats_store
// (records written through LMDB: sound pages, damaged content). Properties: a file that is
// not a sound stats store is one StoreError, never a crash or a read outside the file; every
// bucket handed out encodes to a value that decodes to the same bucket, and its sketches
// give estimates.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "stats_store.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
#if FUZZ_RAW_FILE
  fuzz::TemporaryFile file(fuzz::as_text(data, size), "stats");
#else
  fuzz::TemporaryFile file({}, "stats");
  fuzz::write_lmdb_records(fuzz::as_text(data, size), {stats_db::kMeta, stats_db::kBuckets},
                           file.path());
#endif
  StatsQuery query;
  try {
    read_stats_buckets(file.path(), query, [](StatsBucket&& bucket) {
      std::string key = bucket_key(bucket.subject.scope, bucket.counts.hour, bucket.subject);
      std::string value = encode_bucket(bucket);
      StatsBucket again;
      FUZZ_CHECK(decode_bucket(key, value, again));
      FUZZ_CHECK(again.subject == bucket.subject && encode_bucket(again) == value);
      FUZZ_CHECK(bucket.counts.clients.estimate() >= 0 && bucket.counts.networks.estimate() >= 0);
    });
  } catch (const StoreError&) {
  }
  return 0;
}
