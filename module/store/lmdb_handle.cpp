#include "lmdb_handle.h"

namespace dnsverdict {

std::string lmdb_message(std::string_view what, int code) {
  std::string message(what);
  message += ": ";
  message += mdb_strerror(code);  // covers LMDB's own codes and errno values
  return message;
}

void check_lmdb(int code, std::string_view what) {
  if (code != MDB_SUCCESS) throw StoreError(lmdb_message(what, code), code);
}

}  // namespace dnsverdict
