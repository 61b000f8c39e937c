#include "actors/tenant.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/logging.hpp"

namespace tenantrt {

const char* tenant_actor_state::name = "tenant";

namespace {

using tenant_pointer = tenant_actor::stateful_pointer<tenant_actor_state>;

void schedule_idle_check(tenant_pointer self, caf::timespan delay) {
  self->state.idle_timer_pending = true;
  self->delayed_send(self, delay, idle_atom::value, self->state.idle_generation);
}

uint32_t total_inflight(tenant_pointer self) {
  return self->state.counters.inflight + self->state.gate->inflight();
}

/// Idle from now on: the timer already pending (if any) re-checks the time
/// when it fires instead of a new timer per operation.
void mark_idle(tenant_pointer self) {
  auto& st = self->state;
  st.idle_since = self->clock().now();
  if (!st.idle_timer_pending)
    schedule_idle_check(self, st.idle_timeout);
}

/// A new timeout applies at once: the pending timer (old timeout) goes stale.
void restart_idle_timer(tenant_pointer self) {
  auto& st = self->state;
  ++st.idle_generation;
  st.idle_since = self->clock().now();
  schedule_idle_check(self, st.idle_timeout);
}

caf::typed_response_promise<std::string> start_operation(tenant_pointer self,
                                                         std::string command_json) {
  auto& st = self->state;
  auto promise = self->make_response_promise<std::string>();
  auto op_id = ++st.next_op_id;
  st.pending.emplace(op_id, promise);
  ++st.counters.inflight; // busy: the idle timer will not retire us now
  st.gate->actor_operation_started();
  log().debug("tenant {} op {} started", st.target.tenant_id, op_id);
  // Runs on an executor thread: only enqueue a message from there.
  auto me = caf::actor_cast<tenant_actor>(self);
  st.gate->channel()->submit(std::move(command_json), [me, op_id](result outcome) {
    caf::anon_send(me, done_atom::value, op_id, std::move(outcome));
  });
  return promise;
}

/// Settles one operation; returns false for an unknown id.
bool finish_operation(tenant_pointer self, uint64_t op_id, result& outcome) {
  auto& st = self->state;
  auto i = st.pending.find(op_id);
  if (i == st.pending.end())
    return false;
  auto promise = std::move(i->second);
  st.pending.erase(i);
  --st.counters.inflight;
  st.gate->actor_operation_finished(outcome);
  log().debug("tenant {} op {} done in {} us: {}", st.target.tenant_id, op_id,
              outcome.latency.count(), to_string(outcome.code));
  if (outcome.code == errc::none) {
    promise.deliver(std::move(outcome.reply_json));
  } else {
    promise.deliver(make_error(outcome.code, std::move(outcome.message),
                               std::move(outcome.reply_json)));
  }
  return true;
}

tenant_actor::behavior_type draining_behavior(tenant_pointer self);

void begin_drain(tenant_pointer self) {
  self->state.lifecycle = tenant_lifecycle::draining;
  ++self->state.idle_generation;
  self->state.gate->close(); // usually closed by the registry already
  if (total_inflight(self) == 0)
    self->quit();
  else
    self->become(draining_behavior(self));
}

void quit_when_empty(tenant_pointer self) {
  if (total_inflight(self) == 0)
    self->quit();
}

tenant_actor::behavior_type active_behavior(tenant_pointer self) {
  return {
    [=](run_atom, std::string& command_json) -> caf::typed_response_promise<std::string> {
      return start_operation(self, std::move(command_json));
    },
    [=](stats_atom) {
      return to_tenant_counters(self->state.gate->counters());
    },
    [=](touch_atom) {
      if (self->state.counters.inflight == 0)
        mark_idle(self);
    },
    [=](reload_atom, caf::timespan idle_timeout) {
      self->state.idle_timeout = idle_timeout;
      if (self->state.counters.inflight == 0)
        restart_idle_timer(self);
    },
    [=](drain_atom) { begin_drain(self); },
    [=](done_atom, uint64_t op_id, result& outcome) {
      if (finish_operation(self, op_id, outcome) && self->state.counters.inflight == 0)
        mark_idle(self);
    },
    [=](idle_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.idle_generation)
        return; // armed before a reload; the reload armed its own
      st.idle_timer_pending = false;
      if (st.counters.inflight > 0)
        return; // busy: the last op to finish starts the idle clock again
      if (st.gate->inflight() > 0) {
        schedule_idle_check(self, st.idle_timeout); // fast ops end without a message
        return;
      }
      auto idle_since = std::max(st.idle_since, st.gate->last_used());
      auto idle_for = self->clock().now() - idle_since;
      if (idle_for < st.idle_timeout) {
        schedule_idle_check(self, st.idle_timeout - idle_for);
        return;
      }
      self->send(st.supervisor, retire_atom::value, st.target.tenant_id, self->id());
    },
    [=](gate_empty_atom) {},
  };
}

tenant_actor::behavior_type draining_behavior(tenant_pointer self) {
  return {
    [=](run_atom, std::string&) -> caf::typed_response_promise<std::string> {
      auto promise = self->make_response_promise<std::string>();
      promise.deliver(make_error(errc::shutting_down,
                                 "tenant " + self->state.target.tenant_id
                                   + " is being retired; acquire it again"));
      return promise;
    },
    [=](stats_atom) {
      return to_tenant_counters(self->state.gate->counters());
    },
    [=](touch_atom) {},
    [=](reload_atom, caf::timespan) {},
    [=](drain_atom) {},
    [=](done_atom, uint64_t op_id, result& outcome) {
      finish_operation(self, op_id, outcome);
      quit_when_empty(self);
    },
    [=](idle_atom, uint64_t) {},
    [=](gate_empty_atom) { quit_when_empty(self); },
  };
}

} // namespace

static_assert(gate_counters::bucket_count == latency_summary::bucket_count,
              "the gate and the actor bucket latencies alike");

tenant_counters to_tenant_counters(const gate_counters& gate) {
  tenant_counters out;
  out.inflight = gate.inflight;
  out.ops = gate.ops;
  out.errors = gate.errors;
  out.latency.count = gate.ops;
  out.latency.sum_us = gate.latency_sum_us;
  out.latency.max_us = gate.latency_max_us;
  for (size_t i = 0; i < gate.latency_buckets.size(); ++i)
    out.latency.buckets[i] = gate.latency_buckets[i];
  return out;
}

tenant_actor::behavior_type
tenant_impl(tenant_pointer self, tenant_target target,
            std::shared_ptr<tenant_gate> gate,
            tenant_supervisor_actor supervisor, caf::timespan idle_timeout) {
  auto& st = self->state;
  st.target = std::move(target);
  st.gate = std::move(gate);
  // Weak: the gate (held by the registry and the facade) must not keep us alive.
  caf::weak_actor_ptr weak_self{self->ctrl()};
  st.gate->set_on_drained([weak_self] {
    if (auto strong = weak_self.lock())
      caf::anon_send(caf::actor_cast<tenant_actor>(strong), gate_empty_atom::value);
  });
  st.supervisor = std::move(supervisor);
  st.idle_timeout = idle_timeout;
  mark_idle(self);
  return active_behavior(self);
}

} // namespace tenantrt
