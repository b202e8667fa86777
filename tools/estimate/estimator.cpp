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
  // A sampled client costs ~256 bytes (its active hours); 256 entities' samples fit.
  limits.beacon_sample = clamp(budget / 256 / 256, 256, 1u << 20);
  // A name profile costs up to ~2.5 KiB (a full bottom-k) and typically far less; half the budget.
  limits.suspect_names = clamp(budget / 2 / 1024, 1024, 1u << 26);
  return limits;
}

void ClientActivity::add_hour(std::uint32_t hour) {
  if (!hours.empty() && hours.back() == hour) return;  // the usual case: logs run in time order
  if (hours.empty() || hours.back() < hour) {
    hours.push_back(hour);
    return;
  }
  auto at = std::lower_bound(hours.begin(), hours.end(), hour);
  if (*at != hour) hours.insert(at, hour);
}

void ClientSample::add(std::uint64_t client, std::uint32_t hour) {
  if (client > threshold_) return;
  ClientActivity& activity = clients_[client];
  ++activity.queries;
  activity.add_hour(hour);
  if (clients_.size() > limit_) shrink();
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
    mine.queries += activity.queries;
    for (std::uint32_t hour : activity.hours) mine.add_hour(hour);
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
    codec::put_varint(out, activity.queries);
    codec::put_varint(out, activity.hours.size());
    std::uint32_t previous = 0;
    for (std::uint32_t hour : activity.hours) {
      codec::put_varint(out, hour - previous);
      previous = hour;
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
    std::uint64_t client, hours;
    ClientActivity activity;
    if (!codec::get_u64(in, client) || !codec::get_varint(in, activity.queries) ||
        !codec::get_varint(in, hours) || hours > in.size())
      return false;
    std::uint64_t hour = 0;
    for (std::uint64_t h = 0; h < hours; ++h) {
      std::uint64_t delta;
      if (!codec::get_varint(in, delta)) return false;
      hour += delta;
      activity.hours.push_back(static_cast<std::uint32_t>(hour));
    }
    clients_.emplace(client, std::move(activity));
  }
  return true;
}

EntityStats::EntityStats(const EstimateLimits& limits)
    : clients(limits.clients),
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

void EntityStats::add(std::int64_t time, std::uint64_t client, std::uint64_t network_v4,
                      std::uint64_t network_v6, bool track_sketch) {
  ++queries;
  clients.add(client);
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
  beacon.add(client, static_cast<std::uint32_t>(std::max<std::int64_t>(hour, 0)));
  if (track_sketch) client_sketch.add(client);
}

void EntityStats::merge(const EntityStats& other) {
  queries += other.queries;
  clients.merge(other.clients);
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
  std::uint64_t network_v4 = 0, network_v6 = 0;
  if (record.client.family == 4) {
    std::uint8_t prefix[4] = {4, record.client.bytes[0], record.client.bytes[1], record.client.bytes[2]};
    network_v4 = XXH3_64bits(prefix, sizeof prefix);
  } else if (record.client.family == 6) {
    std::uint8_t prefix[8] = {6};
    std::memcpy(prefix + 1, record.client.bytes, 7);
    network_v6 = XXH3_64bits(prefix, sizeof prefix);
  }
  campaign_entity(result.rule.campaign)
      .add(record.time, client, network_v4, network_v6, state_.suspects_enabled);

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
  found->second->add(record.time, client, network_v4, network_v6, false);
  return true;
}

BeaconSummary summarize_beacons(const ClientSample& sample) {
  BeaconSummary summary;
  summary.sample_fraction = sample.fraction();
  std::vector<double> rates, active_hours;
  for (const auto& [client, activity] : sample.clients()) {
    if (activity.hours.empty()) continue;
    rates.push_back(static_cast<double>(activity.queries) / static_cast<double>(activity.hours.size()));
    active_hours.push_back(static_cast<double>(activity.hours.size()));
  }
  summary.sampled_clients = rates.size();
  if (rates.empty()) return summary;
  std::sort(rates.begin(), rates.end());
  std::sort(active_hours.begin(), active_hours.end());
  auto quantile = [](const std::vector<double>& sorted, double q) {
    double position = q * static_cast<double>(sorted.size() - 1);
    auto below = static_cast<std::size_t>(position);
    std::size_t above = std::min(below + 1, sorted.size() - 1);
    double weight = position - static_cast<double>(below);
    return sorted[below] * (1 - weight) + sorted[above] * weight;
  };
  summary.median_rate = quantile(rates, 0.5);
  summary.p90_rate = quantile(rates, 0.9);
  summary.max_rate = rates.back();
  summary.median_active_hours = quantile(active_hours, 0.5);
  // Too few clients make a noisy median: no NAT correction below kMinBeaconClients.
  if (rates.size() < kMinBeaconClients) return summary;
  double devices = 0;
  for (double rate : rates) {
    double behind = std::max(1.0, std::round(rate / summary.median_rate));
    if (behind >= 2) ++summary.multi_device_clients;
    devices += behind;
  }
  summary.devices_per_client = devices / static_cast<double>(rates.size());
  return summary;
}

DeviceEstimate estimate_devices(const EntityStats& entity, const BeaconSummary& beacons) {
  DeviceEstimate estimate;
  estimate.nat_factor = beacons.devices_per_client;
  for (const auto& [hour, bin] : entity.hours) {
    std::uint64_t clients = bin.clients.count();
    if (clients > estimate.low) {
      estimate.low = clients;
      estimate.peak_hour = hour * 3600;
    }
  }
  for (const auto& [day, bin] : entity.days) {
    std::uint64_t clients = bin.clients.count();
    if (clients > estimate.peak_daily_clients) {
      estimate.peak_daily_clients = clients;
      estimate.peak_day = day * 86400;
    }
  }
  auto scale = [&](std::uint64_t value) {
    return static_cast<std::uint64_t>(std::llround(static_cast<double>(value) * estimate.nat_factor));
  };
  estimate.middle = std::max(estimate.low, scale(estimate.peak_daily_clients));
  estimate.high = std::max(estimate.middle, scale(entity.clients.count()));
  return estimate;
}

}  // namespace dnsverdict
