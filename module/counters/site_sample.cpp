#include "site_sample.h"

#include <algorithm>

namespace dnsverdict {
namespace {

void put_number(std::string& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

bool get_number(std::string_view& in, std::uint64_t& value, std::size_t size) {
  if (in.size() < size) return false;
  value = 0;
  for (std::size_t i = 0; i < size; ++i)
    value |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  in.remove_prefix(size);
  return true;
}

bool site_below(const SampledSite& entry, std::uint64_t site) { return entry.site < site; }

}  // namespace

std::size_t SampledSite::address_count() const noexcept {
  std::size_t count = 0;
  while (count < kSampledSiteAddresses && addresses[count] != 0) ++count;
  return count;
}

void SampledSite::add_address(std::uint64_t address) noexcept {
  if (address == 0) return;
  std::size_t count = address_count();
  std::size_t at = 0;
  while (at < count && addresses[at] < address) ++at;
  if (at < count && addresses[at] == address) return;
  if (at == kSampledSiteAddresses) return;  // larger than every kept one
  std::size_t last = std::min(count, kSampledSiteAddresses - 1);
  for (std::size_t i = last; i > at; --i) addresses[i] = addresses[i - 1];
  addresses[at] = address;
}

bool SampledSite::operator==(const SampledSite& other) const noexcept {
  return site == other.site && queries == other.queries && slots == other.slots &&
         std::equal(addresses, addresses + kSampledSiteAddresses, other.addresses);
}

bool SiteSample::add_sampled(std::uint64_t site, std::uint32_t slot, std::uint64_t address,
                             bool may_grow) {
  auto at = std::lower_bound(sites_.begin(), sites_.end(), site, site_below);
  if (at == sites_.end() || at->site != site) {
    if (sites_.size() == sites_.capacity()) {
      if (!may_grow) return false;
      // Grows as a vector does, but never past the one entry over the limit that shrink()
      // takes back.
      const std::size_t index = static_cast<std::size_t>(at - sites_.begin());
      sites_.reserve(std::min(std::max<std::size_t>(2 * sites_.size(), 4), kSiteSampleLimit + 1));
      at = sites_.begin() + static_cast<std::ptrdiff_t>(index);
    }
    at = sites_.insert(at, SampledSite{});
    at->site = site;
  }
  if (at->queries != UINT32_MAX) ++at->queries;
  at->slots |= std::uint64_t{1} << (slot % kSiteSlotsPerHour);
  at->add_address(address);
  if (sites_.size() > kSiteSampleLimit) shrink();
  return true;
}

void SiteSample::shrink() {
  while (sites_.size() > kSiteSampleLimit) restrict_to(threshold_ >> 1);
}

void SiteSample::restrict_to(std::uint64_t threshold) {
  if (threshold >= threshold_) return;
  threshold_ = threshold;
  sites_.erase(std::upper_bound(sites_.begin(), sites_.end(), threshold,
                                [](std::uint64_t value, const SampledSite& entry) {
                                  return value < entry.site;
                                }),
               sites_.end());
}

void SiteSample::merge(const SiteSample& other) {
  restrict_to(other.threshold_);
  std::vector<SampledSite> joined;
  joined.reserve(sites_.size() + other.sites_.size());
  auto mine = sites_.begin();
  for (const SampledSite& theirs : other.sites_) {
    if (theirs.site > threshold_) break;
    while (mine != sites_.end() && mine->site < theirs.site) joined.push_back(*mine++);
    if (mine != sites_.end() && mine->site == theirs.site) {
      SampledSite both = *mine++;
      both.queries = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(std::uint64_t{both.queries} + theirs.queries, UINT32_MAX));
      both.slots |= theirs.slots;
      for (std::size_t i = 0; i < theirs.address_count(); ++i)
        both.add_address(theirs.addresses[i]);
      joined.push_back(both);
    } else {
      joined.push_back(theirs);
    }
  }
  joined.insert(joined.end(), mine, sites_.end());
  sites_ = std::move(joined);
  shrink();
}

void SiteSample::serialize(std::string& out) const {
  put_number(out, threshold_, 8);
  put_number(out, sites_.size(), 2);
  for (const SampledSite& entry : sites_) {
    put_number(out, entry.site, 8);
    put_number(out, entry.queries, 4);
    put_number(out, entry.slots, 8);
    std::size_t count = entry.address_count();
    put_number(out, count, 1);
    for (std::size_t i = 0; i < count; ++i) put_number(out, entry.addresses[i], 8);
  }
}

bool SiteSample::deserialize(std::string_view& in) {
  SiteSample decoded;
  std::uint64_t count = 0;
  if (!get_number(in, decoded.threshold_, 8) || !get_number(in, count, 2) ||
      count > kSiteSampleLimit)
    return false;
  decoded.sites_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    SampledSite entry;
    std::uint64_t queries = 0, addresses = 0;
    if (!get_number(in, entry.site, 8) || !get_number(in, queries, 4) ||
        !get_number(in, entry.slots, 8) || !get_number(in, addresses, 1) ||
        addresses > kSampledSiteAddresses || entry.site > decoded.threshold_ ||
        (!decoded.sites_.empty() && decoded.sites_.back().site >= entry.site))
      return false;
    entry.queries = static_cast<std::uint32_t>(queries);
    for (std::uint64_t a = 0; a < addresses; ++a) {
      if (!get_number(in, entry.addresses[a], 8) || entry.addresses[a] == 0 ||
          (a > 0 && entry.addresses[a] <= entry.addresses[a - 1]))
        return false;
    }
    decoded.sites_.push_back(entry);
  }
  *this = std::move(decoded);
  return true;
}

}  // namespace dnsverdict
