#pragma once
// The actors' protocol in one place: atoms, message types and the typed
// interfaces of the registry, tenant, relay, metrics and pool maintainer
// actors, and the atoms of the (untyped) control server broker.
//
//   facade / CAF service --run(tenant, cmd)--> registry --run(cmd)--> tenant
//        ^                                        |  ^                  |
//        +------------- reply / error ------------+  +-- retire(idle) --+
//
// The facade's fast path for a tenant that is already active sends no message
// at all: it goes through the tenant's gate (runtime/tenant_gate.hpp).
//
// Commands and replies travel as JSON text (relaxed extended JSON, key order
// preserved). Failures travel as caf::error in the "tenantrt" category whose
// code is an errc (see make_error / errc_of below).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "config/runtime_config.hpp"
#include "runtime/command_backend.hpp"
#include "runtime/stats.hpp"
#include "runtime/errc.hpp"

namespace tenantrt {

// --- atoms (at most 10 characters; names are ours, not CAF's predefined ones)
using run_atom = caf::atom_constant<caf::atom("run")>;
using main_atom = caf::atom_constant<caf::atom("main")>;
using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;
using touch_atom = caf::atom_constant<caf::atom("touch")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using main_done_atom = caf::atom_constant<caf::atom("maindone")>;
using gate_empty_atom = caf::atom_constant<caf::atom("gateempty")>;
using waiter_retry_atom = caf::atom_constant<caf::atom("waitretry")>;
using cleanup_atom = caf::atom_constant<caf::atom("cleanup")>;
using cleanup_tick_atom = caf::atom_constant<caf::atom("cleantick")>;
using main_ping_atom = caf::atom_constant<caf::atom("mainping")>;
using wait_expired_atom = caf::atom_constant<caf::atom("waitexp")>;
using evict_atom = caf::atom_constant<caf::atom("evict")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using drain_deadline_atom = caf::atom_constant<caf::atom("draindl")>;
using evict_deadline_atom = caf::atom_constant<caf::atom("evictdl")>;
using maintain_atom = caf::atom_constant<caf::atom("maintain")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
using sample_atom = caf::atom_constant<caf::atom("sample")>;
using details_atom = caf::atom_constant<caf::atom("details")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using prometheus_atom = caf::atom_constant<caf::atom("prometheus")>;

// The control server's atoms. The broker is untyped: its messages, and who
// sends each, are listed in actors/control_server.hpp.
/// (control_addrs_atom) -> std::vector<std::string>: the addresses the
/// server listens on, with the port the system picked for "HOST:0".
using control_addrs_atom = caf::atom_constant<caf::atom("ctladdrs")>;
/// Internal: a config/reload job finished on the executor
/// (job id, whether it succeeded, JSON text or the failure's message).
using ctl_job_atom = caf::atom_constant<caf::atom("ctljob")>;
/// Internal: a reply line rendered on the executor (handle, client serial, line).
using ctl_line_atom = caf::atom_constant<caf::atom("ctlline")>;
/// Internal: a config/reload job has been running for request_timeout.
using ctl_job_timeout_atom = caf::atom_constant<caf::atom("ctljobto")>;
/// Internal: time to close idle clients (sweep generation).
using ctl_idle_sweep_atom = caf::atom_constant<caf::atom("ctlidle")>;

// --- errors

/// Error category of every failure the actors report.
constexpr caf::atom_value error_category_atom = caf::atom(error_category_name);

// make_error, errc_of, message_of and reply_of: beside errc (runtime/errc.hpp).

// --- time

/// A duration of the config (every *_ms key is whole milliseconds) as the
/// caf::timespan that delayed messages, timeouts and the messages below carry.
inline caf::timespan ms(uint32_t value) {
  return std::chrono::duration_cast<caf::timespan>(std::chrono::milliseconds{value});
}

// --- message types

// Every stats struct (runtime/stats.hpp) may travel in a message.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, latency_summary& x) {
  return f(caf::meta::type_name("latency_summary"), x.count, x.sum_us, x.max_us,
           x.buckets);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_counters& x) {
  return f(caf::meta::type_name("tenant_counters"), x.inflight, x.ops, x.errors,
           x.latency);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_stats& x) {
  return f(caf::meta::type_name("tenant_stats"), x.tenant, x.database, x.cluster,
           x.state, x.last_used_unix_ms, x.idle_ms, x.use_count, x.inflight,
           x.counters);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_stats& x) {
  return f(caf::meta::type_name("registry_stats"), x.active_tenants,
           x.max_tenants, x.draining_tenants, x.waiters, x.inflight,
           x.created_total, x.reaped_total, x.evicted_total, x.crashed_total,
           x.limit_timeouts_total, x.quarantined, x.main_database, x.main_state,
           x.tenants);
}

// --- typed interfaces

/// What a tenant actor may tell its supervisor: "I have been idle for
/// idle_timeout; retire me" (tenant id, the asking actor's id).
using tenant_supervisor_actor =
  caf::typed_actor<caf::reacts_to<retire_atom, std::string, caf::actor_id>>;

/// One active tenant: runs commands on the tenant's database.
using tenant_actor = caf::typed_actor<
  /// Run a command (JSON text); replies with the server's reply JSON.
  caf::replies_to<run_atom, std::string>::with<std::string>,
  caf::replies_to<stats_atom>::with<tenant_counters>,
  /// Someone acquired the tenant: restart the idle timer.
  caf::reacts_to<touch_atom>,
  /// A new idle timeout (config reload): restart the idle timer with it.
  caf::reacts_to<reload_atom, caf::timespan>,
  /// Stop taking work, finish what is in flight, then quit.
  caf::reacts_to<drain_atom>,
  /// Internal: an operation finished (operation id, outcome).
  caf::reacts_to<done_atom, uint64_t, result>,
  /// Internal: the idle timer of the given generation fired.
  caf::reacts_to<idle_atom, uint64_t>,
  /// Internal: the last fast operation left the closed gate.
  caf::reacts_to<gate_empty_atom>>;

/// The registry: the one door to tenants, limits and reaping.
using registry_actor = tenant_supervisor_actor::extend<
  /// Run a command for a tenant (tenant id, command JSON) -> reply JSON.
  caf::replies_to<run_atom, std::string, std::string>::with<std::string>,
  /// Run a command on the main database -> reply JSON.
  caf::replies_to<main_atom, std::string>::with<std::string>,
  /// The tenant's actor, created within limits; counts as one use.
  caf::replies_to<acquire_atom, std::string>::with<tenant_actor>,
  /// Reap idle tenants now -> the ids reaped.
  caf::replies_to<cleanup_atom>::with<std::vector<std::string>>,
  /// Retire a tenant now (after its in-flight work) -> whether it was active.
  caf::replies_to<evict_atom, std::string>::with<bool>,
  caf::replies_to<stats_atom>::with<registry_stats>,
  /// Retire a tenant, waiting up to the time given for its in-flight work
  /// (then it is stopped anyway) -> whether it was active.
  caf::replies_to<evict_atom, std::string, caf::timespan>::with<bool>,
  /// Stop taking work, drain within the time given, stop every tenant, quit.
  /// Replies true when everything finished in time.
  caf::replies_to<drain_atom, caf::timespan>::with<bool>,
  /// Apply new limits and timers (registry section, quarantine); the
  /// tenant set is kept. Replies true.
  caf::replies_to<reload_atom, runtime_config>::with<bool>,
  /// Internal timers and completions.
  caf::reacts_to<cleanup_tick_atom, uint64_t>,
  caf::reacts_to<main_ping_atom, uint64_t>,
  /// Internal: fail the waiting callers whose deadline has passed.
  caf::reacts_to<wait_expired_atom>,
  /// Internal: look again whether waiting callers can be served (fast
  /// operations end without telling the registry).
  caf::reacts_to<waiter_retry_atom>,
  caf::reacts_to<drain_deadline_atom>,
  caf::reacts_to<evict_deadline_atom, caf::actor_id>,
  caf::reacts_to<main_done_atom, uint64_t, result>>;

/// The metrics actor: samples registry and pool stats every
/// metrics.sample_interval_ms into a ring of metrics.history_size samples,
/// computes warnings and health, and renders the control socket's replies.
/// Every reply is a JSON object as text (the reply fields of the control
/// command of the same name, without "id" and "ok").
using metrics_actor = caf::typed_actor<
  caf::replies_to<stats_atom>::with<std::string>,
  /// stats plus per-tenant latency figures; also logs the table at info.
  caf::replies_to<details_atom>::with<std::string>,
  /// The last `limit` samples, oldest first (0: all).
  caf::replies_to<history_atom, uint32_t>::with<std::string>,
  caf::replies_to<health_atom>::with<std::string>,
  /// {"text": Prometheus exposition}.
  caf::replies_to<prometheus_atom>::with<std::string>,
  /// New thresholds, interval and history size.
  caf::reacts_to<reload_atom, runtime_config>,
  /// Internal: the sampling timer of the given generation fired.
  caf::reacts_to<sample_atom, uint64_t>,
  caf::reacts_to<drain_atom>>;

/// Where the facade's relay hands a registry answer: the reply JSON, or the
/// error. Called exactly once (with shutting_down if the relay is gone).
class relay_reply {
public:
  using callback = std::function<void(std::string* reply, const caf::error* failure)>;
  relay_reply() = default;
  explicit relay_reply(callback done);
  void deliver(std::string& reply) const;
  void fail(const caf::error& failure) const;

private:
  struct once;
  std::shared_ptr<once> once_;
};

/// Carries the facade's commands that need the registry (a tenant's first
/// command, or one while it is retired) and answers each through its
/// relay_reply: one long-lived actor instead of an actor spawned per command.
using relay_actor = caf::typed_actor<
  caf::reacts_to<run_atom, std::string, std::string, relay_reply>,
  caf::reacts_to<main_atom, std::string, relay_reply>,
  /// Quit once every request in flight has its answer.
  caf::reacts_to<drain_atom>>;

/// Drives pool maintenance (idle closing, warm top-up) on a timer.
using pool_maintainer_actor = caf::typed_actor<
  caf::reacts_to<maintain_atom, uint64_t>,
  /// A new maintenance period.
  caf::reacts_to<reload_atom, caf::timespan>,
  caf::reacts_to<drain_atom>>;

} // namespace tenantrt

// Outcomes travel only between local actors (never serialized).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tenantrt::result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tenantrt::runtime_config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tenantrt::relay_reply)
