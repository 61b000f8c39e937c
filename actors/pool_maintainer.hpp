#pragma once
// The pool maintainer: a timer actor that asks the physical pools to close
// connections idle longer than max_idle_time_ms and to top up to
// min_pool_size, every pool_maintenance_interval_ms. The work itself is
// blocking and runs on the executor; this actor only keeps time (a delayed
// message to itself, so tests drive it with the deterministic clock).

#include <functional>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/timespan.hpp>

#include "actors/protocol.hpp"

namespace tenantrt {

struct pool_maintainer_state {
  static const char* name;
  /// Posts the maintenance work; must not block.
  std::function<void()> maintain;
  caf::timespan interval{};
  uint64_t generation = 0;
};

/// Spawn with `spawn(pool_maintainer_impl, maintain, interval)`; stops on drain_atom.
pool_maintainer_actor::behavior_type
pool_maintainer_impl(pool_maintainer_actor::stateful_pointer<pool_maintainer_state> self,
                     std::function<void()> maintain, caf::timespan interval);

} // namespace tenantrt
