// The hit log: one JSON line per query that matched a rule, written off the query path.
//
// The query path fills a fixed-size HitRecord (no heap) and submits it to a bounded queue;
// a writer thread formats the records as JSON and appends them to the log file. When the
// writer falls behind and the queue is full, records are dropped and counted: a query is
// never delayed by the log. The file is reopened on request (SIGHUP) and whenever the path
// no longer names the open file (logrotate renamed or removed it).
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
// rule_action, rule, kind, campaign, category (null when empty), source, confidence,
// build_id, note (only when not empty). The output is plain ASCII unless a text field holds
// valid UTF-8; invalid bytes come out as \u00XX. Runs on the writer thread: may allocate.
std::string format_hit_json(const HitRecord& record);

// Thread safety: submit(), request_reopen() and the counters may be called from any number
// of threads at once; open() and the destructor must not overlap any other call.
class HitLog {
 public:
  struct Options {
    std::string path;
    // Records queued at most, across all threads; memory is capacity * sizeof(HitRecord)
    // (about 53 MB for the default), allocated once at open.
    std::size_t capacity_lines = 65536;
    // How long the writer sleeps when the queue is empty (unless half the queue fills), and
    // how often it checks (stat) whether the path still names the open file.
    std::chrono::milliseconds flush_interval{200};
    // Test seam: called by the writer thread at the start of every cycle, before it takes
    // records from the queue. A test blocks in it to stall the writer.
    std::function<void()> writer_cycle_hook;
  };

  // Opens `options.path` for appending (creating it with mode 0640) and starts the writer.
  // Returns null and sets `error` ("path: reason") when the file cannot be opened, the
  // capacity is 0, or the memory or thread cannot be had. Never throws.
  static std::unique_ptr<HitLog> open(Options options, std::string& error) noexcept;

  // Writes everything queued, stops the writer thread and closes the file.
  ~HitLog();
  // The same, now: afterwards written() and dropped() are final and submit() only counts
  // drops. Idempotent; call it from one thread.
  void close() noexcept;
  HitLog(const HitLog&) = delete;
  HitLog& operator=(const HitLog&) = delete;

  // Query path: copies the record into the queue. Never waits for I/O, allocates or throws.
  // Returns false, and counts a drop, when the queue is full.
  bool submit(const HitRecord& record) noexcept;

  // Async-signal-safe (SIGHUP): asks the writer to reopen the path. It does so when it next
  // wakes, within one flush interval.
  void request_reopen() noexcept;

  // Lines appended to the file so far.
  std::uint64_t written() const noexcept { return written_.load(std::memory_order_relaxed); }
  // Records lost: submitted while the queue was full, or formatted but not written because
  // the file could not be written. Once the log is destroyed, written + dropped = submitted.
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  // Times the file has been reopened (on request or after rotation).
  std::uint64_t reopens() const noexcept { return reopens_.load(std::memory_order_relaxed); }

 private:
  struct Cell;

  explicit HitLog(Options options);
  void run_writer() noexcept;
  bool record_ready() const noexcept;
  void wake_writer() noexcept;
  std::size_t drain(std::string& batch) noexcept;
  void write_batch(std::string& batch, std::uint64_t lines) noexcept;
  bool path_names_other_file() const noexcept;
  void reopen() noexcept;

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
  // Opens `path` for appending; on failure returns an empty File and sets `error` (errno).
  static File open_file(const std::string& path, int& error) noexcept;

  const Options options_;
  std::unique_ptr<Cell[]> cells_;
  std::uint64_t wake_every_ = 1;  // submits between wake-ups: half the capacity
  alignas(64) std::atomic<std::uint64_t> enqueue_position_{0};
  alignas(64) std::uint64_t dequeue_position_ = 0;  // writer thread only
  File file_;                                       // writer thread only after open()
  bool line_cut_ = false;  // writer thread only: a failed write left half a line in file_
  alignas(64) std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> reopens_{0};
  std::atomic<bool> reopen_requested_{false};
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;  // held by the writer only while it decides to sleep
  std::condition_variable wake_;
  std::thread writer_;
};

}  // namespace dnsverdict
