#pragma once
// The registry actor: the one door to tenants. acquire(tenant) returns the
// cached tenant actor or creates one within max_tenant_connections; at the
// limit it reaps idle tenants, then evicts the least recently used tenant with
// nothing in flight, else queues the caller up to wait_queue_timeout_ms. It
// monitors every tenant actor (crash -> in-flight callers fail with
// tenant_crashed, entry removed, recreated on the next acquire, quarantine
// after repeated crashes), reaps idle tenants on a periodic cleanup tick and on
// demand, and holds the main database (pinged on a timer).
//
// Talked to by: the runtime facade, CAF services through registry_actor,
// tenant actors (retire requests). Never blocks: driver work goes through the
// command_backend, whose completions come back as messages.
//
// Capacity counts live actors: active entries plus tenants told to stop that
// have not terminated yet, so there are never more live tenant actors than the
// limit.
//
// Each tenant has a gate (runtime/tenant_gate.hpp), published in the
// tenant_directory for the facade's fast path. The registry closes it before
// it stops the tenant, and counts the gate's in-flight operations and last use
// with its own when it looks for idle tenants: a tenant is idle only when
// both paths are.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/protocol.hpp"
#include "config/runtime_config.hpp"
#include "runtime/command_backend.hpp"
#include "runtime/tenant_directory.hpp"
#include "runtime/tenant_gate.hpp"
#include "runtime/tenant_naming.hpp"

namespace tenantrt {

/// Lifecycle of the main database connection as seen by its pings.
enum class main_db_state {
  connecting,   // No ping has finished yet.
  connected,    // The last ping or main command reached the server.
  disconnected, // The last one failed to reach it.
};

std::string to_string(main_db_state state);

struct registry_state {
  using time_point = caf::actor_clock::time_point;

  /// One active tenant.
  struct entry {
    tenant_actor actor;
    tenant_target target;
    std::shared_ptr<tenant_gate> gate;
    /// Last use through the registry; the gate has the fast path's.
    time_point last_used;
    uint64_t use_count = 0;
    /// Operations dispatched through the registry and not settled yet.
    uint32_t inflight = 0;
  };

  /// A caller waiting for a slot at the tenant limit.
  struct waiter {
    std::string tenant;
    /// When it fails with tenant_limit_reached: queued + wait_queue_timeout_ms
    /// as configured then (a reload does not move it).
    time_point deadline;
    /// Set for run requests; empty for acquire requests.
    std::optional<std::string> command_json;
    caf::typed_response_promise<std::string> run_promise;
    caf::typed_response_promise<tenant_actor> acquire_promise;
  };

  /// A run dispatched to a tenant actor, settled by its reply or its death.
  struct pending_op {
    std::string tenant;
    caf::actor_id actor = 0;
    caf::typed_response_promise<std::string> promise;
  };

  struct crash_history {
    std::deque<time_point> recent;
    time_point quarantined_until{};
    uint32_t quarantines = 0;
  };

  static const char* name;

  runtime_config config;
  std::unique_ptr<tenant_naming> naming;
  std::shared_ptr<command_backend> backend;
  /// Where the gates are published; may be null (no fast path).
  std::shared_ptr<tenant_directory> directory;

  std::unordered_map<std::string, entry> tenants;
  /// actor id -> tenant id, for every live tenant actor (active or stopping).
  std::unordered_map<caf::actor_id, std::string> actor_tenants;
  /// A tenant actor told to stop that has not terminated yet.
  struct stopping_tenant {
    std::string tenant;
    tenant_actor actor;
  };
  std::unordered_map<caf::actor_id, stopping_tenant> stopping;
  /// Callers of a timed evict, answered when the actor has terminated.
  std::unordered_map<caf::actor_id, std::vector<caf::typed_response_promise<bool>>> evictions;
  /// FIFO; deadlines are in queue order except after a reload changed
  /// wait_queue_timeout_ms.
  std::deque<waiter> waiters;
  /// When the one armed waiter check (wait_expired) fires, if one is armed.
  /// Not reset when waiters are served: the check then finds nothing due.
  std::optional<time_point> waiter_check_at;
  std::unordered_map<uint64_t, pending_op> pending;
  std::unordered_map<std::string, crash_history> crashes;

  main_db_state main_state = main_db_state::connecting;
  /// Main-database commands in flight; no promise for internal pings.
  std::unordered_map<uint64_t, std::optional<caf::typed_response_promise<std::string>>>
    main_pending;

  uint64_t next_id = 0;
  uint64_t timer_generation = 0;
  /// A waiter_retry message is pending.
  bool waiter_retry_pending = false;
  bool draining = false;
  std::optional<caf::typed_response_promise<bool>> drain_promise;

  registry_stats totals;
};

/// The registry's behaviour; spawn with
/// `spawn(registry_impl, config, backend, directory)` (directory may be null).
registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self,
              runtime_config config, std::shared_ptr<command_backend> backend,
              std::shared_ptr<tenant_directory> directory);

} // namespace tenantrt
