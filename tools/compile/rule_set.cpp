#include "rule_set.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <tuple>

#include "huge_pages.h"
#include "parallel.h"
#include "prefix_table.h"

namespace dnsverdict {
namespace {

// Conflict rank, compared lexicographically: larger wins. `specificity` breaks ties between
// kinds competing for one slot (exact over subtree on the name itself, wildcard over subtree
// below it) before falling back to input order.
template <typename Draft>
auto rank(const Draft& rule, int specificity) {
  return std::make_tuple(rule.allowlist, rule.action == Action::kAllow, rule.confidence,
                         action_strictness(rule.action), specificity, -int{rule.source},
                         -static_cast<std::int64_t>(rule.line));
}

int self_specificity(RuleKind kind) { return kind == RuleKind::kExact ? 1 : 0; }
int below_specificity(RuleKind kind) { return kind == RuleKind::kWildcard ? 1 : 0; }

// Chunks of the key arena: big enough to be backed by huge pages.
constexpr std::size_t kKeyChunk = std::size_t{8} << 20;

template <typename Draft>
Rule to_rule_fields(const Draft& draft) {
  Rule rule;
  rule.action = draft.action;
  rule.kind = draft.kind;
  rule.confidence = draft.confidence;
  rule.flags = draft.allowlist ? kFlagAllowlist : 0;
  rule.category = draft.category;
  rule.source = draft.source;
  rule.campaign = draft.campaign;
  rule.first_seen = draft.first_seen;
  rule.expires = draft.expires;
  return rule;
}

Rule to_rule(const RuleDraft& draft) {
  Rule rule = to_rule_fields(draft);
  rule.data = draft.data;
  return rule;
}

// Fewer drafts than this are sorted on one thread.
constexpr std::size_t kParallelSortMinimum = 4096;

// Merges the sorted ranges [first, middle) and [middle, last) into `out` (last - first
// elements) on two threads: one merges the smallest half of the elements from the front,
// the other the largest half from the back. `less` must be a total order (no two elements
// equal), so both agree on every element's place and the result is std::merge's.
template <typename Entry, typename Less>
void merge_halves(const Entry* first, const Entry* middle, const Entry* last, Entry* out,
                  const Less& less) {
  const std::size_t total = static_cast<std::size_t>(last - first);
  const std::size_t front = total / 2;
  run_in_parallel(
      [&] {
        const Entry* a = first;
        const Entry* b = middle;
        for (std::size_t i = 0; i < front; ++i)
          out[i] = (b == last || (a != middle && less(*a, *b))) ? *a++ : *b++;
      },
      [&] {
        const Entry* a = middle;  // one past the next candidate of the first range
        const Entry* b = last;    // of the second
        for (std::size_t i = total; i > front; --i)
          out[i - 1] = (a == first || (b != middle && !less(*(b - 1), *(a - 1)))) ? *--b : *--a;
      });
}

bool is_label_prefix(std::string_view ancestor, std::string_view key) {
  // Keys are length-prefixed labels, so a byte prefix is always a whole-label prefix.
  return key.size() > ancestor.size() && key.compare(0, ancestor.size(), ancestor) == 0;
}

}  // namespace

std::string_view KeyArena::store(std::string_view key) {
  if (key.size() > left_) {
    std::size_t size = std::max(kKeyChunk, key.size());
    chunks_.push_back(std::unique_ptr<char[]>(new char[size]));  // not zeroed: filled as used
    next_ = chunks_.back().get();
    left_ = size;
    advise_huge_pages(next_, size);
  }
  char* stored = next_;
  std::memcpy(stored, key.data(), key.size());
  next_ += key.size();
  left_ -= key.size();
  return {stored, key.size()};
}

void KeyArena::absorb(KeyArena&& other) {
  // This arena's current chunk stays the one it fills: the other's go before it.
  chunks_.insert(chunks_.end() - (chunks_.empty() ? 0 : 1),
                 std::make_move_iterator(other.chunks_.begin()),
                 std::make_move_iterator(other.chunks_.end()));
  other.chunks_.clear();
  other.next_ = nullptr;
  other.left_ = 0;
}

Rule RuleSet::to_rule(const StoredDraft& draft) const {
  Rule rule = to_rule_fields(draft);
  rule.data = data_[draft.data];
  return rule;
}

std::uint32_t RuleSet::intern_data(std::string_view data) {
  if (data.empty()) return 0;
  auto [it, inserted] =
      data_ids_.emplace(std::string(data), static_cast<std::uint32_t>(data_.size()));
  if (inserted) data_.emplace_back(data);
  return it->second;
}

RuleSlots RuleSet::slots(const FinalAddressRecord& record) const {
  RuleSlots slots;
  if (record.rule != FinalRecord::kNone)
    slots.self = dnsverdict::to_rule(address_drafts_[record.rule]);
  return slots;
}

RuleSlots RuleSet::slots(const FinalRecord& record) const {
  RuleSlots slots;
  if (record.self != FinalRecord::kNone) slots.self = to_rule(drafts_[record.self]);
  if (record.below != FinalRecord::kNone) slots.below = to_rule(drafts_[record.below]);
  return slots;
}

bool wins_conflict(const RuleDraft& a, const RuleDraft& b) noexcept {
  return rank(a, 0) > rank(b, 0);
}

std::uint16_t RuleSet::add_source(SourceRecord source) {
  if (sources_.size() >= 0xfffe) throw std::length_error("too many sources (at most 65534)");
  auto id = static_cast<std::uint16_t>(sources_.size() + 1);
  sources_.emplace(id, std::move(source));
  return id;
}

std::uint32_t RuleSet::intern_campaign(std::string_view name) {
  if (name.empty()) return 0;
  std::string folded(name);
  for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto [it, inserted] =
      campaign_ids_.emplace(std::move(folded), static_cast<std::uint32_t>(campaign_ids_.size() + 1));
  if (inserted) {
    CampaignRecord record;
    record.name = std::string(name);
    campaigns_.emplace(it->second, std::move(record));
  }
  return it->second;
}

std::uint16_t RuleSet::intern_category(std::string_view name) {
  if (name.empty()) return 0;
  auto it = category_ids_.find(std::string(name));
  if (it != category_ids_.end()) return it->second;
  if (category_ids_.size() >= 0xfffe) throw std::length_error("too many categories (at most 65534)");
  auto id = static_cast<std::uint16_t>(category_ids_.size() + 1);
  category_ids_.emplace(std::string(name), id);
  categories_.emplace(id, std::string(name));
  return id;
}

void RuleSet::describe_campaign(const CampaignRecord& campaign) {
  std::uint32_t id = intern_campaign(campaign.name);
  if (id != 0) campaigns_[id] = campaign;
}

void RuleSet::discard_since(Mark mark) {
  if (finalized_) throw std::logic_error("RuleSet::discard_since after finalize");
  if (mark.names < drafts_.size()) drafts_.resize(mark.names);
  if (mark.addresses < address_drafts_.size()) {
    address_drafts_.resize(mark.addresses);
    address_prefixes_.resize(mark.addresses);
  }
}

void RuleSet::append(RuleSet&& part) {
  if (finalized_ || part.finalized_) throw std::logic_error("RuleSet::append after finalize");
  reserve(drafts_.size() + part.drafts_.size());
  keys_.absorb(std::move(part.keys_));
  for (StoredDraft draft : part.drafts_) {
    if (draft.data != 0) draft.data = intern_data(part.data_[draft.data]);
    drafts_.push_back(draft);
  }
  address_drafts_.insert(address_drafts_.end(), std::make_move_iterator(part.address_drafts_.begin()),
                         std::make_move_iterator(part.address_drafts_.end()));
  address_prefixes_.insert(address_prefixes_.end(), part.address_prefixes_.begin(),
                           part.address_prefixes_.end());
  for (const auto& [trigger, count] : part.skipped_) skipped_[trigger] += count;
  has_allowlist_ = has_allowlist_ || part.has_allowlist_;
  part.drafts_.clear();
  part.data_.resize(1);
  part.data_ids_.clear();
  part.address_drafts_.clear();
  part.address_prefixes_.clear();
  part.skipped_.clear();
}

void RuleSet::reserve(std::size_t rules) {
  if (rules > drafts_.capacity()) reserve_huge(drafts_, rules);
}

void RuleSet::add(RuleDraft rule) {
  if (finalized_) throw std::logic_error("RuleSet::add after finalize");
  if (rule.key.size() > 0xffff) throw std::length_error("a rule key longer than 65535 octets");
  if (rule.allowlist) {
    rule.action = Action::kAllow;
    has_allowlist_ = true;
  }
  StoredDraft& draft = drafts_.emplace_back();
  draft.key_data = keys_.store(rule.key).data();
  draft.key_size = static_cast<std::uint16_t>(rule.key.size());
  draft.first_seen = rule.first_seen;
  draft.expires = rule.expires;
  draft.campaign = rule.campaign;
  draft.line = rule.line;
  draft.data = intern_data(rule.data);
  draft.category = rule.category;
  draft.source = rule.source;
  draft.action = rule.action;
  draft.kind = rule.kind;
  draft.confidence = rule.confidence;
  draft.allowlist = rule.allowlist;
}

void RuleSet::add_address(const IpPrefix& prefix, RuleDraft rule) {
  if (finalized_) throw std::logic_error("RuleSet::add_address after finalize");
  if (rule.allowlist) rule.action = Action::kAllow;
  rule.key.clear();
  rule.kind = RuleKind::kSubtree;
  address_drafts_.push_back(std::move(rule));
  address_prefixes_.push_back(prefix);
}

void RuleSet::finalize() {
  if (finalized_) return;
  finalized_ = true;
  std::vector<std::uint64_t> per_source(sources_.size() + 1, 0);
  finalize_names(per_source);
  finalize_addresses(per_source);
  for (auto& [id, source] : sources_) source.rules = per_source[id];
}

void RuleSet::finalize_addresses(std::vector<std::uint64_t>& per_source) {
  if (address_drafts_.size() > 0xffffffffu) throw std::length_error("too many rules for one compile");
  std::vector<std::uint32_t> order(address_drafts_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(order.begin(), order.end(), [this](std::uint32_t a, std::uint32_t b) {
    return prefix_order(address_prefixes_[a], address_prefixes_[b]);
  });
  // Allowlisted prefixes enclosing the current one, innermost last.
  std::vector<IpPrefix> allow_stack;
  std::size_t begin = 0;
  while (begin < order.size()) {
    const IpPrefix& prefix = address_prefixes_[order[begin]];
    std::size_t end = begin + 1;
    while (end < order.size() && address_prefixes_[order[end]] == prefix) ++end;
    std::uint32_t winner = order[begin];
    for (std::size_t i = begin + 1; i < end; ++i)
      if (rank(address_drafts_[order[i]], 0) > rank(address_drafts_[winner], 0)) winner = order[i];
    duplicates_ += end - begin - 1;
    begin = end;

    const RuleDraft& rule = address_drafts_[winner];
    while (!allow_stack.empty() && !prefix_encloses(allow_stack.back(), prefix)) allow_stack.pop_back();
    if (!allow_stack.empty() && is_blocking(rule.action)) {
      ++shadowed_;
      continue;
    }
    if (rule.allowlist) allow_stack.push_back(prefix);
    address_records_.push_back({prefix, winner});
    ++rule_count_;
    ++by_action_[rule.action];
    ++per_source[rule.source < per_source.size() ? rule.source : 0];
    ++(prefix.family == 4 ? address_v4_ : address_v6_);
  }
}

void RuleSet::finalize_names(std::vector<std::uint64_t>& per_source) {
  // Sort small (key prefix, index) entries rather than the drafts themselves: the first 12
  // key octets, big-endian, decide most comparisons without touching the drafts; an entry is
  // 16 octets, four to a cache line.
  struct SortEntry {
    std::uint64_t high;
    std::uint32_t low;
    std::uint32_t index;
  };
  auto load_prefix = [](std::string_view key, std::size_t offset) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i)
      value = (value << 8) | (offset + i < key.size() ? static_cast<std::uint8_t>(key[offset + i]) : 0);
    return value;
  };
  if (drafts_.size() > 0xffffffffu) throw std::length_error("too many rules for one compile");
  auto less = [this](const SortEntry& a, const SortEntry& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    int order = drafts_[a.index].key().compare(drafts_[b.index].key());
    if (order != 0) return order < 0;
    return a.index < b.index;  // input order among rules for the same name
  };
  // A total order (the index breaks ties): two halves sorted on two threads and merged are
  // in the order one sort gives.
  const std::size_t count = drafts_.size();
  std::vector<SortEntry> order;
  reserve_huge(order, count);
  order.resize(count);
  auto fill_and_sort = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i)
      order[i] = {load_prefix(drafts_[i].key(), 0),
                  static_cast<std::uint32_t>(load_prefix(drafts_[i].key(), 8) >> 32),
                  static_cast<std::uint32_t>(i)};
    std::sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
              order.begin() + static_cast<std::ptrdiff_t>(end), less);
  };
  if (compile_threads() < 2 || count < kParallelSortMinimum) {
    fill_and_sort(0, count);
  } else {
    const std::size_t middle = count / 2;
    run_in_parallel([&] { fill_and_sort(0, middle); }, [&] { fill_and_sort(middle, count); });
    std::vector<SortEntry> merged;
    reserve_huge(merged, count);
    merged.resize(count);
    merge_halves(order.data(), order.data() + middle, order.data() + count, merged.data(), less);
    order.swap(merged);
  }
  auto draft_at = [&](std::size_t position) -> const StoredDraft& {
    return drafts_[order[position].index];
  };

  // Resolves the names in order[begin, end) (whole groups of one key) into `out`, counting
  // into `tally`. Allowlisted names whose "below" slot is an allowlist rule, innermost last,
  // are on a stack that starts empty: right for a range that starts the order, or for any
  // range when no draft is an allowlist entry.
  struct Tally {
    std::uint64_t rules = 0, duplicates = 0, shadowed = 0;
    std::map<Action, std::uint64_t> by_action;
    std::map<RuleKind, std::uint64_t> by_kind;
    std::vector<std::uint64_t> per_source;
  };
  auto resolve = [&](std::size_t begin, const std::size_t stop, FinalRecord* out,
                     Tally& tally) -> std::size_t {
    FinalRecord* const out_begin = out;
    std::vector<std::string_view> allow_stack;
    // Drafts are visited in key order, i.e. at random in memory: prefetch the draft a few
    // groups ahead, and its key (a second pointer) once the draft has arrived.
    auto prefetch = [&](std::size_t position) {
      if (position + 16 < stop) __builtin_prefetch(&drafts_[order[position + 16].index]);
      if (position + 8 < stop) __builtin_prefetch(draft_at(position + 8).key_data);
    };
    while (begin < stop) {
      prefetch(begin);
      std::size_t end = begin + 1;
      std::string_view key = draft_at(begin).key();
      while (end < stop && draft_at(end).key() == key) ++end;

      const StoredDraft* self = nullptr;
      const StoredDraft* below = nullptr;
      for (std::size_t i = begin; i < end; ++i) {
        const StoredDraft& draft = draft_at(i);
        if (draft.kind != RuleKind::kWildcard) {
          if (self == nullptr || rank(draft, self_specificity(draft.kind)) >
                                     rank(*self, self_specificity(self->kind)))
            self = &draft;
        }
        if (draft.kind != RuleKind::kExact) {
          if (below == nullptr || rank(draft, below_specificity(draft.kind)) >
                                      rank(*below, below_specificity(below->kind)))
            below = &draft;
        }
      }
      // A draft that lost both slots it could fill is a duplicate.
      std::size_t winners =
          (self != nullptr) + (below != nullptr) - (self != nullptr && self == below);
      tally.duplicates += (end - begin) - winners;

      // Allowlist entries above this name beat its blocking rules.
      while (!allow_stack.empty() && !is_label_prefix(allow_stack.back(), key))
        allow_stack.pop_back();
      if (!allow_stack.empty()) {
        if (self != nullptr && is_blocking(self->action)) {
          ++tally.shadowed;
          self = nullptr;
        }
        if (below != nullptr && is_blocking(below->action)) {
          ++tally.shadowed;
          below = nullptr;
        }
      }
      if (below != nullptr && below->allowlist) allow_stack.push_back(key);

      if (self != nullptr || below != nullptr) {
        FinalRecord record;
        record.key = key;
        if (self != nullptr) record.self = static_cast<std::uint32_t>(self - drafts_.data());
        if (below != nullptr) record.below = static_cast<std::uint32_t>(below - drafts_.data());
        auto count = [&](const StoredDraft& draft) {
          ++tally.rules;
          ++tally.by_action[draft.action];
          ++tally.by_kind[draft.kind];
          ++tally.per_source[draft.source < tally.per_source.size() ? draft.source : 0];
        };
        if (self != nullptr) count(*self);
        if (below != nullptr && below != self) count(*below);
        *out++ = record;
      }
      begin = end;
    }
    return static_cast<std::size_t>(out - out_begin);
  };

  // Without allowlist entries every name is resolved on its own: two halves, cut between two
  // keys, on two threads. A range of entries gives at most one record per entry, so each half
  // is written where its entries start, and the second's records then moved down after the
  // first's.
  std::size_t middle = order.size();
  if (!has_allowlist_ && compile_threads() >= 2 && order.size() >= kParallelSortMinimum) {
    middle = order.size() / 2;
    while (middle < order.size() && draft_at(middle).key() == draft_at(middle - 1).key()) ++middle;
  }
  Tally first, second;
  first.per_source.assign(per_source.size(), 0);
  second.per_source.assign(per_source.size(), 0);
  reserve_huge(records_, order.size());
  records_.resize(order.size());
  std::size_t written = 0;
  if (middle == order.size()) {
    written = resolve(0, middle, records_.data(), first);
  } else {
    std::size_t second_written = 0;
    run_in_parallel([&] { written = resolve(0, middle, records_.data(), first); },
                    [&] {
                      second_written =
                          resolve(middle, order.size(), records_.data() + middle, second);
                    });
    std::copy(records_.begin() + static_cast<std::ptrdiff_t>(middle),
              records_.begin() + static_cast<std::ptrdiff_t>(middle + second_written),
              records_.begin() + static_cast<std::ptrdiff_t>(written));
    written += second_written;
  }
  records_.resize(written);
  for (const Tally* tally : {&first, &second}) {
    rule_count_ += tally->rules;
    duplicates_ += tally->duplicates;
    shadowed_ += tally->shadowed;
    for (const auto& [action, n] : tally->by_action) by_action_[action] += n;
    for (const auto& [kind, n] : tally->by_kind) by_kind_[kind] += n;
    for (std::size_t i = 0; i < per_source.size(); ++i) per_source[i] += tally->per_source[i];
  }
}

}  // namespace dnsverdict
