// Which Unbound module chains (unbound.conf `module-config:`) the module supports.
//
// The module must see every query before anything can answer or cache it: it runs first.
// After it, only modules whose caching it has been tested against may follow: the validator,
// the iterator and dns64 (whose own cache stores the module purges when it answers). Others
// keep caches the module cannot see into (subnetcache, cachedb) or were not tested (respip,
// ipsecmod, python, ipset): the module refuses to start with them rather than let listed
// names leak through their caches.
#pragma once

#include <string>
#include <string_view>

namespace dnsverdict {

// The supported module-config lines, for messages and docs.
inline constexpr const char* kSupportedModuleChains =
    "\"dynlib iterator\", \"dynlib validator iterator\", \"dynlib dns64 iterator\", "
    "\"dynlib dns64 validator iterator\"";

// Empty when `module_config` (the module-config value, words separated by spaces) with this
// module at index `position` is supported; otherwise one sentence saying what is wrong.
std::string check_module_chain(std::string_view module_config, int position);

}  // namespace dnsverdict
