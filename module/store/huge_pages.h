// Transparent huge pages for the compiler's big buffers.
//
// A compile touches a few hundred megabytes once (drafts, sort entries, records, the heap
// and index being built). In 4 KiB pages that is one page fault per 4 KiB, and on a VM each
// fault is dear: at 1M rules they were a third of the compile's CPU time. Linux backs a
// region with 2 MiB pages on the first touch when asked (MADV_HUGEPAGE; the default
// "transparent_hugepage=madvise" does nothing without it). Writer-side only: the reader maps
// the store file, which this does not apply to.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace dnsverdict {

// Advises the whole 2 MiB pages inside [data, data + size). Call it before the memory is
// first written (a vector: reserve, advise, then fill). A hint: failures are ignored.
inline void advise_huge_pages(const void* data, std::size_t size) noexcept {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  auto start = reinterpret_cast<std::uintptr_t>(data);
  std::uintptr_t begin = (start + kHugePage - 1) & ~(kHugePage - 1);
  std::uintptr_t end = (start + size) & ~(kHugePage - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// Reserves room for `count` elements in `items` and advises it.
template <typename Vector>
void reserve_huge(Vector& items, std::size_t count) {
  items.reserve(count);
  advise_huge_pages(items.data(), items.capacity() * sizeof(*items.data()));
}

}  // namespace dnsverdict
