// The compiler's in-memory rule set: feeds add rules, finalize() resolves conflicts and
// allowlists, and the store writer walks the result in key order.
//
// Conflict rules (docs/store-format.md, "Conflicts"), for rules on the same name and kind:
//   1. allow beats block: an allow rule (allowlist entry or action allow) wins;
//   2. then the higher confidence;
//   3. then the stricter action (action_strictness);
//   4. then the earlier source, then the earlier line (deterministic).
// Allowlist entries (from a source with role "allow") also beat every blocking rule below
// them: those rules are dropped at finalize() and counted in shadowed_by_allowlist().
// Address rules (add_address) compete the same way per prefix, and an allowlisted prefix
// drops the blocking rules of the prefixes inside it.
// Not thread-safe; two threads may fill two rule sets and append() one to the other.
// Name drafts are kept compact (StoredDraft): the rule set is the compile's biggest memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ip_prefix.h"
#include "store_format.h"

namespace dnsverdict {

struct RuleDraft {
  std::string key;   // store key of the owner name (dns_name.h); for address rules, set by add_address
  std::string data;  // rule data (store_format.h): sinkhole addresses or redirect target
  std::int64_t first_seen = 0;
  std::int64_t expires = 0;
  std::uint32_t campaign = 0;  // from intern_campaign()
  std::uint32_t line = 0;      // line in its source, for messages
  std::uint16_t category = 0;  // from intern_category()
  std::uint16_t source = 0;    // from add_source()
  Action action = Action::kNxdomain;
  RuleKind kind = RuleKind::kSubtree;
  std::uint8_t confidence = 100;
  bool allowlist = false;  // from an allowlist source
};

// A name draft as the rule set keeps it: 48 octets where a RuleDraft takes 96 (a compile
// holds one per entry read, and each RuleDraft key is an allocation of its own). The key's
// octets are in the set's key arena, the data is interned.
struct StoredDraft {
  const char* key_data = nullptr;
  std::int64_t first_seen = 0;
  std::int64_t expires = 0;
  std::uint32_t campaign = 0;
  std::uint32_t line = 0;
  std::uint32_t data = 0;  // RuleSet::data() id; 0 is no data
  std::uint16_t category = 0;
  std::uint16_t source = 0;
  std::uint16_t key_size = 0;
  Action action = Action::kNxdomain;
  RuleKind kind = RuleKind::kSubtree;
  std::uint8_t confidence = 100;
  bool allowlist = false;

  std::string_view key() const noexcept { return {key_data, key_size}; }
};

// Append-only storage for the keys of a rule set's drafts: big chunks that never move, so
// views into them stay valid for the set's life (and when another arena takes the chunks).
class KeyArena {
 public:
  std::string_view store(std::string_view key);
  // Takes `other`'s chunks (their views stay valid); `other` is left empty.
  void absorb(KeyArena&& other);

 private:
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

// One name's finalized record: which drafts won its two slots (RuleSet::slots decodes it).
// Small on purpose: a compile holds one per name.
struct FinalRecord {
  static constexpr std::uint32_t kNone = 0xffffffffu;
  std::string_view key;
  std::uint32_t self = kNone;   // index of the winning draft, or kNone
  std::uint32_t below = kNone;
};

// One prefix's finalized address rule.
struct FinalAddressRecord {
  IpPrefix prefix;
  std::uint32_t rule = FinalRecord::kNone;  // index of the winning draft
};

class RuleSet {
 public:
  // Registers a source; returns its id (1, 2, ...). `rules` is filled in by finalize().
  std::uint16_t add_source(SourceRecord source);
  // Ids for campaign and category names; the same name always gets the same id. "" is 0.
  // Campaign names match without regard to case ("Alpha" is "alpha"); the first spelling
  // (the manifest's, which is described first) is the one stored.
  std::uint32_t intern_campaign(std::string_view name);
  std::uint16_t intern_category(std::string_view name);
  // Campaign details (from a manifest); the campaign is interned if new.
  void describe_campaign(const CampaignRecord& campaign);

  void add(RuleDraft rule);
  // An address rule for `prefix` (host bits zero). The draft's key and kind are set here
  // (kind subtree: a prefix covers every address in it).
  void add_address(const IpPrefix& prefix, RuleDraft rule);
  // Where the drafts end now, names and addresses: discard_since() goes back to it.
  struct Mark {
    std::size_t names = 0;
    std::size_t addresses = 0;
  };
  Mark mark() const noexcept { return {drafts_.size(), address_drafts_.size()}; }
  // Drops the drafts added since `mark` was taken (a feed that is not used after all).
  void discard_since(Mark mark);
  // Moves `part`'s drafts and skipped counts after this set's, as if they had been added here
  // (the second half of a feed, parsed on another thread). `part` holds drafts only: its
  // sources, campaigns and categories are this set's (the drafts' ids are).
  void append(RuleSet&& part);
  // A registered source, to complete once its feed is parsed.
  SourceRecord& source(std::uint16_t id) { return sources_.at(id); }
  // Room for `rules` drafts in all (a hint; add() works without it).
  void reserve(std::size_t rules);
  // A trigger the store cannot hold yet (rpz-ip, rpz-nsdname, ...): counted, reported.
  void count_skipped(std::string_view trigger) { ++skipped_[std::string(trigger)]; }

  // Sorts, merges and resolves conflicts. Afterwards records() is valid and add() is not.
  void finalize();

  const std::vector<FinalRecord>& records() const noexcept { return records_; }
  // Address rules, in the prefix table's order (prefix_table.h: prefix_order).
  const std::vector<FinalAddressRecord>& address_records() const noexcept {
    return address_records_;
  }
  // A record's rules; their data views point into this rule set.
  RuleSlots slots(const FinalRecord& record) const;
  // Prefetches what slots(record) reads (its drafts are scattered over memory).
  void prefetch(const FinalRecord& record) const noexcept {
    if (record.self != FinalRecord::kNone) __builtin_prefetch(&drafts_[record.self]);
    if (record.below != FinalRecord::kNone) __builtin_prefetch(&drafts_[record.below]);
  }
  RuleSlots slots(const FinalAddressRecord& record) const;
  std::uint64_t address_rule_count(int family) const noexcept {
    return family == 4 ? address_v4_ : address_v6_;
  }
  std::size_t added() const noexcept { return drafts_.size(); }
  // Rules in the finalized set (a subtree rule counts once), names and addresses.
  std::uint64_t rule_count() const noexcept { return rule_count_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  std::uint64_t shadowed_by_allowlist() const noexcept { return shadowed_; }
  const std::map<std::string, std::uint64_t>& skipped() const noexcept { return skipped_; }
  const std::map<Action, std::uint64_t>& count_by_action() const noexcept { return by_action_; }
  // Name rules per kind (address rules have no kind of their own).
  const std::map<RuleKind, std::uint64_t>& count_by_kind() const noexcept { return by_kind_; }

  const std::map<std::uint32_t, CampaignRecord>& campaigns() const noexcept { return campaigns_; }
  const std::map<std::uint16_t, std::string>& categories() const noexcept { return categories_; }
  const std::map<std::uint16_t, SourceRecord>& sources() const noexcept { return sources_; }

 private:
  void finalize_names(std::vector<std::uint64_t>& per_source);
  void finalize_addresses(std::vector<std::uint64_t>& per_source);
  std::uint32_t intern_data(std::string_view data);
  Rule to_rule(const StoredDraft& draft) const;

  std::vector<StoredDraft> drafts_;
  KeyArena keys_;
  std::vector<std::string> data_{std::string()};  // by StoredDraft::data id
  std::unordered_map<std::string, std::uint32_t> data_ids_;
  std::vector<FinalRecord> records_;
  std::vector<RuleDraft> address_drafts_;
  std::vector<IpPrefix> address_prefixes_;  // one per address draft
  std::vector<FinalAddressRecord> address_records_;
  std::uint64_t address_v4_ = 0;
  std::uint64_t address_v6_ = 0;
  std::map<std::uint32_t, CampaignRecord> campaigns_;
  std::unordered_map<std::string, std::uint32_t> campaign_ids_;
  std::map<std::uint16_t, std::string> categories_;
  std::unordered_map<std::string, std::uint16_t> category_ids_;
  std::map<std::uint16_t, SourceRecord> sources_;
  std::map<std::string, std::uint64_t> skipped_;
  std::map<Action, std::uint64_t> by_action_;
  std::map<RuleKind, std::uint64_t> by_kind_;
  std::uint64_t rule_count_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t shadowed_ = 0;
  bool has_allowlist_ = false;  // a name draft is an allowlist entry
  bool finalized_ = false;
};

// True when `a` wins over `b` by the conflict rules above (same name and kind).
bool wins_conflict(const RuleDraft& a, const RuleDraft& b) noexcept;

}  // namespace dnsverdict
