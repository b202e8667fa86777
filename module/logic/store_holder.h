// Holds the verdict store the module answers from, and swaps in a new one without stopping
// queries.
//
// A watcher thread stats the store path every check interval. When another file has been
// renamed into place (module/store/verdict_store.h file_identity), it opens and checks the new
// store off the query path and publishes it. A file that does not open (its checksum does not
// match, among others: verdict_store.h) is reported once per file identity, and the last good
// store stays in use. A store without a checksum is used, with one warning when it is loaded.
//
// The query path (current()) takes no lock: it compares a global atomic generation with a
// per-thread copy, and only after a swap does each thread take the publish mutex once to copy
// the new shared_ptr. An old store is released when the last thread that used it has moved
// on to the new one (or exits).
//
// Thread safety: current(), generation() and healthy() may be called from any number of
// threads; start()/stop() and the constructor/destructor from one controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "verdict_store.h"

namespace dnsverdict {

class StoreHolder {
 public:
  enum class Severity { kInfo, kWarning, kError };
  using Logger = std::function<void(Severity, const std::string&)>;
  // Called on the watcher thread after a new store is published (never for the first one
  // loaded by load()). `fresh` is the store now in use; `previous` may be null.
  using SwapListener = std::function<void(const std::shared_ptr<const VerdictStore>& fresh,
                                          const std::shared_ptr<const VerdictStore>& previous)>;
  // Test seam for opening a store (default: VerdictStore::open).
  using Opener = std::function<std::shared_ptr<const VerdictStore>(const std::string& path)>;

  struct Options {
    std::string path;
    std::chrono::milliseconds check_interval{1000};
    Logger logger;            // default: silent
    SwapListener on_swap;     // default: none
    Opener opener;            // default: VerdictStore::open
  };

  explicit StoreHolder(Options options);
  ~StoreHolder();  // stops the watcher
  StoreHolder(const StoreHolder&) = delete;
  StoreHolder& operator=(const StoreHolder&) = delete;

  // Opens the store at start. Returns true when a store is in use; false (and `error`) when
  // the file is missing or unusable, in which case the watcher keeps trying.
  bool load(std::string& error);

  // Starts the watcher thread; false when the thread cannot be started.
  bool start() noexcept;
  void stop() noexcept;

  // Checks the path once (what the watcher does every interval): returns true when a new
  // store was published. Never throws.
  bool check() noexcept;

  // The store in use, or null when none could be opened yet. Lock-free on the query path;
  // the pointer stays valid until this thread next calls current() on this holder.
  const VerdictStore* current() const noexcept {
    std::uint64_t generation = 0;
    return current(generation);
  }
  // The same, and the generation of that very store (read together: a swap between two
  // separate calls would pair an old store with a new generation). Inline: on the query
  // path it is one thread-local read and one atomic load.
  const VerdictStore* current(std::uint64_t& generation) const noexcept;
  // The same as a shared_ptr (takes the publish mutex: not for the query path).
  std::shared_ptr<const VerdictStore> current_shared() const;

  // Increases with every published store (0: none yet).
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  std::uint64_t swaps() const noexcept { return swaps_.load(std::memory_order_relaxed); }
  std::uint64_t failed_loads() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  const VerdictStore* refresh(std::uint64_t& generation) const noexcept;
  void publish(std::shared_ptr<const VerdictStore> store);
  void log(Severity severity, const std::string& message) const;
  void warn_if_unverified(const VerdictStore& store) const;
  void run_watcher() noexcept;

  Options options_;
  const std::uint64_t instance_;  // tells per-thread caches of different holders apart

  mutable std::mutex publish_mutex_;  // guards store_; taken once per thread per swap
  std::shared_ptr<const VerdictStore> store_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> swaps_{0};
  std::atomic<std::uint64_t> failed_{0};

  // Watcher-thread state.
  FileIdentity loaded_identity_;
  bool have_loaded_identity_ = false;
  FileIdentity failed_identity_;  // the last file that did not open (reported once)
  bool have_failed_identity_ = false;
  bool reported_missing_ = false;
  bool reported_damaged_ = false;

  std::mutex watcher_mutex_;
  std::condition_variable watcher_wake_;
  bool stopping_ = false;
  std::thread watcher_;
};

namespace detail {

// One per thread: the store this thread last took from a holder (its reference is kept
// apart, in store_holder.cpp, so that this stays trivial: no guard or wrapper call on
// access). initial-exec: the module is dlopen'ed, and the default model for a shared object
// would call __tls_get_addr on every access; these 24 octets come from glibc's static TLS
// surplus for dlopen'ed objects.
struct HolderThreadCache {
  std::uint64_t instance = 0;
  std::uint64_t generation = 0;
  const VerdictStore* store = nullptr;
};
inline thread_local HolderThreadCache holder_thread_cache
    __attribute__((tls_model("initial-exec")));

}  // namespace detail

inline const VerdictStore* StoreHolder::current(std::uint64_t& generation) const noexcept {
  const detail::HolderThreadCache& cache = detail::holder_thread_cache;
  if (cache.instance == instance_ &&
      cache.generation == generation_.load(std::memory_order_acquire)) {
    generation = cache.generation;
    return cache.store;
  }
  return refresh(generation);
}

}  // namespace dnsverdict
