#pragma once
// The facade's relay: takes run_command and run_main_command calls that need
// the registry (a tenant's first command, or one made while the tenant is
// being retired; every main-database command) as one-way messages, requests
// the registry and answers each caller through its relay_reply. Before it,
// the facade spawned an actor per command: its creation and its end (which
// cancels its timeouts through CAF's clock thread) cost more than the command.
//
//   active --drain--> draining (answers still due are delivered) --none left--> (quit)

#include <cstdint>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/protocol.hpp"

namespace tenantrt {

struct relay_state {
  static const char* name;
  registry_actor registry;
  /// Requests sent to the registry and not answered yet.
  uint64_t inflight = 0;
  bool draining = false;
};

/// Spawn with `spawn(relay_impl, registry)`.
relay_actor::behavior_type relay_impl(relay_actor::stateful_pointer<relay_state> self,
                                      registry_actor registry);

} // namespace tenantrt
