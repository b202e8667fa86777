#include "client_set.h"

#include <algorithm>

#include "byte_codec.h"

namespace dnsverdict {

ClientSet::ClientSet(const ClientSet& other)
    : limit_(other.limit_),
      slots_(other.slots_),
      size_(other.size_),
      has_zero_(other.has_zero_),
      sketch_(other.sketch_ ? std::make_unique<HyperLogLog>(*other.sketch_) : nullptr) {}

ClientSet& ClientSet::operator=(const ClientSet& other) {
  if (this != &other) *this = ClientSet(other);
  return *this;
}

void ClientSet::add(std::uint64_t hash) {
  if (sketch_) {
    sketch_->add_hash(hash);
    return;
  }
  insert_exact(hash);
  if (size_ + (has_zero_ ? 1 : 0) > limit_) switch_to_sketch();
}

void ClientSet::insert_exact(std::uint64_t hash) {
  if (hash == 0) {
    has_zero_ = true;
    return;
  }
  if ((size_ + 1) * 2 > slots_.size()) grow();
  std::size_t mask = slots_.size() - 1;
  // The hashes are already uniform: their low bits index the table directly.
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return;
    if (slots_[i] == 0) {
      slots_[i] = hash;
      ++size_;
      return;
    }
  }
}

void ClientSet::grow() {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 8 : old.size() * 2, 0);
  size_ = 0;
  for (std::uint64_t hash : old)
    if (hash != 0) insert_exact(hash);
}

bool ClientSet::contains(std::uint64_t hash) const noexcept {
  if (sketch_) return false;
  if (hash == 0) return has_zero_;
  if (slots_.empty()) return false;
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return true;
    if (slots_[i] == 0) return false;
  }
}

void ClientSet::switch_to_sketch() {
  auto sketch = std::make_unique<HyperLogLog>();
  for_each([&](std::uint64_t hash) { sketch->add_hash(hash); });
  sketch_ = std::move(sketch);
  slots_.clear();
  slots_.shrink_to_fit();
  size_ = 0;
  has_zero_ = false;
}

void ClientSet::merge(const ClientSet& other) {
  if (other.sketch_) {
    if (!sketch_) switch_to_sketch();
    sketch_->merge(*other.sketch_);
    return;
  }
  other.for_each([&](std::uint64_t hash) { add(hash); });
}

std::uint64_t ClientSet::count() const noexcept {
  if (sketch_) return static_cast<std::uint64_t>(sketch_->estimate() + 0.5);
  return size_ + (has_zero_ ? 1 : 0);
}

std::size_t ClientSet::memory_bytes() const noexcept {
  return sizeof *this + slots_.capacity() * sizeof(std::uint64_t) +
         (sketch_ ? sketch_->memory_bytes() : 0);
}

// u8 kind (0 exact, 1 sketch), varint limit; exact: varint count, count x u64 ascending;
// sketch: HyperLogLog::serialize() as a length-prefixed string.
void ClientSet::serialize(std::string& out) const {
  codec::put_u8(out, sketch_ ? 1 : 0);
  codec::put_varint(out, limit_);
  if (sketch_) {
    codec::put_string(out, sketch_->serialize());
    return;
  }
  std::vector<std::uint64_t> hashes;
  hashes.reserve(count());
  for_each([&](std::uint64_t hash) { hashes.push_back(hash); });
  std::sort(hashes.begin(), hashes.end());
  codec::put_varint(out, hashes.size());
  std::uint64_t previous = 0;
  for (std::uint64_t hash : hashes) {  // deltas of sorted hashes: a little shorter
    codec::put_varint(out, hash - previous);
    previous = hash;
  }
}

bool ClientSet::deserialize(std::string_view& in) {
  std::uint8_t kind;
  std::uint64_t limit;
  if (!codec::get_u8(in, kind) || !codec::get_varint(in, limit) || limit > UINT32_MAX) return false;
  *this = ClientSet(static_cast<std::uint32_t>(limit));
  if (kind == 1) {
    std::string_view bytes;
    auto sketch = std::make_unique<HyperLogLog>();
    if (!codec::get_string(in, bytes) || !HyperLogLog::deserialize(bytes, *sketch)) return false;
    sketch_ = std::move(sketch);
    return true;
  }
  if (kind != 0) return false;
  std::uint64_t count, hash = 0;
  if (!codec::get_varint(in, count) || count > limit || count > in.size()) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t delta;
    if (!codec::get_varint(in, delta)) return false;
    hash += delta;
    insert_exact(hash);
  }
  return true;
}

bool operator==(const ClientSet& a, const ClientSet& b) {
  if (a.exact() != b.exact() || a.count() != b.count()) return false;
  if (!a.exact()) return *a.sketch_ == *b.sketch_;
  bool same = true;
  a.for_each([&](std::uint64_t hash) { same = same && b.contains(hash); });
  return same;
}

}  // namespace dnsverdict
