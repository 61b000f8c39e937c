#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include <caf/actor_cast.hpp>
#include <caf/system_messages.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/tenant.hpp"
#include "runtime/logging.hpp"

namespace tenantrt {

const char* registry_state::name = "registry";

std::string to_string(main_db_state state) {
  switch (state) {
    case main_db_state::connecting: return "connecting";
    case main_db_state::connected: return "connected";
    case main_db_state::disconnected: return "disconnected";
  }
  return "disconnected";
}

namespace {

using registry_pointer = registry_actor::stateful_pointer<registry_state>;
using time_point = registry_state::time_point;
using std::chrono::milliseconds;

constexpr const char* main_ping_command = R"({"ping":1})";

time_point now(registry_pointer self) { return self->clock().now(); }

int64_t to_ms(caf::timespan span) {
  return std::chrono::duration_cast<milliseconds>(span).count();
}

size_t live_actors(const registry_state& st) { return st.tenants.size() + st.stopping.size(); }

bool at_limit(const registry_state& st) {
  return live_actors(st) >= st.config.registry.max_tenant_connections;
}

/// Last use through either path (registry or gate).
time_point last_used(const registry_state::entry& e) {
  return std::max(e.last_used, e.gate->last_used());
}

/// Operations in flight through either path.
uint32_t inflight(const registry_state::entry& e) {
  return e.inflight + e.gate->inflight();
}

/// Closes an idle tenant's gate; false when it is busy or was used since.
bool close_if_idle(const registry_state::entry& e) {
  return e.inflight == 0 && e.gate->try_close_idle(last_used(e));
}

/// Operations in flight through the registry and through active tenants' gates.
uint32_t operations_in_flight(const registry_state& st) {
  auto total = static_cast<uint32_t>(st.pending.size());
  for (auto& [tenant, e] : st.tenants)
    total += e.gate->inflight();
  return total;
}

void serve_waiters(registry_pointer self);

/// Why a tenant id cannot be served right now, if it cannot.
std::optional<caf::error> admission_error(registry_pointer self, const std::string& tenant) {
  auto& st = self->state;
  if (st.draining)
    return make_error(errc::shutting_down, "tenantrt is shutting down");
  auto resolution = st.naming->resolve(tenant);
  if (!resolution.target)
    return make_error(resolution.code, resolution.error);
  auto crash = st.crashes.find(tenant);
  if (crash != st.crashes.end() && now(self) < crash->second.quarantined_until) {
    auto left = to_ms(crash->second.quarantined_until - now(self));
    return make_error(errc::tenant_quarantined,
                      "tenant " + tenant + " crashed more than "
                        + std::to_string(st.config.registry.quarantine.max_crashes)
                        + " times within "
                        + std::to_string(st.config.registry.quarantine.crash_window_ms)
                        + " ms; quarantined for another " + std::to_string(left) + " ms");
  }
  return std::nullopt;
}

registry_state::entry* create_tenant(registry_pointer self, const std::string& tenant,
                                     caf::error& failure) {
  auto& st = self->state;
  auto resolution = st.naming->resolve(tenant);
  std::string open_error;
  auto channel = st.backend->open(*resolution.target, &open_error);
  if (!channel) {
    failure = make_error(errc::unknown_cluster, open_error);
    return nullptr;
  }
  auto supervisor = caf::actor_cast<tenant_supervisor_actor>(self);
  auto gate = std::make_shared<tenant_gate>(std::move(channel));
  auto actor = self->spawn(tenant_impl, *resolution.target, gate, supervisor,
                           ms(st.config.registry.idle_timeout_ms));
  self->monitor(actor);
  st.actor_tenants.emplace(actor.id(), tenant);
  auto& created = st.tenants[tenant];
  created.actor = actor;
  created.target = *resolution.target;
  created.gate = gate;
  created.last_used = now(self);
  if (st.directory)
    st.directory->publish(tenant, std::move(gate));
  ++st.totals.created_total;
  log().info("tenant {} created (database {}, cluster {}; {}/{} active)", tenant,
             created.target.database, created.target.cluster, st.tenants.size(),
             st.config.registry.max_tenant_connections);
  return &created;
}

/// Removes an active entry and tells its actor to finish and stop.
void stop_tenant(registry_pointer self, const std::string& tenant, const char* why) {
  auto& st = self->state;
  auto i = st.tenants.find(tenant);
  if (i == st.tenants.end())
    return;
  auto actor = i->second.actor;
  auto idle = now(self) - last_used(i->second);
  // Fast operations already in finish; new ones take the slow path to us.
  i->second.gate->close();
  if (st.directory)
    st.directory->withdraw(tenant, i->second.gate.get());
  st.stopping.emplace(actor.id(), registry_state::stopping_tenant{tenant, actor});
  st.tenants.erase(i);
  self->send(actor, drain_atom::value);
  log().info("tenant {} {} (idle {} ms; {}/{} active)", tenant, why, to_ms(idle),
             st.tenants.size(), st.config.registry.max_tenant_connections);
}

std::vector<std::string> reap_idle(registry_pointer self) {
  auto& st = self->state;
  auto idle_timeout = ms(st.config.registry.idle_timeout_ms);
  auto current = now(self);
  std::vector<std::string> idle;
  for (auto& [tenant, e] : st.tenants)
    if (inflight(e) == 0 && current - last_used(e) >= idle_timeout && close_if_idle(e))
      idle.push_back(tenant);
  for (auto& tenant : idle)
    stop_tenant(self, tenant, "reaped");
  st.totals.reaped_total += idle.size();
  return idle;
}

/// Evicts the least recently used tenant with nothing in flight, if any.
bool evict_lru(registry_pointer self) {
  auto& st = self->state;
  if (!st.config.registry.evict_lru_when_full)
    return false;
  // Oldest first; a candidate whose gate turns out busy is passed over.
  std::vector<std::pair<time_point, const std::string*>> candidates;
  for (auto& [tenant, e] : st.tenants)
    if (inflight(e) == 0)
      candidates.emplace_back(last_used(e), &tenant);
  std::sort(candidates.begin(), candidates.end());
  const std::string* victim = nullptr;
  for (auto& [used, tenant] : candidates)
    if (close_if_idle(st.tenants.at(*tenant))) {
      victim = tenant;
      break;
    }
  if (victim == nullptr)
    return false;
  ++st.totals.evicted_total;
  stop_tenant(self, std::string{*victim}, "evicted (least recently used, limit reached)");
  return true;
}

void touch(registry_pointer self, registry_state::entry& e) {
  e.last_used = now(self);
  ++e.use_count;
}

void settle(registry_pointer self, uint64_t op_id, std::string* reply, caf::error* failure) {
  auto& st = self->state;
  auto i = st.pending.find(op_id);
  if (i == st.pending.end())
    return; // already failed when its tenant died
  auto op = std::move(i->second);
  st.pending.erase(i);
  auto e = st.tenants.find(op.tenant);
  bool freed = false;
  if (e != st.tenants.end() && e->second.actor.id() == op.actor) {
    --e->second.inflight;
    e->second.last_used = now(self);
    freed = e->second.inflight == 0;
  }
  if (reply != nullptr)
    op.promise.deliver(std::move(*reply));
  else
    op.promise.deliver(std::move(*failure));
  if (freed && !st.waiters.empty())
    serve_waiters(self);
}

void dispatch(registry_pointer self, registry_state::entry& e, std::string command_json,
              caf::typed_response_promise<std::string> promise) {
  auto& st = self->state;
  touch(self, e);
  ++e.inflight;
  auto op_id = ++st.next_id;
  st.pending.emplace(op_id, registry_state::pending_op{e.target.tenant_id, e.actor.id(), promise});
  self->request(e.actor, caf::infinite, run_atom::value, std::move(command_json))
    .then([=](std::string& reply) { settle(self, op_id, &reply, nullptr); },
          [=](caf::error& err) { settle(self, op_id, nullptr, &err); });
}

void fail_waiter(registry_state::waiter& w, caf::error err) {
  if (w.command_json)
    w.run_promise.deliver(std::move(err));
  else
    w.acquire_promise.deliver(std::move(err));
}

void serve_one(registry_pointer self, registry_state::waiter& w, registry_state::entry& e) {
  if (w.command_json) {
    dispatch(self, e, std::move(*w.command_json), w.run_promise);
  } else {
    touch(self, e);
    self->send(e.actor, touch_atom::value);
    w.acquire_promise.deliver(e.actor);
  }
}

/// Registry operations ending call serve_waiters; fast operations end without
/// a word, so while one holds a tenant busy we look again shortly.
void retry_waiters_later(registry_pointer self) {
  auto& st = self->state;
  if (st.waiter_retry_pending)
    return;
  bool fast_busy = std::any_of(st.tenants.begin(), st.tenants.end(),
                               [](auto& kv) { return kv.second.gate->inflight() > 0; });
  if (!fast_busy)
    return;
  st.waiter_retry_pending = true;
  self->delayed_send(self, std::min(ms(10), ms(st.config.registry.wait_queue_timeout_ms)),
                     waiter_retry_atom::value);
}

/// Serves queued callers in order while slots exist or can be freed.
void serve_waiters(registry_pointer self) {
  auto& st = self->state;
  // Slots already being freed (actors stopping) are promised to the first
  // waiters in line, so each waiter evicts at most one tenant.
  size_t slots_coming = st.stopping.size();
  for (auto i = st.waiters.begin(); i != st.waiters.end();) {
    auto& w = *i;
    if (auto err = admission_error(self, w.tenant)) {
      fail_waiter(w, std::move(*err));
      i = st.waiters.erase(i);
      continue;
    }
    auto cached = st.tenants.find(w.tenant);
    registry_state::entry* e = cached != st.tenants.end() ? &cached->second : nullptr;
    if (e == nullptr && !at_limit(st)) {
      caf::error failure;
      e = create_tenant(self, w.tenant, failure);
      if (e == nullptr) {
        fail_waiter(w, std::move(failure));
        i = st.waiters.erase(i);
        continue;
      }
    }
    if (e != nullptr) {
      serve_one(self, w, *e);
      i = st.waiters.erase(i);
      continue;
    }
    if (slots_coming > 0) {
      --slots_coming;
    } else {
      // Free a slot: reap the idle first, else evict one. The slot itself
      // arrives with the stopped actor's down message.
      auto before = st.stopping.size();
      if (reap_idle(self).empty())
        evict_lru(self);
      auto freed = st.stopping.size() - before;
      if (freed == 0) {
        retry_waiters_later(self);
        break; // nothing can be freed now; keep FIFO order
      }
      slots_coming += freed - 1;
    }
    ++i;
  }
}

/// One timer for the whole queue, at its earliest deadline, not one per
/// waiter: most waiters are served within ms, and every timer is a wake-up of
/// CAF's clock thread. An earlier deadline (after a reload lowered the
/// timeout) arms an earlier check; the later one fires as a stale check.
void arm_waiter_check(registry_pointer self, time_point deadline) {
  auto& st = self->state;
  if (st.waiter_check_at && *st.waiter_check_at <= deadline)
    return; // that check looks again and re-arms for what is left
  st.waiter_check_at = deadline;
  self->scheduled_send(self, deadline, wait_expired_atom::value);
}

/// Fails the waiters whose deadline has passed, in queue order, and re-arms
/// the check for the earliest deadline left.
void expire_waiters(registry_pointer self) {
  auto& st = self->state;
  auto current = now(self);
  // A check superseded by an earlier one, or fired after its waiters were
  // served and the queue re-armed later: the armed check will come.
  if (!st.waiter_check_at || current < *st.waiter_check_at)
    return;
  st.waiter_check_at.reset();
  std::optional<time_point> earliest;
  for (auto i = st.waiters.begin(); i != st.waiters.end();) {
    if (current < i->deadline) {
      earliest = earliest ? std::min(*earliest, i->deadline) : i->deadline;
      ++i;
      continue;
    }
    ++st.totals.limit_timeouts_total;
    fail_waiter(*i, make_error(errc::tenant_limit_reached,
                               "tenant limit " + std::to_string(st.config.registry.max_tenant_connections)
                                 + " reached: no idle tenant to evict within "
                                 + std::to_string(st.config.registry.wait_queue_timeout_ms)
                                 + " ms for tenant " + i->tenant));
    i = st.waiters.erase(i);
  }
  if (earliest)
    arm_waiter_check(self, *earliest);
}

/// Serves the caller now when possible, else queues it (bounded, timed).
void admit(registry_pointer self, registry_state::waiter w) {
  auto& st = self->state;
  if (auto err = admission_error(self, w.tenant)) {
    fail_waiter(w, std::move(*err));
    return;
  }
  auto cached = st.tenants.find(w.tenant);
  if (cached != st.tenants.end()) {
    serve_one(self, w, cached->second);
    return;
  }
  if (st.waiters.empty() && !at_limit(st)) {
    caf::error failure;
    if (auto* e = create_tenant(self, w.tenant, failure))
      serve_one(self, w, *e);
    else
      fail_waiter(w, std::move(failure));
    return;
  }
  if (st.waiters.size() >= st.config.registry.max_waiters) {
    ++st.totals.limit_timeouts_total;
    fail_waiter(w, make_error(errc::tenant_limit_reached,
                              "tenant limit " + std::to_string(st.config.registry.max_tenant_connections)
                                + " reached and " + std::to_string(st.waiters.size())
                                + " callers already waiting; tenant " + w.tenant + " refused"));
    return;
  }
  w.deadline = now(self) + ms(st.config.registry.wait_queue_timeout_ms);
  arm_waiter_check(self, w.deadline);
  st.waiters.push_back(std::move(w));
  serve_waiters(self);
}

void record_crash(registry_pointer self, const std::string& tenant) {
  auto& st = self->state;
  auto& q = st.config.registry.quarantine;
  auto& history = st.crashes[tenant];
  auto current = now(self);
  history.recent.push_back(current);
  while (!history.recent.empty() && current - history.recent.front() > ms(q.crash_window_ms))
    history.recent.pop_front();
  if (history.recent.size() <= q.max_crashes)
    return;
  // Back-off doubles with each quarantine, capped.
  uint64_t backoff = q.backoff_ms;
  for (uint32_t n = 0; n < history.quarantines && backoff < q.max_backoff_ms; ++n)
    backoff *= 2;
  backoff = std::min<uint64_t>(backoff, q.max_backoff_ms);
  history.quarantined_until = current + std::chrono::milliseconds{backoff};
  ++history.quarantines;
  history.recent.clear();
  log().warn("tenant {} quarantined for {} ms after more than {} crashes within {} ms", tenant,
             backoff, q.max_crashes, q.crash_window_ms);
}

void fail_pending_of(registry_pointer self, caf::actor_id actor, errc code,
                     const std::string& message) {
  auto& pending = self->state.pending;
  for (auto i = pending.begin(); i != pending.end();) {
    if (i->second.actor == actor) {
      i->second.promise.deliver(make_error(code, message));
      i = pending.erase(i);
    } else {
      ++i;
    }
  }
}

void finish_drain_if_done(registry_pointer self) {
  auto& st = self->state;
  if (!st.draining || !st.drain_promise || !st.tenants.empty() || !st.stopping.empty()
      || !st.main_pending.empty())
    return;
  st.drain_promise->deliver(true);
  st.drain_promise.reset();
  log().info("registry drained; every tenant stopped");
  self->quit();
}

void on_down(registry_pointer self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto id = dm.source.id();
  auto owner = st.actor_tenants.find(id);
  if (owner == st.actor_tenants.end())
    return;
  auto tenant = owner->second;
  st.actor_tenants.erase(owner);
  if (st.stopping.erase(id) > 0) {
    fail_pending_of(self, id, errc::shutting_down, "tenant " + tenant + " stopped");
    log().debug("tenant {} actor terminated", tenant);
    if (auto waiting = st.evictions.find(id); waiting != st.evictions.end()) {
      for (auto& promise : waiting->second)
        promise.deliver(true);
      st.evictions.erase(waiting);
    }
  } else {
    // An active tenant died without being asked to: a crash.
    auto e = st.tenants.find(tenant);
    if (e != st.tenants.end() && e->second.actor.id() == id) {
      e->second.gate->close();
      if (st.directory)
        st.directory->withdraw(tenant, e->second.gate.get());
      st.tenants.erase(e);
    }
    ++st.totals.crashed_total;
    log().warn("tenant {} crashed ({}); in-flight callers fail with tenant_crashed", tenant,
               caf::to_string(dm.reason));
    fail_pending_of(self, id, errc::tenant_crashed,
                    "tenant " + tenant + " crashed while running the command");
    if (!st.draining)
      record_crash(self, tenant);
  }
  serve_waiters(self);
  finish_drain_if_done(self);
}

void submit_main(registry_pointer self, std::string command_json,
                 std::optional<caf::typed_response_promise<std::string>> promise) {
  auto& st = self->state;
  auto op_id = ++st.next_id;
  st.main_pending.emplace(op_id, std::move(promise));
  auto me = caf::actor_cast<registry_actor>(self);
  st.backend->submit_main(std::move(command_json), [me, op_id](result outcome) {
    caf::anon_send(me, main_done_atom::value, op_id, std::move(outcome));
  });
}

void set_main_state(registry_pointer self, const result& outcome) {
  auto& st = self->state;
  auto next = outcome.code == errc::server_unreachable || outcome.code == errc::timeout
                  || outcome.code == errc::pool_wait_timeout
                ? main_db_state::disconnected
                : main_db_state::connected;
  if (outcome.code == errc::overloaded || outcome.code == errc::shutting_down)
    return; // says nothing about the server
  if (next != st.main_state)
    log().info("main database {}: {} -> {}{}", st.config.main_database, to_string(st.main_state),
               to_string(next), outcome.code == errc::none ? "" : " (" + outcome.message + ")");
  st.main_state = next;
}

void schedule_timers(registry_pointer self) {
  auto& st = self->state;
  auto generation = ++st.timer_generation;
  self->delayed_send(self, ms(st.config.registry.cleanup_interval_ms), cleanup_tick_atom::value,
                     generation);
  self->delayed_send(self, ms(st.config.registry.main_ping_interval_ms), main_ping_atom::value,
                     generation);
}

registry_stats snapshot(registry_pointer self) {
  auto& st = self->state;
  registry_stats out = st.totals;
  out.active_tenants = static_cast<uint32_t>(st.tenants.size());
  out.max_tenants = st.config.registry.max_tenant_connections;
  out.draining_tenants = static_cast<uint32_t>(st.stopping.size());
  out.waiters = static_cast<uint32_t>(st.waiters.size());
  out.inflight = operations_in_flight(st);
  out.main_database = st.config.main_database;
  out.main_state = to_string(st.main_state);
  auto current = now(self);
  auto wall = std::chrono::system_clock::now();
  for (auto& [tenant, crash] : st.crashes)
    if (current < crash.quarantined_until)
      out.quarantined.push_back(tenant);
  for (auto& [tenant, e] : st.tenants) {
    tenant_stats row;
    row.tenant = tenant;
    row.database = e.target.database;
    row.cluster = e.target.cluster;
    row.state = "active";
    row.idle_ms = std::max<int64_t>(0, to_ms(current - last_used(e)));
    row.last_used_unix_ms
      = std::chrono::duration_cast<milliseconds>(wall.time_since_epoch()).count() - row.idle_ms;
    auto figures = e.gate->counters();
    row.counters = to_tenant_counters(figures);
    row.use_count = e.use_count + figures.fast_ops;
    row.inflight = inflight(e);
    out.tenants.push_back(std::move(row));
  }
  std::sort(out.tenants.begin(), out.tenants.end(),
            [](const tenant_stats& a, const tenant_stats& b) { return a.tenant < b.tenant; });
  return out;
}

} // namespace

registry_actor::behavior_type registry_impl(registry_pointer self, runtime_config config,
                                            std::shared_ptr<command_backend> backend,
                                            std::shared_ptr<tenant_directory> directory) {
  auto& st = self->state;
  st.config = std::move(config);
  st.naming = std::make_unique<tenant_naming>(st.config);
  st.backend = std::move(backend);
  st.directory = std::move(directory);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  // Stopped from outside (e.g. the actor system going down): take tenants along.
  self->set_exit_handler([=](caf::exit_msg& em) {
    for (auto& [tenant, e] : self->state.tenants)
      self->send_exit(e.actor, em.reason);
    for (auto& [id, stopping] : self->state.stopping)
      self->send_exit(stopping.actor, em.reason);
    self->quit(em.reason);
  });
  submit_main(self, main_ping_command, std::nullopt);
  schedule_timers(self);
  log().info("registry started: max {} tenants, idle timeout {} ms, cleanup every {} ms",
             st.config.registry.max_tenant_connections, st.config.registry.idle_timeout_ms,
             st.config.registry.cleanup_interval_ms);
  return {
    [=](run_atom, std::string& tenant, std::string& command_json)
      -> caf::typed_response_promise<std::string> {
      registry_state::waiter w;
      w.tenant = std::move(tenant);
      w.command_json = std::move(command_json);
      w.run_promise = self->make_response_promise<std::string>();
      auto promise = w.run_promise;
      admit(self, std::move(w));
      return promise;
    },
    [=](acquire_atom, std::string& tenant) -> caf::typed_response_promise<tenant_actor> {
      registry_state::waiter w;
      w.tenant = std::move(tenant);
      w.acquire_promise = self->make_response_promise<tenant_actor>();
      auto promise = w.acquire_promise;
      admit(self, std::move(w));
      return promise;
    },
    [=](main_atom, std::string& command_json) -> caf::typed_response_promise<std::string> {
      auto promise = self->make_response_promise<std::string>();
      if (self->state.draining)
        promise.deliver(make_error(errc::shutting_down, "tenantrt is shutting down"));
      else
        submit_main(self, std::move(command_json), promise);
      return promise;
    },
    [=](main_done_atom, uint64_t op_id, result& outcome) {
      auto& st = self->state;
      auto i = st.main_pending.find(op_id);
      if (i == st.main_pending.end())
        return;
      auto promise = std::move(i->second);
      st.main_pending.erase(i);
      set_main_state(self, outcome);
      if (promise) {
        if (outcome.code == errc::none)
          promise->deliver(std::move(outcome.reply_json));
        else
          promise->deliver(make_error(outcome.code, std::move(outcome.message),
                                      std::move(outcome.reply_json)));
      }
      finish_drain_if_done(self);
    },
    [=](retire_atom, const std::string& tenant, caf::actor_id actor) {
      auto& st = self->state;
      auto e = st.tenants.find(tenant);
      if (e == st.tenants.end() || e->second.actor.id() != actor || inflight(e->second) > 0)
        return; // already gone, replaced, or busy
      if (now(self) - last_used(e->second) < ms(st.config.registry.idle_timeout_ms))
        return; // used since its timer was armed; the tenant re-arms on touch
      if (!close_if_idle(e->second))
        return; // a fast operation got in meanwhile
      ++st.totals.reaped_total;
      stop_tenant(self, tenant, "reaped (idle timer)");
    },
    [=](cleanup_atom) {
      auto reaped = reap_idle(self);
      if (!reaped.empty())
        log().info("cleanup on demand reaped {} idle tenants", reaped.size());
      return reaped;
    },
    [=](cleanup_tick_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.timer_generation)
        return;
      auto reaped = reap_idle(self);
      log().info("cleanup tick: reaped {} idle tenants, {}/{} active", reaped.size(),
                 st.tenants.size(), st.config.registry.max_tenant_connections);
      self->delayed_send(self, ms(st.config.registry.cleanup_interval_ms),
                         cleanup_tick_atom::value, generation);
    },
    [=](main_ping_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.timer_generation)
        return;
      submit_main(self, main_ping_command, std::nullopt);
      self->delayed_send(self, ms(st.config.registry.main_ping_interval_ms),
                         main_ping_atom::value, generation);
    },
    [=](waiter_retry_atom) {
      self->state.waiter_retry_pending = false;
      serve_waiters(self);
    },
    [=](wait_expired_atom) { expire_waiters(self); },
    [=](evict_atom, const std::string& tenant) {
      auto& st = self->state;
      if (st.tenants.count(tenant) == 0)
        return false;
      ++st.totals.evicted_total;
      stop_tenant(self, tenant, "evicted on request");
      return true;
    },
    [=](evict_atom, const std::string& tenant,
        caf::timespan drain_timeout) -> caf::typed_response_promise<bool> {
      auto& st = self->state;
      auto promise = self->make_response_promise<bool>();
      auto e = st.tenants.find(tenant);
      if (e == st.tenants.end()) {
        promise.deliver(false);
        return promise;
      }
      auto id = e->second.actor.id();
      ++st.totals.evicted_total;
      stop_tenant(self, tenant, "evicted on request");
      st.evictions[id].push_back(promise);
      self->delayed_send(self, drain_timeout, evict_deadline_atom::value, id);
      return promise;
    },
    [=](evict_deadline_atom, caf::actor_id id) {
      auto& st = self->state;
      auto stopping = st.stopping.find(id);
      if (stopping == st.stopping.end())
        return; // drained in time
      log().warn("tenant {} did not drain in time; stopping it with its work in flight",
                 stopping->second.tenant);
      self->send_exit(stopping->second.actor, caf::exit_reason::kill);
    },
    [=](reload_atom, runtime_config& next) {
      auto& st = self->state;
      auto before = st.config.registry;
      st.config.registry = next.registry;
      // New timer periods take effect now; stale ticks are ignored by generation.
      if (before.cleanup_interval_ms != next.registry.cleanup_interval_ms
          || before.main_ping_interval_ms != next.registry.main_ping_interval_ms)
        if (!st.draining)
          schedule_timers(self);
      if (before.idle_timeout_ms != next.registry.idle_timeout_ms)
        for (auto& [tenant, e] : st.tenants)
          self->send(e.actor, reload_atom::value, ms(next.registry.idle_timeout_ms));
      log().info("registry reloaded: max {} tenants, idle timeout {} ms, cleanup every {} ms",
                 st.config.registry.max_tenant_connections, st.config.registry.idle_timeout_ms,
                 st.config.registry.cleanup_interval_ms);
      serve_waiters(self); // a higher limit may admit waiting callers
      return true;
    },
    // Every tenant's figures are in its gate: no message to 200 (or 5,000)
    // tenant actors per metrics sample.
    [=](stats_atom) { return snapshot(self); },
    [=](drain_atom, caf::timespan timeout) -> caf::typed_response_promise<bool> {
      auto& st = self->state;
      auto promise = self->make_response_promise<bool>();
      if (st.draining) {
        promise.deliver(false);
        return promise;
      }
      st.draining = true;
      st.drain_promise = promise;
      ++st.timer_generation; // stops cleanup ticks and main pings
      for (auto& w : st.waiters)
        fail_waiter(w, make_error(errc::shutting_down, "tenantrt is shutting down"));
      st.waiters.clear();
      auto inflight = operations_in_flight(st);
      std::vector<std::string> active;
      for (auto& [tenant, e] : st.tenants)
        active.push_back(tenant);
      for (auto& tenant : active)
        stop_tenant(self, tenant, "stopped for shutdown");
      log().info("registry draining: {} tenants, {} operations in flight", active.size(),
                 inflight);
      self->delayed_send(self, timeout, drain_deadline_atom::value);
      finish_drain_if_done(self);
      return promise;
    },
    [=](drain_deadline_atom) {
      auto& st = self->state;
      if (!st.drain_promise)
        return;
      log().warn("drain deadline passed: {} tenants still stopping, {} operations failed "
                 "with shutting_down",
                 st.stopping.size(), st.pending.size());
      for (auto& [id, tenant] : st.pending)
        tenant.promise.deliver(make_error(errc::shutting_down,
                                          "tenantrt shut down before the operation finished"));
      st.pending.clear();
      for (auto& [id, promise] : st.main_pending)
        if (promise)
          promise->deliver(make_error(errc::shutting_down, "tenantrt shut down"));
      st.main_pending.clear();
      for (auto& [id, stopping] : st.stopping)
        self->send_exit(stopping.actor, caf::exit_reason::kill);
      st.drain_promise->deliver(false);
      st.drain_promise.reset();
      self->quit();
    },
  };
}

} // namespace tenantrt
