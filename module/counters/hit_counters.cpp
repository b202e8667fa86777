#include "hit_counters.h"

#include <sys/socket.h>
// Inlined: the rule and campaign names are hashed on every hit; a call into libxxhash costs
// more.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

namespace dnsverdict {
namespace {

// Instances are numbered (never by address: a new instance may reuse a freed one's), so a
// thread can tell whether its cached slot belongs to the instance it counts into.
std::atomic<std::uint64_t> next_instance{1};

// This thread's slot in the instance it counted into last.
struct ThreadSlot {
  std::uint64_t instance = 0;
  std::size_t slot = 0;
};
thread_local ThreadSlot this_thread_slot;

// Adds a hit to the bucket of `hour`, creating it in order when missing. Usually the last
// bucket is the one (hits arrive in time order), so the search is one comparison. False when
// the client was left out of a sketch (`may_grow` false).
bool add_to_hours(std::vector<HourlyCounts>& hours, std::int64_t hour, std::int64_t time,
                  const ClientHashes* client, bool may_grow, bool sites) {
  for (auto it = hours.rbegin(); it != hours.rend(); ++it) {
    if (it->hour == hour) return it->add(time, client, may_grow, sites);
  }
  auto position = std::upper_bound(
      hours.begin(), hours.end(), hour,
      [](std::int64_t value, const HourlyCounts& counts) { return value < counts.hour; });
  position = hours.emplace(position);
  position->hour = hour;
  return position->add(time, client, may_grow, sites);
}

void merge_hours(std::vector<HourlyCounts>& into, std::vector<HourlyCounts>&& from) {
  if (into.empty()) {
    into = std::move(from);
    return;
  }
  for (HourlyCounts& counts : from) {
    auto position = std::lower_bound(
        into.begin(), into.end(), counts.hour,
        [](const HourlyCounts& existing, std::int64_t value) { return existing.hour < value; });
    if (position != into.end() && position->hour == counts.hour)
      position->merge(counts);
    else
      into.insert(position, std::move(counts));
  }
}

void add_totals(CounterTotals& sum, const CounterTotals& totals) {
  sum.hits += totals.hits;
  sum.evicted_rules += totals.evicted_rules;
  sum.evicted_queries += totals.evicted_queries;
  sum.untracked_campaign_hits += totals.untracked_campaign_hits;
  sum.budget_skipped_clients += totals.budget_skipped_clients;
}

std::size_t hours_memory(const std::vector<HourlyCounts>& hours) {
  std::size_t bytes = hours.capacity() * sizeof(HourlyCounts);
  for (const HourlyCounts& counts : hours)
    bytes += counts.clients.memory_bytes() + counts.networks.memory_bytes() +
             counts.sites.memory_bytes() - 3 * sizeof(HyperLogLog) +
             counts.site_sample.memory_bytes();
  return bytes;
}

}  // namespace

ClientAddress ClientAddress::from(int family, const void* address) noexcept {
  ClientAddress client;
  if (address == nullptr) return client;
  if (family == AF_INET) {
    client.family = AF_INET;
    std::memcpy(client.bytes, address, 4);
  } else if (family == AF_INET6) {
    client.family = AF_INET6;
    std::memcpy(client.bytes, address, 16);
  }
  return client;
}

bool ClientAddress::known() const noexcept {
  return family == AF_INET || family == AF_INET6;
}

ClientHashes client_hashes(const ClientAddress& client, const ClientHashKey& key) noexcept {
  // family octet + address octets; the network is the same with the host part zeroed.
  std::uint8_t input[17] = {};
  bool v4 = client.family == AF_INET;
  input[0] = v4 ? 4 : 6;
  std::size_t size = v4 ? 4 : 16;
  std::memcpy(input + 1, client.bytes, size);
  ClientHashes hashes;
  hashes.address = key.hash(input, size + 1);
  std::size_t network_octets = v4 ? 3 : 7;  // /24, /56
  std::memset(input + 1 + network_octets, 0, size - network_octets);
  hashes.network = key.hash(input, size + 1);
  if (v4) {
    hashes.site = hashes.address;
  } else {
    hashes.ipv6 = true;
    std::memcpy(input + 1, client.bytes, 8);  // the /64
    hashes.site = key.hash(input, 9);
  }
  return hashes;
}

bool HourlyCounts::add(std::int64_t time, const ClientHashes* client, bool may_grow,
                       bool count_sites) noexcept {
  if (queries == 0) counts_sites = count_sites;
  if (queries == 0 || time < first_seen) first_seen = time;
  if (queries == 0 || time > last_seen) last_seen = time;
  ++queries;
  if (client == nullptr) return true;
  bool counted = true;
  if (may_grow) {
    clients.add_hash(client->address);
    networks.add_hash(client->network);
    if (count_sites) sites.add_hash(client->site);
  } else {
    counted = clients.add_hash_in_place(client->address);
    counted = networks.add_hash_in_place(client->network) && counted;
    if (count_sites) counted = sites.add_hash_in_place(client->site) && counted;
  }
  if (count_sites) {
    try {
      counted = site_sample.add(client->site, slot_of(time), client->ipv6 ? client->address : 0,
                                may_grow) &&
                counted;
    } catch (...) {
      counted = false;  // out of memory: the site is left out of the sample
    }
  }
  return counted;
}

void HourlyCounts::merge(const HourlyCounts& other) {
  if (other.queries != 0) {
    first_seen = queries == 0 ? other.first_seen : std::min(first_seen, other.first_seen);
    last_seen = queries == 0 ? other.last_seen : std::max(last_seen, other.last_seen);
  }
  if (queries == 0)
    counts_sites = other.counts_sites;
  else if (other.queries != 0)
    counts_sites = counts_sites && other.counts_sites;
  queries += other.queries;
  clients.merge(other.clients);
  networks.merge(other.networks);
  if (counts_sites) {
    sites.merge(other.sites);
    site_sample.merge(other.site_sample);
  } else {
    sites = HyperLogLog();
    site_sample = SiteSample();
  }
}

struct alignas(64) HitCounters::Shard {
  struct RuleEntry {
    std::uint64_t hash = 0;
    RuleCounts counts;
  };
  using RuleList = std::list<RuleEntry>;

  mutable std::mutex mutex;
  RuleList rules;  // most recently hit first: the back is evicted
  std::unordered_map<std::uint64_t, RuleList::iterator> rule_index;
  std::unordered_map<std::uint64_t, CampaignCounts> campaigns;
  CounterTotals totals;
  // Of the entries and tables above (memory_bytes()): what they grew since the last
  // snapshot emptied them.
  std::size_t bytes = 0;

  // What an entry holds, as memory_bytes() counts it: the list node, its index node, its
  // strings and its hours.
  static constexpr std::size_t kNodeLinks = 2 * sizeof(void*);  // a list or hash node's links
  static std::size_t rule_entry_bytes(const RuleCounts& counts) {
    return sizeof(RuleEntry) + 2 * kNodeLinks + sizeof(std::uint64_t) + sizeof(void*) +
           counts.rule_key.capacity() + counts.campaign.capacity() + hours_memory(counts.hours);
  }
  static std::size_t campaign_entry_bytes(const CampaignCounts& counts) {
    return sizeof(CampaignCounts) + kNodeLinks + sizeof(std::uint64_t) +
           counts.campaign.capacity() + hours_memory(counts.hours);
  }
};

namespace {

template <typename Map>
std::ptrdiff_t table_bytes(const Map& map) {
  return static_cast<std::ptrdiff_t>(map.bucket_count() * sizeof(void*));
}

}  // namespace

HitCounters::HitCounters() : HitCounters(Options{}) {}

HitCounters::HitCounters(Options options)
    : options_(options), instance_(next_instance.fetch_add(1, std::memory_order_relaxed)) {
  options_.shards = std::max<std::size_t>(options_.shards, 1);
  options_.max_rules = std::max<std::size_t>(options_.max_rules, 1);
  shards_ = std::make_unique<Shard[]>(options_.shards);
  memory_bytes_.store(sizeof(*this) + options_.shards * sizeof(Shard));
  if (options_.client_key) start_counting(*options_.client_key);
}

bool HitCounters::start_counting(const ClientHashKey& key,
                                 std::function<void()> on_over_budget) noexcept {
  if (counting()) return key == client_key_;
  client_key_ = key;
  on_over_budget_ = std::move(on_over_budget);
  counting_.store(true, std::memory_order_release);
  return true;
}

void HitCounters::account(Shard& shard, std::ptrdiff_t bytes) noexcept {
  if (bytes == 0) return;
  shard.bytes += static_cast<std::size_t>(bytes);  // wraps back for a negative change
  memory_bytes_.fetch_add(static_cast<std::size_t>(bytes), std::memory_order_relaxed);
}

HitCounters::~HitCounters() = default;

HitCounters::Shard& HitCounters::shard_for_this_thread() noexcept {
  if (this_thread_slot.instance != instance_) {
    this_thread_slot.instance = instance_;
    this_thread_slot.slot = next_slot_.fetch_add(1, std::memory_order_relaxed);
  }
  return shards_[this_thread_slot.slot % options_.shards];
}

void HitCounters::record_hit(const HitEvent& hit) noexcept {
  if (!counting()) return;
  ClientHashes hashes;
  const ClientHashes* client = nullptr;
  if (hit.client.known()) {
    hashes = client_hashes(hit.client, client_key_);
    client = &hashes;
  }
  const std::uint64_t rule_hash = XXH3_64bits_withSeed(hit.rule_key.data(), hit.rule_key.size(),
                                                       static_cast<std::uint64_t>(hit.kind));
  const std::uint64_t campaign_hash =
      hit.campaign.empty() ? 0 : XXH3_64bits(hit.campaign.data(), hit.campaign.size());
  const std::int64_t hour = hour_of(hit.time);
  // At the budget nothing grows: a new rule evicts, sketches leave new clients out. One
  // relaxed load of a line written only when memory changes.
  const bool at_budget = options_.memory_budget != 0 &&
                         memory_bytes_.load(std::memory_order_relaxed) >= options_.memory_budget;
  if (at_budget && !over_budget_signalled_.load(std::memory_order_relaxed) &&
      !over_budget_signalled_.exchange(true) && on_over_budget_) {
    try {
      on_over_budget_();
    } catch (...) {
    }
  }

  Shard& shard = shard_for_this_thread();
  std::lock_guard<std::mutex> lock(shard.mutex);
  ++shard.totals.hits;
  bool client_counted = true;
  try {
    Shard::RuleList::iterator entry;
    std::ptrdiff_t entry_before = 0;
    const std::ptrdiff_t index_before = table_bytes(shard.rule_index);
    auto found = shard.rule_index.find(rule_hash);
    if (found != shard.rule_index.end()) {
      entry = found->second;
      if (entry != shard.rules.begin()) shard.rules.splice(shard.rules.begin(), shard.rules, entry);
      entry_before = static_cast<std::ptrdiff_t>(Shard::rule_entry_bytes(entry->counts));
    } else {
      // At the cap (or the budget), a shard with entries of its own evicts its least
      // recently hit one; a shard without any may still add one (so the bound is
      // max_rules + shards - 1).
      if (!shard.rules.empty() &&
          (at_budget || tracked_rules_.load(std::memory_order_relaxed) >= options_.max_rules)) {
        // Reuse the least recently hit entry's node for the new rule.
        entry = std::prev(shard.rules.end());
        entry_before = static_cast<std::ptrdiff_t>(Shard::rule_entry_bytes(entry->counts));
        ++shard.totals.evicted_rules;
        for (const HourlyCounts& counts : entry->counts.hours)
          shard.totals.evicted_queries += counts.queries;
        shard.rule_index.erase(entry->hash);
        entry->counts.hours.clear();
        shard.rules.splice(shard.rules.begin(), shard.rules, entry);
      } else {
        shard.rules.emplace_front();
        entry = shard.rules.begin();
        tracked_rules_.fetch_add(1, std::memory_order_relaxed);
      }
      entry->hash = rule_hash;
      entry->counts.rule_key.assign(hit.rule_key.data(), hit.rule_key.size());
      entry->counts.kind = hit.kind;
      entry->counts.campaign.assign(hit.campaign.data(), hit.campaign.size());
      try {
        shard.rule_index.emplace(rule_hash, entry);
      } catch (...) {
        shard.rules.erase(entry);
        tracked_rules_.fetch_sub(1, std::memory_order_relaxed);
        account(shard, -entry_before);
        throw;
      }
    }
    client_counted =
        add_to_hours(entry->counts.hours, hour, hit.time, client, !at_budget, false);
    account(shard, static_cast<std::ptrdiff_t>(Shard::rule_entry_bytes(entry->counts)) - entry_before +
                       table_bytes(shard.rule_index) - index_before);
  } catch (...) {
    // Out of memory: this hit is lost at rule level; the campaign below may still count it.
  }
  if (!hit.campaign.empty()) {
    try {
      const std::ptrdiff_t table_before = table_bytes(shard.campaigns);
      std::ptrdiff_t entry_before = 0;
      auto found = shard.campaigns.find(campaign_hash);
      if (found == shard.campaigns.end()) {
        if (shard.campaigns.size() >= options_.max_campaigns) {
          ++shard.totals.untracked_campaign_hits;
          found = shard.campaigns.end();
        } else {
          found = shard.campaigns.emplace(campaign_hash, CampaignCounts{}).first;
          found->second.campaign.assign(hit.campaign.data(), hit.campaign.size());
        }
      } else {
        entry_before = static_cast<std::ptrdiff_t>(Shard::campaign_entry_bytes(found->second));
      }
      if (found != shard.campaigns.end()) {
        if (!add_to_hours(found->second.hours, hour, hit.time, client, !at_budget, true))
          client_counted = false;
        account(shard, static_cast<std::ptrdiff_t>(Shard::campaign_entry_bytes(found->second)) -
                           entry_before + table_bytes(shard.campaigns) - table_before);
      }
    } catch (...) {
      ++shard.totals.untracked_campaign_hits;
    }
  }
  if (!client_counted) ++shard.totals.budget_skipped_clients;
}

CountersSnapshot HitCounters::take_snapshot() {
  std::unordered_map<std::uint64_t, RuleCounts> rules;
  std::unordered_map<std::uint64_t, CampaignCounts> campaigns;
  CountersSnapshot snapshot;
  for (std::size_t i = 0; i < options_.shards; ++i) {
    Shard::RuleList shard_rules;
    std::unordered_map<std::uint64_t, Shard::RuleList::iterator> shard_index;
    std::unordered_map<std::uint64_t, CampaignCounts> shard_campaigns;
    {
      std::lock_guard<std::mutex> lock(shards_[i].mutex);
      shard_rules.swap(shards_[i].rules);
      shard_index.swap(shards_[i].rule_index);
      shard_campaigns.swap(shards_[i].campaigns);
      tracked_rules_.fetch_sub(shard_rules.size(), std::memory_order_relaxed);
      memory_bytes_.fetch_sub(shards_[i].bytes, std::memory_order_relaxed);
      shards_[i].bytes = 0;
      add_totals(snapshot.totals, shards_[i].totals);
    }
    for (auto& entry : shard_rules) {
      auto [position, inserted] = rules.try_emplace(entry.hash);
      if (inserted)
        position->second = std::move(entry.counts);
      else
        merge_hours(position->second.hours, std::move(entry.counts.hours));
    }
    for (auto& [hash, counts] : shard_campaigns) {
      auto [position, inserted] = campaigns.try_emplace(hash);
      if (inserted)
        position->second = std::move(counts);
      else
        merge_hours(position->second.hours, std::move(counts.hours));
    }
  }
  snapshot.rules.reserve(rules.size());
  for (auto& [hash, counts] : rules) snapshot.rules.push_back(std::move(counts));
  std::sort(snapshot.rules.begin(), snapshot.rules.end(),
            [](const RuleCounts& a, const RuleCounts& b) {
              return a.rule_key != b.rule_key ? a.rule_key < b.rule_key : a.kind < b.kind;
            });
  snapshot.campaigns.reserve(campaigns.size());
  for (auto& [hash, counts] : campaigns) snapshot.campaigns.push_back(std::move(counts));
  std::sort(
      snapshot.campaigns.begin(), snapshot.campaigns.end(),
      [](const CampaignCounts& a, const CampaignCounts& b) { return a.campaign < b.campaign; });
  over_budget_signalled_.store(false, std::memory_order_relaxed);
  return snapshot;
}

CounterTotals HitCounters::totals() const {
  CounterTotals sum;
  for (std::size_t i = 0; i < options_.shards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mutex);
    add_totals(sum, shards_[i].totals);
  }
  return sum;
}

std::size_t HitCounters::tracked_rules() const {
  return tracked_rules_.load(std::memory_order_relaxed);
}

std::size_t HitCounters::memory_bytes() const noexcept {
  return memory_bytes_.load(std::memory_order_relaxed);
}

}  // namespace dnsverdict
