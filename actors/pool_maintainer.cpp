#include "actors/pool_maintainer.hpp"

#include <caf/typed_event_based_actor.hpp>

namespace tenantrt {

const char* pool_maintainer_state::name = "pool_maintainer";

pool_maintainer_actor::behavior_type
pool_maintainer_impl(pool_maintainer_actor::stateful_pointer<pool_maintainer_state> self,
                     std::function<void()> maintain, caf::timespan interval) {
  self->state.maintain = std::move(maintain);
  self->state.interval = interval;
  self->delayed_send(self, interval, maintain_atom::value, self->state.generation);
  return {
    [=](maintain_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.generation)
        return;
      st.maintain();
      self->delayed_send(self, st.interval, maintain_atom::value, generation);
    },
    [=](reload_atom, caf::timespan interval) {
      auto& st = self->state;
      if (interval == st.interval)
        return;
      st.interval = interval;
      self->delayed_send(self, interval, maintain_atom::value, ++st.generation);
    },
    [=](drain_atom) {
      ++self->state.generation;
      self->quit();
    },
  };
}

} // namespace tenantrt
