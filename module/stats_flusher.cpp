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
    options_ = std::move(options);
    StatsStore::Options store_options;
    store_options.resolver = options_.resolver;
    store_options.retention_days = options_.retention_days;
    store_options.map_size = options_.map_size;
    store_.emplace(StatsStore::open(options_.stats_path, store_options));
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    set_error(error, "stats flusher");
    store_.reset();
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
}

void StatsFlusher::run() noexcept {
  std::unique_lock<std::mutex> lock(wake_mutex_);
  for (;;) {
    bool stopping = wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    lock.unlock();
    std::string error;
    if (!flush_now(error)) log(Severity::kError, error);
    lock.lock();
    if (stopping) return;
  }
}

bool StatsFlusher::flush_now(std::string& error) noexcept {
  std::lock_guard<std::mutex> guard(flush_mutex_);
  if (!store_) {
    error = "stats flusher not started";
    return false;
  }
  std::int64_t time = 0;
  CounterTotals totals;
  bool stored = false;
  try {
    time = now();
    CountersSnapshot snapshot = options_.counters->take_snapshot();
    totals = snapshot.totals;
    StatsStore::FlushResult result = store_->flush(snapshot, time);
    if (result.pruned != 0)
      log(Severity::kInfo, store_->path() + ": pruned " + std::to_string(result.pruned) +
                               " buckets past the retention");
    last_flush_.store(time);
    stored = true;
  } catch (...) {
    flush_errors_.fetch_add(1);
    set_error(error, "stats store");
  }
  if (options_.prometheus_path.empty()) return stored;
  try {
    PrometheusReport report;
    report.now = time;
    if (options_.health) report.health = options_.health();
    StatsQuery query;
    query.since = hour_of(time) - 24 * kSecondsPerHour;
    query.rules = false;
    MergedStats merged;
    store_->read(query, [&](StatsBucket&& bucket) { merge_bucket(merged, std::move(bucket)); });
    report.campaigns = campaign_windows(merged, time);
    report.counters = totals;
    report.flush_errors = flush_errors_.load();
    report.last_flush = last_flush_.load();
    report.counters_memory_bytes = options_.counters->memory_bytes();
    std::string file_error;
    if (!write_text_file_atomically(options_.prometheus_path, format_prometheus(report),
                                    file_error))
      throw std::runtime_error(file_error);
  } catch (...) {
    if (stored) set_error(error, "prometheus file");
    return false;
  }
  return stored;
}

}  // namespace dnsverdict
