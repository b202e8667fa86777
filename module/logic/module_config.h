// The module's own configuration file (conf/dnsverdict.conf, docs/module.md).
//
// Unbound's dynlib loader passes a module nothing but its file name, so the module reads
// its settings from a file of its own: the path in $DNSVERDICT_CONFIG, else
// kDefaultConfigPath. The syntax follows unbound.conf: one `key: value` per line, `#` starts
// a comment (outside quotes: a value in "double" or 'single' quotes is taken whole), blank
// lines are ignored; `exempt:` and `client-group:` may repeat.
//
// Thread safety: a ModuleConfig is immutable once parsed and may be read from any thread.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

inline constexpr const char* kDefaultConfigPath = "/etc/dnsverdict/dnsverdict.conf";
inline constexpr const char* kConfigPathVariable = "DNSVERDICT_CONFIG";

// What the module does when it has no usable store.
enum class FailMode : std::uint8_t {
  kOpen,    // answer every query normally, log loudly
  kClosed,  // answer every query SERVFAIL until a store can be opened
};

// Which RFC 8914 code blocked answers carry (docs/module.md explains the choice).
enum class EdeChoice : std::uint8_t { kBlocked = 15, kFiltered = 17, kNone = 0 };

// An IPv4 or IPv6 network in CIDR form. IPv4 networks also match IPv4-mapped IPv6 clients.
struct Network {
  int family = AF_INET;
  std::uint8_t address[16] = {};  // network byte order, host bits cleared
  std::uint8_t prefix_length = 0;

  // Parses "192.0.2.0/24", "2001:db8::/32" or a single address (a /32 or /128).
  static std::optional<Network> parse(std::string_view text, std::string& error);
  // `address` holds 4 (AF_INET) or 16 (AF_INET6) octets in network byte order.
  bool contains(int client_family, const std::uint8_t* client_address) const noexcept;
  std::string to_text() const;
};

// A named group of clients with a policy of its own (docs/module.md, "Client groups").
enum class GroupMode : std::uint8_t {
  kEnforce,  // the rules' actions, graded by the group's thresholds
  kMonitor,  // every action becomes `log`: answered normally, each hit logged
};

struct ClientGroup {
  std::string name;               // "default" for clients in no named group
  std::vector<Network> networks;  // none for "default"
  GroupMode mode = GroupMode::kEnforce;
  // Which rules apply to the group: those of a listed category or campaign (names compared
  // without regard to case). Both empty: every rule. Other rules pass silently (no hit line).
  std::vector<std::string> categories;
  std::vector<std::string> campaigns;
  std::optional<std::uint8_t> confidence_tag;    // unset: the config's confidence-tag
  std::optional<std::uint8_t> confidence_block;  // unset: the config's confidence-block

  // True when a rule of this category and campaign (names, empty for none) applies.
  bool applies(std::string_view category, std::string_view campaign) const noexcept;
};

struct ModuleConfig {
  std::string store_path = "/var/lib/dnsverdict/verdicts.mdb";
  FailMode fail_mode = FailMode::kOpen;
  std::string sinkhole_ipv4 = "0.0.0.0";  // text, as configured ("" = none)
  std::string sinkhole_ipv6 = "::";
  std::string default_sinkhole;  // both of the above in rule-data encoding (store_format.h)
  std::uint32_t answer_ttl = 60;  // seconds, TTL of every synthesized record
  std::string hit_log_path;       // "" = no hit log
  std::size_t hit_log_capacity = 8192;  // ~800 bytes a line: ~6.5 MB, allocated at start
  // Hit-log rate limits (hit_log.h): lines per rule and client per interval, and lines per
  // second in all. 0: no limit.
  std::uint32_t hit_log_rate_limit = 10;
  std::chrono::seconds hit_log_rate_interval{60};
  std::uint32_t hit_log_max_lines_per_second = 1000;
  std::vector<Network> exempt;    // clients never blocked (their hits are logged)
  std::uint8_t confidence_tag = 50;    // below: log only
  std::uint8_t confidence_block = 80;  // below (and >= tag): tag; at or above: the action
  std::chrono::milliseconds check_interval{250};  // a stat() each time: cheap
  EdeChoice ede = EdeChoice::kBlocked;

  // Infection-scale counters (docs/counters.md). Empty stats_store_path: nothing counted.
  std::string stats_store_path;
  std::chrono::seconds stats_flush_interval{60};
  std::uint32_t stats_retention_days = 30;  // 0: keep every hourly bucket
  std::string stats_resolver_name;          // "" = the host name
  std::string prometheus_file;              // "" = none; needs stats_store_path
  std::size_t stats_max_rules = 100000;     // rule entries tracked between two flushes
  std::size_t stats_map_size = std::size_t{4} << 30;         // bytes the stats store may use
  std::size_t stats_memory_budget = std::size_t{128} << 20;  // bytes the counters may hold
  std::string stats_hash_key_file;  // client-hash key; "" = stats_store_path + ".key"

  // Client groups: the clients in no named group form `default_group`; a client in several
  // belongs to the one with the longest matching network (the first defined on a tie).
  ClientGroup default_group;
  std::vector<ClientGroup> groups;

  // True when a client at `address` (4 or 16 octets, see Network::contains) is exempt.
  bool is_exempt(int family, const std::uint8_t* address) const noexcept;
  // The group of a client at `address` (family 0: unknown client: the default group).
  const ClientGroup& group_for(int family, const std::uint8_t* address) const noexcept;
  // True when some group (the default one included) has a policy of its own: answers for
  // listed names may then differ between clients of different groups.
  bool has_groups() const noexcept { return !groups.empty(); }
};

// Raised by parse_config/load_config; what() is "file:line: key: reason" (or "file: reason"
// when the file cannot be read).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses configuration text; `file` names it in messages. Every value is checked; the first
// error throws ConfigError. Unknown keys are errors (a typo must not silently keep a default).
ModuleConfig parse_config(std::string_view text, std::string_view file);
// Reads and parses the file at `path`. Throws ConfigError.
ModuleConfig load_config(const std::string& path);
// $DNSVERDICT_CONFIG when set and not empty, else kDefaultConfigPath.
std::string config_path_from_environment();

}  // namespace dnsverdict
