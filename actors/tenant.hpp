#pragma once
// The tenant actor: one per active tenant, spawned and monitored by the
// registry. It hands commands to its tenant_channel (blocking driver work runs
// on the executor, never here) and answers through response promises. The
// facade's fast path runs commands through the tenant's gate without a
// message; the actor counts both kinds, and its idle timer and drain wait for
// both. When the idle timer fires with nothing in flight it asks its
// supervisor to retire it.
//
//   spawn --> active --drain--> draining --last op done--> (quit)
//               |  ^               (runs refused: shutting_down)
//      run/done |  | touch: idle clock restarts (one timer in flight at most)
//               +--+
//   active --idle timer, nothing in flight--> retire request to supervisor
//   draining waits for its own operations and for the gate to empty
//   (gate_empty, sent by the last fast operation out of a closed gate)

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/protocol.hpp"
#include "runtime/command_backend.hpp"
#include "runtime/tenant_gate.hpp"

namespace tenantrt {

/// Lifecycle of a tenant actor.
enum class tenant_lifecycle {
  active,   // Takes commands; idle timer armed.
  draining, // Refuses new commands; quits when the last in-flight one ends.
};

struct tenant_actor_state {
  static const char* name;
  tenant_target target;
  /// The fast path's way in; holds the channel the actor submits to as well.
  std::shared_ptr<tenant_gate> gate;
  tenant_supervisor_actor supervisor;
  caf::timespan idle_timeout{};
  tenant_lifecycle lifecycle = tenant_lifecycle::active;
  /// Bumped when the timeout changes; a timer carrying an older value is stale.
  uint64_t idle_generation = 0;
  /// When the tenant last became idle (last op done or touch), actor clock;
  /// the gate's last_used() covers fast operations.
  caf::actor_clock::time_point idle_since{};
  /// One idle timer at most is pending: re-arming on every touch would keep
  /// each old timer (~256 B) in CAF's clock until it fired, i.e. for a whole
  /// idle timeout per operation.
  bool idle_timer_pending = false;
  uint64_t next_op_id = 0;
  std::unordered_map<uint64_t, caf::typed_response_promise<std::string>> pending;
  /// In flight through the actor (its figures are recorded in the gate,
  /// where the registry reads them without a message).
  tenant_counters counters;
};

/// The tenant actor's behaviour; spawn with
/// `spawn(tenant_impl, target, gate, supervisor, idle_timeout)`.
tenant_actor::behavior_type
tenant_impl(tenant_actor::stateful_pointer<tenant_actor_state> self,
            tenant_target target, std::shared_ptr<tenant_gate> gate,
            tenant_supervisor_actor supervisor, caf::timespan idle_timeout);

/// A tenant's counters (both paths) as the protocol carries them.
tenant_counters to_tenant_counters(const gate_counters& gate);

} // namespace tenantrt
