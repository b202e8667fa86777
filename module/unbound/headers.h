// Unbound's headers as the C++ glue includes them, for every supported Unbound (1.17 to 1.26).
// The glue includes this instead of Unbound's headers; what differs between versions in how
// they compile from C++ is handled here, once.
#ifndef DNSVERDICT_UNBOUND_HEADERS_H
#define DNSVERDICT_UNBOUND_HEADERS_H

// util/data/msgreply.h declares `enum comm_point_type;` (since 1.19) for log_reply_info(): a
// forward-declared enum is valid C but not C++ ("use of enum without previous declaration").
// util/netevent.h, which defines it, does not compile as C++ either. The glue never passes a
// comm_point_type, so a stand-in definition that makes the declaration a redeclaration is
// enough; GCC takes it silently, Clang with -pedantic warns (-Wgnu-redeclared-enum).
enum comm_point_type { dnsverdict_comm_point_type_unused };

extern "C" {
#include "config.h"
#include "dynlibmod/dynlibmod.h"
#include "services/cache/dns.h"
#include "services/cache/rrset.h"
#include "sldns/rrdef.h"
#include "util/config_file.h"
#include "util/data/msgparse.h"
#include "util/net_help.h"
#include "util/ub_event.h"
#include "util/data/msgreply.h"
#include "util/data/packed_rrset.h"
#include "util/log.h"
#include "util/module.h"
#include "util/regional.h"
#include "util/storage/lruhash.h"
#include "util/storage/slabhash.h"
// util/netevent.h does not compile as C++ (it declares an enum forward); the one function.
// Same declaration in every supported version.
struct ub_event_base* comm_base_internal(struct comm_base* b);
}

#endif
