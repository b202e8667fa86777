#include "pass_memo.h"

#include <sys/mman.h>

#include <new>
#include <type_traits>

namespace dnsverdict {

static_assert(std::is_trivially_default_constructible_v<PassMemo> &&
                  std::is_trivially_destructible_v<PassMemo>,
              "zero pages are an empty memo only if nothing needs constructing");

PassMemo::Pointer PassMemo::allocate() noexcept {
  void* memory = mmap(nullptr, sizeof(PassMemo), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  // Default-initialized: nothing is written, the zero pages are the empty slots.
  return Pointer(new (memory) PassMemo);
}

void PassMemo::Unmap::operator()(PassMemo* memo) const noexcept {
  if (memo != nullptr) munmap(memo, sizeof(PassMemo));
}

}  // namespace dnsverdict
