// The compile's two-way parallelism: parts of one compile (the halves of a feed, of the sort,
// of the store's records) run on two threads and are joined in input order, so that a store
// is byte-identical whatever the thread count.
//
// Threads: the machine's cores (std::thread::hardware_concurrency), at most 2. The
// environment variable DNSVERDICT_COMPILE_THREADS (1 or 2) overrides it; it is internal, for
// the tests that compare a serial and a parallel compile, not a documented option.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace dnsverdict {

// 1 or 2: how many threads a compile uses.
inline unsigned compile_threads() noexcept {
  if (const char* forced = std::getenv("DNSVERDICT_COMPILE_THREADS")) {
    if (forced[0] == '1' && forced[1] == '\0') return 1;
    if (forced[0] == '2' && forced[1] == '\0') return 2;
  }
  return std::thread::hardware_concurrency() >= 2 ? 2 : 1;
}

// Runs `first` on this thread and `second` on another, and returns when both are done; with
// one thread (or when no thread can be started) runs `first`, then `second`. An exception of
// `first` wins (it is what a serial run would have thrown first); then one of `second`.
template <typename First, typename Second>
void run_in_parallel(First&& first, Second&& second) {
  if (compile_threads() < 2) {
    first();
    second();
    return;
  }
  std::exception_ptr second_error;
  std::thread worker;
  try {
    worker = std::thread([&] {
      try {
        second();
      } catch (...) {
        second_error = std::current_exception();
      }
    });
  } catch (const std::system_error&) {
    first();
    second();
    return;
  }
  try {
    first();
  } catch (...) {
    worker.join();
    throw;
  }
  worker.join();
  if (second_error) std::rethrow_exception(second_error);
}

// Hands out batches of the indexes [0, count) from both ends, to two threads (one takes from
// the front, the other from the back) until they meet: every index once. A thread that is
// done with its own work takes over the rest of the other's.
class EndClaims {
 public:
  explicit EndClaims(std::size_t count) : ends_(count) {
    if (count > 0xffffffffu) throw std::length_error("more than 2^32 - 1 items to claim");
  }
  // The next batch [first, second) of at most `batch` (> 0) indexes from the front, or from
  // the back; empty when none is left.
  std::pair<std::size_t, std::size_t> front(std::size_t batch) noexcept {
    std::uint64_t ends = ends_.load();
    for (;;) {
      std::uint64_t begin = ends >> 32, end = ends & 0xffffffffu;
      if (begin >= end) return {0, 0};
      std::uint64_t taken = std::min<std::uint64_t>(begin + batch, end);
      if (ends_.compare_exchange_weak(ends, taken << 32 | end)) return {begin, taken};
    }
  }
  std::pair<std::size_t, std::size_t> back(std::size_t batch) noexcept {
    std::uint64_t ends = ends_.load();
    for (;;) {
      std::uint64_t begin = ends >> 32, end = ends & 0xffffffffu;
      if (begin >= end) return {0, 0};
      std::uint64_t taken = end - begin > batch ? end - batch : begin;
      if (ends_.compare_exchange_weak(ends, begin << 32 | taken)) return {taken, end};
    }
  }

 private:
  std::atomic<std::uint64_t> ends_;  // front index << 32 | back index
};

}  // namespace dnsverdict
