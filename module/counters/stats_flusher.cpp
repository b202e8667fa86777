#include "stats_flusher.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <stdexcept>

namespace dnsverdict {

StatsFlusher::~StatsFlusher() {
  stop();
}

void StatsFlusher::log(Severity severity, const std::string& message) const noexcept {
  if (!options_.logger) return;
  try {
    options_.logger(severity, message);
  } catch (...) {
  }
}

void StatsFlusher::set_error(std::string& error, const char* what) noexcept {
  try {
    try {
      throw;
    } catch (const std::exception& exception) {
      error = std::string(what) + ": " + exception.what();
    } catch (...) {
      error = std::string(what) + ": unknown exception";
    }
  } catch (...) {
    error.clear();  // out of memory for the message; the false return still tells
  }
}

std::int64_t StatsFlusher::now() const {
  return options_.clock ? options_.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

bool StatsFlusher::start(Options options, std::string& error) noexcept {
  if (thread_.joinable()) {
    error = "stats flusher already running";
    return false;
  }
  if (options.counters == nullptr || options.stats_path.empty()) {
    error = "stats flusher: counters and stats path are required";
    return false;
  }
  options.interval =
      std::clamp(options.interval, std::chrono::seconds(1), std::chrono::seconds(3600));
  try {
    if (options.key_path.empty()) options.key_path = options.stats_path + ".key";
    options_ = std::move(options);
    {
      std::lock_guard<std::mutex> guard(flush_mutex_);
      try {
        open_store();
      } catch (...) {
        flush_errors_.fetch_add(1);  // as the flushes that find it still closed
        std::string open_error;
        set_error(open_error, "stats store");
        note_failure(open_error);
      }
    }
    stopping_ = false;
    flush_requested_ = false;
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    set_error(error, "stats flusher");
    std::lock_guard<std::mutex> guard(flush_mutex_);
    store_.reset();
    store_open_.store(false);
    return false;
  }
  return true;
}

void StatsFlusher::stop() noexcept {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  store_.reset();
  store_open_.store(false);
}

void StatsFlusher::request_flush() noexcept {
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    flush_requested_ = true;
  }
  wake_.notify_one();
}

void StatsFlusher::run() noexcept {
  std::unique_lock<std::mutex> lock(wake_mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.interval, [this] { return stopping_ || flush_requested_; });
    const bool stopping = stopping_;
    if (flush_requested_ && !stopping) early_flushes_.fetch_add(1);
    flush_requested_ = false;
    lock.unlock();
    std::string error;
    flush_now(error);  // failures are logged there
    lock.lock();
    if (stopping) return;
  }
}

// Under flush_mutex_. Throws what opening throws.
void StatsFlusher::open_store() {
  bool created = false;
  ClientHashKey key = load_or_create_client_key(options_.key_path, created);
  if (created)
    log(Severity::kInfo, options_.key_path + ": new client-hash key, fingerprint " +
                             key.fingerprint() +
                             " (resolvers whose stats are merged must share this file)");
  StatsStore::Options store_options;
  store_options.resolver = options_.resolver;
  store_options.retention_days = options_.retention_days;
  store_options.map_size = options_.map_size;
  store_options.client_key_fingerprint = key.fingerprint();
  StatsStore store = StatsStore::open(options_.stats_path, store_options);
  if (!options_.counters->start_counting(key, [this] { request_flush(); }))
    throw StoreError(options_.key_path + ": the counters already count with another key");
  store_.emplace(std::move(store));
  store_open_.store(true);
  log(Severity::kInfo, "counting hits into " + options_.stats_path + " every " +
                           std::to_string(options_.interval.count()) + "s" +
                           (options_.prometheus_path.empty()
                                ? std::string()
                                : ", metrics in " + options_.prometheus_path) +
                           " (client-hash key fingerprint " + key.fingerprint() + ")");
}

// Under flush_mutex_.
void StatsFlusher::note_failure(const std::string& error) noexcept {
  try {
    ++failures_in_a_row_;
    one_good_flush_ = false;
    if (failures_in_a_row_ > 1 && error == last_error_) return;
    last_error_ = error;
    log(Severity::kError, error + (store_ ? "" : "; nothing is counted until it opens") +
                              " (tried again every " +
                              std::to_string(options_.interval.count()) + "s)");
  } catch (...) {
  }
}

// Under flush_mutex_.
void StatsFlusher::note_success() noexcept {
  if (failures_in_a_row_ == 0) return;
  // Said after two flushes in a row: on a disk at the edge of full, the pages a failed flush
  // gave back let the next one fit, and the one after fails again.
  if (!one_good_flush_) {
    one_good_flush_ = true;
    return;
  }
  one_good_flush_ = false;
  try {
    log(Severity::kInfo, options_.stats_path + ": stats store working again after " +
                             std::to_string(failures_in_a_row_) + " failed flushes");
    last_error_.clear();
  } catch (...) {
  }
  failures_in_a_row_ = 0;
}

bool StatsFlusher::flush_now(std::string& error) noexcept {
  std::lock_guard<std::mutex> guard(flush_mutex_);
  if (options_.counters == nullptr) {
    error = "stats flusher not started";
    return false;
  }
  std::int64_t time = 0;
  std::optional<CounterTotals> totals;
  bool stored = false;
  try {
    time = now();
    if (!store_) open_store();
    CountersSnapshot snapshot = options_.counters->take_snapshot();
    totals = snapshot.totals;
    StatsStore::FlushResult result = store_->flush(snapshot, time);
    map_full_.fetch_add(result.map_full);
    pruned_for_room_.fetch_add(result.pruned_for_room);
    if (result.pruned != 0)
      log(Severity::kInfo, store_->path() + ": pruned " + std::to_string(result.pruned) +
                               " buckets past the retention");
    if (result.pruned_for_room != 0 && !map_full_logged_) {
      map_full_logged_ = true;  // the Prometheus file counts the next times
      log(Severity::kWarning, store_->path() + ": map full (stats-map-size " +
                                  std::to_string(options_.map_size >> 20) + " MiB): pruned " +
                                  std::to_string(result.pruned_for_room) +
                                  " buckets of the oldest hours to make room");
    }
    last_flush_.store(time);
    stored = true;
  } catch (...) {
    flush_errors_.fetch_add(1);
    set_error(error, "stats store");
  }
  if (stored)
    note_success();
  else
    note_failure(error);
  if (options_.prometheus_path.empty()) return stored;
  try {
    write_prometheus(time, totals);
  } catch (...) {
    std::string file_error;
    set_error(file_error, "prometheus file");
    log(Severity::kWarning, file_error);
    if (stored) error = std::move(file_error);
    return false;
  }
  return stored;
}

// Under flush_mutex_. `totals`: of the snapshot just taken, if any. Throws when the file
// cannot be written.
void StatsFlusher::write_prometheus(std::int64_t time, const std::optional<CounterTotals>& totals) {
  PrometheusReport report;
  report.now = time;
  if (options_.health) report.health = options_.health();
  if (store_) {
    StatsQuery query;
    query.since = hour_of(time) - 24 * kSecondsPerHour;
    query.rules = false;
    MergedStats merged;
    store_->read(query, [&](StatsBucket&& bucket) { merge_bucket(merged, std::move(bucket)); });
    report.campaigns = campaign_windows(merged, time);
    usage_ = store_->usage();
  }
  report.counters = totals ? *totals : options_.counters->totals();
  report.counters_memory_bytes = options_.counters->memory_bytes();
  report.counters_memory_budget = options_.counters->options().memory_budget;
  report.stats.store_open = store_.has_value();
  report.stats.flush_errors = flush_errors_.load();
  report.stats.last_flush = last_flush_.load();
  report.stats.early_flushes = early_flushes_.load();
  report.stats.map_full = map_full_.load();
  report.stats.pruned_for_room = pruned_for_room_.load();
  report.stats.store_used_bytes = usage_.used_bytes;
  report.stats.map_size_bytes = options_.map_size;
  std::string file_error;
  if (!write_text_file_atomically(options_.prometheus_path, format_prometheus(report), file_error))
    throw std::runtime_error(file_error);
}

}  // namespace dnsverdict
