#include "unbound/running_unbound.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstring>
#include <type_traits>

#include "unbound/headers.h"

namespace dnsverdict {
namespace {

// The dynlib interface this module implements (dynlibmod/dynlibmod.h, the same from 1.17 to
// 1.26): a tree that changes it does not compile, rather than crash at load.
static_assert(std::is_same_v<decltype(dynlibmod_env::inplace_cb_register_wrapped),
                             int (*)(void*, inplace_cb_list_type, void*, module_env*, int)>);
static_assert(std::is_same_v<decltype(dynlibmod_env::inplace_cb_delete_wrapped),
                             void (*)(module_env*, inplace_cb_list_type, int)>);
static_assert(std::is_same_v<decltype(dynlibmod_env::dyn_env), void*>);

constexpr char kPackagePrefix[] = "unbound ";  // PACKAGE_STRING is PACKAGE_NAME " " VERSION

bool is_version_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '.' || c == '-' || c == '~' || c == '+';
}

struct Scan {
  std::string version;
  bool main_seen = false;
};

// dl_iterate_phdr visits the main program first: its read-only loaded segments hold the
// string constants.
int scan_main_program(dl_phdr_info* info, std::size_t, void* argument) {
  auto* scan = static_cast<Scan*>(argument);
  scan->main_seen = true;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum && scan->version.empty(); ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_R) == 0 ||
        (segment.p_flags & PF_W) != 0) {
      continue;
    }
    const auto* begin = reinterpret_cast<const char*>(info->dlpi_addr + segment.p_vaddr);
    scan->version = find_unbound_version(begin, segment.p_filesz);
  }
  return 1;  // the main program only
}

// The file name this module was loaded from, for the message.
std::string module_file_name() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&unbound_mismatch), &info) == 0 ||
      info.dli_fname == nullptr) {
    return "dnsverdict.so";
  }
  const char* slash = std::strrchr(info.dli_fname, '/');
  return slash != nullptr ? slash + 1 : info.dli_fname;
}

// A configure option that changes the layout of structures the module reads, and a function
// that only an Unbound built with it exports.
struct Flavour {
  const char* name;
  bool compiled;
  const char* marker;
};

#ifdef CLIENT_SUBNET
constexpr bool kSubnet = true;
#else
constexpr bool kSubnet = false;
#endif
#ifdef USE_CACHEDB
constexpr bool kCachedb = true;
#else
constexpr bool kCachedb = false;
#endif
#ifdef USE_DNSCRYPT
constexpr bool kDnscrypt = true;
#else
constexpr bool kDnscrypt = false;
#endif
#ifdef HAVE_NGTCP2
constexpr bool kQuic = true;
#else
constexpr bool kQuic = false;
#endif
#ifdef USE_MINI_EVENT
constexpr bool kMiniEvent = true;
#else
constexpr bool kMiniEvent = false;
#endif

constexpr Flavour kFlavours[] = {
    {"subnetcache (--enable-subnet)", kSubnet, "subnetmod_get_funcblock"},  // module_qstate
    {"cachedb (--enable-cachedb)", kCachedb, "cachedb_get_funcblock"},      // module_env
    {"dnscrypt (--enable-dnscrypt)", kDnscrypt, "dnsc_create"},             // comm_reply
    {"DNS over QUIC (--with-libngtcp2)", kQuic, "doq_table_create"},        // comm_reply
};

}  // namespace

std::string find_unbound_version(const char* data, std::size_t size) {
  const std::size_t prefix = sizeof(kPackagePrefix) - 1;
  std::string found;
  const char* end = data + size;
  for (const char* at = data; at + 1 + prefix < end;) {
    const void* hit = std::memchr(at, '\0', static_cast<std::size_t>(end - at));
    if (hit == nullptr) break;
    const char* start = static_cast<const char*>(hit) + 1;
    at = start;
    if (static_cast<std::size_t>(end - start) <= prefix ||
        std::memcmp(start, kPackagePrefix, prefix) != 0) {
      continue;
    }
    const char* version = start + prefix;
    const char* stop = version;
    while (stop < end && is_version_char(*stop)) ++stop;
    if (stop == end || *stop != '\0' || stop == version || *version < '0' || *version > '9') {
      continue;
    }
    std::string candidate(version, stop);
    if (found.empty()) {
      found = candidate;
    } else if (found != candidate) {
      return {};  // two versions: cannot tell
    }
    at = stop;
  }
  return found;
}

std::string running_unbound_version() {
  Scan scan;
  dl_iterate_phdr(&scan_main_program, &scan);
  return scan.version;
}

std::string unbound_mismatch() {
  try {
    const std::string built = PACKAGE_VERSION;  // of the tree this file compiled against
    std::string running = running_unbound_version();
    if (running != built) {
      return module_file_name() + " was built for Unbound " + built + ", this is " +
             (running.empty() ? std::string("an Unbound whose version cannot be read") : running) +
             ": rebuild";
    }
    for (const Flavour& flavour : kFlavours) {
      bool present = dlsym(RTLD_DEFAULT, flavour.marker) != nullptr;
      if (present != flavour.compiled) {
        return module_file_name() + " was built for Unbound " + built + (flavour.compiled ? " with " : " without ") +
               flavour.name + ", this is " + running + (present ? " with it" : " without it") +
               ": rebuild";
      }
    }
    const char* events = ub_event_get_version();
    bool mini = events != nullptr && std::strncmp(events, "mini-event", 10) == 0;
    if (mini != kMiniEvent) {
      return module_file_name() + " was built for Unbound " + built +
             (kMiniEvent ? " with its mini-event loop" : " with libevent") + ", this is " +
             running + " with " + (events != nullptr ? events : "another event loop") +
             ": rebuild";
    }
    return {};
  } catch (...) {
    return "dnsverdict: out of memory while checking the Unbound version";
  }
}

}  // namespace dnsverdict
