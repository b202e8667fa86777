// The hit log: one JSON line per query that matched a rule, written off the query path.
//
// The query path fills a fixed-size HitRecord (no heap) and submits it to a bounded queue;
// a writer thread formats the records as JSON and appends them to the log file. When the
// writer falls behind and the queue is full, records are dropped and counted: a query is
// never delayed by the log. The file is reopened on request (SIGHUP) and whenever the path
// no longer names the open file (logrotate renamed or removed it).
//
// The log never stops the resolver. A file that cannot be opened (at start, or when the
// path is reopened after rotation) is logged, and the writer tries again every retry
// interval; meanwhile submit() drops and counts at once, so nothing piles up, and a rotated
// file that was renamed away is closed rather than written on (logrotate compresses and
// deletes it; a deleted file held open keeps its disk space). Failed opens and writes (a full
// disk) are counted and logged: the first at once, then one summary per report interval.
// A write cut short by a full disk is taken back (the file truncated to its last whole line),
// so that the file holds whole lines only.
//
// Rate limits (HitLogLimits, applied by the writer thread: no cost on the query path): at
// most `per_client` lines per rule and client per interval, and at most `lines_per_second`
// lines in all; the hits left out are summarised per rule and client (per rule alone past
// the global cap) in one line when the interval ends (format_suppressed_json).
//
// Why one shared bounded queue rather than per-thread rings: the module does not know how
// many worker threads Unbound runs when the log is opened, thread-local slot numbers would
// have to survive the log being reopened with a new instance on module reload, and a
// shared queue makes `capacity_lines` an exact bound that any mix of busy and idle threads
// can use in full. Producers claim a cell with one compare-and-swap and publish it with one
// store. Each time another half of the queue has filled, the submitting thread also wakes
// the writer, so that a burst does not wait out the writer's sleep: it takes the mutex the
// writer holds only while deciding to sleep, never while formatting or writing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store_format.h"

namespace dnsverdict {

// The longest prefix of `text` of at most `limit` bytes that does not cut a UTF-8 sequence
// in two. Bytes that are not UTF-8 count as complete characters.
std::size_t utf8_prefix(std::string_view text, std::size_t limit) noexcept;

// Up to `Capacity` bytes copied in place. Assigning longer text keeps the longest prefix that
// does not end inside a UTF-8 sequence, so truncated names stay valid text.
template <std::size_t Capacity>
struct BoundedText {
  static_assert(Capacity <= UINT16_MAX);
  std::uint16_t size = 0;
  char bytes[Capacity] = {};

  void assign(std::string_view text) noexcept {
    std::size_t length = text.size() <= Capacity ? text.size() : utf8_prefix(text, Capacity);
    if (length != 0) std::memcpy(bytes, text.data(), length);  // an empty view's data() may be null
    size = static_cast<std::uint16_t>(length);
  }
  // Copies only the bytes in use: what submit() pays for is the text, not the capacity.
  void copy_from(const BoundedText& other) noexcept {
    std::memcpy(bytes, other.bytes, other.size);
    size = other.size;
  }
  std::string_view view() const noexcept { return {bytes, size}; }
  bool empty() const noexcept { return size == 0; }
};

// What in the query matched the rule (RPZ's triggers): the query name, a name in the answer's
// CNAME chain, or an address in the answer's A/AAAA records (an address rule).
enum class Trigger : std::uint8_t { kQname, kCnameChain, kAddress, kNsdname, kNsip };
// "qname", "cname-chain", "ip", "nsdname", "nsip"
std::string_view trigger_name(Trigger trigger) noexcept;

// One hit, filled on the query path. Trivially copyable; about 800 bytes.
struct HitRecord {
  std::int64_t time_us = 0;  // unix time, microseconds

  std::uint8_t client_family = 0;        // AF_INET, AF_INET6, or 0 when unknown
  std::uint16_t client_port = 0;         // host byte order; 0 when unknown (then not logged)
  std::uint8_t client_address[16] = {};  // network byte order; IPv4 uses the first 4

  std::uint16_t qtype = 0;
  Action action_applied = Action::kLog;  // what the module did with this query
  Action rule_action = Action::kLog;     // what the matched rule asks for
  RuleKind kind = RuleKind::kExact;
  Trigger trigger = Trigger::kQname;
  std::uint8_t confidence = 0;  // 0-100

  BoundedText<255> qname_wire;  // the query name in wire format, as received (any bytes)
  BoundedText<255> rule_key;    // the matched rule's owner as a store key (dns_name.h)
  BoundedText<64> campaign;     // empty: none
  BoundedText<64> category;     // empty: none
  BoundedText<64> source;       // file name of the feed the rule came from
  BoundedText<32> build_id;     // the store's build id
  BoundedText<32> note;         // optional context: "below-threshold", "exempt-client", ...

  // Assignment that copies only the text in use (a record is mostly unused capacity).
  void copy_from(const HitRecord& other) noexcept;

  // Copies the address (4 octets for AF_INET, 16 for AF_INET6: an in_addr or in6_addr).
  // Any other family clears it.
  void set_client(int family, const void* address, std::uint16_t port) noexcept;
};

// The record as one JSON object on one line, without the trailing newline. Keys, in order:
// time (ISO 8601 UTC with microseconds), client, client_port (only when not 0), qname (DNS
// presentation text, \DDD-escaped, then JSON-escaped), qtype (mnemonic or TYPEnnn), action,
// rule_action, rule, kind, trigger, campaign, category (null when empty), source, confidence,
// build_id, note (only when not empty). The output is plain ASCII unless a text field holds
// valid UTF-8; invalid bytes come out as \u00XX. Runs on the writer thread: may allocate.
std::string format_hit_json(const HitRecord& record);

// The rate limits of the hit log. 0 disables a limit.
struct HitLogLimits {
  std::uint32_t per_client = 0;        // lines per rule and client address per interval
  std::chrono::seconds interval{60};   // at least 1 s; also the summary period of the cap below
  std::uint32_t lines_per_second = 0;  // hit lines per second in all

  bool any() const noexcept { return per_client != 0 || lines_per_second != 0; }
};

// Hits the rate limits left out of one interval, summarised in one line.
struct SuppressedHits {
  enum class Limit : std::uint8_t {
    kPerClient,  // the rule and client had `per_client` lines in the interval
    kGlobal,     // over `lines_per_second` (or too many rules and clients to track): per rule
  };
  Limit limit = Limit::kPerClient;
  std::uint64_t count = 0;
  std::int64_t first_us = 0;  // query time of the first hit left out (unix microseconds)
  std::int64_t last_us = 0;   // and of the last
  // From the first hit left out. An empty rule_key (null in the line) stands for hits of
  // rules beyond the tracking bound.
  std::string rule_key;
  RuleKind kind = RuleKind::kExact;
  Action action_applied = Action::kLog;
  std::string campaign;
  std::uint8_t client_family = 0;  // 0 for kGlobal: no client
  std::uint8_t client_address[16] = {};
};

// The summary as one JSON object on one line, without the trailing newline. Keys, in order:
// time (when the interval ended), suppressed (the count: only summaries have this key),
// limit ("per-client" or "global"), client (null for "global"), rule, kind, action, campaign
// (null when empty), first, last (ISO 8601 UTC like time). Runs on the writer thread.
std::string format_suppressed_json(const SuppressedHits& hits, std::int64_t time_us);

class HitRateLimiter;

// Thread safety: submit(), request_reopen() and the counters may be called from any number
// of threads at once; open() and the destructor must not overlap any other call.
class HitLog {
 public:
  enum class Severity { kInfo, kError };
  using Logger = std::function<void(Severity, const std::string&)>;

  struct Options {
    std::string path;
    // Records queued at most, across all threads; memory is capacity * sizeof(HitRecord)
    // (about 53 MB for the default), allocated once at open.
    std::size_t capacity_lines = 65536;
    // How long the writer sleeps when the queue is empty (unless half the queue fills), and
    // how often it checks (stat) whether the path still names the open file.
    std::chrono::milliseconds flush_interval{200};
    // How often a log that is not open tries to open the path again (checked once per
    // flush interval).
    std::chrono::milliseconds retry_interval{std::chrono::seconds(1)};
    // Failed opens and writes: the first is logged at once, the rest in at most one summary
    // per interval while they go on, and one line when the log works again.
    std::chrono::milliseconds error_report_interval{std::chrono::seconds(60)};
    // After failed writes, how long writes must go on succeeding before the log says it
    // writes again: on a disk at the edge of full, a write that fits between two that do not
    // is no recovery.
    std::chrono::milliseconds recovery_interval{std::chrono::seconds(5)};
    HitLogLimits limits;  // default: no limits
    Logger logger;        // default: silent. Called from open() and the writer thread.
    // Test seams. `clock`: unix time in microseconds, read by the writer for the rate limits
    // (default: the system clock). `writer_cycle_hook`: called by the writer thread at the
    // start of every cycle, before it takes records from the queue (a test blocks in it to
    // stall the writer).
    std::function<std::int64_t()> clock;
    std::function<void()> writer_cycle_hook;
  };

  // Starts the writer and opens `options.path` for appending, creating it with mode 0640
  // (never through a symbolic link; see open_file). A path that cannot be opened
  // is not an error: it is logged, and the writer retries (see above). Returns null and
  // sets `error` only when the capacity is 0, or the memory or thread cannot be had.
  // Never throws.
  static std::unique_ptr<HitLog> open(Options options, std::string& error) noexcept;

  // Writes everything queued and the pending rate-limit summaries, stops the writer thread
  // and closes the file.
  ~HitLog();
  // The same, now: afterwards the counters are final and submit() only counts drops.
  // Idempotent; call it from one thread.
  void close() noexcept;
  HitLog(const HitLog&) = delete;
  HitLog& operator=(const HitLog&) = delete;

  // Query path: copies the record into the queue. Never waits for I/O, allocates or throws.
  // Returns false, and counts a drop, when the queue is full or the file is not open.
  bool submit(const HitRecord& record) noexcept;

  // Async-signal-safe (SIGHUP): asks the writer to reopen the path (or, when it is not
  // open, to try now). It does so when it next wakes, within one flush interval.
  void request_reopen() noexcept;

  // Hit lines appended to the file so far (summaries not included).
  std::uint64_t written() const noexcept { return written_.load(std::memory_order_relaxed); }
  // Records lost: submitted while the queue was full or the file was not open, or formatted
  // but not written because the write failed. Once the log is closed,
  // written + dropped + suppressed = submitted.
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  // Hits the rate limits left out (each counted in a summary line).
  std::uint64_t suppressed() const noexcept { return suppressed_.load(std::memory_order_relaxed); }
  // Summary lines appended to the file so far.
  std::uint64_t summaries() const noexcept { return summaries_.load(std::memory_order_relaxed); }
  // Times the file has been opened again (on request, after rotation, after a failure).
  std::uint64_t reopens() const noexcept { return reopens_.load(std::memory_order_relaxed); }
  // Attempts to open the path that failed (at start, on reopen, on retry).
  std::uint64_t open_errors() const noexcept {
    return open_errors_.load(std::memory_order_relaxed);
  }
  // write() calls that failed (disk full, I/O error): their lines are dropped.
  std::uint64_t write_errors() const noexcept {
    return write_errors_.load(std::memory_order_relaxed);
  }
  // True while a file is open and hits are accepted.
  bool is_open() const noexcept { return accepting_.load(std::memory_order_relaxed); }

 private:
  struct Cell;

  // Failures of one kind (opening the path, writing to it) and how far they were reported.
  // Writer thread only (and open(), before the writer starts).
  struct FailureReport {
    const char* action;  // "open", "write to"
    bool failing = false;
    std::uint64_t failures = 0;        // since the log last worked
    std::uint64_t unreported = 0;      // since the last line about them
    std::uint64_t dropped_before = 0;  // dropped() when they began
    int last_error = 0;
    std::chrono::steady_clock::time_point reported{};
    // Writes only: failing, but writes have succeeded since this time (none failed since).
    bool settling = false;
    std::chrono::steady_clock::time_point good_since{};
  };

  explicit HitLog(Options options);
  void run_writer() noexcept;
  bool record_ready() const noexcept;
  void wake_writer() noexcept;
  std::size_t drain(std::string& batch, std::int64_t now_us) noexcept;
  // Appends `batch` (`lines` complete lines) to the file and clears it; returns the lines
  // written in full.
  std::uint64_t write_batch(std::string& batch, std::uint64_t lines) noexcept;
  // Ends the rate limits' interval if it is over (or, `finish`, in any case) and appends its
  // summary lines.
  void write_summaries(bool finish, std::int64_t now_us) noexcept;
  bool path_names_other_file() const noexcept;
  bool try_open() noexcept;  // when no file is open
  void reopen() noexcept;    // when one is
  void close_file() noexcept;
  std::int64_t now_us() const noexcept;

  void log(Severity severity, const std::string& message) const noexcept;
  void failed(FailureReport& report, int error) noexcept;
  void report_due(FailureReport& report, bool now) noexcept;
  // Says the log writes again once writes have succeeded for the recovery interval (or
  // `now`, when the log closes).
  void settled(FailureReport& report, bool now) noexcept;
  void recovered(FailureReport& report) noexcept;

  // Owns the log file descriptor.
  class File {
   public:
    File() = default;
    explicit File(int fd) noexcept : fd_(fd) {}
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    File(File&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    File& operator=(File&& other) noexcept;
    ~File();
    int get() const noexcept { return fd_; }

   private:
    int fd_ = -1;
  };
  // Opens `path` for appending, creating it with mode 0640 when missing; never follows a
  // symbolic link, and never waits (a FIFO without a reader fails at once). On failure
  // returns an empty File and sets `error` (errno).
  static File open_file(const std::string& path, int& error) noexcept;

  const Options options_;
  std::unique_ptr<Cell[]> cells_;
  std::uint64_t wake_every_ = 1;  // submits between wake-ups: half the capacity
  std::atomic<bool> accepting_{false};  // a file is open; written only when that changes
  alignas(64) std::atomic<std::uint64_t> enqueue_position_{0};
  alignas(64) std::uint64_t dequeue_position_ = 0;  // writer thread only
  File file_;                                       // writer thread only after open()
  bool line_cut_ = false;  // writer thread only: a failed write left half a line in file_
                           // (one that cannot be truncated back: a pipe, a device)
  bool ever_open_ = false;                   // writer thread only after open()
  std::unique_ptr<HitRateLimiter> limiter_;  // writer thread only; null without limits
  FailureReport open_failures_{"open"};      // writer thread only after open()
  FailureReport write_failures_{"write to"};
  alignas(64) std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> suppressed_{0};
  std::atomic<std::uint64_t> summaries_{0};
  std::atomic<std::uint64_t> reopens_{0};
  std::atomic<std::uint64_t> open_errors_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<bool> reopen_requested_{false};
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;  // held by the writer only while it decides to sleep
  std::condition_variable wake_;
  std::thread writer_;
};

}  // namespace dnsverdict
