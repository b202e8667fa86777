// The client-hash key: SipHash-2-4 against the reference vectors, the key file (created
// once, private, never through a link), and fingerprints that tell keys apart.
#include "client_hash.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "lmdb_handle.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

// Aumasson and Bernstein's test key 00 01 .. 0f.
ClientHashKey reference_key() {
  return *ClientHashKey::parse("000102030405060708090a0b0c0d0e0f");
}

TEST(ClientHash, SipHashReferenceVectors) {
  std::uint8_t message[15];
  for (int i = 0; i < 15; ++i) message[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(reference_key().hash(message, 0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(reference_key().hash(message, 8), 0x93f5f5799a932462ULL);
  EXPECT_EQ(reference_key().hash(message, 15), 0xa129ca6149be45e5ULL);
}

TEST(ClientHash, TextRoundTripAndFingerprint) {
  ClientHashKey key = ClientHashKey::random();
  EXPECT_EQ(ClientHashKey::parse("  " + key.to_text() + "\n"), key);
  EXPECT_EQ(ClientHashKey::parse(reference_key().to_text()), reference_key());
  EXPECT_FALSE(ClientHashKey::parse("0001"));
  EXPECT_FALSE(ClientHashKey::parse(std::string(32, 'g')));
  EXPECT_EQ(key.fingerprint().size(), 16u);
  EXPECT_EQ(key.fingerprint(), ClientHashKey::parse(key.to_text())->fingerprint());
  EXPECT_NE(key.fingerprint(), reference_key().fingerprint());
  EXPECT_EQ(key.fingerprint().find(key.to_text().substr(0, 8)), std::string::npos);
}

TEST(ClientHash, KeyFileIsCreatedOncePrivately) {
  testing::TempDir dir;
  const std::string path = dir.file("stats.mdb.key");
  bool created = false;
  ClientHashKey first = load_or_create_client_key(path, created);
  EXPECT_TRUE(created);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_EQ(testing::read_file(path), first.to_text() + "\n");
  ClientHashKey again = load_or_create_client_key(path, created);
  EXPECT_FALSE(created);
  EXPECT_EQ(again, first);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);  // no temporary left behind
}

TEST(ClientHash, KeyFileErrorsNameThePath) {
  testing::TempDir dir;
  bool created = false;
  const std::string bad = dir.write("bad.key", "not a key\n");
  try {
    load_or_create_client_key(bad, created);
    ADD_FAILURE() << "a malformed key file was accepted";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find(bad), std::string::npos) << error.what();
  }
  EXPECT_THROW(load_or_create_client_key(dir.file("missing/x.key"), created), StoreError);
}

// A link planted where the key's temporary file goes is removed, not written through.
TEST(ClientHash, KeyFileNeverWrittenThroughALink) {
  testing::TempDir dir;
  const std::string path = dir.file("x.key");
  const std::string victim = dir.write("victim", "keep me\n");
  ASSERT_EQ(::symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  bool created = false;
  load_or_create_client_key(path, created);
  EXPECT_TRUE(created);
  EXPECT_EQ(testing::read_file(victim), "keep me\n");
}

}  // namespace
}  // namespace dnsverdict
