// The module's decision for one query and one client: a pure function of the store lookup,
// the client, the query type and the configuration. No Unbound, no I/O, no allocation
// (except ede_text, which runs only for blocked answers).
//
// Grading: a blocking rule whose confidence is below `confidence-block` is downgraded to
// `tag`, below `confidence-tag` to `log`. Exempt clients get every blocking verdict as
// `log` (answered normally, hit line noted "exempt-client"). `tcp-only` truncates UDP answers
// and lets TCP pass. A client group (module_config.h) brings its own thresholds, may limit
// the rules that apply to it to some categories and campaigns, and in `monitor` mode turns
// every blocking verdict into `log` (hit line noted "monitor-group").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hit_log.h"
#include "module_config.h"
#include "store_format.h"
#include "verdict_store.h"

namespace dnsverdict {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeCname = 5;
inline constexpr std::uint16_t kTypeAaaa = 28;

// What the module answers.
enum class Response : std::uint8_t {
  kPass,      // resolve normally
  kNxdomain,  // NXDOMAIN, empty sections
  kNodata,    // NOERROR, empty sections
  kRefuse,    // REFUSED
  kDrop,      // no answer at all
  kSinkhole,  // NOERROR with A or AAAA records (`sinkhole` holds at least one of the type)
  kRedirect,  // NOERROR with one CNAME to `redirect_target`
  kTruncate,  // NOERROR, empty, TC bit: the client retries over TCP
};

struct Decision {
  Response response = Response::kPass;
  Action applied = Action::kAllow;  // the action taken, for the hit line
  bool hit = false;                 // write a hit line
  // The verdict blocks some clients (of some group, exempt ones aside): the real answer must
  // not be cached (it would be served from cache to clients it must not reach).
  bool blocks_someone = false;
  const char* note = "";            // hit-line note: "exempt-client", "below-block-threshold"...
  std::string_view sinkhole;        // kSinkhole: encoded addresses (store_format.h)
  std::string_view redirect_target; // kRedirect: wire-format name

  bool blocked() const noexcept { return response != Response::kPass; }
};

// The rule's action after the confidence thresholds of the default group.
Action graded_action(const Rule& rule, const ModuleConfig& config) noexcept;
// The same with a group's thresholds (its own, else the config's).
Action graded_action(const Rule& rule, const ModuleConfig& config,
                     const ClientGroup& group) noexcept;

// The client-independent question: does the rule block the clients of some group (or the
// ungrouped ones)? Then the real answer must not be cached. An allowlist rule blocks no one.
bool blocks_anyone(const Rule& rule, const VerdictStore& store, const ModuleConfig& config) noexcept;

struct QueryContext {
  std::uint16_t qtype = 0;
  bool client_exempt = false;
  bool udp = true;
  const ClientGroup* group = nullptr;  // the client's group; null: the default group
};

// The decision for a lookup result. `store` is the store the result came from (for the
// campaign's sinkhole addresses); a miss or error gives kPass without a hit.
Decision decide(const LookupResult& lookup, const VerdictStore& store, const ModuleConfig& config,
                const QueryContext& query) noexcept;

// The addresses of `family` (AF_INET or AF_INET6) in encoded address data: calls
// visit(const std::uint8_t* octets) for each (4 or 16 octets), returns how many.
template <typename Visit>
std::size_t for_each_address(std::string_view data, int family, Visit&& visit) noexcept;

// The EDE (RFC 8914) EXTRA-TEXT for a blocked answer: names the campaign, else the category.
std::string ede_text(const Decision& decision, const LookupResult& lookup,
                     const VerdictStore& store);

// Fills a hit-log record (everything but the client, which the caller sets).
void fill_hit_record(HitRecord& record, const Decision& decision, const LookupResult& lookup,
                     const VerdictStore& store, std::string_view qname_wire, std::uint16_t qtype,
                     std::int64_t time_us) noexcept;

// ---------------------------------------------------------------------------------------------

template <typename Visit>
std::size_t for_each_address(std::string_view data, int family, Visit&& visit) noexcept {
  std::size_t count = 0;
  std::size_t i = 0;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
  while (i < data.size()) {
    std::size_t size = bytes[i] == 4 ? 4 : bytes[i] == 6 ? 16 : 0;
    if (size == 0 || i + 1 + size > data.size()) break;  // malformed: stop
    if ((size == 4) == (family == AF_INET)) {
      visit(bytes + i + 1);
      ++count;
    }
    i += 1 + size;
  }
  return count;
}

}  // namespace dnsverdict
