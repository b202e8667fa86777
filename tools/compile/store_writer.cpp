#include "store_writer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>

#include "address_trigger.h"
#include "bloom_filter.h"
#include "ip_prefix.h"
#include "hash_index.h"
#include "huge_pages.h"
#include "diagnostics.h"
#include "lmdb_handle.h"
#include "parallel.h"
#include "prefix_table.h"
#include "store_checksum.h"
#include "verdict_store.h"

namespace dnsverdict {
namespace {

std::string folder_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

void sync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw ToolError(fmt::format("{}: cannot open to sync: {}", path, std::strerror(errno)));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) throw ToolError(fmt::format("{}: fsync failed: {}", path, std::strerror(saved)));
}

// True when the file system holding `folder` has less than one LMDB page of room left.
bool file_system_full(const std::string& folder) {
  struct statvfs room;
  return ::statvfs(folder.c_str(), &room) == 0 &&
         static_cast<std::uint64_t>(room.f_bavail) * room.f_frsize < 4096;
}

// Cuts the written file to the size its pages use (the checksum trailer follows, then the
// one fsync of the store).
void cut_file(const std::string& path, std::uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0)
    throw ToolError(fmt::format("{}: cannot cut to its size: {}", path, std::strerror(errno)));
}

// Removes the temporary file unless released.
struct TempFile {
  std::string path;
  bool keep = false;
  ~TempFile() {
    if (!keep && !path.empty()) ::unlink(path.c_str());
  }
};

class StoreBuilder {
 public:
  // Writes `path`; errors name `target`, the store the operator asked for.
  // `data_size`: about the octets the store will use, allocated on disk up front.
  StoreBuilder(const std::string& path, const std::string& target, std::size_t map_size,
               std::size_t data_size)
      : path_(target) {
    MDB_env* env = nullptr;
    check(mdb_env_create(&env));
    env_ = LmdbEnv(env);
    check(mdb_env_set_maxdbs(env, db::kCount + 1));
    check(mdb_env_set_mapsize(env, map_size));
    // One writer, nobody reads the temporary file: no lock file; durability comes from the
    // one fsync before the rename (after cut_file and the checksum trailer). MDB_WRITEMAP:
    // pages are written in the file's mapping, not copied from malloc'ed pages by writev;
    // the big values are built straight into it (reserve). LMDB sizes the file to the map; finish() gives the size
    // the store really has.
    check(mdb_env_open(env, path.c_str(),
                       MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOLOCK | MDB_WRITEMAP, 0644));
    // The file is sparse: a full disk would show as SIGBUS on a write through the map, not
    // as an error. Allocating the blocks first turns it into one ("No space left on device").
    // Filesystems without fallocate are written as they are.
    int fd = -1;
    check(mdb_env_get_fd(env, &fd));
    if (::fallocate(fd, 0, 0, static_cast<off_t>(data_size)) != 0 && errno != EOPNOTSUPP)
      throw ToolError(fmt::format("{}: cannot write: {}", target, std::strerror(errno)));
    begin();
    for (const char* name : {db::kMeta, db::kRules, db::kCampaigns, db::kCategories, db::kSources,
                             db::kFilter, db::kAddressRules}) {
      MDB_dbi dbi;
      check(mdb_dbi_open(txn_.get(), name, MDB_CREATE, &dbi));
      dbis_.emplace_back(name, dbi);
    }
  }

  MDB_dbi dbi(const char* name) const {
    for (const auto& [dbi_name, dbi] : dbis_)
      if (std::strcmp(dbi_name, name) == 0) return dbi;
    throw std::logic_error("unknown database");
  }

  void put(const char* db_name, std::string_view key, std::string_view value, unsigned flags = 0) {
    MDB_val mdb_key = to_val(key), mdb_value = to_val(value);
    check(mdb_put(txn_.get(), dbi(db_name), &mdb_key, &mdb_value, flags));
  }

  // Room for a `size`-octet value under `key`, to fill before the next put or reserve; its
  // pages faulted in unless `fault_in` is false (the caller then calls populate() itself).
  char* reserve(const char* db_name, std::string_view key, std::size_t size,
                bool fault_in = true) {
    MDB_val mdb_key = to_val(key), mdb_value{size, nullptr};
    check(mdb_put(txn_.get(), dbi(db_name), &mdb_key, &mdb_value, MDB_RESERVE));
    if (fault_in) populate(mdb_value.mv_data, size);
    return static_cast<char*>(mdb_value.mv_data);
  }

  // Faults the file pages of [data, data + size) in with one call instead of one page fault
  // per 4 KiB as they are written (a hint: on kernels before 5.14 the writes fault them in).
  static void populate(void* data, std::size_t size) noexcept {
#ifndef MADV_POPULATE_WRITE
    constexpr int MADV_POPULATE_WRITE = 23;
#endif
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<std::uintptr_t>(data) & ~(page - 1);
    auto end = reinterpret_cast<std::uintptr_t>(data) + size;
    if (size > 0) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
  }

  void commit() {
    try {
      txn_.commit(path_);
    } catch (const StoreError& error) {
      check(error.code());
      throw;
    }
  }

  // Commits and closes; returns the octets the store uses (its last page's end), which is
  // the size LMDB gives the file when it writes it page by page rather than mapped.
  std::uint64_t finish() {
    commit();
    MDB_envinfo info;
    MDB_stat stat;
    check(mdb_env_info(env_.get(), &info));
    check(mdb_env_stat(env_.get(), &stat));
    env_.reset();
    return (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  }

 private:
  void begin() {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_.get(), nullptr, 0, &txn));
    txn_ = LmdbTxn(txn);
  }
  void check(int code) {
    if (code == MDB_SUCCESS) return;
    // LMDB reports a short write as EIO: on a full disk, say so.
    if ((code == EIO || code == ENOSPC) && file_system_full(folder_of(path_)))
      throw ToolError(fmt::format("{}: {} (its file system is full)", path_, std::strerror(ENOSPC)));
    throw ToolError(lmdb_message(path_, code));
  }
  std::string path_;
  LmdbEnv env_;
  LmdbTxn txn_;
  std::vector<std::pair<const char*, MDB_dbi>> dbis_;
};

// The name-server rules among the records (address_trigger.h): counted, their nsip prefix
// lengths collected, and their keys and records hashed, for the module to know when they
// changed.
class NameServerRules {
 public:
  NameServerRules() : state_(XXH3_createState(), XXH3_freeState) { XXH3_128bits_reset(state_.get()); }

  // True for the key of a name-server rule (the only keys add() counts).
  static bool holds(std::string_view key) noexcept {
    return has_top_label(key, kRpzNsdnameLabel) || has_top_label(key, kRpzNsipLabel);
  }
  void add(std::string_view key, std::string_view encoded) {
    bool nsdname = has_top_label(key, kRpzNsdnameLabel);
    bool nsip = !nsdname && has_top_label(key, kRpzNsipLabel);
    if (!nsdname && !nsip) return;
    XXH3_128bits_update(state_.get(), key.data(), key.size());
    XXH3_128bits_update(state_.get(), encoded.data(), encoded.size());
    if (nsdname) {
      ++nsdname_;
      return;
    }
    ++nsip_;
    std::string labels = key_to_text(key.substr(1 + kRpzNsipLabel.size()));
    IpPrefix prefix;
    std::string error;
    if (parse_rpz_ip_labels(labels, prefix, error))
      (prefix.family == 4 ? v4_lengths_ : v6_lengths_).insert(prefix.length);
  }
  bool empty() const noexcept { return nsdname_ + nsip_ == 0; }
  std::uint64_t nsdname() const noexcept { return nsdname_; }
  std::uint64_t nsip() const noexcept { return nsip_; }
  static std::string lengths(const std::set<unsigned, std::greater<>>& lengths) {
    std::string text;
    for (unsigned length : lengths) text += (text.empty() ? "" : ",") + std::to_string(length);
    return text;
  }
  std::string v4_lengths() const { return lengths(v4_lengths_); }
  std::string v6_lengths() const { return lengths(v6_lengths_); }
  XXH128_hash_t digest() const { return XXH3_128bits_digest(state_.get()); }

 private:
  static bool has_top_label(std::string_view key, std::string_view label) noexcept {
    return key.size() > label.size() && static_cast<std::uint8_t>(key[0]) == label.size() &&
           key.substr(1, label.size()) == label;
  }
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state_;
  std::uint64_t nsdname_ = 0, nsip_ = 0;
  std::set<unsigned, std::greater<>> v4_lengths_, v6_lengths_;
};

std::string hex128(const XXH128_hash_t& hash) {
  return fmt::format("{:016x}{:016x}", hash.high64, hash.low64);
}

// The rules of the store at `target`: 0 when there is none or it does not open.
std::uint64_t previous_rule_count(const std::string& target) {
  try {
    if (std::filesystem::exists(target)) return VerdictStore::open(target)->info().rule_count;
  } catch (const StoreError&) {
  }
  return 0;
}

}  // namespace

PublishResult write_store(const RuleSet& rules, const std::string& target,
                          const PublishOptions& options) {
  PublishResult result;
  const auto& records = rules.records();

  // The store being replaced, for the safety valve. A broken one may be replaced freely.
  result.previous_rules =
      options.previous_rules ? *options.previous_rules : previous_rule_count(target);
  if (result.previous_rules > 0 && !options.force && options.min_ratio > 0 &&
      static_cast<double>(rules.rule_count()) <
          options.min_ratio * static_cast<double>(result.previous_rules))
    throw ToolError(fmt::format(
        "{}: refusing to replace the store: the new one has {} rules, fewer than {:.0f}% of the "
        "{} it holds now (a truncated feed?); use --force to replace it anyway",
        target, rules.rule_count(), options.min_ratio * 100, result.previous_rules));

  // The records in key order (their keys and drafts are scattered over the compiler's memory),
  // in two passes. First each record's hash (name_hash.h) and encoded rules, in two halves on
  // two threads (parallel.h) or one; their sizes give the heap's. Then, in key order, the
  // filter (hashing the keys again, with their anchors and label counts: cheaper than keeping
  // those) and the index slots on one thread, while the other writes the heap straight into
  // the store's reserved space. Every loop prefetches a few records ahead: they are bound by
  // cache misses, not by work.
  const std::size_t count = records.size();
  const std::size_t middle = compile_threads() >= 2 ? count / 2 : count;
  constexpr std::size_t kAhead = 16;
  constexpr std::size_t kBatch = 4096;  // heap entries claimed at once (EndClaims)
  std::vector<std::uint64_t> hashes;
  reserve_huge(hashes, count);
  hashes.resize(count);
  std::vector<std::size_t> encoded_ends;  // where a record ends in its half's encoded records
  reserve_huge(encoded_ends, count);
  encoded_ends.resize(count);
  std::string encoded_halves[2];
  std::size_t key_octets[2] = {0, 0};
  auto encode = [&](std::size_t begin, std::size_t end, std::string& encoded,
                    std::size_t& keys) {
    // A record of one rule without data is 31 octets. Room for 64 a record (pages never
    // written cost nothing) keeps records with data from outgrowing it: a string that does
    // is copied whole.
    encoded.reserve((end - begin) * 64);
    advise_huge_pages(encoded.data(), encoded.capacity());
    for (std::size_t i = begin; i < end; ++i) {
      if (i + kAhead < end) {
        __builtin_prefetch(records[i + kAhead].key.data());
        rules.prefetch(records[i + kAhead]);
      }
      hashes[i] = filter_hash(records[i].key);
      encode_slots(rules.slots(records[i]), encoded);
      encoded_ends[i] = encoded.size();
      keys += records[i].key.size();
    }
  };
  run_in_parallel([&] { encode(0, middle, encoded_halves[0], key_octets[0]); },
                  [&] { encode(middle, count, encoded_halves[1], key_octets[1]); });
  const std::size_t heap_size = HashIndexBuilder::heap_entry_size(0, 0) * count + key_octets[0] +
                                key_octets[1] + encoded_halves[0].size() +
                                encoded_halves[1].size();
  if (heap_size > HashIndexBuilder::kMaxHeapSize)
    throw ToolError(fmt::format("{}: too many rules for one store: the record heap would take {} "
                                "octets, more than the {} its offsets address",
                                target, heap_size, HashIndexBuilder::kMaxHeapSize));
  BloomFilterBuilder filter(count);

  // Address rules: their records, then the prefix table over them.
  const auto& address_records = rules.address_records();
  std::vector<std::string> address_encoded(address_records.size());
  std::vector<PrefixTableEntry> address_entries(address_records.size());
  for (std::size_t i = 0; i < address_records.size(); ++i) {
    encode_slots(rules.slots(address_records[i]), address_encoded[i]);
    address_entries[i] = {address_records[i].prefix, address_encoded[i]};
  }
  std::string prefix_bytes;
  try {
    if (!address_entries.empty()) prefix_bytes = build_prefix_table(address_entries);
  } catch (const std::length_error& error) {
    throw ToolError(fmt::format("{}: too many address rules for one store: {}", target, error.what()));
  }
  const std::size_t value_size =
      filter.size() + HashIndexBuilder::index_size_for(count) + heap_size + prefix_bytes.size();
  const std::size_t map_size = value_size * 2 + (std::size_t{64} << 20);

  // A folder that cannot take the temporary file is reported by the target's name (the
  // temporary file's name would mean nothing to the operator).
  const std::string folder = folder_of(target);
  struct stat folder_info;
  if (::stat(folder.c_str(), &folder_info) != 0)
    throw ToolError(fmt::format("{}: cannot write: folder {}: {}", target, folder,
                                std::strerror(errno)));
  if (!S_ISDIR(folder_info.st_mode))
    throw ToolError(fmt::format("{}: cannot write: {} is not a folder", target, folder));
  if (::access(folder.c_str(), W_OK) != 0)
    throw ToolError(fmt::format("{}: cannot write in folder {}: {}", target, folder,
                                std::strerror(errno)));

  std::random_device random;
  TempFile temp;
  temp.path = fmt::format("{}/.{}.tmp.{}.{:08x}", folder_of(target),
                          std::filesystem::path(target).filename().string(), ::getpid(), random());

  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> hasher(XXH3_createState(),
                                                                        XXH3_freeState);
  XXH3_state_t* state = hasher.get();
  XXH3_128bits_reset(state);
  {
    // The values, plus room for the small records and LMDB's own pages.
    StoreBuilder builder(temp.path, target, map_size, value_size + (std::size_t{1} << 20));
    // Single values on LMDB overflow pages: contiguous in the file and read in place. The
    // heap is written where it is reserved, before the next update of the store.
    char* const heap = builder.reserve(db::kRules, kHeapKey, heap_size, false);
    HashIndexBuilder index(count, heap, heap_size);
    NameServerRules name_server_rules;
    // Record i's encoded rules, in its half's buffer.
    auto encoded_at = [&](std::size_t i) {
      const std::string& half = encoded_halves[i < middle ? 0 : 1];
      std::size_t begin = i == 0 || i == middle ? 0 : encoded_ends[i - 1];
      return std::string_view(half.data() + begin, encoded_ends[i] - begin);
    };
    auto too_many = [&](const std::length_error& error) {
      return ToolError(fmt::format("{}: too many rules for one store: {}", target, error.what()));
    };
    // One thread builds the filter and then the index's slots, whose heap offsets follow from
    // the entries' sizes; the other faults the heap's pages in and writes its entries from the
    // front. The first then joins in from the back: batches of entries are claimed from both
    // ends until they meet. The name-server rules among them are hashed in key order after.
    EndClaims claims(count);
    std::once_flag heap_populated;  // by whichever thread writes entries first
    auto populate_heap = [&] { StoreBuilder::populate(heap, heap_size); };
    std::vector<std::size_t> name_server_records[2];  // found from the front, from the back
    auto write_entry = [&](std::size_t i, std::size_t offset, std::vector<std::size_t>& found) {
      if (NameServerRules::holds(records[i].key)) found.push_back(i);
      try {
        index.put_entry(offset, records[i].key, encoded_at(i));
      } catch (const std::length_error& error) {
        throw too_many(error);
      }
    };
    run_in_parallel(
        [&] {
          for (std::size_t i = 0; i < count; ++i) {
            if (i + kAhead < count) __builtin_prefetch(records[i + kAhead].key.data());
            std::uint64_t anchor_hash;
            std::size_t labels;
            std::uint64_t hash = filter_hash(records[i].key, anchor_hash, &labels);
            filter.add(anchor_hash, hash, labels);
          }
          std::size_t offset = 0;
          for (std::size_t i = 0; i < count; ++i) {
            if (i + kAhead < count) index.prefetch_slot(hashes[i + kAhead]);
            try {
              index.add_slot(hashes[i], offset);
            } catch (const std::length_error& error) {
              throw too_many(error);
            }
            offset +=
                HashIndexBuilder::heap_entry_size(records[i].key.size(), encoded_at(i).size());
          }
          std::call_once(heap_populated, populate_heap);
          std::size_t end = heap_size;  // where the entries claimed from the back end
          for (auto batch = claims.back(kBatch); batch.first < batch.second;
               batch = claims.back(kBatch)) {
            for (std::size_t i = batch.second; i-- > batch.first;) {
              if (i >= kAhead) __builtin_prefetch(records[i - kAhead].key.data());
              end -= HashIndexBuilder::heap_entry_size(records[i].key.size(),
                                                       encoded_at(i).size());
              write_entry(i, end, name_server_records[1]);
            }
          }
        },
        [&] {
          std::call_once(heap_populated, populate_heap);  // while the filter is built
          std::size_t offset = 0;
          for (auto batch = claims.front(kBatch); batch.first < batch.second;
               batch = claims.front(kBatch)) {
            for (std::size_t i = batch.first; i < batch.second; ++i) {
              if (i + kAhead < count) __builtin_prefetch(records[i + kAhead].key.data());
              write_entry(i, offset, name_server_records[0]);
              offset +=
                  HashIndexBuilder::heap_entry_size(records[i].key.size(), encoded_at(i).size());
            }
          }
        });
    index.heap_complete();
    std::vector<std::size_t>& found = name_server_records[0];
    found.insert(found.end(), name_server_records[1].begin(), name_server_records[1].end());
    std::sort(found.begin(), found.end());
    for (std::size_t i : found) name_server_rules.add(records[i].key, encoded_at(i));
    std::string().swap(encoded_halves[0]);
    std::string().swap(encoded_halves[1]);
    // The heap is every rule key and record in key order: it alone identifies the rules.
    XXH3_128bits_update(state, index.heap().data(), index.heap().size());
    // Likewise the prefix table for the address rules (none: the id of a name-only store is
    // unchanged).
    XXH3_128bits_update(state, prefix_bytes.data(), prefix_bytes.size());
    for (const auto& [id, campaign] : rules.campaigns()) {
      std::string value = encode_campaign(campaign);
      builder.put(db::kCampaigns, id_key(id, 4), value);
      XXH3_128bits_update(state, value.data(), value.size());
    }
    for (const auto& [id, category] : rules.categories()) {
      builder.put(db::kCategories, id_key(id, 2), category);
      XXH3_128bits_update(state, category.data(), category.size());
    }
    for (const auto& [id, source] : rules.sources()) {
      builder.put(db::kSources, id_key(id, 2), encode_source(source));
      XXH3_128bits_update(state, source.content_hash.data(), source.content_hash.size());
    }
    result.build_id = hex128(XXH3_128bits_digest(state));

    filter.write(builder.reserve(db::kFilter, kFilterKey, filter.size()));
    index.write_index(builder.reserve(db::kRules, kIndexKey, index.index_size()));
    if (!prefix_bytes.empty()) builder.put(db::kAddressRules, kPrefixTableKey, prefix_bytes);

    std::int64_t build_time = options.build_time != 0 ? options.build_time : std::time(nullptr);
    auto meta = [&](const std::string& key, const std::string& value) {
      builder.put(db::kMeta, key, value);
    };
    meta(meta::kFormatVersion, std::to_string(kStoreFormatVersion));
    meta(meta::kBuildTime, std::to_string(build_time));
    meta(meta::kBuildId, result.build_id);
    meta(meta::kCompilerVersion, "dnsverdict " DNSVERDICT_VERSION);
    meta(meta::kRuleCount, std::to_string(rules.rule_count()));
    meta(meta::kKeyCount, std::to_string(records.size()));
    for (Action action : kAllActions) {
      auto it = rules.count_by_action().find(action);
      meta(std::string(meta::kCountActionPrefix) + std::string(action_name(action)),
           std::to_string(it == rules.count_by_action().end() ? 0 : it->second));
    }
    for (RuleKind kind : kAllKinds) {
      auto it = rules.count_by_kind().find(kind);
      meta(std::string(meta::kCountKindPrefix) + std::string(kind_name(kind)),
           std::to_string(it == rules.count_by_kind().end() ? 0 : it->second));
    }
    if (!name_server_rules.empty()) {
      meta(meta::kNsdnameRuleCount, std::to_string(name_server_rules.nsdname()));
      meta(meta::kNsipRuleCount, std::to_string(name_server_rules.nsip()));
      meta(meta::kNsipLengthsV4, name_server_rules.v4_lengths());
      meta(meta::kNsipLengthsV6, name_server_rules.v6_lengths());
      meta(meta::kNameServerDigest, hex128(name_server_rules.digest()));
    }
    if (!prefix_bytes.empty()) {
      meta(meta::kAddressRuleCountV4, std::to_string(rules.address_rule_count(4)));
      meta(meta::kAddressRuleCountV6, std::to_string(rules.address_rule_count(6)));
    }
    for (const auto& [trigger, count] : rules.skipped())
      meta(std::string(meta::kSkippedPrefix) + trigger, std::to_string(count));
    cut_file(temp.path, builder.finish());

  }
  // The checksum every reader verifies before LMDB reads the file (store_checksum.h).
  try {
    append_checksum_trailer(temp.path);
  } catch (const StoreError& error) {
    throw ToolError(error.what());
  }
  // Synced to disk while read back through the reader the module uses (which reads the
  // pages in memory); both must succeed before the rename.
  run_in_parallel([&] { sync_path(temp.path, false); },
                  [&] {
                    try {
                      auto check = VerdictStore::open(temp.path);
                      if (check->info().rule_count != rules.rule_count() ||
                          check->info().build_id != result.build_id)
                        throw ToolError(fmt::format(
                            "{}: the written store does not read back as written", temp.path));
                      result.keys = check->info().key_count;
                    } catch (const StoreError& error) {
                      throw ToolError(
                          fmt::format("the written store does not open: {}", error.what()));
                    }
                  });
  result.bytes = std::filesystem::file_size(temp.path);

  if (::rename(temp.path.c_str(), target.c_str()) != 0)
    throw ToolError(fmt::format("{}: cannot rename {} into place: {}", target, temp.path,
                                std::strerror(errno)));
  temp.keep = true;
  sync_path(folder_of(target), true);
  return result;
}

}  // namespace dnsverdict
