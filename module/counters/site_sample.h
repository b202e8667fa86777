// A small, bounded sample of the sites that hit a campaign in one hour, with what each did:
// its queries and which of the hour's 64 slots (56.25 s each) they fell in, and for an IPv6
// site a few of its addresses. `dnsverdict stats` feeds the samples of a window to the device
// model of `dnsverdict estimate` (tools/estimate/device_estimate.h), which learns what one
// device looks like from the sites that beacon alone; the module itself runs no model.
//
// A site is an IPv4 address or an IPv6 /64 (the temporary addresses a device rotates through
// stay in its /64). The sample keeps the sites whose keyed hash is at most a threshold; when
// it outgrows kSiteSampleLimit the threshold halves. The same site has the same hash in every
// hour and at every resolver sharing the key, so samples merged at the smallest threshold are
// one uniform sample of the sites, followed through the hours: the result depends only on the
// hits, never on their order or on how they were split over threads, flushes or resolvers.
//
// Cost on the hit path: one comparison for a site outside the sample; a binary search over at
// most kSiteSampleLimit entries for one inside it.
//
// Thread safety: none; a value type (each shard has its own).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

inline constexpr std::size_t kSiteSampleLimit = 512;      // sites per sample at most
inline constexpr std::size_t kSampledSiteAddresses = 4;  // IPv6 addresses kept per site
inline constexpr std::uint32_t kSiteSlotsPerHour = 64;

// The slot of the hour `unix_seconds` falls in (0..63).
inline std::uint32_t slot_of(std::int64_t unix_seconds) noexcept {
  std::int64_t second = unix_seconds % 3600;
  if (second < 0) second += 3600;
  return static_cast<std::uint32_t>(second * kSiteSlotsPerHour / 3600);
}

struct SampledSite {
  std::uint64_t site = 0;     // the site's keyed hash
  std::uint32_t queries = 0;  // saturates at UINT32_MAX
  std::uint64_t slots = 0;    // bit i: a query in slot i
  // IPv6 sites: the smallest address hashes seen, ascending; 0 marks an unused entry.
  std::uint64_t addresses[kSampledSiteAddresses] = {};

  std::size_t address_count() const noexcept;
  void add_address(std::uint64_t address) noexcept;
  bool operator==(const SampledSite& other) const noexcept;
};

class SiteSample {
 public:
  // One query of `site` in `slot`; `address` is the address hash for an IPv6 site, else 0.
  // Allocates only when a new site enters the sample (then it may throw std::bad_alloc, the
  // sample unchanged); with `may_grow` false it leaves a new site out and returns false.
  bool add(std::uint64_t site, std::uint32_t slot, std::uint64_t address, bool may_grow = true) {
    if (site > threshold_) return true;
    return add_sampled(site, slot, address, may_grow);
  }
  // Union at the smaller threshold: queries summed, slots and addresses joined.
  void merge(const SiteSample& other);
  // Drops the sites above `threshold` (when it is below the sample's own).
  void restrict_to(std::uint64_t threshold);

  // The sample keeps the sites whose hash is at most this (UINT64_MAX: every site).
  std::uint64_t threshold() const noexcept { return threshold_; }
  const std::vector<SampledSite>& sites() const noexcept { return sites_; }  // ascending site
  bool empty() const noexcept { return sites_.empty() && threshold_ == UINT64_MAX; }
  std::size_t memory_bytes() const noexcept { return sites_.capacity() * sizeof(SampledSite); }

  // u64 threshold, u16 count, then per site: u64 site, u32 queries, u64 slots, u8 address
  // count, that many u64 addresses. Little-endian.
  void serialize(std::string& out) const;
  // Reads what serialize() wrote at the start of `in`, advancing it. False when malformed
  // (sites not ascending or above the threshold, too many sites or addresses).
  bool deserialize(std::string_view& in);

  bool operator==(const SiteSample& other) const noexcept {
    return threshold_ == other.threshold_ && sites_ == other.sites_;
  }

 private:
  bool add_sampled(std::uint64_t site, std::uint32_t slot, std::uint64_t address, bool may_grow);
  void shrink();

  std::uint64_t threshold_ = UINT64_MAX;
  std::vector<SampledSite> sites_;  // ascending site
};

}  // namespace dnsverdict
