#include "verdict_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <charconv>
#include <cstdio>

namespace dnsverdict {
namespace {

std::uint64_t parse_u64(const std::string& text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string get_meta(const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  return it == meta.end() ? std::string() : it->second;
}

[[noreturn]] void outside_the_file(const std::string& path) {
  throw StoreError(path + ": the store is damaged (a record runs past the end of the file)");
}

// Calls visit(key, value) for every entry of `dbi`, each checked to lie inside `file`.
template <typename Visit>
void scan(MDB_txn* txn, MDB_dbi dbi, const FileMappings& file, const std::string& what,
          Visit&& visit) {
  MDB_cursor* raw = nullptr;
  check_lmdb(mdb_cursor_open(txn, dbi, &raw), what);
  LmdbCursor cursor(raw);
  MDB_val key, value;
  int rc = mdb_cursor_get(raw, &key, &value, MDB_FIRST);
  while (rc == MDB_SUCCESS) {
    if (!file.contains(key) || !file.contains(value)) outside_the_file(what);
    if (!visit(from_val(key), from_val(value))) return;
    rc = mdb_cursor_get(raw, &key, &value, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND) check_lmdb(rc, what);
}

void set_identity(const struct stat& file, FileIdentity& identity) {
  identity.device = file.st_dev;
  identity.inode = file.st_ino;
  identity.size = file.st_size;
  identity.modified_ns =
      static_cast<std::int64_t>(file.st_mtim.tv_sec) * 1000000000 + file.st_mtim.tv_nsec;
  identity.changed_ns =
      static_cast<std::int64_t>(file.st_ctim.tv_sec) * 1000000000 + file.st_ctim.tv_nsec;
}

// A truncated store faults when read (check_file_complete). The file LMDB opened must be the
// one whose checksum was verified (`identity`): it is what this store will be compared by.
void check_complete(MDB_env* env, const std::string& path, const FileIdentity& identity) {
  check_file_complete(env, path);
  int fd = -1;
  check_lmdb(mdb_env_get_fd(env, &fd), path);
  struct stat file;
  if (::fstat(fd, &file) != 0) throw StoreError(path + ": cannot stat the opened store");
  FileIdentity opened;
  set_identity(file, opened);
  if (opened != identity)
    throw StoreError(path + ": the store was replaced while it was being opened");
}

// The address range of this process's mapping that holds `inside`, from /proc/self/maps.
bool find_mapping(const void* inside, std::uintptr_t& begin, std::uintptr_t& end) {
  auto address = reinterpret_cast<std::uintptr_t>(inside);
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return false;
  bool found = false;
  unsigned long long low = 0, high = 0;
  char line[8192];
  while (!found && std::fgets(line, sizeof line, maps) != nullptr) {
    if (std::sscanf(line, "%llx-%llx", &low, &high) == 2 && address >= low && address < high) {
      begin = static_cast<std::uintptr_t>(low);
      end = static_cast<std::uintptr_t>(high);
      found = true;
    }
  }
  std::fclose(maps);
  return found;
}

}  // namespace

bool file_identity(const std::string& path, FileIdentity& identity) noexcept {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return false;
  set_identity(info, identity);
  return true;
}

// The name-server rules' entries of "meta" (store_format.h).
void VerdictStore::read_name_server_meta(VerdictStore& store) {
  const auto& meta = store.info_.meta;
  store.name_server_digest_ = get_meta(meta, meta::kNameServerDigest);
  if (store.name_server_digest_.empty()) return;
  store.has_nsdname_rules_ = parse_u64(get_meta(meta, meta::kNsdnameRuleCount)) != 0;
  auto lengths = [&](const char* key, unsigned most, std::vector<std::uint8_t>& to) {
    std::string text = get_meta(meta, key);
    for (std::size_t at = 0; at < text.size();) {
      std::size_t end = text.find(',', at);
      if (end == std::string::npos) end = text.size();
      std::string number = text.substr(at, end - at);
      std::uint64_t length = parse_u64(number);
      if (number.empty() || length > most || (length == 0 && number != "0"))
        throw StoreError(store.path_ + ": the store is damaged (bad \"" + key + "\")");
      to.push_back(static_cast<std::uint8_t>(length));
      at = end + 1;
    }
  };
  lengths(meta::kNsipLengthsV4, 32, store.nsip_lengths_v4_);
  lengths(meta::kNsipLengthsV6, 128, store.nsip_lengths_v6_);
}

std::shared_ptr<const VerdictStore> VerdictStore::open(const std::string& path) {
  std::shared_ptr<VerdictStore> store(new VerdictStore());
  store->path_ = path;
  // The file is verified through this descriptor, then opened by LMDB by its path: LMDB's
  // file must be this very file (a store renamed into place in between is refused, and the
  // next check opens it).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StoreError(path + ": cannot read the store (missing or inaccessible)", errno);
  struct stat verified;
  bool stat_ok = ::fstat(fd, &verified) == 0;
  int stat_errno = errno;
  try {
    if (!stat_ok) throw StoreError(path + ": cannot stat the store: " + std::strerror(stat_errno));
    if (verified.st_size == 0) throw StoreError(path + ": the store file is empty");
    store->checksum_ = verify_checksum(fd, static_cast<std::uint64_t>(verified.st_size), path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  set_identity(verified, store->identity_);

  check_meta_pages(path);
  MDB_env* raw_env = nullptr;
  check_lmdb(mdb_env_create(&raw_env), path);
  store->env_ = LmdbEnv(raw_env);
  check_lmdb(mdb_env_set_maxdbs(raw_env, db::kCount + 1), path);
  // Read-only, no subdirectory, no lock file (the file is never written once published),
  // transactions not bound to thread-local storage, no read-ahead (random lookups).
  int rc = mdb_env_open(raw_env, path.c_str(),
                        MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS | MDB_NORDAHEAD, 0444);
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == EINVAL)
    throw StoreError(path + ": not a verdict store (not an LMDB file, or damaged)");
  check_lmdb(rc, path);
  check_complete(raw_env, path, store->identity_);
  // Every value kept from here on is checked to lie in the file: the views are read on the
  // query path, and LMDB does not check a damaged page's sizes (lmdb_handle.h).
  FileMappings file = FileMappings::of(raw_env);

  // Database handles opened in a transaction are private to it until it commits.
  MDB_txn* raw_txn = nullptr;
  check_lmdb(mdb_txn_begin(raw_env, nullptr, MDB_RDONLY, &raw_txn), path);
  LmdbTxn dbi_txn(raw_txn);
  auto open_db = [&](const char* name) {
    MDB_dbi dbi;
    int code = mdb_dbi_open(raw_txn, name, 0, &dbi);
    if (code == MDB_NOTFOUND)
      throw StoreError(path + ": not a verdict store (no \"" + name + "\" database)");
    if (code == MDB_INCOMPATIBLE || code == MDB_CORRUPTED || code == MDB_PAGE_NOTFOUND)
      throw StoreError(path + ": the store is damaged (" + mdb_strerror(code) + ")");
    check_lmdb(code, path);
    return dbi;
  };
  MDB_dbi meta_dbi = open_db(db::kMeta);
  MDB_dbi rules_dbi = open_db(db::kRules);
  MDB_dbi campaigns_dbi = open_db(db::kCampaigns);
  MDB_dbi categories_dbi = open_db(db::kCategories);
  MDB_dbi sources_dbi = open_db(db::kSources);
  MDB_dbi filter_dbi = open_db(db::kFilter);
  MDB_dbi address_dbi = open_db(db::kAddressRules);
  dbi_txn.commit(path);
  check_lmdb(mdb_txn_begin(raw_env, nullptr, MDB_RDONLY, &raw_txn), path);
  store->open_txn_ = LmdbTxn(raw_txn);

  StoreInfo& info = store->info_;
  {
    scan(raw_txn, meta_dbi, file, path, [&](std::string_view key, std::string_view value) {
      info.meta.emplace(std::string(key), std::string(value));
      return true;
    });
    std::string version = get_meta(info.meta, meta::kFormatVersion);
    info.format_version = static_cast<std::uint32_t>(parse_u64(version));
    if (info.format_version != kStoreFormatVersion)
      throw StoreError(path + ": store format version " + (version.empty() ? "?" : version) +
                       ", this build reads version " + std::to_string(kStoreFormatVersion) +
                       " (recompile the store with a matching dnsverdict)");
    info.build_id = get_meta(info.meta, meta::kBuildId);
    info.build_time = static_cast<std::int64_t>(parse_u64(get_meta(info.meta, meta::kBuildTime)));
    info.compiler_version = get_meta(info.meta, meta::kCompilerVersion);
    info.rule_count = parse_u64(get_meta(info.meta, meta::kRuleCount));
    info.key_count = parse_u64(get_meta(info.meta, meta::kKeyCount));
    read_name_server_meta(*store);

    bool bad_record = false;
    scan(raw_txn, campaigns_dbi, file, path, [&](std::string_view key, std::string_view value) {
      CampaignRecord campaign;
      if (!decode_campaign(value, campaign)) bad_record = true;
      store->campaigns_.emplace(parse_id_key(key), std::move(campaign));
      return !bad_record;
    });
    scan(raw_txn, categories_dbi, file, path, [&](std::string_view key, std::string_view value) {
      store->categories_.emplace(static_cast<std::uint16_t>(parse_id_key(key)), std::string(value));
      return true;
    });
    scan(raw_txn, sources_dbi, file, path, [&](std::string_view key, std::string_view value) {
      SourceRecord source;
      if (!decode_source(value, source)) bad_record = true;
      store->sources_.emplace(static_cast<std::uint16_t>(parse_id_key(key)), std::move(source));
      return !bad_record;
    });
    if (bad_record) throw StoreError(path + ": the store is damaged (bad campaign or source record)");

    auto get_value = [&](MDB_dbi dbi, const char* name) {
      MDB_val key = to_val(name), value;
      int code = mdb_get(raw_txn, dbi, &key, &value);
      if (code == MDB_NOTFOUND)
        throw StoreError(path + ": the store is damaged (no \"" + name + "\" value)");
      check_lmdb(code, path);
      if (!file.contains(value)) outside_the_file(path);
      return from_val(value);
    };
    if (!store->filter_.attach(get_value(filter_dbi, kFilterKey)))
      throw StoreError(path + ": the store is damaged (bad pre-filter)");
    if (!store->index_.attach(get_value(rules_dbi, kIndexKey), get_value(rules_dbi, kHeapKey)) ||
        store->index_.entry_count() != info.key_count)
      throw StoreError(path + ": the store is damaged (bad hash index)");
    // Address rules: no "prefixes" value is a store without any (as every store written
    // before address rules existed).
    MDB_val prefixes_key = to_val(kPrefixTableKey), prefixes_value;
    int code = mdb_get(raw_txn, address_dbi, &prefixes_key, &prefixes_value);
    if (code != MDB_NOTFOUND) {
      check_lmdb(code, path);
      const PrefixTableView& table = store->prefixes_;
      auto expected = [&](const char* key, std::uint64_t count) {
        auto it = info.meta.find(key);
        return it == info.meta.end() ? count == 0 : parse_u64(it->second) == count;
      };
      if (!store->prefixes_.attach(from_val(prefixes_value)) ||
          !expected(meta::kAddressRuleCountV4, table.v4_count()) ||
          !expected(meta::kAddressRuleCountV6, table.v6_count()))
        throw StoreError(path + ": the store is damaged (bad address rule table)");
    }
    // LMDB does not tell where it mapped the file: the mapping holding the views is it.
    std::uintptr_t map_begin = 0, map_end = 0;
    if (find_mapping(store->index_.heap().data(), map_begin, map_end)) {
      store->guard_ = StoreGuardWatch(reinterpret_cast<const void*>(map_begin), map_end - map_begin);
    }
  }
  return store;
}

// The open transaction is aborted before the environment closes: members are destroyed in
// reverse order of declaration, and env_ is declared first.
VerdictStore::~VerdictStore() = default;

template <typename GetKey>
void VerdictStore::search(const std::uint64_t* hashes, std::size_t labels,
                          std::uint64_t candidates, GetKey&& get_key, std::int64_t now,
                          LookupResult& result) const noexcept {
  const NameKey* key = nullptr;
  for (std::size_t n = labels; n >= 1; --n) {
    if (n >= 64) {  // one depth bit for all of them: each is checked in the filter here
      if ((candidates & store_detail::kDeepDepths) == 0 ||
          !BloomFilterView::block_may_contain(filter_.block(hashes[1]), hashes[n - 1]))
        continue;
    } else if (((candidates >> (n - 1)) & 1u) == 0) {
      continue;
    }
    if (key == nullptr && (key = get_key()) == nullptr) {
      result.status = LookupStatus::kError;
      return;
    }
    std::string_view owner = key->prefix(n);
    std::string_view record;
    if (!index_.find(owner, hashes[n - 1], record)) continue;  // a filter false positive
    RuleSlots slots;
    if (!decode_slots(record, slots)) {
      result.status = LookupStatus::kError;
      return;
    }
    const std::optional<Rule>& rule = n == labels ? slots.self : slots.below;
    if (!rule) continue;
    if (rule->expires != 0) {
      if (now == kReadClock) now = static_cast<std::int64_t>(::time(nullptr));
      if (rule->expired(now)) continue;
    }
    result.status = LookupStatus::kHit;
    result.rule = *rule;
    result.owner_labels = static_cast<std::uint8_t>(n);
    result.owner_key = owner;
    return;
  }
}

LookupResult VerdictStore::lookup(const NameKey& key, std::int64_t now) const noexcept {
  LookupResult result;
  std::uint64_t hashes[kMaxLabels];
  std::size_t labels = key_ancestor_hashes(key.bytes, key.size, hashes, kMaxLabels);
  if (labels != key.label_count) {  // not a key make_name_key built
    result.status = LookupStatus::kError;
    return result;
  }
  std::uint64_t candidates = filter_candidates(hashes, filter_.depths() & store_detail::depths_up_to(labels));
  if (candidates != 0) search(hashes, labels, candidates, [&key]() { return &key; }, now, result);
  return result;
}

void VerdictStore::lookup_probed(const NameProbe& probe, const std::uint8_t* wire,
                                 std::size_t size, NameKey& key, std::int64_t now,
                                 LookupResult& result) const noexcept {
  search(probe.hashes, static_cast<std::size_t>(probe.labels), probe.candidates,
         [&]() -> const NameKey* { return make_name_key(wire, size, key) ? &key : nullptr; },
         now, result);
}

bool VerdictStore::lookup_name(const std::uint8_t* wire, std::size_t size, NameKey& key,
                               std::int64_t now, LookupResult& result) const noexcept {
  NameProbe probe;
  if (!probe_name(wire, size, probe)) return probe.labels >= 0;
  lookup_probed(probe, wire, size, key, now, result);
  return true;
}

LookupResult VerdictStore::lookup_wire(const std::uint8_t* wire, std::size_t size,
                                       std::int64_t now) const noexcept {
  NameKey key;
  LookupResult result;
  if (!lookup_name(wire, size, key, now, result)) {
    result.status = LookupStatus::kError;
    return result;
  }
  result.owner_key = {};  // it pointed into `key`, which ends here
  return result;
}

AddressLookupResult VerdictStore::lookup_address(const std::uint8_t* address, std::size_t size,
                                                 std::int64_t now) const noexcept {
  AddressLookupResult result;
  if (address == nullptr || (size != 4 && size != 16)) {
    result.status = LookupStatus::kError;
    return result;
  }
  if (prefixes_.empty()) return result;
  bool well_formed = prefixes_.find(size == 4 ? 4 : 6, address,
                                    [&](std::string_view record, std::uint8_t length) {
    RuleSlots slots;
    if (!decode_slots(record, slots)) {
      result.status = LookupStatus::kError;
      return true;
    }
    if (!slots.self || slots.self->expired(now)) return false;
    result.status = LookupStatus::kHit;
    result.rule = *slots.self;
    result.prefix_length = length;
    return true;
  });
  if (!well_formed) result.status = LookupStatus::kError;
  return result;
}

void VerdictStore::for_each_address(
    const std::function<bool(const IpPrefix&, const Rule&)>& visit) const {
  bool stopped = false, damaged = false;
  bool well_formed = prefixes_.for_each([&](const IpPrefix& prefix, std::string_view record) {
    if (stopped || damaged) return;
    RuleSlots slots;
    if (!decode_slots(record, slots) || !slots.self) {
      damaged = true;
      return;
    }
    stopped = !visit(prefix, *slots.self);
  });
  if (damaged || !well_formed)
    throw StoreError(path_ + ": the store is damaged (bad address rule record)");
}

void VerdictStore::for_each(
    const std::function<bool(std::string_view key, const RuleSlots&)>& visit) const {
  bool stopped = false, damaged = false;
  bool well_formed = for_each_heap_entry(index_.heap(), [&](std::string_view key, std::string_view record) {
    if (stopped || damaged) return;
    RuleSlots slots;
    if (!decode_slots(record, slots)) {
      damaged = true;
      return;
    }
    stopped = !visit(key, slots);
  });
  if (damaged || !well_formed) throw StoreError(path_ + ": the store is damaged (bad rule record)");
}

const CampaignRecord* VerdictStore::campaign(std::uint32_t id) const noexcept {
  auto it = campaigns_.find(id);
  return it == campaigns_.end() ? nullptr : &it->second;
}

std::string_view VerdictStore::category(std::uint16_t id) const noexcept {
  auto it = categories_.find(id);
  return it == categories_.end() ? std::string_view() : std::string_view(it->second);
}

const SourceRecord* VerdictStore::source(std::uint16_t id) const noexcept {
  auto it = sources_.find(id);
  return it == sources_.end() ? nullptr : &it->second;
}

}  // namespace dnsverdict
