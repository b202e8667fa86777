// Suspects: names that are not in the store but travel with a known campaign ("近朱者赤":
// names asked for by the same clients at the same times are likely part of it).
//
// For every registrable domain queried in the logs and not matched by the store, a
// SuspectTable keeps a NameProfile: queries, a bottom-k sketch of its clients (the k smallest
// client hashes: exact for up to k clients, a uniform sample beyond, and the classic MinHash
// estimator of Jaccard similarity between two sets) and its hourly query curve. A campaign
// keeps the same sketch of its own clients. rank_suspects() then scores each name by
//   score = jaccard(campaign clients, name clients) x (1 + max(0, pearson(hourly curves))) / 2
// Jaccard divides the shared clients by the *union*, so a top site every client asks for
// scores the campaign's share of the population, not 1. The lift normalises by popularity
// outright: the share of campaign clients that ask for the name divided by the share of all
// other clients that do. A top site has a lift near 1 (or below), a name only infected
// clients ask for a large one; names under SuspectOptions::min_lift are not listed.
//
// Memory: at most `max_names` profiles; when the table outgrows it, the half with the fewest
// queries is dropped (counted in evicted()). Only this eviction depends on the order of the
// input: without it, merged tables equal a single run's.
//
// Thread safety: none; values.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dnsverdict {

// The k smallest distinct 64-bit hashes seen.
class BottomK {
 public:
  static constexpr std::uint32_t kDefaultK = 256;
  BottomK() : k_(kDefaultK) {}
  explicit BottomK(std::uint32_t k) : k_(k) {}
  void add(std::uint64_t hash);
  void merge(const BottomK& other);
  // Distinct hashes: exact below k, else (k - 1) / (k-th smallest as a fraction of 2^64).
  double cardinality() const noexcept;
  const std::vector<std::uint64_t>& hashes() const noexcept { return hashes_; }  // ascending
  std::uint32_t k() const noexcept { return k_; }
  void serialize(std::string& out) const;
  bool deserialize(std::string_view& in);
  friend bool operator==(const BottomK& a, const BottomK& b) {
    return a.k_ == b.k_ && a.hashes_ == b.hashes_;
  }

 private:
  std::uint32_t k_;
  std::vector<std::uint64_t> hashes_;
};

// Jaccard similarity of the sets two bottom-k sketches summarise: over the k smallest hashes
// of the union, the fraction present in both. Exact when both sets have fewer than k members.
double estimate_jaccard(const BottomK& a, const BottomK& b);

// Pearson correlation of two hourly curves ((hour, queries), ascending hours), over every
// hour from the first to the last either one has; 0 when either is flat.
double hourly_correlation(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& a,
                          const std::vector<std::pair<std::uint32_t, std::uint64_t>>& b);

struct NameProfile {
  std::uint64_t queries = 0;
  BottomK clients;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> hours;  // ascending hours
  void add(std::uint64_t client, std::uint32_t hour);
  void merge(const NameProfile& other);
};

class SuspectTable {
 public:
  explicit SuspectTable(std::size_t max_names = 1u << 19) : max_names_(max_names) {}
  // `name`: the registrable domain (registrable_domain()), lowercase, no trailing dot.
  void add(std::string_view name, std::uint64_t client, std::uint32_t hour);
  void merge(const SuspectTable& other);
  const std::unordered_map<std::string, NameProfile>& names() const noexcept { return names_; }
  std::uint64_t evicted() const noexcept { return evicted_; }
  void serialize(std::string& out) const;
  bool deserialize(std::string_view& in);

 private:
  void evict();
  std::size_t max_names_;
  std::uint64_t evicted_ = 0;
  std::unordered_map<std::string, NameProfile> names_;
  std::string lookup_;  // reused key buffer
};

// The registrable domain of a query name, lowercased, without a trailing dot: the last two
// labels, or three under common two-letter-country second levels (com.cn, co.uk, ...). An
// approximation of the Public Suffix List, enough to group a site's names. Writes to `out`.
void registrable_domain(std::string_view name, std::string& out);

struct Suspect {
  std::string name;
  double score = 0;
  double jaccard = 0;
  double correlation = 0;
  double lift = 0;  // reach among campaign clients / reach among the other clients
  std::uint64_t clients = 0;         // distinct clients that asked for the name (estimate)
  std::uint64_t shared_clients = 0;  // of them, also campaign clients (estimate)
  std::uint64_t queries = 0;
};

struct SuspectOptions {
  std::size_t top = 20;
  std::uint64_t min_clients = 3;  // fewer shared clients is not evidence
  double min_score = 0.05;
  // Campaign clients must ask for the name at least this many times as often as the whole
  // population does: what everyone asks for is no evidence, however high its Jaccard.
  double min_lift = 2.0;
};

// The names most likely to belong with a campaign, best first.
std::vector<Suspect> rank_suspects(
    const BottomK& campaign_clients,
    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& campaign_hours,
    const SuspectTable& table, double total_clients, const SuspectOptions& options);

// Writes suspects as a CSV feed `dnsverdict compile` reads: action log (monitor mode),
// kind subtree, the campaign, confidence from the score, and the evidence as a comment line.
void write_suspects_feed(std::FILE* out, std::string_view campaign,
                         const std::vector<Suspect>& suspects, bool header);

}  // namespace dnsverdict
