// Keeps a verdict store that is rewritten in place from crashing the process.
//
// Stores are published by renaming a new file over the path, and a mapped file then never
// changes. An operator who copies a store over the live one instead (`cp new.mdb
// verdicts.mdb`) truncates the very file the resolver has mapped: the next read of a page
// past the new end raises SIGBUS, which would kill the resolver before the store watcher
// notices the change. The guard catches that fault: a SIGBUS whose address lies in a watched
// mapping replaces the whole mapping with zero-filled anonymous memory and returns, so the
// read that faulted, and every later one, reads zeros. The store's views are bounds-checked
// against sizes kept outside the mapping, and zeros read as "not listed": lookups in that
// store miss until the watcher opens the rewritten file. Any other SIGBUS goes to the handler
// that was installed before (by default: the process dies, as it would have).
//
// Nothing runs on the query path: the cost is one table entry per open store.
//
// Thread safety: every function may be called from any thread; the handler is
// async-signal-safe (atomics, mmap and sigaction only).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dnsverdict {

// Installs the SIGBUS handler once per process (later calls do nothing). False when
// sigaction fails. The tools do not install it: a faulting store ends a command, as it should.
bool install_store_guard() noexcept;

// Unblocks SIGBUS in the calling thread (once per thread; later calls cost a thread-local
// read). A fault signal that is blocked kills the process whatever the handler, and Unbound
// starts its worker threads with every signal blocked: each thread that reads a store calls
// this before its first read.
void allow_store_faults_in_this_thread() noexcept;

// How many faults the guard has absorbed since the process started.
std::uint64_t store_guard_faults() noexcept;

// One watched mapping: registered by the constructor, released by the destructor (before the
// mapping goes away). Watching works whether or not the handler is installed.
class StoreGuardWatch {
 public:
  StoreGuardWatch() noexcept = default;
  // Watches [begin, begin + size). When every slot is taken the mapping is not watched
  // (watched() is false): the store works, unguarded.
  StoreGuardWatch(const void* begin, std::size_t size) noexcept;
  ~StoreGuardWatch();
  StoreGuardWatch(StoreGuardWatch&& other) noexcept;
  StoreGuardWatch& operator=(StoreGuardWatch&& other) noexcept;
  StoreGuardWatch(const StoreGuardWatch&) = delete;
  StoreGuardWatch& operator=(const StoreGuardWatch&) = delete;

  bool watched() const noexcept { return slot_ >= 0; }
  // True once a fault in this mapping was absorbed: it reads zeros from then on.
  bool faulted() const noexcept;

 private:
  void release() noexcept;
  int slot_ = -1;
};

}  // namespace dnsverdict
