// Registry behaviour on the deterministic test coordinator: limits, LRU
// eviction, reaping by advancing the clock, wait-queue timeout, crash ->
// monitor -> recreate -> quarantine, drain. No sleeps: virtual time only.

#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/detail/test_actor_clock.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_backend.hpp"

using namespace std::chrono_literals;

namespace tenantrt {
namespace {

using testing::fake_backend;

caf::timespan span(std::chrono::milliseconds value) {
  return std::chrono::duration_cast<caf::timespan>(value);
}

struct RegistryTest : testing::actor_fixture {
  std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>();
  std::shared_ptr<tenant_directory> directory = std::make_shared<tenant_directory>();
  runtime_config config = [] {
    runtime_config c;
    c.registry.max_tenant_connections = 3;
    c.registry.idle_timeout_ms = 300000;
    c.registry.cleanup_interval_ms = 120000;
    c.registry.wait_queue_timeout_ms = 5000;
    c.registry.main_ping_interval_ms = 10000;
    return c;
  }();
  registry_actor registry;

  void start() {
    registry = sys.spawn(registry_impl, config, std::static_pointer_cast<command_backend>(backend),
                         directory);
    run();
  }

  ~RegistryTest() override {
    if (registry)
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    run();
  }

  auto run_cmd(const std::string& tenant, const std::string& command = R"({"ping":1})") {
    return ask<std::string>(registry, run_atom::value, tenant, command);
  }

  /// Runs one command for the tenant and completes it.
  void use(const std::string& tenant) {
    auto reply = run_cmd(tenant);
    backend->finish_all(tenant);
    run();
    ASSERT_TRUE(reply->value.has_value()) << tenant << ": " << reply->message;
  }

  registry_stats stats() {
    auto box = ask<registry_stats>(registry, stats_atom::value);
    EXPECT_TRUE(box->value.has_value());
    return box->value.value_or(registry_stats{});
  }

  std::optional<tenant_stats> row(const registry_stats& s, const std::string& tenant) {
    for (auto& r : s.tenants)
      if (r.tenant == tenant)
        return r;
    return std::nullopt;
  }

  std::vector<std::string> active(const registry_stats& s) {
    std::vector<std::string> out;
    for (auto& r : s.tenants)
      out.push_back(r.tenant);
    return out;
  }
};

TEST_F(RegistryTest, SameTenantTwiceReusesOneActorAndCountsTwoUses) {
  start();
  use("org42");
  use("org42");
  auto s = stats();
  EXPECT_EQ(backend->opened, std::vector<std::string>{"org42"});
  ASSERT_TRUE(row(s, "org42").has_value());
  EXPECT_EQ(row(s, "org42")->use_count, 2u);
  EXPECT_EQ(row(s, "org42")->database, "tenant_org42");
  EXPECT_EQ(s.created_total, 1u);
}

TEST_F(RegistryTest, AcquireReturnsTheCachedActor) {
  start();
  auto first = ask<tenant_actor>(registry, acquire_atom::value, std::string{"org1"});
  auto second = ask<tenant_actor>(registry, acquire_atom::value, std::string{"org1"});
  ASSERT_TRUE(first->value && second->value);
  EXPECT_EQ(*first->value, *second->value);
  EXPECT_EQ(row(stats(), "org1")->use_count, 2u);
}

TEST_F(RegistryTest, SeveralTenantsRunAtOnce) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto s = stats();
  EXPECT_EQ(s.active_tenants, 3u);
  EXPECT_EQ(s.inflight, 3u);
  EXPECT_EQ(row(s, "b")->inflight, 1u);
  EXPECT_EQ(backend->finish_all("a") + backend->finish_all("b") + backend->finish_all("c"), 3u);
  run();
  EXPECT_TRUE(a->value && b->value && c->value);
  EXPECT_EQ(stats().inflight, 0u);
}

TEST_F(RegistryTest, StatsJoinTenantCountersAndLatency) {
  start();
  use("org1");
  auto failing = run_cmd("org1", R"({"nosuch":1})");
  result failure;
  failure.code = errc::command_failed;
  failure.message = "no such command: 'nosuch'";
  failure.reply_json = R"({"ok":0.0,"code":59})";
  failure.latency = 3000us;
  backend->finish(backend->unfinished("org1").at(0), failure);
  run();
  ASSERT_EQ(failing->error, errc::command_failed);
  EXPECT_EQ(failing->message, "no such command: 'nosuch'");
  auto r = row(stats(), "org1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->counters.ops, 2u);
  EXPECT_EQ(r->counters.errors, 1u);
  EXPECT_EQ(r->counters.latency.count, 2u);
  EXPECT_EQ(r->counters.latency.max_us, 3000u);
  EXPECT_EQ(r->counters.latency.sum_us, 3100u);
}

TEST_F(RegistryTest, InvalidTenantIdNeverReachesTheBackend) {
  start();
  for (const std::string& bad : std::vector<std::string>{"../x", "a.b", "$cmd", "", std::string(65, 'a'),
                                        "caf\xc3\xa9", std::string("a\0b", 3)}) {
    auto reply = run_cmd(bad);
    EXPECT_EQ(reply->error, errc::invalid_tenant_id) << bad;
  }
  EXPECT_TRUE(backend->opened.empty());
}

TEST_F(RegistryTest, NoTenantIdReachesAReservedDatabase) {
  config.database_template = "{id}";
  start();
  for (std::string reserved : {"admin", "local", "config", "Admin", "CONFIG"}) {
    auto reply = run_cmd(reserved);
    EXPECT_EQ(reply->error, errc::invalid_tenant_id) << reserved;
  }
  use("org1");
  EXPECT_EQ(backend->opened, std::vector<std::string>{"org1"});
}

TEST_F(RegistryTest, IdleTenantRetiresItselfAfterIdleTimeout) {
  start();
  use("org1");
  advance(span(299s));
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  use("org1"); // re-arms at t=299s
  advance(span(299s));
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  advance(span(2s));
  auto s = stats();
  EXPECT_TRUE(s.tenants.empty());
  EXPECT_EQ(s.reaped_total, 1u);
  EXPECT_EQ(backend->open_channels, 0u); // its channel (and pool) went with it
}

TEST_F(RegistryTest, TenantWithWorkInFlightIsNotReaped) {
  start();
  auto reply = run_cmd("org1");
  advance(span(400s));
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  backend->finish_all("org1");
  run();
  EXPECT_TRUE(reply->value.has_value());
  advance(span(301s));
  EXPECT_TRUE(stats().tenants.empty());
}

TEST_F(RegistryTest, CleanupOnDemandReapsOnlyIdleTenants) {
  // Tenants retire themselves on their idle timer; cleanup on demand catches
  // what that timer cannot see, e.g. a tenant acquired and driven directly.
  start();
  auto actor = ask<tenant_actor>(registry, acquire_atom::value, std::string{"direct"});
  auto direct = ask<std::string>(*actor->value, run_atom::value, std::string{R"({"ping":1})"});
  advance(span(100s)); // below the first cleanup tick (120 s)
  use("recent");
  sched.advance_time(span(19s)); // t = 119 s, no tick yet
  run();
  auto none = ask<std::vector<std::string>>(registry, cleanup_atom::value);
  ASSERT_TRUE(none->value.has_value());
  EXPECT_TRUE(none->value->empty()); // nobody idle for 300 s yet
  advance(span(120s));
  advance(span(61s)); // t = 300 s: "direct" idle 300 s, "recent" 200 s... its timer armed at 100 s
  auto reaped = ask<std::vector<std::string>>(registry, cleanup_atom::value);
  ASSERT_TRUE(reaped->value.has_value());
  EXPECT_EQ(*reaped->value, std::vector<std::string>{"direct"});
  EXPECT_EQ(active(stats()), std::vector<std::string>{"recent"});
  backend->finish_all("direct");
  run();
  EXPECT_TRUE(direct->value.has_value());
}

TEST_F(RegistryTest, CleanupTickReapsTenantsIdleInTheRegistrysView) {
  // A CAF service that acquired the actor and runs on it directly keeps the
  // tenant's own timer quiet; the registry's periodic tick still reaps it,
  // and the direct work finishes (drain) before the actor stops.
  start();
  auto actor = ask<tenant_actor>(registry, acquire_atom::value, std::string{"direct"});
  ASSERT_TRUE(actor->value.has_value());
  auto direct = ask<std::string>(*actor->value, run_atom::value, std::string{R"({"ping":1})"});
  advance(span(120s));
  EXPECT_EQ(active(stats()), std::vector<std::string>{"direct"}); // tick 1: idle 120 s
  advance(span(120s));
  advance(span(120s)); // tick 3 at 360 s: idle >= 300 s
  EXPECT_TRUE(stats().tenants.empty());
  EXPECT_EQ(backend->open_channels, 1u); // draining: its op is still in flight
  backend->finish_all("direct");
  run();
  EXPECT_TRUE(direct->value.has_value());
  EXPECT_EQ(backend->open_channels, 0u);
}

TEST_F(RegistryTest, AtLimitEvictsLeastRecentlyUsedIdleTenant) {
  start();
  use("a");
  advance(span(1s));
  use("b");
  advance(span(1s));
  use("c");
  advance(span(1s));
  use("a"); // b is now least recently used
  auto d = run_cmd("d");
  backend->finish_all("d");
  run();
  ASSERT_TRUE(d->value.has_value()) << d->message;
  auto s = stats();
  EXPECT_EQ(active(s), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(s.evicted_total, 1u);
  EXPECT_LE(backend->peak_open_channels, 3u);
}

TEST_F(RegistryTest, AtLimitWithEveryTenantBusyWaitsThenFailsWithTenantLimitReached) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto d = run_cmd("d");
  EXPECT_FALSE(d->settled());
  EXPECT_EQ(stats().waiters, 1u);
  advance(span(4999ms));
  EXPECT_FALSE(d->settled());
  advance(span(1ms));
  ASSERT_TRUE(d->error.has_value());
  EXPECT_EQ(*d->error, errc::tenant_limit_reached);
  EXPECT_NE(d->message.find("tenant limit 3"), std::string::npos) << d->message;
  EXPECT_EQ(stats().limit_timeouts_total, 1u);
  EXPECT_LE(backend->peak_open_channels, 3u);
}

TEST_F(RegistryTest, WaiterIsServedWhenABusyTenantFinishes) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto d = run_cmd("d");
  EXPECT_FALSE(d->settled());
  backend->finish_all("b");
  run(); // b idle -> evicted -> its actor stops -> d created
  EXPECT_TRUE(b->value.has_value());
  EXPECT_EQ(backend->finish_all("d"), 1u);
  run();
  EXPECT_TRUE(d->value.has_value()) << d->message;
  EXPECT_EQ(active(stats()), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_LE(backend->peak_open_channels, 3u);
}

TEST_F(RegistryTest, WithoutLruEvictionOnlyIdleReapingFreesSlots) {
  config.registry.evict_lru_when_full = false;
  start();
  use("a");
  use("b");
  use("c");
  auto d = run_cmd("d");
  EXPECT_FALSE(d->settled());
  advance(span(5s));
  EXPECT_EQ(d->error, errc::tenant_limit_reached);
  EXPECT_EQ(stats().evicted_total, 0u);
}

TEST_F(RegistryTest, WaitQueueIsBounded) {
  config.registry.max_waiters = 1;
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto d = run_cmd("d");
  auto e = run_cmd("e");
  EXPECT_FALSE(d->settled());
  ASSERT_TRUE(e->error.has_value());
  EXPECT_EQ(*e->error, errc::tenant_limit_reached);
}

TEST_F(RegistryTest, TheWholeWaitQueueArmsOneTimer) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto pending_timers = [&] { return sched.clock().schedule().size(); };
  auto before = pending_timers();
  std::vector<std::shared_ptr<testing::reply_box<std::string>>> waiting;
  for (int n = 0; n < 20; ++n)
    waiting.push_back(run_cmd("w" + std::to_string(n)));
  EXPECT_EQ(stats().waiters, 20u);
  EXPECT_LE(pending_timers(), before + 1) << "one timer per waiter";
  advance(span(5s)); // one check fails them all, and arms nothing more
  for (auto& w : waiting)
    EXPECT_EQ(w->error, errc::tenant_limit_reached);
  EXPECT_EQ(stats().limit_timeouts_total, 20u);
  EXPECT_EQ(stats().waiters, 0u);
  EXPECT_EQ(pending_timers(), before);
}

TEST_F(RegistryTest, EachWaiterFailsAtItsOwnDeadlineAndAServedOneNever) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto d = run_cmd("d"); // deadline 5 s
  advance(span(1s));
  auto e = run_cmd("e"); // deadline 6 s
  advance(span(2s));
  auto f = run_cmd("f"); // deadline 8 s
  advance(span(1s));
  backend->finish_all("b");
  run(); // t = 4 s: b evicted, d served (and busy); the check for 5 s stays armed
  EXPECT_EQ(backend->unfinished("d").size(), 1u);
  EXPECT_EQ(stats().waiters, 2u);
  advance(span(1s)); // t = 5 s: d's old deadline, nothing due
  EXPECT_FALSE(d->settled());
  EXPECT_FALSE(e->settled());
  EXPECT_EQ(stats().limit_timeouts_total, 0u);
  advance(span(999ms));
  EXPECT_FALSE(e->settled());
  advance(span(1ms)); // t = 6 s
  ASSERT_TRUE(e->error.has_value());
  EXPECT_EQ(*e->error, errc::tenant_limit_reached);
  EXPECT_NE(e->message.find("within 5000 ms for tenant e"), std::string::npos) << e->message;
  EXPECT_FALSE(f->settled());
  EXPECT_EQ(stats().waiters, 1u);
  EXPECT_EQ(stats().limit_timeouts_total, 1u);
  advance(span(1999ms));
  EXPECT_FALSE(f->settled());
  advance(span(1ms)); // t = 8 s
  EXPECT_EQ(f->error, errc::tenant_limit_reached);
  EXPECT_EQ(stats().limit_timeouts_total, 2u);
  EXPECT_EQ(backend->finish_all("d"), 1u);
  run();
  EXPECT_TRUE(d->value.has_value()) << d->message;
  EXPECT_EQ(stats().limit_timeouts_total, 2u);
}

TEST_F(RegistryTest, AfterReloadLowersTheWaitTimeoutALaterWaiterFailsFirst) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto d = run_cmd("d"); // deadline 5 s: the check is armed for it
  advance(span(1s));
  auto next = config;
  next.registry.wait_queue_timeout_ms = 1000;
  EXPECT_EQ(ask<bool>(registry, reload_atom::value, next)->value, true);
  auto e = run_cmd("e"); // deadline 2 s, behind d in the queue
  advance(span(999ms));
  EXPECT_FALSE(e->settled());
  advance(span(1ms)); // t = 2 s
  ASSERT_TRUE(e->error.has_value());
  EXPECT_EQ(*e->error, errc::tenant_limit_reached);
  EXPECT_FALSE(d->settled());
  EXPECT_EQ(stats().waiters, 1u);
  EXPECT_EQ(stats().limit_timeouts_total, 1u);
  advance(span(2999ms));
  EXPECT_FALSE(d->settled());
  advance(span(1ms)); // t = 5 s: d keeps the deadline it was queued with
  EXPECT_EQ(d->error, errc::tenant_limit_reached);
  EXPECT_EQ(stats().limit_timeouts_total, 2u);
  EXPECT_EQ(stats().waiters, 0u);
}

TEST_F(RegistryTest, NeverMoreLiveTenantActorsThanTheLimit) {
  start();
  for (int round = 0; round < 5; ++round)
    for (auto tenant : {"t1", "t2", "t3", "t4", "t5", "t6"}) {
      use(tenant);
      EXPECT_LE(backend->open_channels, 3u);
    }
  EXPECT_LE(backend->peak_open_channels, 3u);
  EXPECT_EQ(stats().active_tenants, 3u);
}

TEST_F(RegistryTest, CrashFailsInFlightCallersAndNextAcquireRecreates) {
  start();
  auto actor = ask<tenant_actor>(registry, acquire_atom::value, std::string{"org1"});
  auto inflight = run_cmd("org1");
  EXPECT_FALSE(inflight->settled());
  caf::anon_send_exit(*actor->value, caf::exit_reason::unhandled_exception);
  run();
  ASSERT_TRUE(inflight->error.has_value());
  EXPECT_EQ(*inflight->error, errc::tenant_crashed);
  EXPECT_EQ(stats().crashed_total, 1u);
  EXPECT_TRUE(stats().tenants.empty());
  use("org1");
  EXPECT_EQ(backend->opened, (std::vector<std::string>{"org1", "org1"}));
}

TEST_F(RegistryTest, RepeatedCrashesQuarantineTheTenantForABackOff) {
  start();
  use("other");
  for (int crash = 0; crash < 4; ++crash) {
    auto actor = ask<tenant_actor>(registry, acquire_atom::value, std::string{"flaky"});
    ASSERT_TRUE(actor->value.has_value()) << "crash " << crash << ": " << actor->message;
    caf::anon_send_exit(*actor->value, caf::exit_reason::unhandled_exception);
    run();
    advance(span(1s));
  }
  auto refused = run_cmd("flaky");
  ASSERT_TRUE(refused->error.has_value());
  EXPECT_EQ(*refused->error, errc::tenant_quarantined);
  EXPECT_EQ(stats().quarantined, std::vector<std::string>{"flaky"});
  use("other"); // other tenants unaffected
  advance(span(30s));
  use("flaky"); // back-off over
}

TEST_F(RegistryTest, MainDatabaseStateFollowsItsPings) {
  backend->auto_complete_main = false;
  start();
  EXPECT_EQ(stats().main_state, "connecting");
  backend->finish(backend->unfinished("").at(0), fake_backend::ok_outcome());
  run();
  EXPECT_EQ(stats().main_state, "connected");
  advance(span(10s)); // next ping
  result down;
  down.code = errc::server_unreachable;
  down.message = "No suitable servers found";
  backend->finish(backend->unfinished("").at(0), down);
  run();
  auto s = stats();
  EXPECT_EQ(s.main_state, "disconnected");
  EXPECT_EQ(s.main_database, "main");
  auto reply = ask<std::string>(registry, main_atom::value, std::string{R"({"find":"plans"})"});
  backend->finish(backend->unfinished("").at(0), fake_backend::ok_outcome());
  run();
  EXPECT_TRUE(reply->value.has_value());
  EXPECT_EQ(stats().main_state, "connected");
}

TEST_F(RegistryTest, TimedEvictWaitsForInFlightWorkToDrain) {
  start();
  auto inflight = run_cmd("org1");
  auto evicted = ask<bool>(registry, evict_atom::value, std::string{"org1"}, span(10s));
  EXPECT_FALSE(evicted->settled()); // draining: its op is still running
  EXPECT_TRUE(stats().tenants.empty());
  backend->finish_all("org1");
  run();
  EXPECT_TRUE(inflight->value.has_value());
  EXPECT_EQ(evicted->value, true);
  auto absent = ask<bool>(registry, evict_atom::value, std::string{"nobody"}, span(10s));
  EXPECT_EQ(absent->value, false);
}

TEST_F(RegistryTest, TimedEvictStopsATenantThatDoesNotDrainInTime) {
  start();
  auto inflight = run_cmd("org1");
  auto evicted = ask<bool>(registry, evict_atom::value, std::string{"org1"}, span(2s));
  advance(span(2s));
  EXPECT_EQ(evicted->value, true);
  EXPECT_EQ(inflight->error, errc::shutting_down);
  EXPECT_EQ(backend->open_channels, 0u);
}

TEST_F(RegistryTest, ReloadRaisesTheLimitAndAdmitsWaitingCallers) {
  start();
  auto a = run_cmd("a");
  auto b = run_cmd("b");
  auto c = run_cmd("c");
  auto d = run_cmd("d");
  EXPECT_FALSE(d->settled());
  auto next = config;
  next.registry.max_tenant_connections = 4;
  auto reloaded = ask<bool>(registry, reload_atom::value, next);
  EXPECT_EQ(reloaded->value, true);
  EXPECT_EQ(backend->finish_all("d"), 1u);
  run();
  EXPECT_TRUE(d->value.has_value()) << d->message;
  EXPECT_EQ(stats().max_tenants, 4u);
}

TEST_F(RegistryTest, ReloadedIdleTimeoutAppliesToLiveTenants) {
  start();
  use("org1");
  auto next = config;
  next.registry.idle_timeout_ms = 60000;
  EXPECT_EQ(ask<bool>(registry, reload_atom::value, next)->value, true);
  advance(span(59s));
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  advance(span(1s)); // the live tenant's timer now runs on 60 s, not 300 s
  EXPECT_TRUE(stats().tenants.empty());
  EXPECT_EQ(stats().reaped_total, 1u);
}

TEST_F(RegistryTest, DrainFinishesInFlightWorkAndRefusesNewWork) {
  start();
  auto inflight = run_cmd("org1");
  auto drained = ask<bool>(registry, drain_atom::value, span(10s));
  EXPECT_FALSE(drained->settled());
  auto refused = run_cmd("org2");
  EXPECT_EQ(refused->error, errc::shutting_down);
  backend->finish_all("org1");
  run();
  EXPECT_TRUE(inflight->value.has_value());
  ASSERT_TRUE(drained->value.has_value());
  EXPECT_TRUE(*drained->value);
  EXPECT_EQ(backend->open_channels, 0u);
}

TEST_F(RegistryTest, DrainDeadlineFailsWhatIsStillInFlight) {
  start();
  auto inflight = run_cmd("org1");
  auto drained = ask<bool>(registry, drain_atom::value, span(2s));
  advance(span(2s));
  ASSERT_TRUE(drained->value.has_value());
  EXPECT_FALSE(*drained->value);
  EXPECT_EQ(inflight->error, errc::shutting_down);
  EXPECT_EQ(backend->open_channels, 0u);
}

// -- the facade's fast path: operations through a tenant's gate ------------------

/// A fast operation (what the facade does without a message), at virtual time.
struct fast_op {
  std::shared_ptr<tenant_gate> gate;
  bool entered = false;
};

struct RegistryFastPathTest : RegistryTest {
  fast_op enter(const std::string& tenant) {
    fast_op op{directory->find(tenant)};
    op.entered = op.gate && op.gate->try_enter();
    return op;
  }

  void leave(fast_op& op) {
    op.gate->leave(fake_backend::ok_outcome(), sched.clock().now());
    run(); // a drained gate's notice reaches its actor
  }

  /// One fast operation, started and finished now.
  void use_fast(const std::string& tenant) {
    auto op = enter(tenant);
    ASSERT_TRUE(op.entered) << tenant;
    leave(op);
  }
};

TEST_F(RegistryFastPathTest, CreatingATenantPublishesItsGateAndStoppingItWithdrawsIt) {
  start();
  EXPECT_EQ(directory->find("org1"), nullptr);
  use("org1");
  auto gate = directory->find("org1");
  ASSERT_NE(gate, nullptr);
  EXPECT_FALSE(gate->closed());
  EXPECT_EQ(ask<bool>(registry, evict_atom::value, std::string{"org1"})->value, true);
  EXPECT_EQ(directory->find("org1"), nullptr);
  EXPECT_TRUE(gate->closed()); // a caller still holding it takes the slow path
  EXPECT_FALSE(gate->try_enter());
}

TEST_F(RegistryFastPathTest, AFastOperationInFlightKeepsTheTenantFromBeingReaped) {
  start();
  use("org1");
  auto op = enter("org1");
  ASSERT_TRUE(op.entered);
  advance(span(400s)); // the idle timer and three cleanup ticks pass
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  EXPECT_EQ(row(stats(), "org1")->inflight, 1u);
  EXPECT_TRUE(ask<std::vector<std::string>>(registry, cleanup_atom::value)->value->empty());
  leave(op);
  advance(span(299s));
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  advance(span(2s));
  EXPECT_TRUE(stats().tenants.empty());
  op.gate.reset(); // the caller's own reference
  EXPECT_EQ(backend->open_channels, 0u);
}

TEST_F(RegistryFastPathTest, IdleTimeCountsFromTheLastFastOperation) {
  start();
  use("org1"); // the registry's last use: t = 0
  advance(span(200s));
  use_fast("org1"); // the gate's: t = 200 s
  advance(span(200s)); // t = 400 s: idle 200 s, not 400 s
  EXPECT_EQ(active(stats()), std::vector<std::string>{"org1"});
  EXPECT_EQ(row(stats(), "org1")->idle_ms, 200000);
  advance(span(101s));
  EXPECT_TRUE(stats().tenants.empty());
  EXPECT_EQ(stats().reaped_total, 1u);
}

TEST_F(RegistryFastPathTest, LruEvictionPassesOverATenantBusyOnTheFastPath) {
  start();
  use("a");
  advance(span(1s));
  use("b");
  advance(span(1s));
  use("c");
  auto busy = enter("a"); // a is least recently used, but busy
  ASSERT_TRUE(busy.entered);
  auto d = run_cmd("d");
  backend->finish_all("d");
  run();
  ASSERT_TRUE(d->value.has_value()) << d->message;
  EXPECT_EQ(active(stats()), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_FALSE(busy.gate->closed());
  leave(busy);
}

TEST_F(RegistryFastPathTest, LruEvictionCountsTheFastPathsLastUse) {
  start();
  use("a");
  advance(span(1s));
  use("b");
  advance(span(1s));
  use("c");
  advance(span(1s));
  use_fast("a"); // a used last, through its gate: b is the LRU now
  auto d = run_cmd("d");
  backend->finish_all("d");
  run();
  ASSERT_TRUE(d->value.has_value()) << d->message;
  EXPECT_EQ(active(stats()), (std::vector<std::string>{"a", "c", "d"}));
}

TEST_F(RegistryFastPathTest, WaiterIsServedSoonAfterAFastOperationEnds) {
  start();
  use("a");
  use("b");
  use("c");
  std::vector<fast_op> ops{enter("a"), enter("b"), enter("c")};
  for (auto& op : ops)
    ASSERT_TRUE(op.entered);
  auto d = run_cmd("d");
  EXPECT_FALSE(d->settled());
  EXPECT_EQ(stats().waiters, 1u);
  leave(ops[1]); // ends without a message to the registry
  advance(span(10ms)); // the registry looks again
  EXPECT_EQ(backend->finish_all("d"), 1u);
  run();
  ASSERT_TRUE(d->value.has_value()) << d->message;
  EXPECT_EQ(active(stats()), (std::vector<std::string>{"a", "c", "d"}));
  leave(ops[0]);
  leave(ops[2]);
}

TEST_F(RegistryFastPathTest, StatsCountFastOperations) {
  start();
  use("org1");
  use_fast("org1");
  use_fast("org1");
  auto op = enter("org1");
  auto s = stats();
  ASSERT_TRUE(row(s, "org1").has_value());
  EXPECT_EQ(row(s, "org1")->use_count, 3u); // one through the registry, two fast
  EXPECT_EQ(row(s, "org1")->counters.ops, 3u);
  EXPECT_EQ(row(s, "org1")->inflight, 1u);
  EXPECT_EQ(row(s, "org1")->counters.inflight, 1u);
  EXPECT_EQ(s.inflight, 1u);
  leave(op);
}

TEST_F(RegistryFastPathTest, DrainWaitsForFastOperations) {
  start();
  use("org1");
  auto op = enter("org1");
  auto drained = ask<bool>(registry, drain_atom::value, span(10s));
  EXPECT_FALSE(drained->settled());
  EXPECT_FALSE(op.gate->try_enter()); // closed for new work
  EXPECT_EQ(backend->open_channels, 1u);
  leave(op); // the last one out tells the tenant, which quits
  ASSERT_TRUE(drained->value.has_value());
  EXPECT_TRUE(*drained->value);
  op.gate.reset();
  EXPECT_EQ(backend->open_channels, 0u);
}

} // namespace
} // namespace tenantrt
