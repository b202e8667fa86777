#include "store_holder.h"

#include <lmdb.h>

#include <exception>
#include <utility>

#include "lmdb_handle.h"
#include "store_guard.h"

namespace dnsverdict {
namespace {

// The reference behind this thread's detail::holder_thread_cache (store_holder.h): the
// store stays alive while this thread may still use the raw pointer.
thread_local std::shared_ptr<const VerdictStore> thread_store;

std::atomic<std::uint64_t> next_instance{1};

std::string describe(const VerdictStore& store) {
  return store.path() + " build " + store.info().build_id + " (" +
         std::to_string(store.info().rule_count) + " rules)";
}

}  // namespace

void StoreHolder::warn_if_unverified(const VerdictStore& store) const {
  if (store.checksum().state == ChecksumState::kAbsent)
    log(Severity::kWarning, store.path() +
                                ": the store has no checksum (written by an older dnsverdict "
                                "compile): its pages were not verified; a damaged page can "
                                "crash the resolver. Recompile it to add one.");
}

StoreHolder::StoreHolder(Options options)
    : options_(std::move(options)), instance_(next_instance.fetch_add(1)) {
  if (!options_.opener) {
    options_.opener = [](const std::string& path) { return VerdictStore::open(path); };
  }
}

StoreHolder::~StoreHolder() { stop(); }

void StoreHolder::log(Severity severity, const std::string& message) const {
  if (options_.logger) options_.logger(severity, message);
}

void StoreHolder::publish(std::shared_ptr<const VerdictStore> store) {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  store_ = std::move(store);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

bool StoreHolder::load(std::string& error) {
  FileIdentity identity;
  if (!file_identity(options_.path, identity)) {
    error = options_.path + ": the store file is missing or unreadable";
    reported_missing_ = true;
    failed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  try {
    std::shared_ptr<const VerdictStore> store = options_.opener(options_.path);
    warn_if_unverified(*store);
    loaded_identity_ = store->identity();
    have_loaded_identity_ = true;
    publish(std::move(store));
    return true;
  } catch (const std::exception& failure) {
    error = failure.what();
  } catch (...) {
    error = options_.path + ": unknown error opening the store";
  }
  failed_identity_ = identity;
  have_failed_identity_ = true;
  failed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool StoreHolder::check() noexcept {
  try {
    FileIdentity identity;
    if (!file_identity(options_.path, identity)) {
      if (!reported_missing_) {
        reported_missing_ = true;
        log(Severity::kWarning, options_.path +
                                    ": the store file is gone; still answering from the store "
                                    "in use until a new one appears");
      }
      return false;
    }
    reported_missing_ = false;
    if (!reported_damaged_) {
      std::shared_ptr<const VerdictStore> in_use = current_shared();
      if (in_use && in_use->damaged()) {
        reported_damaged_ = true;
        log(Severity::kError, options_.path +
                                  ": the store in use was rewritten in place and a read of it "
                                  "faulted; it answers as empty (nothing listed) until a "
                                  "complete store is published by renaming a new file over "
                                  "the path");
      }
    }
    if (have_loaded_identity_ && identity == loaded_identity_) return false;
    // A refused file is tried again when it changes, its permissions included (a store made
    // readable by chmod is the same file with the same content).
    if (have_failed_identity_ && identity == failed_identity_ &&
        identity.changed_ns == failed_identity_.changed_ns)
      return false;
    if (have_loaded_identity_ && identity.device == loaded_identity_.device &&
        identity.inode == loaded_identity_.inode) {
      // The mapped file itself was rewritten (cp, an editor): readers of the mapping can fault
      // on a truncated page. Stores must be published by rename, as `dnsverdict compile` does.
      log(Severity::kError, options_.path +
                                ": the store in use was modified in place; publish stores by "
                                "renaming a new file over the path (dnsverdict compile -o does)");
    }

    std::shared_ptr<const VerdictStore> fresh;
    try {
      fresh = options_.opener(options_.path);
    } catch (const std::exception& failure) {
      failed_identity_ = identity;
      have_failed_identity_ = true;
      failed_.fetch_add(1, std::memory_order_relaxed);
      std::shared_ptr<const VerdictStore> kept = current_shared();
      log(Severity::kError, std::string("new store rejected: ") + failure.what() + "; " +
                                (kept ? "still answering from " + describe(*kept)
                                      : std::string("no store in use")));
      return false;
    }
    loaded_identity_ = fresh->identity();
    have_loaded_identity_ = true;
    have_failed_identity_ = false;
    reported_damaged_ = false;
    std::shared_ptr<const VerdictStore> previous = current_shared();
    publish(fresh);
    swaps_.fetch_add(1, std::memory_order_relaxed);
    log(Severity::kInfo, "store swapped in: " + describe(*fresh));
    warn_if_unverified(*fresh);
    if (options_.on_swap) options_.on_swap(fresh, previous);
    return true;
  } catch (...) {
    return false;  // out of memory while logging: try again next interval
  }
}

// The slow path of current(): the first call of a thread, or the first after a swap.
const VerdictStore* StoreHolder::refresh(std::uint64_t& generation) const noexcept {
  detail::HolderThreadCache& cache = detail::holder_thread_cache;
  allow_store_faults_in_this_thread();  // before this thread's first read of a store
  std::shared_ptr<const VerdictStore> previous;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(publish_mutex_);
    previous = std::move(thread_store);
    thread_store = store_;
    cache.store = thread_store.get();
    cache.generation = generation_.load(std::memory_order_relaxed);
    cache.instance = instance_;
  }
  generation = cache.generation;
  return cache.store;
}

std::shared_ptr<const VerdictStore> StoreHolder::current_shared() const {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  return store_;
}

bool StoreHolder::start() noexcept {
  try {
    std::lock_guard<std::mutex> lock(watcher_mutex_);
    if (watcher_.joinable()) return true;
    stopping_ = false;
    watcher_ = std::thread([this] { run_watcher(); });
    return true;
  } catch (...) {
    return false;
  }
}

void StoreHolder::stop() noexcept {
  {
    std::lock_guard<std::mutex> lock(watcher_mutex_);
    stopping_ = true;
  }
  watcher_wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void StoreHolder::run_watcher() noexcept {
  std::unique_lock<std::mutex> lock(watcher_mutex_);
  while (!stopping_) {
    watcher_wake_.wait_for(lock, options_.check_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    check();
    lock.lock();
  }
}

}  // namespace dnsverdict
