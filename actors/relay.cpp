#include "actors/relay.hpp"

namespace tenantrt {

const char* relay_state::name = "relay";

namespace {

using relay_pointer = relay_actor::stateful_pointer<relay_state>;

void answered(relay_pointer self) {
  if (--self->state.inflight == 0 && self->state.draining)
    self->quit();
}

template <class... Message>
void forward(relay_pointer self, relay_reply reply, Message&&... message) {
  if (self->state.draining) {
    reply.fail(make_error(errc::shutting_down, "tenantrt is shut down"));
    return;
  }
  ++self->state.inflight;
  self->request(self->state.registry, caf::infinite, std::forward<Message>(message)...)
    .then(
      [=](std::string& answer) {
        reply.deliver(answer);
        answered(self);
      },
      [=](caf::error& failure) {
        reply.fail(failure);
        answered(self);
      });
}

} // namespace

relay_actor::behavior_type relay_impl(relay_pointer self, registry_actor registry) {
  self->state.registry = std::move(registry);
  return {
    [=](run_atom, std::string& tenant, std::string& command_json, relay_reply& reply) {
      forward(self, std::move(reply), run_atom::value, std::move(tenant), std::move(command_json));
    },
    [=](main_atom, std::string& command_json, relay_reply& reply) {
      forward(self, std::move(reply), main_atom::value, std::move(command_json));
    },
    [=](drain_atom) {
      self->state.draining = true;
      if (self->state.inflight == 0)
        self->quit();
    },
  };
}

} // namespace tenantrt
