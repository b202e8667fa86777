// Read-only access to a verdict store file (store_format.h).
//
// Thread safety: a VerdictStore is immutable after open() and may be used from any number of
// threads at once. open() holds one read transaction for the store's lifetime and takes
// views of the pre-filter, hash index and record heap from it; a lookup reads those views
// and never begins a transaction or takes a lock (a published file never changes: new stores
// are new files). The store is opened with MDB_NOLOCK: it needs no lock file and no write
// access to its directory.
//
// Views (std::string_view) returned by lookup() and for_each() point into the memory map and
// stay valid as long as the VerdictStore they came from is alive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bloom_filter.h"
#include "hash_index.h"
#include "dns_name.h"
#include "ip_prefix.h"
#include "lmdb_handle.h"
#include "name_hash.h"
#include "prefix_table.h"
#include "store_checksum.h"
#include "store_format.h"
#include "store_guard.h"

namespace dnsverdict {

// Identity of a store file on disk, to notice when another file was renamed into its place.
// Equal identities are the same file with the same content; `changed_ns` (the inode's change
// time: chmod, chown) is kept beside it for a file refused for its permissions, and is not
// compared by ==.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t modified_ns = 0;
  std::int64_t changed_ns = 0;
  bool operator==(const FileIdentity& other) const noexcept {
    return device == other.device && inode == other.inode && size == other.size &&
           modified_ns == other.modified_ns;
  }
  bool operator!=(const FileIdentity& other) const noexcept { return !(*this == other); }
};
// The identity of the file at `path`; false if it cannot be stat'ed.
bool file_identity(const std::string& path, FileIdentity& identity) noexcept;

struct StoreInfo {
  std::uint32_t format_version = 0;
  std::string build_id;
  std::int64_t build_time = 0;
  std::string compiler_version;
  std::uint64_t rule_count = 0;
  std::uint64_t key_count = 0;
  std::map<std::string, std::string> meta;  // every "meta" entry, as stored
};

enum class LookupStatus : std::uint8_t { kMiss, kHit, kError };

struct LookupResult {
  LookupStatus status = LookupStatus::kMiss;
  Rule rule;                    // the applicable rule (kHit)
  std::uint8_t owner_labels = 0;  // labels of the name the rule is attached to
  std::string_view owner_key;   // that name's key: points into the NameKey passed to lookup()
  bool hit() const noexcept { return status == LookupStatus::kHit; }
};

struct AddressLookupResult {
  LookupStatus status = LookupStatus::kMiss;
  Rule rule;                       // the applicable rule (kHit)
  std::uint8_t prefix_length = 0;  // of the matching rule, in the address's own family
                                   // (0-32 IPv4, 0-128 IPv6)
  bool hit() const noexcept { return status == LookupStatus::kHit; }
  // The same as a name lookup's result, so that one policy grades both (no owner key: the
  // caller names the rule).
  LookupResult as_lookup() const noexcept {
    LookupResult result;
    result.status = status;
    result.rule = rule;
    return result;
  }
};

// A wire name's ancestors as the pre-filter sees them, filled by VerdictStore::probe_name().
// Trivial on purpose: nothing in it is initialised before probe_name() writes it.
struct NameProbe {
  int labels;               // the name's labels; -1 when it is not a valid wire name
  std::uint64_t candidates;  // bit n - 1: the filter may hold the ancestor with n labels
                             // (bit 63: one of 64 labels and more, checked by the lookup)
  std::uint64_t hashes[kMaxLabels];  // hashes[n - 1]: the ancestor with n labels, hashed as
                                     // deep as the deepest label depth some key has
};

// For VerdictStore::lookup(): read the clock (time(2)) only if an expiry must be checked.
inline constexpr std::int64_t kReadClock = INT64_MAX;
// For the lookups: a time before every expiry, to find a rule whether it has expired or not.
inline constexpr std::int64_t kAnyTime = INT64_MIN;

class VerdictStore {
 public:
  // Opens `path` read-only and checks it: its checksum trailer matches the file (verified
  // before LMDB reads it; a store without a trailer is accepted, see checksum()), LMDB can
  // open it, every database is present, the format version is kStoreFormatVersion, the
  // filter is well-formed. Loads the small tables
  // (campaigns, categories, sources, meta). Throws StoreError naming the path and problem.
  static std::shared_ptr<const VerdictStore> open(const std::string& path);

  ~VerdictStore();
  VerdictStore(const VerdictStore&) = delete;
  VerdictStore& operator=(const VerdictStore&) = delete;

  // The rule that applies to the name: the most specific (longest) matching owner wins; on
  // the queried name itself its exact/subtree rule applies, on its ancestors their
  // subtree/wildcard rules; expired rules are skipped as if absent. Never throws.
  // `now` may be kReadClock: the clock is then read only when a rule with an expiry time is
  // found (most lookups find nothing and need no time).
  LookupResult lookup(const NameKey& key, std::int64_t now) const noexcept;
  // The same for a wire-format name as received (any case): its ancestors are hashed in one
  // pass over `wire` and checked in the pre-filter first; `key` is built only when the filter
  // may hold one of them (a name that matches nothing mostly needs no key). A hit's owner_key
  // points into `key`. Returns false (`result` untouched) when `wire` is not a valid
  // uncompressed wire name (make_name_key's rules). `result` must be a default LookupResult
  // (a miss): a miss leaves it as it is.
  bool lookup_name(const std::uint8_t* wire, std::size_t size, NameKey& key, std::int64_t now,
                   LookupResult& result) const noexcept;
  // lookup_name() in two halves. The first is all that a name no rule applies to mostly
  // needs: it finds the name's labels, hashes its ancestors of the label depths some key has
  // (top-level label down, no deeper than the deepest such depth) and checks them in the
  // pre-filter. Returns false when no rule can apply: `wire` is not a valid wire name
  // (probe.labels is -1) or the filter holds none of its ancestors. The second, after the
  // first returned true for the same name, is lookup_name()'s search for the rule.
  bool probe_name(const std::uint8_t* wire, std::size_t size, NameProbe& probe) const noexcept;
  void lookup_probed(const NameProbe& probe, const std::uint8_t* wire, std::size_t size,
                     NameKey& key, std::int64_t now, LookupResult& result) const noexcept;
  // The same for a wire-format name; owner_key is left empty (use owner_labels).
  LookupResult lookup_wire(const std::uint8_t* wire, std::size_t size,
                           std::int64_t now) const noexcept;

  // The address rule for `address`: 4 octets (IPv4) or 16 (IPv6), network order. The longest
  // listed prefix of the address's own family that holds it wins (an IPv4-mapped IPv6
  // address is an IPv6 address: IPv4 rules do not match it); expired rules are skipped as if
  // absent. kError for another size or a damaged table. Never throws; no allocation, no lock.
  AddressLookupResult lookup_address(const std::uint8_t* address, std::size_t size,
                                     std::int64_t now) const noexcept;
  // False when the store lists no prefix (then lookup_address always misses). Cheap.
  bool has_address_rules() const noexcept { return !prefixes_.empty(); }
  std::uint64_t address_rule_count(int family) const noexcept {
    return family == 4 ? prefixes_.v4_count() : prefixes_.v6_count();
  }
  // Name-server rules (address_trigger.h), looked up as names: whether there are any, whether
  // any lists a name server by name, the prefix lengths the rules for name-server addresses
  // use (family 4 or 6, longest first), and a digest that changes with them ("" for none).
  bool has_name_server_rules() const noexcept { return !name_server_digest_.empty(); }
  bool has_nsdname_rules() const noexcept { return has_nsdname_rules_; }
  const std::vector<std::uint8_t>& nsip_lengths(int family) const noexcept {
    return family == 4 ? nsip_lengths_v4_ : nsip_lengths_v6_;
  }
  const std::string& name_server_digest() const noexcept { return name_server_digest_; }

  // Every address rule, IPv4 then IPv6, each in address order; stop early by returning
  // false. Throws StoreError.
  void for_each_address(const std::function<bool(const IpPrefix&, const Rule&)>& visit) const;

  // Every record in key order; stop early by returning false. Throws StoreError.
  void for_each(const std::function<bool(std::string_view key, const RuleSlots&)>& visit) const;

  const StoreInfo& info() const noexcept { return info_; }
  const std::map<std::uint32_t, CampaignRecord>& campaigns() const noexcept { return campaigns_; }
  const std::map<std::uint16_t, std::string>& categories() const noexcept { return categories_; }
  const std::map<std::uint16_t, SourceRecord>& sources() const noexcept { return sources_; }
  const CampaignRecord* campaign(std::uint32_t id) const noexcept;
  std::string_view category(std::uint16_t id) const noexcept;
  const SourceRecord* source(std::uint16_t id) const noexcept;

  const std::string& path() const noexcept { return path_; }
  const FileIdentity& identity() const noexcept { return identity_; }
  // kVerified, or kAbsent for a store written before checksums (not verified).
  const StoreChecksum& checksum() const noexcept { return checksum_; }
  const BloomFilterView& filter() const noexcept { return filter_; }
  // True once the file was rewritten in place under this store's mapping and a read faulted
  // (store_guard.h): the store reads as empty from then on; open the file again.
  bool damaged() const noexcept { return guard_.faulted(); }

 private:
  VerdictStore() = default;
  // The depths of `depths` (bit n - 1 for n labels, bit 63 for 64 and more) whose ancestor
  // the filter may hold; bit 63 is kept as it is (search() checks those ancestors).
  std::uint64_t filter_candidates(const std::uint64_t* hashes, std::uint64_t depths) const noexcept;
  // The lookup over precomputed ancestor hashes, at the candidate depths filter_candidates()
  // left; key() returns the name's key (built on first call) or null when it cannot be built.
  // Sets `result` on a hit or an error; leaves it untouched on a miss.
  template <typename GetKey>
  void search(const std::uint64_t* hashes, std::size_t labels, std::uint64_t candidates,
              GetKey&& key, std::int64_t now, LookupResult& result) const noexcept;
  static void read_name_server_meta(VerdictStore& store);

  std::string path_;
  FileIdentity identity_;
  StoreChecksum checksum_;
  LmdbEnv env_;
  StoreGuardWatch guard_;  // the map of env_; released before env_ unmaps it
  BloomFilterView filter_;
  HashIndexView index_;
  PrefixTableView prefixes_;
  StoreInfo info_;
  bool has_nsdname_rules_ = false;
  std::vector<std::uint8_t> nsip_lengths_v4_, nsip_lengths_v6_;
  std::string name_server_digest_;
  std::map<std::uint32_t, CampaignRecord> campaigns_;
  std::map<std::uint16_t, std::string> categories_;
  std::map<std::uint16_t, SourceRecord> sources_;
  LmdbTxn open_txn_;  // the views above are valid while it is open
};

// probe_name() and filter_candidates() are inlined where they are called: they are all the
// work of most queries, and a call would cost the callback a second frame.
namespace store_detail {

// Bit n - 1 for every label depth n from 1 to `labels` (bit 63: 64 and more).
inline std::uint64_t depths_up_to(std::size_t labels) noexcept {
  return labels >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << labels) - 1;
}

inline constexpr std::uint64_t kDeepDepths = std::uint64_t{1} << 63;  // 64 labels and more

}  // namespace store_detail

[[gnu::always_inline]] inline std::uint64_t VerdictStore::filter_candidates(const std::uint64_t* hashes,
                                                     std::uint64_t depths) const noexcept {
  // The filter block of every ancestor is the one of the top-level label (1 label) or of the
  // two-label anchor (2 labels and more): at most two cache lines, the anchor's fetched while
  // the top-level label's is checked.
  std::uint64_t candidates = depths & store_detail::kDeepDepths;
  std::uint64_t pending = depths & ~store_detail::kDeepDepths;
  const unsigned char* anchor_block = nullptr;
  if (pending > 1) {
    anchor_block = filter_.block(hashes[1]);
    __builtin_prefetch(anchor_block);
  }
  if (pending & 1u) {
    if (BloomFilterView::block_may_contain(filter_.block(hashes[0]), hashes[0])) candidates |= 1u;
    pending &= ~std::uint64_t{1};
  }
  for (; pending != 0; pending &= pending - 1) {
    int bit = __builtin_ctzll(pending);
    if (BloomFilterView::block_may_contain(anchor_block, hashes[bit])) {
      candidates |= std::uint64_t{1} << bit;
    }
  }
  return candidates;
}

[[gnu::always_inline]] inline bool VerdictStore::probe_name(const std::uint8_t* wire, std::size_t size,
                                     NameProbe& probe) const noexcept {
  std::uint8_t starts[kMaxLabels + 1];
  int labels = wire_label_starts(wire, size, starts);
  probe.labels = labels;
  if (labels <= 0) return false;
  std::uint64_t depths =
      filter_.depths() & store_detail::depths_up_to(static_cast<std::size_t>(labels));
  if (depths == 0) return false;  // every key has more labels than the name
  // Ancestors deeper than every key are not hashed.
  std::size_t deepest = (depths & store_detail::kDeepDepths) != 0
                            ? static_cast<std::size_t>(labels)
                            : static_cast<std::size_t>(64 - __builtin_clzll(depths));
  wire_top_hashes(wire, size, starts, static_cast<std::size_t>(labels), deepest, probe.hashes);
  probe.candidates = filter_candidates(probe.hashes, depths);
  return probe.candidates != 0;
}

}  // namespace dnsverdict
