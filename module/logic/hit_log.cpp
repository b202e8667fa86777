#include "hit_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <type_traits>

#include "dns_name.h"
#include "hit_rate_limit.h"

namespace dnsverdict {

static_assert(std::is_trivially_copyable_v<HitRecord>,
              "a record is plain bytes: nothing to allocate or free on the query path");

namespace {

// The writer hands the file at most this much at once.
constexpr std::size_t kBatchBytes = 64 * 1024;

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  auto continuation = [&](std::size_t k, std::uint8_t low = 0x80, std::uint8_t high = 0xbf) {
    return k < text.size() && byte(k) >= low && byte(k) <= high;
  };
  std::uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(i + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    // No overlong forms (E0 80..9F) and no surrogates (ED A0..BF).
    std::uint8_t low = lead == 0xe0 ? 0xa0 : 0x80;
    std::uint8_t high = lead == 0xed ? 0x9f : 0xbf;
    return continuation(i + 1, low, high) && continuation(i + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    // No overlong forms (F0 80..8F) and nothing above U+10FFFF (F4 90..).
    std::uint8_t low = lead == 0xf0 ? 0x90 : 0x80;
    std::uint8_t high = lead == 0xf4 ? 0x8f : 0xbf;
    return continuation(i + 1, low, high) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
  }
  return 0;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    // Printable ASCII other than '"' and '\\' goes out as it is, a run at a time.
    const std::size_t run = i;
    while (i < text.size()) {
      auto c = static_cast<std::uint8_t>(text[i]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
      ++i;
    }
    out.append(text.data() + run, i - run);
    if (i == text.size()) break;

    auto c = static_cast<std::uint8_t>(text[i]);
    if (c == '"' || c == '\\') {
      const char escaped[] = {'\\', static_cast<char>(c)};
      out.append(escaped, sizeof escaped);
      ++i;
      continue;
    }
    const std::size_t length = c >= 0x80 ? utf8_sequence_length(text, i) : 0;
    if (length > 0) {
      out.append(text.data() + i, length);
      i += length;
      continue;
    }
    // Control characters, DEL, and bytes that are not UTF-8: as the code point of the same
    // value (reads as Latin-1), so the line stays valid JSON and loses nothing.
    const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
    out.append(escaped, sizeof escaped);
    ++i;
  }
  out.push_back('"');
}

void append_json_string_or_null(std::string& out, std::string_view text) {
  if (text.empty())
    out += "null";
  else
    append_json_string(out, text);
}

// Writes `value` as exactly `digits` decimal digits.
char* put_digits(char* out, std::int64_t value, int digits) noexcept {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + digits;
}

// "2026-11-26T07:00:00.123456Z". Computes the civil date itself (Howard Hinnant's
// days_from_civil inverse) rather than calling gmtime_r, which takes glibc's time zone lock
// on every line.
void append_time(std::string& out, std::int64_t time_us) {
  std::int64_t seconds = time_us / 1000000;
  std::int64_t micros = time_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    seconds -= 1;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  days += 719468;  // from 1970-01-01 to 0000-03-01
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t day_of_era = days - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t month_index = (5 * day_of_year + 2) / 153;  // 0 = March
  const std::int64_t day = day_of_year - (153 * month_index + 2) / 5 + 1;
  const std::int64_t month = month_index < 10 ? month_index + 3 : month_index - 9;
  std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) year = 0;  // far outside any real clock: keep the shape

  char text[32];
  char* end = text;
  *end++ = '"';
  end = put_digits(end, year, 4);
  *end++ = '-';
  end = put_digits(end, month, 2);
  *end++ = '-';
  end = put_digits(end, day, 2);
  *end++ = 'T';
  end = put_digits(end, second_of_day / 3600, 2);
  *end++ = ':';
  end = put_digits(end, second_of_day / 60 % 60, 2);
  *end++ = ':';
  end = put_digits(end, second_of_day % 60, 2);
  *end++ = '.';
  end = put_digits(end, micros, 6);
  *end++ = 'Z';
  *end++ = '"';
  out.append(text, static_cast<std::size_t>(end - text));
}

void append_client(std::string& out, std::uint8_t family, const std::uint8_t* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if ((family != AF_INET && family != AF_INET6) ||
      inet_ntop(family, address, text, sizeof text) == nullptr) {
    out += "null";
    return;
  }
  append_json_string(out, text);
}

std::string qtype_name(std::uint16_t qtype) {
  switch (qtype) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
  }
  return "TYPE" + std::to_string(qtype);  // RFC 3597
}

void append_hit_json(std::string& out, const HitRecord& record) {
  out += "{\"time\":";
  append_time(out, record.time_us);
  out += ",\"client\":";
  append_client(out, record.client_family, record.client_address);
  if (record.client_port != 0) {
    out += ",\"client_port\":";
    out += std::to_string(record.client_port);
  }
  out += ",\"qname\":";
  append_json_string(out, name_to_text(record.qname_wire.view()));
  out += ",\"qtype\":";
  append_json_string(out, qtype_name(record.qtype));
  out += ",\"action\":";
  append_json_string(out, action_name(record.action_applied));
  out += ",\"rule_action\":";
  append_json_string(out, action_name(record.rule_action));
  out += ",\"rule\":";
  append_json_string(out, key_to_text(record.rule_key.view()));
  out += ",\"kind\":";
  append_json_string(out, kind_name(record.kind));
  out += ",\"trigger\":";
  append_json_string(out, trigger_name(record.trigger));
  out += ",\"campaign\":";
  append_json_string_or_null(out, record.campaign.view());
  out += ",\"category\":";
  append_json_string_or_null(out, record.category.view());
  out += ",\"source\":";
  append_json_string_or_null(out, record.source.view());
  out += ",\"confidence\":";
  out += std::to_string(record.confidence);
  out += ",\"build_id\":";
  append_json_string(out, record.build_id.view());
  if (!record.note.empty()) {
    out += ",\"note\":";
    append_json_string(out, record.note.view());
  }
  out.push_back('}');
}

void append_suppressed_json(std::string& out, const SuppressedHits& hits, std::int64_t time_us) {
  out += "{\"time\":";
  append_time(out, time_us);
  out += ",\"suppressed\":";
  out += std::to_string(hits.count);
  out += ",\"limit\":";
  out += hits.limit == SuppressedHits::Limit::kPerClient ? "\"per-client\"" : "\"global\"";
  out += ",\"client\":";
  append_client(out, hits.client_family, hits.client_address);
  out += ",\"rule\":";
  if (hits.rule_key.empty()) {
    out += "null";
  } else {
    append_json_string(out, key_to_text(hits.rule_key));
  }
  out += ",\"kind\":";
  append_json_string(out, kind_name(hits.kind));
  out += ",\"action\":";
  append_json_string(out, action_name(hits.action_applied));
  out += ",\"campaign\":";
  append_json_string_or_null(out, hits.campaign);
  out += ",\"first\":";
  append_time(out, hits.first_us);
  out += ",\"last\":";
  append_time(out, hits.last_us);
  out.push_back('}');
}

}  // namespace

std::size_t utf8_prefix(std::string_view text, std::size_t limit) noexcept {
  if (text.size() <= limit) return text.size();
  // Step back over at most three continuation bytes to the byte that starts the character
  // straddling the limit; cut before it if its sequence does not fit.
  std::size_t start = limit;
  while (start > 0 && limit - start < 4 && (static_cast<std::uint8_t>(text[start]) & 0xc0) == 0x80)
    --start;
  if (start == limit) return limit;  // the limit falls between characters
  std::size_t length = utf8_sequence_length(text, start);
  return length > 0 && start + length > limit ? start : limit;
}

void HitRecord::set_client(int family, const void* address, std::uint16_t port) noexcept {
  std::memset(client_address, 0, sizeof client_address);
  client_port = port;
  if (family == AF_INET) {
    client_family = AF_INET;
    std::memcpy(client_address, address, 4);
  } else if (family == AF_INET6) {
    client_family = AF_INET6;
    std::memcpy(client_address, address, 16);
  } else {
    client_family = 0;
  }
}

void HitRecord::copy_from(const HitRecord& other) noexcept {
  time_us = other.time_us;
  client_family = other.client_family;
  client_port = other.client_port;
  std::memcpy(client_address, other.client_address, sizeof client_address);
  qtype = other.qtype;
  action_applied = other.action_applied;
  rule_action = other.rule_action;
  kind = other.kind;
  trigger = other.trigger;
  confidence = other.confidence;
  qname_wire.copy_from(other.qname_wire);
  rule_key.copy_from(other.rule_key);
  campaign.copy_from(other.campaign);
  category.copy_from(other.category);
  source.copy_from(other.source);
  build_id.copy_from(other.build_id);
  note.copy_from(other.note);
}

std::string_view trigger_name(Trigger trigger) noexcept {
  switch (trigger) {
    case Trigger::kQname: return "qname";
    case Trigger::kCnameChain: return "cname-chain";
    case Trigger::kAddress: return "ip";
    case Trigger::kNsdname: return "nsdname";
    case Trigger::kNsip: return "nsip";
  }
  return "qname";
}

std::string format_hit_json(const HitRecord& record) {
  std::string line;
  line.reserve(512);  // a typical line is about 350 bytes
  append_hit_json(line, record);
  return line;
}

std::string format_suppressed_json(const SuppressedHits& hits, std::int64_t time_us) {
  std::string line;
  append_suppressed_json(line, hits, time_us);
  return line;
}

// One queue slot (Vyukov's bounded queue). `sequence` says whose turn the slot is: equal to
// a producer's position when free for it, position + 1 once the record is published, and
// position + capacity after the writer has taken it.
struct HitLog::Cell {
  std::atomic<std::uint64_t> sequence{0};
  HitRecord record;
};

HitLog::File& HitLog::File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

HitLog::File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

HitLog::File HitLog::open_file(const std::string& path, int& error) noexcept {
  // O_NONBLOCK: opening a FIFO without a reader for writing would wait for one (now it
  // fails); regular files and devices ignore it. O_NOFOLLOW: a link planted at the path is
  // refused, never followed.
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  error = EAGAIN;  // if the path keeps changing under every attempt
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = ::open(path.c_str(), kFlags);
    bool created = false;
    if (fd < 0 && errno == ENOENT) {
      // O_EXCL: whatever appears at the path meanwhile is opened (or refused) next round.
      fd = ::open(path.c_str(), kFlags | O_CREAT | O_EXCL, 0640);
      created = fd >= 0;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == EEXIST) continue;
      error = errno;
      return File();
    }
    // 0640 whatever the umask: the resolver's group (log shippers) reads the log.
    if (created) ::fchmod(fd, 0640);
    error = 0;
    return File(fd);
  }
  return File();
}

HitLog::HitLog(Options options) : options_(std::move(options)) {}

std::unique_ptr<HitLog> HitLog::open(Options options, std::string& error) noexcept {
  try {
    if (options.capacity_lines == 0) {
      error = options.path + ": hit log capacity must be at least one line";
      return nullptr;
    }
    std::unique_ptr<HitLog> log(new HitLog(std::move(options)));
    const std::size_t capacity = log->options_.capacity_lines;
    log->cells_ = std::make_unique<Cell[]>(capacity);
    for (std::size_t i = 0; i < capacity; ++i)
      log->cells_[i].sequence.store(i, std::memory_order_relaxed);
    log->wake_every_ = std::max<std::uint64_t>(capacity / 2, 1);
    if (log->options_.limits.any())
      log->limiter_ = std::make_unique<HitRateLimiter>(log->options_.limits);
    log->try_open();  // a failure is logged; the writer tries again
    log->writer_ = std::thread([writer = log.get()] { writer->run_writer(); });
    return log;
  } catch (const std::exception& failure) {
    try {
      error = options.path + ": cannot start the hit log: " + failure.what();
    } catch (...) {
    }
  } catch (...) {
  }
  return nullptr;
}

HitLog::~HitLog() { close(); }

void HitLog::close() noexcept {
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
  accepting_.store(false, std::memory_order_relaxed);
}

bool HitLog::submit(const HitRecord& record) noexcept {
  if (!accepting_.load(std::memory_order_relaxed)) {
    // No file to write to: queueing would only fill the queue with lines to drop.
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const std::uint64_t capacity = options_.capacity_lines;
  std::uint64_t position = enqueue_position_.load(std::memory_order_relaxed);
  for (;;) {
    Cell& cell = cells_[position % capacity];
    const std::uint64_t sequence = cell.sequence.load(std::memory_order_acquire);
    if (sequence == position) {
      // Free for this position: claim it. On failure `position` is reloaded.
      if (enqueue_position_.compare_exchange_weak(position, position + 1,
                                                  std::memory_order_relaxed)) {
        cell.record.copy_from(record);
        cell.sequence.store(position + 1, std::memory_order_release);
        if ((position + 1) % wake_every_ == 0) wake_writer();
        return true;
      }
    } else if (sequence < position) {
      // Still holds the record from one lap ago: the writer is behind.
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    } else {
      position = enqueue_position_.load(std::memory_order_relaxed);  // another producer won
    }
  }
}

void HitLog::wake_writer() noexcept {
  // Passing through the mutex orders this wake-up after the writer's check for records, or
  // before it: either the writer sees the record or it is already waiting for the notify.
  try {
    std::lock_guard<std::mutex> lock(wake_mutex_);
  } catch (...) {
    // The writer still wakes within one flush interval.
  }
  wake_.notify_one();
}

bool HitLog::record_ready() const noexcept {
  const Cell& cell = cells_[dequeue_position_ % options_.capacity_lines];
  return cell.sequence.load(std::memory_order_acquire) == dequeue_position_ + 1;
}

void HitLog::request_reopen() noexcept {
  static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");
  reopen_requested_.store(true, std::memory_order_relaxed);
}

std::int64_t HitLog::now_us() const noexcept {
  if (options_.clock) {
    try {
      return options_.clock();
    } catch (...) {
    }
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void HitLog::run_writer() noexcept {
  std::string batch;
  try {
    batch.reserve(kBatchBytes + 4096);
  } catch (...) {
    // Formatting grows it as it can; lines that cannot be formatted are counted as drops.
  }
  const auto interval = options_.flush_interval;
  auto next_rotation_check = std::chrono::steady_clock::now() + interval;
  auto next_open_attempt = std::chrono::steady_clock::now() + options_.retry_interval;
  for (;;) {
    // Read before draining: every record submitted before the destructor ran is then seen.
    const bool stopping = stopping_.load(std::memory_order_acquire);
    if (options_.writer_cycle_hook) {
      try {
        options_.writer_cycle_hook();
      } catch (...) {
      }
    }
    const auto now = std::chrono::steady_clock::now();
    const bool requested = reopen_requested_.exchange(false, std::memory_order_relaxed);
    if (file_.get() < 0) {
      if (requested || now >= next_open_attempt) {
        try_open();
        next_open_attempt = now + options_.retry_interval;
      }
    } else {
      if (requested) {
        reopen();
      } else if (now >= next_rotation_check) {
        if (path_names_other_file()) reopen();
        next_rotation_check = now + interval;
      }
      if (file_.get() < 0) next_open_attempt = now + options_.retry_interval;
    }
    const std::int64_t wall_time = limiter_ ? now_us() : 0;
    if (limiter_) write_summaries(false, wall_time);
    const std::size_t lines = drain(batch, wall_time);
    report_due(open_failures_, stopping && lines == 0);
    report_due(write_failures_, stopping && lines == 0);
    settled(write_failures_, stopping && lines == 0);
    if (stopping) {
      if (lines != 0) continue;
      if (limiter_) write_summaries(true, now_us());
      close_file();
      return;
    }
    if (lines == 0) {
      std::unique_lock<std::mutex> lock(wake_mutex_);
      wake_.wait_for(lock, interval, [this] {
        return stopping_.load(std::memory_order_relaxed) ||
               reopen_requested_.load(std::memory_order_relaxed) || record_ready();
      });
    }
  }
}

std::size_t HitLog::drain(std::string& batch, std::int64_t now_us) noexcept {
  const std::uint64_t capacity = options_.capacity_lines;
  std::size_t taken = 0;
  std::uint64_t pending = 0;  // lines in `batch`
  auto write_pending = [&] {
    const std::uint64_t complete = write_batch(batch, pending);
    written_.fetch_add(complete, std::memory_order_relaxed);
    dropped_.fetch_add(pending - complete, std::memory_order_relaxed);
    pending = 0;
  };
  // At most one lap per call, so a steady stream cannot starve the reopen checks.
  while (taken < capacity && record_ready()) {
    Cell& cell = cells_[dequeue_position_ % capacity];
    if (file_.get() < 0) {
      dropped_.fetch_add(1, std::memory_order_relaxed);  // queued before the file closed
    } else {
      const std::size_t before = batch.size();
      try {
        if (limiter_ && !limiter_->admit(cell.record, now_us)) {
          suppressed_.fetch_add(1, std::memory_order_relaxed);
        } else {
          append_hit_json(batch, cell.record);
          batch.push_back('\n');
          ++pending;
        }
      } catch (...) {
        batch.resize(before);
        dropped_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    cell.sequence.store(dequeue_position_ + capacity, std::memory_order_release);
    ++dequeue_position_;
    ++taken;
    if (batch.size() >= kBatchBytes) write_pending();
  }
  if (pending > 0) write_pending();
  return taken;
}

void HitLog::write_summaries(bool finish, std::int64_t now_us) noexcept {
  try {
    std::vector<SuppressedHits> summaries = finish ? limiter_->finish() : limiter_->roll(now_us);
    if (summaries.empty() || file_.get() < 0) return;  // counted in suppressed() all the same
    std::string batch;
    std::uint64_t lines = 0;
    for (const SuppressedHits& hits : summaries) {
      append_suppressed_json(batch, hits, now_us);
      batch.push_back('\n');
      ++lines;
      if (batch.size() >= kBatchBytes) {
        summaries_.fetch_add(write_batch(batch, lines), std::memory_order_relaxed);
        lines = 0;
      }
    }
    if (lines > 0) summaries_.fetch_add(write_batch(batch, lines), std::memory_order_relaxed);
  } catch (...) {
    // Out of memory: the summaries are lost; the hits stay counted in suppressed().
  }
}

std::uint64_t HitLog::write_batch(std::string& batch, std::uint64_t lines) noexcept {
  int error = 0;
  // Appends as much of [data, data + size) as the file takes; sets `error` when it stops short.
  auto append = [&](const char* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t count = ::write(file_.get(), data + done, size - done);
      if (count < 0 && errno == EINTR) continue;
      if (count <= 0) {
        error = count < 0 ? errno : EIO;
        break;
      }
      done += static_cast<std::size_t>(count);
    }
    return done;
  };
  // End the cut line first, so that it alone is damaged and the next ones parse.
  if (line_cut_ && append("\n", 1) == 1) line_cut_ = false;
  std::size_t done = 0;
  if (!line_cut_) {
    // The file's end before the batch: a regular file (this writer its only one) cut short
    // by a full disk is truncated back to it, so that the log holds whole lines only.
    const off_t before = ::lseek(file_.get(), 0, SEEK_END);
    done = append(batch.data(), batch.size());
    if (done < batch.size() && done > 0 && before >= 0 && ::ftruncate(file_.get(), before) == 0)
      done = 0;
    line_cut_ = done < batch.size() && done > 0 && batch[done - 1] != '\n';
  }
  const auto complete =
      static_cast<std::uint64_t>(std::count(batch.data(), batch.data() + done, '\n'));
  batch.clear();
  if (error != 0) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    failed(write_failures_, error);
  } else if (write_failures_.failing && !write_failures_.settling) {
    // Said once writes have gone on succeeding (settled()): on a disk at the edge of full,
    // the blocks a failed write gave back let the next write fit, and the one after fails.
    write_failures_.settling = true;
    write_failures_.good_since = std::chrono::steady_clock::now();
  }
  return std::min(complete, lines);
}

bool HitLog::path_names_other_file() const noexcept {
  struct stat at_path {};
  if (::stat(options_.path.c_str(), &at_path) != 0) {
    return errno == ENOENT || errno == ENOTDIR;  // moved away, or its folder was
  }
  struct stat open_file {};
  if (::fstat(file_.get(), &open_file) != 0) return true;
  return at_path.st_dev != open_file.st_dev || at_path.st_ino != open_file.st_ino;
}

bool HitLog::try_open() noexcept {
  int error = 0;
  File file = open_file(options_.path, error);
  if (file.get() < 0) {
    open_errors_.fetch_add(1, std::memory_order_relaxed);
    failed(open_failures_, error);
    return false;
  }
  file_ = std::move(file);
  line_cut_ = false;
  if (ever_open_) reopens_.fetch_add(1, std::memory_order_relaxed);
  ever_open_ = true;
  recovered(open_failures_);
  accepting_.store(true, std::memory_order_relaxed);
  return true;
}

void HitLog::reopen() noexcept {
  int error = 0;
  File file = open_file(options_.path, error);
  if (file.get() < 0) {
    open_errors_.fetch_add(1, std::memory_order_relaxed);
    // The open file was renamed or removed: logrotate compresses and deletes it, and a
    // deleted file held open keeps its disk space. Close it; the writer retries the path.
    if (path_names_other_file()) close_file();
    failed(open_failures_, error);
    return;
  }
  file_ = std::move(file);
  line_cut_ = false;
  reopens_.fetch_add(1, std::memory_order_relaxed);
  recovered(open_failures_);
}

void HitLog::close_file() noexcept {
  accepting_.store(false, std::memory_order_relaxed);
  file_ = File();
  line_cut_ = false;
}

void HitLog::log(Severity severity, const std::string& message) const noexcept {
  if (!options_.logger) return;
  try {
    options_.logger(severity, message);
  } catch (...) {
  }
}

void HitLog::failed(FailureReport& report, int error) noexcept {
  report.last_error = error;
  report.settling = false;
  ++report.failures;
  if (report.failing) {
    ++report.unreported;
    return;
  }
  report.failing = true;
  report.unreported = 0;
  report.dropped_before = dropped();
  report.reported = std::chrono::steady_clock::now();
  try {
    std::string message =
        std::string("cannot ") + report.action + " " + options_.path + ": " + std::strerror(error);
    if (&report == &write_failures_) {
      message += "; its lines are dropped until a write succeeds";
    } else if (file_.get() >= 0) {
      message += "; still writing to the file open before";
    } else {
      message += "; hits are dropped until it opens (tried again every " +
                 std::to_string(options_.retry_interval.count()) + " ms)";
    }
    log(Severity::kError, message);
  } catch (...) {
  }
}

void HitLog::report_due(FailureReport& report, bool now) noexcept {
  if (report.unreported == 0) return;
  const auto time = std::chrono::steady_clock::now();
  if (!now && time - report.reported < options_.error_report_interval) return;
  try {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(time - report.reported).count();
    log(Severity::kError,
        std::string("cannot ") + report.action + " " + options_.path + ": " +
            std::to_string(report.unreported) + " more failures in " + std::to_string(seconds) +
            " s (last: " + std::strerror(report.last_error) + "), " +
            std::to_string(dropped() - report.dropped_before) + " hits dropped since the first");
  } catch (...) {
  }
  report.unreported = 0;
  report.reported = time;
}

void HitLog::settled(FailureReport& report, bool now) noexcept {
  if (!report.settling) return;
  if (!now && std::chrono::steady_clock::now() - report.good_since < options_.recovery_interval)
    return;
  recovered(report);
}

void HitLog::recovered(FailureReport& report) noexcept {
  if (!report.failing) return;
  try {
    const std::string what = &report == &write_failures_ ? "writing to " + options_.path + " again"
                                                         : options_.path + " open again";
    log(Severity::kInfo, what + " after " + std::to_string(report.failures) + " failed attempts; " +
                             std::to_string(dropped() - report.dropped_before) +
                             " hits dropped meanwhile");
  } catch (...) {
  }
  report = FailureReport{report.action};
}

}  // namespace dnsverdict
