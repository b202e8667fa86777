// dnsverdict dump: writes a store back out as a feed, an RPZ zone or an indicator CSV.
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "cmd_inspect.h"
#include "commands.h"
#include "diagnostics.h"
#include "module_config.h"
#include "policy.h"

namespace dnsverdict {
namespace {

constexpr const char* kDumpUsage =
    "usage: dnsverdict dump [--format rpz|csv] [-o FILE] [--origin NAME] [--config FILE] STORE\n"
    "\n"
    "Writes the rules of STORE back out as a feed that `dnsverdict compile` reads.\n"
    "\n"
    "  rpz  an RPZ zone (the default) that Unbound's rpz: clause loads: a name's rule as\n"
    "       `name CNAME .` (nxdomain), `CNAME *.` (nodata), `CNAME rpz-drop.` (drop),\n"
    "       `CNAME rpz-tcp-only.` (tcp-only), `CNAME rpz-passthru.` (allow), A/AAAA records\n"
    "       (sinkhole), `CNAME target.` (redirect); the rule for names below it as `*.name`;\n"
    "       an address rule as the IP trigger `32.28.164.100.47.rpz-ip` (47.100.164.28/32).\n"
    "       RPZ cannot say everything a store holds: log and tag rules, and blocking rules\n"
    "       the module only tags or logs (confidence below its confidence-block), become\n"
    "       passthru; refuse becomes nxdomain (each with a comment, and a count on standard\n"
    "       error); a sinkhole without addresses in the store is a comment only; campaign,\n"
    "       category, confidence and dates are lost; rules already expired are left out.\n"
    "  csv  the indicator CSV, header domain,ip,kind,action,category,campaign,confidence,\n"
    "       first_seen,expires,data: every rule with everything the store keeps about it;\n"
    "       address rules (after the names) fill ip instead of domain.\n"
    "\n"
    "options:\n"
    "  --format rpz|csv   output format (default rpz)\n"
    "  -o, --output FILE  write to FILE (replaced atomically) instead of standard output\n"
    "  --origin NAME      the RPZ zone's origin (default rpz.dnsverdict)\n"
    "  --config FILE      the module config whose confidence thresholds apply (default:\n"
    "                     $DNSVERDICT_CONFIG, else /etc/dnsverdict/dnsverdict.conf; when that\n"
    "                     does not exist, the built-in thresholds, and a note)\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 ok, 1 error (unreadable store, cannot write FILE), 2 usage error\n";

constexpr const char* kDefaultOrigin = "rpz.dnsverdict";

bool same_rule(const Rule& a, const Rule& b) noexcept {
  return a.action == b.action && a.kind == b.kind && a.confidence == b.confidence &&
         a.flags == b.flags && a.category == b.category && a.source == b.source &&
         a.campaign == b.campaign && a.first_seen == b.first_seen && a.expires == b.expires &&
         a.data == b.data;
}

// Where a rule applies, from the slot it is stored in: a subtree rule stored once for both.
enum class Coverage { kName, kBelow, kNameAndBelow };

// Calls emit(key, rule, coverage) for every rule of the store, in key order.
template <typename Emit>
void for_each_rule(const VerdictStore& store, Emit&& emit) {
  store.for_each([&](std::string_view key, const RuleSlots& slots) {
    if (slots.self && slots.below && slots.self->kind == RuleKind::kSubtree &&
        same_rule(*slots.self, *slots.below)) {
      emit(key, *slots.self, Coverage::kNameAndBelow);
      return true;
    }
    if (slots.self) emit(key, *slots.self, Coverage::kName);
    if (slots.below) emit(key, *slots.below, Coverage::kBelow);
    return true;
  });
}

class RpzWriter {
 public:
  RpzWriter(std::FILE* out, const VerdictStore& store, const ModuleConfig& config,
            std::int64_t now)
      : out_(out), store_(store), config_(config), now_(now) {}

  void header(const std::string& origin) {
    const StoreInfo& info = store_.info();
    fmt::print(out_, "; RPZ exported by dnsverdict dump from {}\n", store_.path());
    fmt::print(out_, "; build id {}, built {}, {} rules\n", info.build_id,
               inspect::format_time(info.build_time), info.rule_count);
    fmt::print(out_, "$TTL 300\n$ORIGIN {}.\n", origin);
    // The serial follows the build time, so a newer store's export has a newer serial.
    fmt::print(out_, "@ SOA localhost. hostmaster.localhost. {} 3600 600 604800 300\n",
               static_cast<std::uint32_t>(info.build_time));
    fmt::print(out_, "@ NS localhost.\n");
  }

  void rule(std::string_view key, const Rule& rule, Coverage coverage) {
    if (rule.expired(now_)) {
      ++expired_;
      return;
    }
    std::string name = key.empty() ? std::string() : key_to_text(key);
    if (coverage != Coverage::kBelow) {
      if (name.empty())
        fmt::print(out_, "; the root name's own {} rule cannot be expressed in RPZ\n",
                   action_name(rule.action));
      else
        records(name, rule);
    }
    if (coverage != Coverage::kName) records(name.empty() ? "*" : "*." + name, rule);
  }

  // An address rule, as an IP trigger.
  void address(const IpPrefix& prefix, const Rule& rule) {
    if (rule.expired(now_)) {
      ++expired_;
      return;
    }
    records(rpz_ip_labels(prefix) + ".rpz-ip", rule);
  }

  std::uint64_t expired() const noexcept { return expired_; }
  // Rules (not records) written as something else than their action: log and tag, blocking
  // rules the module grades down to tag or log, refuse.
  std::uint64_t monitored() const noexcept { return monitored_; }
  std::uint64_t graded_down() const noexcept { return graded_down_; }
  std::uint64_t refused() const noexcept { return refused_; }

  // Once per rule, before its records.
  void count(const Rule& rule) {
    if (rule.expired(now_)) return;
    if (rule.action == Action::kLog || rule.action == Action::kTag) ++monitored_;
    else if (graded_action(rule, config_) != rule.action) ++graded_down_;
    else if (rule.action == Action::kRefuse) ++refused_;
  }

 private:
  void records(const std::string& owner, const Rule& rule) {
    Action graded = graded_action(rule, config_);
    if (graded != rule.action) {
      // The module answers these normally (and tags or logs): a hard block would be stricter.
      return cname(owner, "rpz-passthru.",
                   fmt::format("{} at confidence {}: the module only {} it (below "
                               "confidence-{} {}), exported as passthru",
                               action_name(rule.action), rule.confidence,
                               graded == Action::kTag ? "tags" : "logs",
                               graded == Action::kTag ? "block" : "tag",
                               graded == Action::kTag ? config_.confidence_block
                                                      : config_.confidence_tag));
    }
    switch (rule.action) {
      case Action::kNxdomain:
        return cname(owner, ".");
      case Action::kNodata:
        return cname(owner, "*.");
      case Action::kDrop:
        return cname(owner, "rpz-drop.");
      case Action::kTcpOnly:
        return cname(owner, "rpz-tcp-only.");
      case Action::kAllow:
        return cname(owner, "rpz-passthru.");
      case Action::kRefuse:
        return cname(owner, ".", "refuse: no RPZ equivalent, exported as nxdomain");
      case Action::kLog:
        return cname(owner, "rpz-passthru.", "log: no RPZ equivalent, exported as passthru");
      case Action::kTag:
        return cname(owner, "rpz-passthru.", "tag: no RPZ equivalent, exported as passthru");
      case Action::kRedirect: {
        std::string target = inspect::redirect_target_text(rule.data);
        if (target.empty())
          fmt::print(out_, "; {}: redirect without a valid target, left out\n", owner);
        else
          cname(owner, target == "." ? "." : target + ".");
        return;
      }
      case Action::kSinkhole: {
        std::string_view data = inspect::sinkhole_data(store_, rule);
        if (data.empty()) {
          fmt::print(out_,
                     "; {}: sinkhole to the module's default addresses (none in the store), "
                     "left out\n",
                     owner);
          return;
        }
        std::string addresses = addresses_to_text(data, " ");
        std::string_view rest = addresses;
        while (!rest.empty()) {
          std::size_t space = rest.find(' ');
          std::string_view address = rest.substr(0, space);
          fmt::print(out_, "{} {} {}\n", owner,
                     address.find(':') == std::string_view::npos ? "A" : "AAAA", address);
          rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
        }
        return;
      }
    }
  }

  void cname(const std::string& owner, std::string_view target, std::string_view comment = {}) {
    if (comment.empty())
      fmt::print(out_, "{} CNAME {}\n", owner, target);
    else
      fmt::print(out_, "{} CNAME {} ; {}\n", owner, target, comment);
  }

  std::FILE* out_;
  const VerdictStore& store_;
  const ModuleConfig& config_;
  std::int64_t now_;
  std::uint64_t expired_ = 0;
  std::uint64_t monitored_ = 0;
  std::uint64_t graded_down_ = 0;
  std::uint64_t refused_ = 0;
};

// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

void write_csv(std::FILE* out, const VerdictStore& store) {
  fmt::print(out, "domain,ip,kind,action,category,campaign,confidence,first_seen,expires,data\n");
  auto fields = [&](const Rule& rule) {
    const CampaignRecord* campaign = store.campaign(rule.campaign);
    std::string data;
    if (rule.action == Action::kSinkhole)
      data = addresses_to_text(rule.data, " ");  // the campaign's addresses stay the campaign's
    else if (rule.action == Action::kRedirect)
      data = inspect::redirect_target_text(rule.data);
    return fmt::format("{},{},{},{},{},{},{}", action_name(rule.action),
                       csv_field(store.category(rule.category)),
                       csv_field(campaign != nullptr ? std::string_view(campaign->name) : ""),
                       rule.confidence,
                       rule.first_seen == 0 ? "" : inspect::format_time(rule.first_seen),
                       rule.expires == 0 ? "" : inspect::format_time(rule.expires),
                       csv_field(data));
  };
  // Each rule with its own kind, even one that covers less than its kind says because a more
  // specific rule took a slot (an exact rule on a subtree's name): compiled again, it loses
  // that slot again by the same conflict rules, so the store comes back the same.
  for_each_rule(store, [&](std::string_view key, const Rule& rule, Coverage) {
    fmt::print(out, "{},,{},{}\n", csv_field(key.empty() ? "." : key_to_text(key)),
               kind_name(rule.kind), fields(rule));
  });
  store.for_each_address([&](const IpPrefix& prefix, const Rule& rule) {
    fmt::print(out, ",{},,{}\n", format_ip_prefix(prefix, false), fields(rule));
    return true;
  });
}

// An output file written beside its target and renamed over it once complete, so a reader
// (a resolver loading the zone) never sees half of it and a failed dump leaves no file.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)), temporary_(path_ + ".XXXXXX") {
    int fd = mkstemp(temporary_.data());
    if (fd < 0) throw ToolError(fmt::format("{}: cannot write: {}", path_, std::strerror(errno)));
    ::fchmod(fd, 0644);  // mkstemp's 0600 would keep a resolver running as another user out
    file_ = fdopen(fd, "w");
    if (file_ == nullptr) {
      ::close(fd);
      ::unlink(temporary_.c_str());
      throw ToolError(fmt::format("{}: cannot write: {}", path_, std::strerror(errno)));
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (file_ != nullptr) {
      std::fclose(file_);
      ::unlink(temporary_.c_str());
    }
  }
  std::FILE* get() const noexcept { return file_; }

  void commit() {
    bool failed = std::fflush(file_) != 0 || std::ferror(file_) != 0 || fsync(fileno(file_)) != 0;
    int error = errno;
    failed = (std::fclose(file_) != 0) || failed;
    file_ = nullptr;
    if (!failed && std::rename(temporary_.c_str(), path_.c_str()) == 0) return;
    error = failed ? error : errno;
    ::unlink(temporary_.c_str());
    throw ToolError(fmt::format("{}: cannot write: {}", path_, std::strerror(error)));
  }

 private:
  std::string path_;
  std::string temporary_;
  std::FILE* file_ = nullptr;
};

}  // namespace

int run_dump(const Arguments& args) {
  if (wants_help(args)) {
    fmt::print("{}", kDumpUsage);
    return 0;
  }
  std::string format = "rpz";
  std::string output;
  std::string origin = kDefaultOrigin;
  std::string config_path;
  std::vector<std::string> operands;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      operands.push_back(arg);
    } else if (!take_option(args, i, "--format", format) && !take_option(args, i, "-o", output) &&
               !take_option(args, i, "--output", output) &&
               !take_option(args, i, "--origin", origin) &&
               !take_option(args, i, "--config", config_path)) {
      throw UsageError(fmt::format("unknown option '{}'", arg));
    }
  }
  if (operands.size() != 1) throw UsageError("expected exactly one store");
  if (format != "rpz" && format != "csv")
    throw UsageError(fmt::format("--format: expected rpz or csv, not '{}'", format));
  std::string origin_wire, error;
  if (!parse_name(origin, origin_wire, error))
    throw UsageError(fmt::format("--origin: {}: {}", origin, error));
  if (origin_wire.size() <= 1) throw UsageError("--origin: the zone needs a name below the root");
  origin = name_to_text(origin_wire);

  auto store = VerdictStore::open(operands[0]);
  std::unique_ptr<OutputFile> file;
  if (!output.empty() && output != "-") file = std::make_unique<OutputFile>(output);
  std::FILE* out = file ? file->get() : stdout;

  if (format == "csv") {
    write_csv(out, *store);
  } else {
    ModuleConfig config = inspect::grading_config(config_path, "dump");
    RpzWriter writer(out, *store, config, static_cast<std::int64_t>(std::time(nullptr)));
    writer.header(origin);
    for_each_rule(*store, [&](std::string_view key, const Rule& rule, Coverage coverage) {
      writer.count(rule);
      writer.rule(key, rule, coverage);
    });
    store->for_each_address([&](const IpPrefix& prefix, const Rule& rule) {
      writer.count(rule);
      writer.address(prefix, rule);
      return true;
    });
    // What RPZ cannot say, counted where an operator loading the zone will see it.
    if (writer.monitored() != 0)
      fmt::print(stderr,
                 "dnsverdict dump: {} log and tag rules exported as passthru (RPZ cannot log "
                 "or tag)\n",
                 writer.monitored());
    if (writer.graded_down() != 0)
      fmt::print(stderr,
                 "dnsverdict dump: {} blocking rules below confidence-block {} exported as "
                 "passthru (the module only tags or logs them)\n",
                 writer.graded_down(), config.confidence_block);
    if (writer.refused() != 0)
      fmt::print(stderr, "dnsverdict dump: {} refuse rules exported as nxdomain (RPZ cannot "
                 "refuse)\n", writer.refused());
    if (writer.expired() != 0) {
      fmt::print(out, "; {} expired rules left out\n", writer.expired());
      fmt::print(stderr, "dnsverdict dump: {} expired rules left out (RPZ has no expiry)\n",
                 writer.expired());
    }
  }
  if (file)
    file->commit();
  else if (std::fflush(stdout) != 0)
    throw ToolError(fmt::format("standard output: cannot write: {}", std::strerror(errno)));
  return 0;
}

}  // namespace dnsverdict
