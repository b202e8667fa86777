// Is the Unbound this module was loaded into the one it was compiled against?
//
// The module reads and writes Unbound's internal structures (module_qstate, reply_info,
// comm_reply, lruhash ...), whose layout changes between releases and with some configure
// options; dynlib itself checks nothing. So init() compares, before it touches anything else:
//  - the version: PACKAGE_VERSION of the source tree the module compiled against, and the
//    running Unbound's, read from its PACKAGE_STRING ("unbound 1.22.0"), a string every
//    daemon carries for its "start of service" log line. Unbound exports no version function
//    (libunbound's ub_version() is not in the daemon), so the string is found in the running
//    executable's read-only segments (dl_iterate_phdr: no file access, works in a chroot);
//  - the configure options that change the layout of what the module reads (subnetcache,
//    cachedb, dnscrypt, DNS over QUIC) and the event loop (mini-event or libevent), each by a
//    function that only such a build exports.
#ifndef DNSVERDICT_UNBOUND_RUNNING_UNBOUND_H
#define DNSVERDICT_UNBOUND_RUNNING_UNBOUND_H

#include <cstddef>
#include <string>

namespace dnsverdict {

// The version in the first PACKAGE_STRING ("\0unbound <version>\0") in [data, data + size);
// empty when there is none, or when two different ones are there.
std::string find_unbound_version(const char* data, std::size_t size);

// The running Unbound's version; empty when it cannot be read.
std::string running_unbound_version();

// Empty when the running Unbound is the version and build flavour this module was compiled
// for; otherwise the one line to log before refusing to load, such as
// "dnsverdict.so was built for Unbound 1.17.1, this is 1.26.0: rebuild".
std::string unbound_mismatch();

}  // namespace dnsverdict

#endif
