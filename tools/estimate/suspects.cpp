#include "suspects.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "byte_codec.h"

namespace dnsverdict {

void BottomK::add(std::uint64_t hash) {
  if (hashes_.size() >= k_ && hash >= hashes_.back()) return;  // the common case when full
  auto at = std::lower_bound(hashes_.begin(), hashes_.end(), hash);
  if (at != hashes_.end() && *at == hash) return;
  hashes_.insert(at, hash);
  if (hashes_.size() > k_) hashes_.pop_back();
}

void BottomK::merge(const BottomK& other) {
  std::vector<std::uint64_t> merged;
  merged.reserve(std::min<std::size_t>(k_, hashes_.size() + other.hashes_.size()));
  std::set_union(hashes_.begin(), hashes_.end(), other.hashes_.begin(), other.hashes_.end(),
                 std::back_inserter(merged));
  if (merged.size() > k_) merged.resize(k_);
  hashes_ = std::move(merged);
}

double BottomK::cardinality() const noexcept {
  if (hashes_.size() < k_) return static_cast<double>(hashes_.size());
  double fraction = static_cast<double>(hashes_.back()) / 18446744073709551616.0;
  return fraction > 0 ? (k_ - 1) / fraction : static_cast<double>(k_);
}

void BottomK::serialize(std::string& out) const {
  codec::put_varint(out, k_);
  codec::put_varint(out, hashes_.size());
  std::uint64_t previous = 0;
  for (std::uint64_t hash : hashes_) {
    codec::put_varint(out, hash - previous);
    previous = hash;
  }
}

bool BottomK::deserialize(std::string_view& in) {
  std::uint64_t k, count, hash = 0;
  if (!codec::get_varint(in, k) || k == 0 || k > (1u << 20) || !codec::get_varint(in, count) ||
      count > k)
    return false;
  k_ = static_cast<std::uint32_t>(k);
  hashes_.clear();
  hashes_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t delta;
    if (!codec::get_varint(in, delta) || (i > 0 && delta == 0)) return false;
    hash += delta;
    hashes_.push_back(hash);
  }
  return true;
}

double estimate_jaccard(const BottomK& a, const BottomK& b) {
  const auto& x = a.hashes();
  const auto& y = b.hashes();
  if (x.empty() || y.empty()) return 0;
  std::size_t k = std::min(a.k(), b.k());
  // Walk the union in ascending order, k steps at most; count hashes in both.
  std::size_t i = 0, j = 0, seen = 0, both = 0;
  while (seen < k && (i < x.size() || j < y.size())) {
    if (j >= y.size() || (i < x.size() && x[i] < y[j])) {
      ++i;
    } else if (i >= x.size() || y[j] < x[i]) {
      ++j;
    } else {
      ++both, ++i, ++j;
    }
    ++seen;
    // A sketch that is full stops being a complete record of its set beyond its last hash.
    if ((x.size() >= a.k() && i == x.size()) || (y.size() >= b.k() && j == y.size())) break;
  }
  return seen == 0 ? 0 : static_cast<double>(both) / static_cast<double>(seen);
}

double hourly_correlation(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& a,
                          const std::vector<std::pair<std::uint32_t, std::uint64_t>>& b) {
  if (a.empty() || b.empty()) return 0;
  std::uint32_t first = std::min(a.front().first, b.front().first);
  std::uint32_t last = std::max(a.back().first, b.back().first);
  double n = static_cast<double>(last - first) + 1;
  if (n < 3) return 0;
  // Sums over the dense range; hours absent from a curve are zeros.
  auto moments = [](const auto& curve, double& sum, double& sum_squares) {
    sum = sum_squares = 0;
    for (const auto& [hour, count] : curve) {
      sum += static_cast<double>(count);
      sum_squares += static_cast<double>(count) * static_cast<double>(count);
    }
  };
  double sum_a, squares_a, sum_b, squares_b;
  moments(a, sum_a, squares_a);
  moments(b, sum_b, squares_b);
  double products = 0;
  for (std::size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i].first < b[j].first) ++i;
    else if (b[j].first < a[i].first) ++j;
    else products += static_cast<double>(a[i++].second) * static_cast<double>(b[j++].second);
  }
  double covariance = products - sum_a * sum_b / n;
  double variance_a = squares_a - sum_a * sum_a / n;
  double variance_b = squares_b - sum_b * sum_b / n;
  if (variance_a <= 0 || variance_b <= 0) return 0;
  return covariance / std::sqrt(variance_a * variance_b);
}

namespace {
void add_to_curve(std::vector<std::pair<std::uint32_t, std::uint64_t>>& curve, std::uint32_t hour,
                  std::uint64_t count) {
  if (!curve.empty() && curve.back().first == hour) {
    curve.back().second += count;
    return;
  }
  if (curve.empty() || curve.back().first < hour) {
    curve.emplace_back(hour, count);
    return;
  }
  auto at = std::lower_bound(curve.begin(), curve.end(), hour,
                             [](const auto& entry, std::uint32_t value) { return entry.first < value; });
  if (at != curve.end() && at->first == hour) at->second += count;
  else curve.insert(at, {hour, count});
}
}  // namespace

void NameProfile::add(std::uint64_t client, std::uint32_t hour) {
  ++queries;
  clients.add(client);
  add_to_curve(hours, hour, 1);
}

void NameProfile::merge(const NameProfile& other) {
  queries += other.queries;
  clients.merge(other.clients);
  for (const auto& [hour, count] : other.hours) add_to_curve(hours, hour, count);
}

void SuspectTable::add(std::string_view name, std::uint64_t client, std::uint32_t hour) {
  lookup_.assign(name);
  auto found = names_.find(lookup_);
  if (found == names_.end()) {
    if (names_.size() >= max_names_) evict();
    found = names_.emplace(lookup_, NameProfile{}).first;
  }
  found->second.add(client, hour);
}

void SuspectTable::evict() {
  std::vector<std::uint64_t> counts;
  counts.reserve(names_.size());
  for (const auto& [name, profile] : names_) counts.push_back(profile.queries);
  auto middle = counts.begin() + static_cast<std::ptrdiff_t>(counts.size() / 2);
  std::nth_element(counts.begin(), middle, counts.end());
  std::uint64_t median = *middle;
  for (auto it = names_.begin(); it != names_.end();) {
    if (it->second.queries <= median) {
      it = names_.erase(it);
      ++evicted_;
    } else {
      ++it;
    }
  }
}

void SuspectTable::merge(const SuspectTable& other) {
  evicted_ += other.evicted_;
  for (const auto& [name, profile] : other.names_) {
    auto found = names_.find(name);
    if (found == names_.end()) {
      if (names_.size() >= max_names_) evict();
      names_.emplace(name, profile);
    } else {
      found->second.merge(profile);
    }
  }
}

void SuspectTable::serialize(std::string& out) const {
  codec::put_varint(out, max_names_);
  codec::put_varint(out, evicted_);
  // Sorted by name: the same table always serializes to the same bytes.
  std::vector<const std::pair<const std::string, NameProfile>*> sorted;
  sorted.reserve(names_.size());
  for (const auto& entry : names_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  codec::put_varint(out, sorted.size());
  for (const auto* entry : sorted) {
    codec::put_string(out, entry->first);
    codec::put_varint(out, entry->second.queries);
    entry->second.clients.serialize(out);
    codec::put_varint(out, entry->second.hours.size());
    for (const auto& [hour, count] : entry->second.hours) {
      codec::put_varint(out, hour);
      codec::put_varint(out, count);
    }
  }
}

bool SuspectTable::deserialize(std::string_view& in) {
  std::uint64_t max_names, evicted, count;
  if (!codec::get_varint(in, max_names) || !codec::get_varint(in, evicted) ||
      !codec::get_varint(in, count) || count > in.size())
    return false;
  max_names_ = static_cast<std::size_t>(max_names);
  evicted_ = evicted;
  names_.clear();
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string_view name;
    NameProfile profile;
    std::uint64_t hours;
    if (!codec::get_string(in, name) || !codec::get_varint(in, profile.queries) ||
        !profile.clients.deserialize(in) || !codec::get_varint(in, hours) || hours > in.size())
      return false;
    for (std::uint64_t h = 0; h < hours; ++h) {
      std::uint64_t hour, queries;
      if (!codec::get_varint(in, hour) || !codec::get_varint(in, queries) || hour > UINT32_MAX)
        return false;
      profile.hours.emplace_back(static_cast<std::uint32_t>(hour), queries);
    }
    names_.emplace(std::string(name), std::move(profile));
  }
  return true;
}

void registrable_domain(std::string_view name, std::string& out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::size_t last_dot = name.rfind('.');
  std::size_t start = 0;
  if (last_dot != std::string_view::npos && last_dot > 0) {
    std::size_t second_dot = name.rfind('.', last_dot - 1);
    std::size_t second_start = second_dot == std::string_view::npos ? 0 : second_dot + 1;
    start = second_start;
    std::string_view top = name.substr(last_dot + 1);
    std::string_view second = name.substr(second_start, last_dot - second_start);
    if (top.size() == 2 && second_dot != std::string_view::npos && second_dot > 0) {
      static constexpr std::string_view kCountrySeconds[] = {"com", "net", "org", "gov", "edu",
                                                             "co",  "ac",  "or",  "ne",  "go"};
      for (std::string_view level : kCountrySeconds) {
        if (second.size() != level.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < level.size(); ++i)
          same = same && (second[i] | 0x20) == level[i];
        if (same) {
          std::size_t third_dot = name.rfind('.', second_dot - 1);
          start = third_dot == std::string_view::npos ? 0 : third_dot + 1;
          break;
        }
      }
    }
  }
  out.assign(name.substr(start));
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

std::vector<Suspect> rank_suspects(
    const BottomK& campaign_clients,
    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& campaign_hours,
    const SuspectTable& table, double total_clients, const SuspectOptions& options) {
  std::vector<Suspect> suspects;
  double campaign_size = campaign_clients.cardinality();
  if (campaign_size <= 0) return suspects;
  for (const auto& [name, profile] : table.names()) {
    double jaccard = estimate_jaccard(campaign_clients, profile.clients);
    if (jaccard <= 0) continue;
    double name_size = profile.clients.cardinality();
    // |A ∩ B| = J |A ∪ B| and |A ∪ B| = (|A| + |B|) / (1 + J).
    double shared = jaccard * (campaign_size + name_size) / (1 + jaccard);
    if (shared + 0.5 < static_cast<double>(options.min_clients)) continue;
    Suspect suspect;
    suspect.name = name;
    suspect.jaccard = jaccard;
    suspect.correlation = hourly_correlation(campaign_hours, profile.hours);
    suspect.score = jaccard * (1 + std::max(0.0, suspect.correlation)) / 2;
    if (suspect.score < options.min_score) continue;
    suspect.clients = static_cast<std::uint64_t>(name_size + 0.5);
    suspect.shared_clients = static_cast<std::uint64_t>(shared + 0.5);
    suspect.queries = profile.queries;
    // Reach among the campaign's clients over reach among the other clients (at least half a
    // client's worth, so a name only campaign clients ask for has a large, finite lift).
    double others = std::max(total_clients - campaign_size, 1.0);
    double outside_reach = std::max(name_size - shared, 0.5) / others;
    suspect.lift = (shared / campaign_size) / outside_reach;
    if (suspect.lift < options.min_lift) continue;
    suspects.push_back(std::move(suspect));
  }
  std::sort(suspects.begin(), suspects.end(), [](const Suspect& a, const Suspect& b) {
    return a.score != b.score ? a.score > b.score : a.name < b.name;
  });
  if (suspects.size() > options.top) suspects.resize(options.top);
  return suspects;
}

void write_suspects_feed(std::FILE* out, std::string_view campaign,
                         const std::vector<Suspect>& suspects, bool header) {
  if (header) {
    fmt::print(out,
               "# Suspects from `dnsverdict estimate --suspects`: names that travel with a\n"
               "# campaign. Action log (monitor mode): review before blocking.\n"
               "domain,action,kind,campaign,confidence\n");
  }
  for (const Suspect& suspect : suspects) {
    fmt::print(out, "# {}: score {:.3f}, jaccard {:.3f}, hourly correlation {:.3f}, lift {:.1f}, "
                    "{} shared of {} clients, {} queries\n",
               suspect.name, suspect.score, suspect.jaccard, suspect.correlation, suspect.lift,
               suspect.shared_clients, suspect.clients, suspect.queries);
    std::string campaign_field(campaign);
    if (campaign_field.find_first_of(",\"") != std::string::npos) {
      std::string quoted = "\"";
      for (char c : campaign_field) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      campaign_field = quoted + "\"";
    }
    fmt::print(out, "{},log,subtree,{},{}\n", suspect.name, campaign_field,
               std::clamp(static_cast<int>(std::lround(suspect.score * 100)), 1, 100));
  }
}

}  // namespace dnsverdict
