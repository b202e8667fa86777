// Move-only owners of LMDB handles, and the one place LMDB return codes become messages.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

// Raised by store operations outside the query path (open, iteration, writing).
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& message, int code = 0)
      : std::runtime_error(message), code_(code) {}
  // The LMDB or errno code behind the error (MDB_MAP_FULL ...); 0 for a format problem.
  int code() const noexcept { return code_; }

 private:
  int code_ = 0;
};

// "what: LMDB's message" for an LMDB (or errno) return code.
std::string lmdb_message(std::string_view what, int code);
// Throws StoreError(lmdb_message(what, code), code) when code != MDB_SUCCESS.
void check_lmdb(int code, std::string_view what);

inline MDB_val to_val(std::string_view bytes) noexcept {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}
inline std::string_view from_val(const MDB_val& value) noexcept {
  return {static_cast<const char*>(value.mv_data), value.mv_size};
}

// LMDB uses what its meta pages record without checking it: mdb_env_open divides by the page
// size (0 raises SIGFPE), and a database root on a meta page fails an assertion (abort).
// Checks both meta pages LMDB will read, before it does; a file that is not LMDB at all is
// left for mdb_env_open to refuse. Throws StoreError ("path: damaged LMDB meta page ...") or
// when the file cannot be read.
void check_meta_pages(const std::string& path);

// A truncated LMDB file opens, then faults (SIGBUS) when a page past its end is touched.
// mdb_env_open reads the meta pages with read(), not through the map, so checking the size
// LMDB's meta page claims against the size of the very file it opened is safe. Throws
// StoreError("path: the file is truncated (N of M bytes)") when it is shorter.
void check_file_complete(MDB_env* env, const std::string& path);

// Where this process has an environment's file mapped, each mapping cut at the file's size.
// LMDB checks page numbers against the file but not the sizes and offsets inside a page: a
// damaged file can make it hand out a value that runs past the end of the file (reading it
// faults, or reads other memory). Readers of untrusted files check every value they keep
// with contains(). LMDB does not say where it mapped the file, so the mappings come from
// /proc/self/maps (by device and inode; a file mapped twice has two).
class FileMappings {
 public:
  // The mappings of `env`'s file. known() is false when they cannot be found out (no /proc):
  // contains() then accepts everything, as if unchecked.
  static FileMappings of(MDB_env* env);

  bool known() const noexcept { return !ranges_.empty(); }
  // True when [data, data + size) lies inside one mapping, within the file.
  bool contains(const void* data, std::size_t size) const noexcept;
  bool contains(const MDB_val& value) const noexcept {
    return contains(value.mv_data, value.mv_size);
  }

 private:
  struct Range {
    std::uintptr_t begin = 0, end = 0;
  };
  std::vector<Range> ranges_;
};

class LmdbEnv {
 public:
  LmdbEnv() = default;
  explicit LmdbEnv(MDB_env* env) noexcept : env_(env) {}
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;
  LmdbEnv(LmdbEnv&& other) noexcept : env_(other.env_) { other.env_ = nullptr; }
  LmdbEnv& operator=(LmdbEnv&& other) noexcept {
    if (this != &other) {
      reset();
      env_ = other.env_;
      other.env_ = nullptr;
    }
    return *this;
  }
  ~LmdbEnv() { reset(); }
  void reset() noexcept {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
  }
  MDB_env* get() const noexcept { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

class LmdbTxn {
 public:
  LmdbTxn() = default;
  explicit LmdbTxn(MDB_txn* txn) noexcept : txn_(txn) {}
  LmdbTxn(const LmdbTxn&) = delete;
  LmdbTxn& operator=(const LmdbTxn&) = delete;
  LmdbTxn(LmdbTxn&& other) noexcept : txn_(other.txn_) { other.txn_ = nullptr; }
  LmdbTxn& operator=(LmdbTxn&& other) noexcept {
    if (this != &other) {
      abort();
      txn_ = other.txn_;
      other.txn_ = nullptr;
    }
    return *this;
  }
  ~LmdbTxn() { abort(); }
  void abort() noexcept {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  // Commits and releases; throws StoreError on failure (the transaction is gone either way).
  void commit(std::string_view what) {
    MDB_txn* txn = txn_;
    txn_ = nullptr;
    check_lmdb(mdb_txn_commit(txn), what);
  }
  MDB_txn* get() const noexcept { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

class LmdbCursor {
 public:
  LmdbCursor() = default;
  explicit LmdbCursor(MDB_cursor* cursor) noexcept : cursor_(cursor) {}
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;
  LmdbCursor(LmdbCursor&& other) noexcept : cursor_(other.cursor_) { other.cursor_ = nullptr; }
  LmdbCursor& operator=(LmdbCursor&& other) noexcept {
    if (this != &other) {
      if (cursor_ != nullptr) mdb_cursor_close(cursor_);
      cursor_ = other.cursor_;
      other.cursor_ = nullptr;
    }
    return *this;
  }
  ~LmdbCursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  MDB_cursor* get() const noexcept { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace dnsverdict
