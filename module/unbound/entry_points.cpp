// The six dynlib entry points Unbound looks up: init, deinit, operate, inform_super, clear,
// get_mem (unbound/glue.h has the map of module/unbound/).
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <optional>

#include "unbound/glue.h"
#include "unbound/running_unbound.h"

#include "module_chain.h"
#include "store_guard.h"

#define DNSVERDICT_EXPORT extern "C" __attribute__((visibility("default")))

namespace dnsverdict::glue {
namespace {

// A logger for a part with its own Severity enum (kInfo and others): Unbound's log, each
// line `dnsverdict: <part>: <message>`, kInfo as info and the rest as errors. `part` must
// outlive the logger (a string literal).
template <typename Severity>
std::function<void(Severity, const std::string&)> log_to_unbound(const char* part) {
  return [part](Severity severity, const std::string& message) {
    if (severity == Severity::kInfo) {
      log_info("dnsverdict: %s: %s", part, message.c_str());
    } else {
      log_err("dnsverdict: %s: %s", part, message.c_str());
    }
  };
}

const char* severity_prefix(StoreHolder::Severity severity) noexcept {
  switch (severity) {
    case StoreHolder::Severity::kError: return "error";
    case StoreHolder::Severity::kWarning: return "warning";
    case StoreHolder::Severity::kInfo: break;
  }
  return "info";
}

// Starts the counters and their flusher. Counting is an observation, not a verdict: while
// the stats store cannot be opened the module resolves without counts, and the flusher
// logs it once and keeps trying in the background.
void start_counting(ModuleState& state) {
  HitCounters::Options counter_options;
  // One shard per worker thread (and a spare): no two workers share a shard's mutex.
  int threads = state.env->cfg != nullptr ? std::max(1, state.env->cfg->num_threads) : 15;
  counter_options.shards = static_cast<std::size_t>(threads) + 1;
  counter_options.max_rules = state.config.stats_max_rules;
  counter_options.memory_budget = state.config.stats_memory_budget;
  state.counters = std::make_unique<HitCounters>(counter_options);

  StatsFlusher::Options options;
  options.counters = state.counters.get();
  options.stats_path = state.config.stats_store_path;
  options.prometheus_path = state.config.prometheus_file;
  options.resolver = state.config.stats_resolver_name;
  options.interval = state.config.stats_flush_interval;
  options.retention_days = state.config.stats_retention_days;
  options.map_size = state.config.stats_map_size;
  options.key_path = state.config.stats_hash_key_file;
  const ModuleState* raw = &state;
  options.health = [raw] { return module_health(*raw); };
  options.logger = log_to_unbound<StatsFlusher::Severity>("stats");
  std::string error;
  if (!state.flusher.start(std::move(options), error)) {
    log_err("dnsverdict: stats store disabled, nothing is counted: %s", error.c_str());
    state.counters.reset();
  }
}

// What a reload finds of the instance before it. Unbound's dynlib loader closes the module
// on every reload; pin_module() keeps it loaded (RTLD_NODELETE), so this outlives instances.
struct ProcessMemory {
  bool started = false;                    // an init succeeded in this process
  std::optional<ModuleConfig> last_config; // the configuration last loaded without error
};

ProcessMemory& process_memory() noexcept {
  static ProcessMemory memory;
  return memory;
}

// Keeps this shared object loaded until the process exits, whatever the loader closes: a
// reload runs the same code with the same statics (a new dnsverdict.so takes effect on a
// restart, not on a reload).
void pin_module() noexcept {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&pin_module), &self) == 0 || self.dli_fname == nullptr ||
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr) {
    log_warn("dnsverdict: cannot pin the module in memory; a reload with a broken "
             "configuration will not fall back to the previous one");
  }
}

// A reload ends Unbound's worker threads and this module's threads, and starts new ones.
// glibc keeps what an ended thread freed in that thread's malloc arena, and a new thread may
// be given another arena (which one depends on the order the threads first allocate), so
// every reload could leave one more worker's worth of freed memory resident, up to one per
// arena. Nothing answers queries during init: handing the free pages back now stalls nothing.
void return_freed_memory() noexcept {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

}  // namespace
}  // namespace dnsverdict::glue

using namespace dnsverdict;
using namespace dnsverdict::glue;

DNSVERDICT_EXPORT int init(module_env* env, int id) noexcept {
  // Before anything reads Unbound's structures: they are laid out as in the Unbound this
  // module was compiled against, which must be the one running (a reload cannot change it).
  std::string mismatch = unbound_mismatch();
  if (!mismatch.empty()) {
    log_err("%s", mismatch.c_str());
    return 0;
  }
  // At first start a problem refuses to start Unbound (return 0: Unbound exits, loudly). On a
  // reload the same return would stop a running resolver: there every problem is logged and
  // the module goes on with what it has.
  ProcessMemory& memory = process_memory();
  const bool reloading = memory.started;
  if (!reloading) {
    pin_module();
    if (!install_store_guard()) {
      log_warn("dnsverdict: cannot install the SIGBUS handler: a store file rewritten in "
               "place (instead of renamed over) can crash Unbound");
    }
  }
  try {
    auto* loader = static_cast<dynlibmod_env*>(env->modinfo[id]);
    auto state = std::make_unique<ModuleState>();
    state->env = env;
    state->ede_enabled = env->cfg != nullptr && env->cfg->ede;
    const char* module_config = env->cfg != nullptr && env->cfg->module_conf != nullptr
                                    ? env->cfg->module_conf : "";
    std::string chain_error = check_module_chain(module_config, id);
    if (!chain_error.empty()) {
      log_err("dnsverdict: %s; supported: %s%s", chain_error.c_str(), kSupportedModuleChains,
              reloading ? "; LISTED NAMES MAY LEAK until module-config is fixed" : "");
      if (!reloading) return 0;
    }
    std::string config_path = config_path_from_environment();
    try {
      state->config = load_config(config_path);
      memory.last_config = state->config;
    } catch (const std::exception& error) {
      if (!reloading || !memory.last_config) {
        log_err("dnsverdict: %s", error.what());
        return 0;
      }
      log_err("dnsverdict: %s; RELOAD KEEPS THE PREVIOUS CONFIGURATION (fix the file and "
              "reload again; `dnsverdict check-config %s` checks it)",
              error.what(), config_path.c_str());
      state->config = *memory.last_config;
    }
    if (!state->config.hit_log_path.empty()) {
      // Never a reason to fail init: a file that cannot be opened is logged and retried.
      HitLog::Options options;
      options.path = state->config.hit_log_path;
      options.capacity_lines = state->config.hit_log_capacity;
      options.limits.per_client = state->config.hit_log_rate_limit;
      options.limits.interval = state->config.hit_log_rate_interval;
      options.limits.lines_per_second = state->config.hit_log_max_lines_per_second;
      options.logger = log_to_unbound<HitLog::Severity>("hit log");
      std::string error;
      state->hit_log = HitLog::open(std::move(options), error);
      if (!state->hit_log) log_err("dnsverdict: hit log disabled: %s", error.c_str());
    }

    ModuleState* raw = state.get();
    StoreHolder::Options options;
    options.path = state->config.store_path;
    options.check_interval = state->config.check_interval;
    options.logger = [](StoreHolder::Severity severity, const std::string& message) {
      if (severity == StoreHolder::Severity::kInfo) {
        log_info("dnsverdict: %s", message.c_str());
      } else {
        log_err("dnsverdict: %s: %s", severity_prefix(severity), message.c_str());
      }
    };
    options.on_swap = [raw](const std::shared_ptr<const VerdictStore>&,
                            const std::shared_ptr<const VerdictStore>&) {
      raw->sweep_requested.fetch_add(1, std::memory_order_release);  // the workers sweep
    };
    state->holder = std::make_unique<StoreHolder>(std::move(options));

    std::string error;
    if (state->holder->load(error)) {
      std::shared_ptr<const VerdictStore> store = state->holder->current_shared();
      log_info("dnsverdict %s built for Unbound %s, store %s build %s (%llu rules)",
               DNSVERDICT_VERSION, DNSVERDICT_UNBOUND_VERSION, store->path().c_str(),
               store->info().build_id.c_str(),
               static_cast<unsigned long long>(store->info().rule_count));
    } else if (state->config.fail_mode == FailMode::kClosed) {
      log_err("dnsverdict %s built for Unbound %s: NO STORE: %s; fail-mode closed: every query "
              "is answered SERVFAIL until a store can be opened",
              DNSVERDICT_VERSION, DNSVERDICT_UNBOUND_VERSION, error.c_str());
    } else {
      log_err("dnsverdict %s built for Unbound %s: NO STORE: %s; fail-mode open: queries are "
              "answered WITHOUT verdicts until a store can be opened",
              DNSVERDICT_VERSION, DNSVERDICT_UNBOUND_VERSION, error.c_str());
    }
    start_blocked_answer_cache(*state);
    if (state->holder->current() != nullptr && state->env->msg_cache != nullptr &&
        state->env->rrset_cache != nullptr &&
        (count_slabhash_entries(state->env->msg_cache) != 0 ||
         count_slabhash_entries(&state->env->rrset_cache->table) != 0)) {
      // `unbound-control reload_keep_cache`: the kept cache may hold names this store lists.
      // No worker runs during init, so the sweep runs here, whole.
      state->sweep_requested.store(1, std::memory_order_release);
      sweep_now(*state);
    }
    if (!state->holder->start()) {
      log_err("dnsverdict: cannot start the store watcher thread: new stores are not picked "
              "up until the next reload");
      if (!reloading) return 0;
    }
    if (!state->config.stats_store_path.empty()) start_counting(*state);

    // Without these callbacks cached answers, CNAME chains and joined clients would pass
    // unchecked: refuse to start rather than run half-blind.
    if (!loader->inplace_cb_register_wrapped(reinterpret_cast<void*>(&reply_callback),
                                             inplace_cb_reply, raw, env, id) ||
        !loader->inplace_cb_register_wrapped(reinterpret_cast<void*>(&reply_cache_callback),
                                             inplace_cb_reply_cache, raw, env, id) ||
        !loader->inplace_cb_register_wrapped(reinterpret_cast<void*>(&query_response_callback),
                                             inplace_cb_query_response, raw, env, id)) {
      log_err("dnsverdict: cannot register Unbound's inplace callbacks (out of memory)%s",
              reloading ? "; cached answers and joined clients go UNCHECKED until the next "
                          "reload" : "");
      if (!reloading) {
        state->flusher.stop();
        state->holder->stop();
        return 0;
      }
    }
    loader->dyn_env = state.release();
    memory.started = true;
    if (reloading) return_freed_memory();
    return 1;
  } catch (const std::exception& error) {
    log_err("dnsverdict: init failed: %s%s", error.what(),
            reloading ? "; queries are answered WITHOUT verdicts until the next reload" : "");
  } catch (...) {
    log_err("dnsverdict: init failed%s",
            reloading ? "; queries are answered WITHOUT verdicts until the next reload" : "");
  }
  return reloading ? 1 : 0;
}

DNSVERDICT_EXPORT void deinit(module_env* env, int id) noexcept {
  try {
    auto* loader = static_cast<dynlibmod_env*>(env->modinfo[id]);
    if (loader == nullptr) return;
    loader->inplace_cb_delete_wrapped(env, inplace_cb_reply, id);
    loader->inplace_cb_delete_wrapped(env, inplace_cb_reply_cache, id);
    loader->inplace_cb_delete_wrapped(env, inplace_cb_query_response, id);
    auto* state = static_cast<ModuleState*>(loader->dyn_env);
    loader->dyn_env = nullptr;
    if (state != nullptr) {
      state->flusher.stop();  // final flush: the last interval's counts are stored
      state->holder->stop();
      if (state->cache_leaks.load() != 0) {
        log_warn("dnsverdict: %llu cached answers of blocked names were served",
                 static_cast<unsigned long long>(state->cache_leaks.load()));
      }
      if (state->hit_log) {
        state->hit_log->close();  // drains the queue: the figures below are final
        log_info("dnsverdict: hit log: %llu lines written, %llu dropped, %llu left out by the "
                 "rate limits",
                 static_cast<unsigned long long>(state->hit_log->written()),
                 static_cast<unsigned long long>(state->hit_log->dropped()),
                 static_cast<unsigned long long>(state->hit_log->suppressed()));
      }
      delete state;
    }
  } catch (...) {
  }
}

DNSVERDICT_EXPORT void operate(module_qstate* qstate, module_ev event, int id,
                               outbound_entry*) noexcept {
  try {
    ModuleState* state = state_of(qstate->env, id);
    if (state == nullptr) {  // a reload failed (logged): resolve without verdicts
      pass_on(qstate, id);
      return;
    }
    ensure_ticker(*state, qstate->env);
    switch (event) {
      case module_event_new:
      case module_event_pass:
        if (qstate->minfo[id] == nullptr) {
          handle_new(*state, qstate, id);
        } else if (query_state(qstate, id)->following_redirect) {
          qstate->ext_state[id] = module_finished;  // the target's answer is appended
        } else {
          pass_on(qstate, id);
        }
        return;
      case module_event_moddone:
        handle_done(*state, qstate, id);
        return;
      default:
        qstate->ext_state[id] = module_error;
        return;
    }
  } catch (...) {
    qstate->ext_state[id] = module_error;
  }
}

DNSVERDICT_EXPORT void inform_super(module_qstate* qstate, int id, module_qstate* super) noexcept {
  try {
    QueryState* query = super != nullptr ? query_state(super, id) : nullptr;
    if (query != nullptr && query->following_redirect) take_redirect_answer(qstate, super);
  } catch (...) {
  }
}

DNSVERDICT_EXPORT void clear(module_qstate* qstate, int id) noexcept {
  if (qstate != nullptr) qstate->minfo[id] = nullptr;  // lives in the query's region
}

DNSVERDICT_EXPORT size_t get_mem(module_env*, int) noexcept { return 0; }
