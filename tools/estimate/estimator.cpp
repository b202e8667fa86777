#include "estimator.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "byte_codec.h"
#include "diagnostics.h"

namespace dnsverdict {

EstimateLimits EstimateLimits::from_budget(std::uint64_t budget) {
  auto clamp = [](std::uint64_t value, std::uint64_t low, std::uint64_t high) {
    return static_cast<std::uint32_t>(std::min(std::max(value, low), high));
  };
  EstimateLimits limits;
  // An exact set costs ~16-32 bytes per client; 64 sets at their limit fill the budget.
  limits.clients = clamp(budget / 32 / 64, 256, 1u << 30);
  // Hour and day bins are many: each may use 1/1024 of the budget before it is sketched.
  limits.clients_per_bin = clamp(budget / 32 / 1024, 64, 1u << 24);
  // A sampled site costs ~16 bytes per active hour (~1 KiB for a few days); 256 entities'
  // samples fit. A few thousand sites measure one device's behaviour well enough.
  limits.beacon_sample = clamp(budget / 1024 / 256, 256, 1u << 18);
  // A name profile costs up to ~2.5 KiB (a full bottom-k) and typically far less; half the budget.
  limits.suspect_names = clamp(budget / 2 / 1024, 1024, 1u << 26);
  return limits;
}

void ClientActivity::add(std::uint32_t hour, std::uint32_t count, std::uint64_t slots) {
  queries += count;
  // The usual case: logs run in time order.
  if (hours.empty() || hours.back().hour < hour) {
    hours.push_back({hour, count, slots});
    return;
  }
  auto at = hours.end() - 1;
  if (at->hour != hour)
    at = std::lower_bound(hours.begin(), hours.end(), hour,
                          [](const HourActivity& a, std::uint32_t h) { return a.hour < h; });
  if (at != hours.end() && at->hour == hour) {
    at->queries += count;
    at->slots |= slots;
  } else {
    hours.insert(at, {hour, count, slots});
  }
}

void ClientActivity::add_address(std::uint64_t address, std::uint32_t first_hour,
                                 std::uint32_t last_hour) {
  auto at = std::lower_bound(addresses.begin(), addresses.end(), address,
                             [](const AddressSpan& a, std::uint64_t h) { return a.address < h; });
  if (at != addresses.end() && at->address == address) {
    at->first_hour = std::min(at->first_hour, first_hour);
    at->last_hour = std::max(at->last_hour, last_hour);
    return;
  }
  if (addresses.size() == kAddressesPerSite && at == addresses.end()) return;
  addresses.insert(at, {address, first_hour, last_hour});
  if (addresses.size() > kAddressesPerSite) addresses.pop_back();
}

void ClientSample::add(std::uint64_t site, std::int64_t time, std::uint64_t address) {
  if (site > threshold_) return;
  std::int64_t clamped = std::max<std::int64_t>(time, 0);
  auto hour = static_cast<std::uint32_t>(clamped / 3600);
  auto slot = static_cast<std::uint32_t>(clamped % 3600 * kSlotsPerHour / 3600);
  ClientActivity& activity = clients_[site];
  activity.add(hour, 1, std::uint64_t{1} << slot);
  if (address != 0) activity.add_address(address, hour, hour);
  if (clients_.size() > limit_) shrink();
}

void ClientSample::add_hour(std::uint64_t site, std::uint32_t hour, std::uint32_t queries,
                            std::uint64_t slots, const std::vector<std::uint64_t>& addresses) {
  if (site > threshold_) return;
  ClientActivity& activity = clients_[site];
  activity.add(hour, queries, slots);
  for (std::uint64_t address : addresses) activity.add_address(address, hour, hour);
  if (clients_.size() > limit_) shrink();
}

void ClientSample::restrict_to(std::uint64_t threshold) {
  if (threshold >= threshold_) return;
  threshold_ = threshold;
  for (auto it = clients_.begin(); it != clients_.end();)
    it = it->first > threshold_ ? clients_.erase(it) : std::next(it);
}

void ClientSample::shrink() {
  while (clients_.size() > limit_) {
    threshold_ >>= 1;
    for (auto it = clients_.begin(); it != clients_.end();)
      it = it->first > threshold_ ? clients_.erase(it) : std::next(it);
  }
}

void ClientSample::merge(const ClientSample& other) {
  threshold_ = std::min(threshold_, other.threshold_);
  for (auto it = clients_.begin(); it != clients_.end();)
    it = it->first > threshold_ ? clients_.erase(it) : std::next(it);
  for (const auto& [client, activity] : other.clients_) {
    if (client > threshold_) continue;
    ClientActivity& mine = clients_[client];
    for (const HourActivity& hour : activity.hours) mine.add(hour.hour, hour.queries, hour.slots);
    for (const AddressSpan& span : activity.addresses)
      mine.add_address(span.address, span.first_hour, span.last_hour);
  }
  shrink();
}

double ClientSample::fraction() const noexcept {
  return threshold_ == UINT64_MAX ? 1.0 : (static_cast<double>(threshold_) + 1) / 18446744073709551616.0;
}

void ClientSample::serialize(std::string& out) const {
  codec::put_varint(out, limit_);
  codec::put_u64(out, threshold_);
  std::vector<std::uint64_t> order;
  order.reserve(clients_.size());
  for (const auto& entry : clients_) order.push_back(entry.first);
  std::sort(order.begin(), order.end());
  codec::put_varint(out, order.size());
  for (std::uint64_t client : order) {
    const ClientActivity& activity = clients_.at(client);
    codec::put_u64(out, client);
    codec::put_varint(out, activity.hours.size());
    std::uint32_t previous = 0;
    for (const HourActivity& hour : activity.hours) {
      codec::put_varint(out, hour.hour - previous);
      codec::put_varint(out, hour.queries);
      codec::put_u64(out, hour.slots);
      previous = hour.hour;
    }
    codec::put_varint(out, activity.addresses.size());
    for (const AddressSpan& span : activity.addresses) {
      codec::put_u64(out, span.address);
      codec::put_varint(out, span.first_hour);
      codec::put_varint(out, span.last_hour - span.first_hour);
    }
  }
}

bool ClientSample::deserialize(std::string_view& in) {
  std::uint64_t limit, count;
  if (!codec::get_varint(in, limit) || limit > UINT32_MAX || !codec::get_u64(in, threshold_) ||
      !codec::get_varint(in, count) || count > in.size())
    return false;
  limit_ = static_cast<std::uint32_t>(limit);
  clients_.clear();
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t client, hours, addresses;
    ClientActivity activity;
    if (!codec::get_u64(in, client) || !codec::get_varint(in, hours) || hours > in.size())
      return false;
    std::uint64_t hour = 0;
    for (std::uint64_t h = 0; h < hours; ++h) {
      std::uint64_t delta, queries, slots;
      if (!codec::get_varint(in, delta) || !codec::get_varint(in, queries) ||
          !codec::get_u64(in, slots) || queries > UINT32_MAX)
        return false;
      hour += delta;
      if (hour > UINT32_MAX) return false;
      activity.hours.push_back(
          {static_cast<std::uint32_t>(hour), static_cast<std::uint32_t>(queries), slots});
      activity.queries += queries;
    }
    if (!codec::get_varint(in, addresses) || addresses > kAddressesPerSite) return false;
    for (std::uint64_t a = 0; a < addresses; ++a) {
      std::uint64_t address, first, length;
      if (!codec::get_u64(in, address) || !codec::get_varint(in, first) ||
          !codec::get_varint(in, length) || first + length > UINT32_MAX)
        return false;
      activity.addresses.push_back({address, static_cast<std::uint32_t>(first),
                                    static_cast<std::uint32_t>(first + length)});
    }
    clients_.emplace(client, std::move(activity));
  }
  return true;
}

EntityStats::EntityStats(const EstimateLimits& limits)
    : clients(limits.clients),
      sites(limits.clients),
      networks_v4(limits.clients),
      networks_v6(limits.clients),
      beacon(limits.beacon_sample),
      bin_limit_(limits.clients_per_bin) {}

TimeBin& EntityStats::bin(std::map<std::int64_t, TimeBin>& bins, std::int64_t index,
                          std::uint32_t limit) {
  // Logs are mostly in time order: the last bin is the usual answer.
  if (!bins.empty() && bins.rbegin()->first == index) return bins.rbegin()->second;
  auto found = bins.find(index);
  if (found != bins.end()) return found->second;
  return bins.emplace(index, TimeBin{0, ClientSet(limit)}).first->second;
}

namespace {
std::int64_t floor_divide(std::int64_t value, std::int64_t divisor) {
  std::int64_t quotient = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}
}  // namespace

void EntityStats::add(std::int64_t time, std::uint64_t client, std::uint64_t site, bool ipv6,
                      std::uint64_t network_v4, std::uint64_t network_v6, bool track_sketch) {
  ++queries;
  clients.add(client);
  sites.add(site);
  if (network_v4 != 0) networks_v4.add(network_v4);
  if (network_v6 != 0) networks_v6.add(network_v6);
  first_seen = std::min(first_seen, time);
  last_seen = std::max(last_seen, time);
  std::int64_t hour = floor_divide(time, 3600);
  TimeBin& hour_bin = bin(hours, hour, bin_limit_);
  ++hour_bin.queries;
  hour_bin.clients.add(client);
  TimeBin& day_bin = bin(days, floor_divide(time, 86400), bin_limit_);
  ++day_bin.queries;
  day_bin.clients.add(client);
  beacon.add(site, time, ipv6 ? client : 0);
  if (track_sketch) client_sketch.add(client);
}

void EntityStats::merge(const EntityStats& other) {
  queries += other.queries;
  clients.merge(other.clients);
  sites.merge(other.sites);
  networks_v4.merge(other.networks_v4);
  networks_v6.merge(other.networks_v6);
  first_seen = std::min(first_seen, other.first_seen);
  last_seen = std::max(last_seen, other.last_seen);
  for (auto* bins : {&hours, &days}) {
    const auto& theirs = bins == &hours ? other.hours : other.days;
    for (const auto& [index, their_bin] : theirs) {
      TimeBin& mine = bin(*bins, index, bin_limit_);
      mine.queries += their_bin.queries;
      mine.clients.merge(their_bin.clients);
    }
  }
  beacon.merge(other.beacon);
  client_sketch.merge(other.client_sketch);
  if (campaign.empty()) campaign = other.campaign;
  if (action.empty()) action = other.action;
}

void InputCounters::merge(const InputCounters& other) {
  lines += other.lines;
  records += other.records;
  queries += other.queries;
  responses_ignored += other.responses_ignored;
  malformed += other.malformed;
  skipped += other.skipped;
  bad_names += other.bad_names;
  matched += other.matched;
  inputs += other.inputs;
}

EstimateState::EstimateState(const EstimateLimits& limits_in, bool suspects)
    : limits(limits_in),
      suspects_enabled(suspects),
      all_clients(limits_in.clients),
      suspects(limits_in.suspect_names) {}

void EstimateState::merge(const EstimateState& other) {
  if (store_build_id != other.store_build_id)
    throw ToolError(fmt::format("the sketches were made with different stores (build {} and {}); "
                                "merge only shards of one job",
                                store_build_id, other.store_build_id));
  if (limits.clients != other.limits.clients || limits.clients_per_bin != other.limits.clients_per_bin ||
      limits.beacon_sample != other.limits.beacon_sample)
    throw ToolError("the sketches were made with different --memory-budget values; merge only "
                    "shards of one job");
  suspects_enabled = suspects_enabled && other.suspects_enabled;
  counters.merge(other.counters);
  all_clients.merge(other.all_clients);
  first_time = std::min(first_time, other.first_time);
  last_time = std::max(last_time, other.last_time);
  for (const auto& [key, entity] : other.entities) {
    auto found = entities.find(key);
    if (found == entities.end()) entities.emplace(key, entity);
    else found->second.merge(entity);
  }
  if (suspects_enabled) suspects.merge(other.suspects);
  else suspects = SuspectTable(limits.suspect_names);
}

bool query_name_key(std::string_view text, NameKey& key, std::string& scratch) {
  if (text.find('\\') != std::string_view::npos) {
    // Escapes are rare in logs; the full parser handles them, on the whole text: a last "\."
    // is an escaped dot, and escaped text is longer than the name it makes.
    std::string error;
    if (!parse_name(text, scratch, error)) return false;
    return make_name_key(reinterpret_cast<const std::uint8_t*>(scratch.data()), scratch.size(), key);
  }
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return make_name_key(reinterpret_cast<const std::uint8_t*>("\0"), 1, key);
  if (text.size() + 2 > kMaxNameOctets) return false;
  std::uint8_t wire[kMaxNameOctets + 1];
  std::size_t out = 0, label_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      std::size_t length = i - label_start;
      if (length == 0 || length > kMaxLabelOctets) return false;
      wire[out++] = static_cast<std::uint8_t>(length);
      std::memcpy(wire + out, text.data() + label_start, length);
      out += length;
      label_start = i + 1;
    }
  }
  wire[out++] = 0;
  return make_name_key(wire, out, key);
}

Estimator::Estimator(std::shared_ptr<const VerdictStore> store, const EstimatorOptions& options)
    : store_(std::move(store)),
      state_(EstimateLimits::from_budget(options.memory_budget), options.suspects) {
  if (store_) state_.store_build_id = store_->info().build_id;
}

EntityStats& Estimator::entity(EntityKind kind, std::string_view name) {
  auto key = std::make_pair(kind, std::string(name));
  auto found = state_.entities.find(key);
  if (found == state_.entities.end()) {
    found = state_.entities.emplace(key, EntityStats(state_.limits)).first;
    found->second.kind = kind;
    found->second.name = std::string(name);
  }
  return found->second;
}

EntityStats& Estimator::campaign_entity(std::uint32_t campaign_id) {
  if (campaign_id >= campaign_by_id_.size()) campaign_by_id_.resize(campaign_id + 1, nullptr);
  EntityStats*& cached = campaign_by_id_[campaign_id];
  if (cached == nullptr) {
    const CampaignRecord* record = store_->campaign(campaign_id);
    std::string name = record != nullptr && !record->name.empty()
                           ? record->name
                           : campaign_id == 0 ? std::string("(none)") : fmt::format("#{}", campaign_id);
    cached = &entity(EntityKind::kCampaign, name);
  }
  return *cached;
}

bool Estimator::add(const QueryRecord& record) {
  NameKey key;
  bool valid = !record.name_wire.empty()
                   ? make_name_key(reinterpret_cast<const std::uint8_t*>(record.name_wire.data()),
                                   record.name_wire.size(), key)
                   : query_name_key(record.name, key, name_buffer_);
  if (!valid) {
    ++state_.counters.bad_names;
    return false;
  }
  ++state_.counters.queries;
  std::uint64_t client = XXH3_64bits(record.client.bytes, record.client.size());
  state_.all_clients.add(client);
  state_.first_time = std::min(state_.first_time, record.time);
  state_.last_time = std::max(state_.last_time, record.time);

  LookupResult result = store_->lookup(key, record.time);
  bool counted = result.hit() && result.rule.action != Action::kAllow &&
                 (result.rule.flags & kFlagAllowlist) == 0;
  if (!counted) {
    if (state_.suspects_enabled && !result.hit()) {
      if (record.name.empty()) {
        std::string wire = key_to_wire(key.view());
        registrable_domain(name_to_text(wire), key_buffer_);
      } else {
        registrable_domain(record.name, key_buffer_);
      }
      std::int64_t hour = record.time >= 0 ? record.time / 3600 : 0;
      state_.suspects.add(key_buffer_, client, static_cast<std::uint32_t>(hour));
    }
    return true;
  }
  ++state_.counters.matched;
  std::uint64_t network_v4 = 0, network_v6 = 0, site = client;
  if (record.client.family == 4) {
    std::uint8_t prefix[4] = {4, record.client.bytes[0], record.client.bytes[1], record.client.bytes[2]};
    network_v4 = XXH3_64bits(prefix, sizeof prefix);
  } else if (record.client.family == 6) {
    std::uint8_t prefix[8] = {6};
    std::memcpy(prefix + 1, record.client.bytes, 7);
    network_v6 = XXH3_64bits(prefix, sizeof prefix);
    std::uint8_t slash64[9] = {'S'};  // a tag of its own: never equal to an address's hash input
    std::memcpy(slash64 + 1, record.client.bytes, 8);
    site = XXH3_64bits(slash64, sizeof slash64);
  }
  bool ipv6 = record.client.family == 6;
  campaign_entity(result.rule.campaign)
      .add(record.time, client, site, ipv6, network_v4, network_v6, state_.suspects_enabled);

  key_buffer_.assign(result.owner_key);
  auto found = rule_by_key_.find(key_buffer_);
  if (found == rule_by_key_.end()) {
    std::string owner = key_to_text(result.owner_key);
    EntityStats& rule = entity(EntityKind::kRule, owner);
    const CampaignRecord* campaign = store_->campaign(result.rule.campaign);
    rule.campaign = campaign != nullptr ? campaign->name : "";
    rule.action = std::string(action_name(result.rule.action));
    found = rule_by_key_.emplace(key_buffer_, &rule).first;
  }
  found->second->add(record.time, client, site, ipv6, network_v4, network_v6, false);
  return true;
}

}  // namespace dnsverdict
