#include "store_guard.h"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <mutex>

namespace dnsverdict {
namespace {

// A process holds few stores at once (the one in use, the one being swapped in, and old
// ones until every thread has moved on): a small fixed table the handler can scan.
inline constexpr int kSlots = 32;

enum SlotState : int { kFree = 0, kClaimed = 1, kActive = 2 };

struct Slot {
  std::atomic<int> state{kFree};
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::size_t> size{0};
  std::atomic<bool> faulted{false};
};

Slot slots[kSlots];
std::atomic<std::uint64_t> fault_count{0};
struct sigaction previous_action;
std::once_flag install_once;
bool installed = false;

// Passes a SIGBUS that is not ours on to whoever handled it before.
void pass_on(int signal, siginfo_t* info, void* context) {
  if ((previous_action.sa_flags & SA_SIGINFO) != 0) {
    if (previous_action.sa_sigaction != nullptr) {
      previous_action.sa_sigaction(signal, info, context);
      return;
    }
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signal);
    return;
  }
  // The default action: restore it and return; the faulting access runs again and the
  // kernel delivers the signal to the default disposition (the process ends with a core).
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(SIGBUS, &fallback, nullptr);
}

void on_sigbus(int signal, siginfo_t* info, void* context) {
  auto address = reinterpret_cast<std::uintptr_t>(info != nullptr ? info->si_addr : nullptr);
  for (Slot& slot : slots) {
    if (slot.state.load(std::memory_order_acquire) != kActive) continue;
    std::uintptr_t begin = slot.begin.load(std::memory_order_relaxed);
    std::size_t size = slot.size.load(std::memory_order_relaxed);
    if (address < begin || address - begin >= size) continue;
    // Zeros over the whole mapping: every later read of this store reads zeros, none of
    // them faults, and nothing of a half-written file is ever seen through it.
    void* mapped = mmap(reinterpret_cast<void*>(begin), size, PROT_READ,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mapped == MAP_FAILED) break;
    slot.faulted.store(true, std::memory_order_release);
    fault_count.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pass_on(signal, info, context);
}

}  // namespace

bool install_store_guard() noexcept {
  std::call_once(install_once, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    installed = sigaction(SIGBUS, &action, &previous_action) == 0;
  });
  return installed;
}

void allow_store_faults_in_this_thread() noexcept {
  thread_local bool allowed = false;
  if (allowed) return;
  allowed = true;
  sigset_t faults;
  sigemptyset(&faults);
  sigaddset(&faults, SIGBUS);
  pthread_sigmask(SIG_UNBLOCK, &faults, nullptr);
}

std::uint64_t store_guard_faults() noexcept {
  return fault_count.load(std::memory_order_relaxed);
}

StoreGuardWatch::StoreGuardWatch(const void* begin, std::size_t size) noexcept {
  if (begin == nullptr || size == 0) return;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!slots[i].state.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) {
      continue;
    }
    slots[i].begin.store(reinterpret_cast<std::uintptr_t>(begin), std::memory_order_relaxed);
    slots[i].size.store(size, std::memory_order_relaxed);
    slots[i].faulted.store(false, std::memory_order_relaxed);
    slots[i].state.store(kActive, std::memory_order_release);
    slot_ = i;
    return;
  }
}

StoreGuardWatch::~StoreGuardWatch() { release(); }

StoreGuardWatch::StoreGuardWatch(StoreGuardWatch&& other) noexcept : slot_(other.slot_) {
  other.slot_ = -1;
}

StoreGuardWatch& StoreGuardWatch::operator=(StoreGuardWatch&& other) noexcept {
  if (this != &other) {
    release();
    slot_ = other.slot_;
    other.slot_ = -1;
  }
  return *this;
}

bool StoreGuardWatch::faulted() const noexcept {
  return slot_ >= 0 && slots[slot_].faulted.load(std::memory_order_acquire);
}

void StoreGuardWatch::release() noexcept {
  if (slot_ < 0) return;
  Slot& slot = slots[slot_];
  slot.state.store(kClaimed, std::memory_order_release);
  slot.begin.store(0, std::memory_order_relaxed);
  slot.size.store(0, std::memory_order_relaxed);
  slot.state.store(kFree, std::memory_order_release);
  slot_ = -1;
}

}  // namespace dnsverdict
