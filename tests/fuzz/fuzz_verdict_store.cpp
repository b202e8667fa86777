// Arbitrary content opened as a verdict store with VerdictStore::open, as the module and the
// tools open a store. Two targets from this source (FUZZ_RAW_FILE, set by CMakeLists.txt):
//   verdict_store_file  the input is the file, bytes as they come (LMDB's pages included);
//   verdict_store       the input is records (fuzz_support.h) written through LMDB: sound
//                       pages, damaged content, which is what the store reader checks itself.
// Properties: a file that is not a sound store is one StoreError, never a crash or a read
// outside the file; a store that opens answers lookups, and iterating it either visits keys
// or throws StoreError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dns_name.h"
#include "fuzz_support.h"
#include "verdict_store.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
#if FUZZ_RAW_FILE
  fuzz::TemporaryFile file(fuzz::as_text(data, size), "store");
#else
  fuzz::TemporaryFile file({}, "store");
  fuzz::write_lmdb_records(fuzz::as_text(data, size),
                           {db::kMeta, db::kRules, db::kCampaigns, db::kCategories, db::kSources,
                            db::kFilter, db::kAddressRules},
                           file.path());
#endif
  std::shared_ptr<const VerdictStore> store;
  try {
    store = VerdictStore::open(file.path());
  } catch (const StoreError&) {
    return 0;
  }
  static const char* const kNames[] = {"example.com", "www.example.com", "com", "a.b.c.d.e.f"};
  for (const char* name : kNames) {
    std::string wire, error;
    FUZZ_CHECK(parse_name(name, wire, error));
    store->lookup_wire(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), 0);
  }
  try {
    std::size_t visited = 0;
    store->for_each([&](std::string_view key, const RuleSlots&) {
      std::string wire = key_to_wire(key);
      NameKey name_key;
      if (make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), name_key))
        store->lookup(name_key, 0);
      return ++visited < 1000;
    });
  } catch (const StoreError&) {
  }
  return 0;
}
