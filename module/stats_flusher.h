// The background thread that makes hit counts durable and visible: every `interval` and
// once more at stop(), it drains the hit counters (hit_counters.h), merges the snapshot into
// the stats store (stats_store.h), and rewrites the Prometheus textfile (prometheus.h) from
// the store's last 25 hours. All of that I/O happens on this thread, never on the query path.
//
// Failure: a flush that cannot be stored (disk full, map full, broken file) is logged and
// counted (flush_errors(), dnsverdict_stats_flush_errors_total); its snapshot is dropped so
// memory stays bounded. A Prometheus file that cannot be written is logged; the next flush
// tries again.
//
// Thread safety: start(), stop() and the destructor from one controlling thread (the glue's
// init/deinit); flush_errors() and last_flush() from any thread; flush_now() from any thread
// between start() and stop() (never concurrently with stop()).
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
    HitCounters* counters = nullptr;    // required; must outlive the flusher
    std::string stats_path;             // required: the stats store file
    std::string prometheus_path;        // empty: no textfile
    std::string resolver;               // identity stored with each bucket (default: hostname)
    std::chrono::seconds interval{60};  // clamped to [1 s, 1 h]
    std::int64_t retention_days = 30;   // 0: keep forever
    std::size_t map_size = std::size_t{4} << 30;
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

  // Opens (or creates) the stats store and starts the thread. False with `error` when the
  // options are incomplete, the store cannot be opened, or the thread cannot start; the
  // module can then run without persistent counts.
  bool start(Options options, std::string& error) noexcept;

  // Wakes the thread, waits for its final flush, joins it. Idempotent; noexcept.
  void stop() noexcept;

  // One flush now, on the calling thread (serialized with the background one). False with
  // `error` when storing failed. Requires a successful start().
  bool flush_now(std::string& error) noexcept;

  std::uint64_t flush_errors() const noexcept { return flush_errors_.load(); }
  std::int64_t last_flush() const noexcept { return last_flush_.load(); }
  bool running() const noexcept { return thread_.joinable(); }

 private:
  void run() noexcept;
  void log(Severity severity, const std::string& message) const noexcept;
  // Describes the exception being handled (any type) as "what: message"; call from a catch.
  static void set_error(std::string& error, const char* what) noexcept;
  std::int64_t now() const;

  Options options_;
  std::optional<StatsStore> store_;
  std::mutex flush_mutex_;  // one flush at a time
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> flush_errors_{0};
  std::atomic<std::int64_t> last_flush_{0};
};

}  // namespace dnsverdict
