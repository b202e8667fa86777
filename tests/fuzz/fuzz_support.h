// What the fuzz targets share: a property check that stops the run with a message, and a
// temporary file for the readers that take a path (manifest, dnstap, stores).
#pragma once

#include <lmdb.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict::fuzz {

// A property of the code under test that the input broke: libFuzzer keeps the input as a
// crash (abort) and prints the message above its report.
#define FUZZ_CHECK(condition)                                                          \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

// A file in $TMPDIR (else /tmp) holding `bytes`, removed with the "-lock" file LMDB may
// create beside it when the object goes.
class TemporaryFile {
 public:
  TemporaryFile(std::string_view bytes, std::string_view name) {
    const char* folder = std::getenv("TMPDIR");
    path_ = std::string(folder != nullptr && *folder != '\0' ? folder : "/tmp") + "/dnsverdict-fuzz-" +
            std::string(name) + "-XXXXXX";
    int fd = ::mkstemp(path_.data());
    if (fd < 0) {
      std::perror("mkstemp");
      std::abort();
    }
    std::size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n <= 0) {
        std::perror("write");
        std::abort();
      }
      written += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  ~TemporaryFile() {
    ::unlink(path_.c_str());
    ::unlink((path_ + "-lock").c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// Writes an LMDB file at `path` through LMDB itself, from the records in `bytes` (made from a
// store by lmdb_records.py): a u8 mask of the databases to create (bit i: databases[i]),
// then records of u8 database, u16 key length, u32 value length (little-endian), key,
// value. A record for a database not created, or that LMDB refuses (an empty key), is left
// out; a truncated record ends the input. The file's pages are LMDB's own, sound: what the
// reader then sees damaged is the content only.
inline void write_lmdb_records(std::string_view bytes, const std::vector<const char*>& databases,
                               const std::string& path) {
  auto fail = [](const char* what, int code) {
    std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(code));
    std::abort();
  };
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env)) fail("mdb_env_create", rc);
  mdb_env_set_maxdbs(env, static_cast<MDB_dbi>(databases.size()));
  // Small: ASan clears the shadow of every mapping, LMDB maps all of it, once per input.
  mdb_env_set_mapsize(env, std::size_t{16} << 20);
  if (int rc = mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0644))
    fail("mdb_env_open", rc);
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, 0, &txn)) fail("mdb_txn_begin", rc);
  std::vector<MDB_dbi> dbis(databases.size());
  std::vector<bool> created(databases.size(), false);
  auto take = [&](std::size_t count) {
    std::string_view taken = bytes.substr(0, count);
    bytes.remove_prefix(taken.size());
    return taken;
  };
  auto number = [](std::string_view field) {
    std::uint32_t value = 0;
    for (std::size_t i = field.size(); i-- > 0;) value = value << 8 | static_cast<std::uint8_t>(field[i]);
    return value;
  };
  std::uint32_t mask = bytes.empty() ? 0 : number(take(1));
  for (std::size_t i = 0; i < databases.size(); ++i) {
    if ((mask >> i & 1) == 0) continue;
    if (int rc = mdb_dbi_open(txn, databases[i], MDB_CREATE, &dbis[i])) fail("mdb_dbi_open", rc);
    created[i] = true;
  }
  while (bytes.size() >= 7) {
    std::size_t database = number(take(1)) % databases.size();
    std::uint32_t key_size = number(take(2));
    std::uint32_t value_size = number(take(4));
    if (key_size > bytes.size() || value_size > bytes.size() - key_size) break;
    std::string_view key = take(key_size), value = take(value_size);
    if (!created[database]) continue;
    MDB_val mdb_key{key.size(), const_cast<char*>(key.data())};
    MDB_val mdb_value{value.size(), const_cast<char*>(value.data())};
    mdb_put(txn, dbis[database], &mdb_key, &mdb_value, 0);
  }
  if (int rc = mdb_txn_commit(txn)) fail("mdb_txn_commit", rc);
  mdb_env_close(env);
}

}  // namespace dnsverdict::fuzz
