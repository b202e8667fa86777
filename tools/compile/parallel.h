// The compile's two-way parallelism: parts of one compile (the halves of a feed, of the sort,
// of the store's records) run on two threads and are joined in input order, so that a store
// is byte-identical whatever the thread count.
//
// Threads: the machine's cores (std::thread::hardware_concurrency), at most 2. The
// environment variable DNSVERDICT_COMPILE_THREADS (1 or 2) overrides it; it is internal, for
// the tests that compare a serial and a parallel compile, not a documented option.
#pragma once

#include <cstdlib>
#include <exception>
#include <system_error>
#include <thread>

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

}  // namespace dnsverdict
