// The background thread that makes hit counts durable and visible: every `interval`, early
// when the counters reach their memory budget, and once more at stop(), it drains the hit
// counters (hit_counters.h), merges the snapshot into the stats store (stats_store.h), and
// rewrites the Prometheus textfile (prometheus.h) from the store's last 25 hours. All of
// that I/O happens on this thread, never on the query path.
//
// Opening. The stats store and the client-hash key (client_hash.h; created beside the store
// when missing) are opened at start() and, while that fails (a folder not there yet or not
// writable, a key of another deployment), again at every interval. The counters start
// counting once both are open: the key is what they hash clients with.
//
// Failure never stops anything: a flush that cannot be stored (store not open, disk full,
// broken file) is counted (dnsverdict_stats_flush_errors_total) and its snapshot dropped, so
// memory stays bounded; the Prometheus file is still written. A run of failures is logged
// once (again only when the error changes), and the first success after it is logged.
//
// Thread safety: start(), stop() and the destructor from one controlling thread (the glue's
// init/deinit); the counters' accessors from any thread; flush_now() and request_flush() from
// any thread between start() and stop() (never concurrently with stop()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "hit_counters.h"
#include "prometheus.h"
#include "stats_store.h"

namespace dnsverdict {

class StatsFlusher {
 public:
  enum class Severity { kInfo, kWarning, kError };
  using Logger = std::function<void(Severity, const std::string&)>;

  struct Options {
    // Required; must outlive the flusher. The flusher gives the counters a callback into
    // itself (the budget's early flush): no hits once the flusher is destroyed.
    HitCounters* counters = nullptr;
    std::string stats_path;             // required: the stats store file
    std::string key_path;               // client-hash key file; "": stats_path + ".key"
    std::string prometheus_path;        // empty: no textfile
    std::string resolver;               // identity stored with each bucket (default: hostname)
    std::chrono::seconds interval{60};  // clamped to [1 s, 1 h]
    std::int64_t retention_days = 30;   // 0: keep forever
    std::size_t map_size = kDefaultStatsMapSize;
    // Module health for the Prometheus file, called on the flusher thread (must be
    // thread-safe: read atomics). Default: an empty ModuleHealth.
    std::function<ModuleHealth()> health;
    Logger logger;                        // default: silent
    std::function<std::int64_t()> clock;  // unix seconds (test seam); default: time()
  };

  StatsFlusher() = default;
  ~StatsFlusher();  // stop()
  StatsFlusher(const StatsFlusher&) = delete;
  StatsFlusher& operator=(const StatsFlusher&) = delete;

  // Tries to open the stats store once and starts the thread (which keeps trying while it
  // cannot). False with `error` only when the options are incomplete or the thread cannot
  // start; a store that cannot be opened yet is logged, not an error here.
  bool start(Options options, std::string& error) noexcept;

  // Wakes the thread, waits for its final flush, joins it. Idempotent; noexcept.
  void stop() noexcept;

  // One flush now, on the calling thread (serialized with the background one): opens the
  // store if it is not open yet, stores the counters' snapshot, writes the Prometheus file.
  // False with `error` when any of that failed. Requires a successful start().
  bool flush_now(std::string& error) noexcept;

  // Asks the thread for a flush as soon as it can (the counters' budget callback).
  void request_flush() noexcept;

  bool store_open() const noexcept { return store_open_.load(); }
  std::uint64_t flush_errors() const noexcept { return flush_errors_.load(); }
  std::uint64_t early_flushes() const noexcept { return early_flushes_.load(); }
  std::uint64_t map_full_events() const noexcept { return map_full_.load(); }
  std::int64_t last_flush() const noexcept { return last_flush_.load(); }
  bool running() const noexcept { return thread_.joinable(); }

 private:
  void run() noexcept;
  void open_store();
  void write_prometheus(std::int64_t time, const std::optional<CounterTotals>& totals);
  void note_failure(const std::string& error) noexcept;
  void note_success() noexcept;
  void log(Severity severity, const std::string& message) const noexcept;
  // Describes the exception being handled (any type) as "what: message"; call from a catch.
  static void set_error(std::string& error, const char* what) noexcept;
  std::int64_t now() const;

  Options options_;
  std::mutex flush_mutex_;  // one flush at a time; guards the members up to wake_mutex_
  std::optional<StatsStore> store_;
  StatsStore::Usage usage_;
  std::uint64_t failures_in_a_row_ = 0;  // since the store last worked (two flushes in a row)
  bool one_good_flush_ = false;           // failing, and the last flush succeeded
  std::string last_error_;
  bool map_full_logged_ = false;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;         // under wake_mutex_
  bool flush_requested_ = false;  // under wake_mutex_
  std::thread thread_;
  std::atomic<bool> store_open_{false};
  std::atomic<std::uint64_t> flush_errors_{0};
  std::atomic<std::uint64_t> early_flushes_{0};
  std::atomic<std::uint64_t> map_full_{0};
  std::atomic<std::uint64_t> pruned_for_room_{0};
  std::atomic<std::int64_t> last_flush_{0};
};

}  // namespace dnsverdict
