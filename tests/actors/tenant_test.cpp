// The tenant actor alone: counters, one idle timer re-checked on expiry, drain.

#include "actors/tenant.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_backend.hpp"

using namespace std::chrono_literals;

namespace tenantrt {
namespace {

struct TenantTest : testing::actor_fixture {
  std::shared_ptr<testing::fake_backend> backend = std::make_shared<testing::fake_backend>();
  std::shared_ptr<std::vector<caf::actor_id>> retire_requests
    = std::make_shared<std::vector<caf::actor_id>>();
  tenant_supervisor_actor supervisor = sys.spawn([requests = retire_requests]()
                                                   -> tenant_supervisor_actor::behavior_type {
    return {[=](retire_atom, const std::string&, caf::actor_id id) { requests->push_back(id); }};
  });
  /// Weak, as the registry's own reference ends when it stops the tenant.
  std::weak_ptr<tenant_gate> gate;
  tenant_actor tenant;

  TenantTest() {
    tenant_target target{"org1", "tenant_org1", "default"};
    std::string error;
    auto shared_gate = std::make_shared<tenant_gate>(backend->open(target, &error));
    gate = shared_gate;
    tenant = sys.spawn(tenant_impl, target, shared_gate, supervisor,
                       caf::timespan{std::chrono::duration_cast<caf::timespan>(60s)});
    run();
  }

  ~TenantTest() override {
    caf::anon_send_exit(tenant, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    run();
  }

  auto run_cmd() { return ask<std::string>(tenant, run_atom::value, std::string{R"({"ping":1})"}); }

  tenant_counters counters() {
    auto box = ask<tenant_counters>(tenant, stats_atom::value);
    return box->value.value_or(tenant_counters{});
  }
};

TEST_F(TenantTest, CountsInFlightOpsErrorsAndLatency) {
  auto first = run_cmd();
  auto second = run_cmd();
  EXPECT_EQ(counters().inflight, 2u);
  auto jobs = backend->unfinished("org1");
  ASSERT_EQ(jobs.size(), 2u);
  auto ok = testing::fake_backend::ok_outcome();
  ok.latency = 250us;
  backend->finish(jobs[0], ok);
  result timeout;
  timeout.code = errc::timeout;
  timeout.message = "socket timeout after 45000 ms";
  timeout.latency = 45000000us;
  backend->finish(jobs[1], timeout);
  run();
  EXPECT_EQ(first->value, std::string{R"({"ok":1.0})"});
  EXPECT_EQ(second->error, errc::timeout);
  auto c = counters();
  EXPECT_EQ(c.inflight, 0u);
  EXPECT_EQ(c.ops, 2u);
  EXPECT_EQ(c.errors, 1u);
  EXPECT_EQ(c.latency.max_us, 45000000u);
  EXPECT_EQ(c.latency.quantile_us(0.0), 256u); // bucket upper bound of 250 us
}

TEST_F(TenantTest, IdleTimerAsksToRetireOnlyWhenNothingIsInFlight) {
  auto op = run_cmd();
  advance(std::chrono::duration_cast<caf::timespan>(61s));
  EXPECT_TRUE(retire_requests->empty()); // busy
  backend->finish_all("org1");
  run();
  advance(std::chrono::duration_cast<caf::timespan>(59s));
  EXPECT_TRUE(retire_requests->empty());
  advance(std::chrono::duration_cast<caf::timespan>(1s));
  ASSERT_EQ(retire_requests->size(), 1u);
  EXPECT_EQ(retire_requests->front(), tenant.id());
}

TEST_F(TenantTest, TouchRestartsTheIdleTimer) {
  advance(std::chrono::duration_cast<caf::timespan>(50s));
  caf::anon_send(tenant, touch_atom::value);
  run();
  advance(std::chrono::duration_cast<caf::timespan>(20s)); // t=70: first timer stale
  EXPECT_TRUE(retire_requests->empty());
  advance(std::chrono::duration_cast<caf::timespan>(40s)); // t=110: touched timer due
  EXPECT_EQ(retire_requests->size(), 1u);
}

TEST_F(TenantTest, ManyTouchesAndOpsKeepOneIdleTimerPending) {
  // A timer per operation would sit in CAF's clock for a whole idle timeout
  // (~256 B each): 1,000 ops/s would hold 5 minutes of them.
  for (int i = 0; i < 500; ++i) {
    caf::anon_send(tenant, touch_atom::value);
    auto op = run_cmd();
    backend->finish_all("org1");
    run();
    advance(std::chrono::duration_cast<caf::timespan>(10ms));
  }
  EXPECT_EQ(counters().ops, 500u);
  EXPECT_EQ(sched.clock().schedule().size(), 1u);
  // Still retired one timeout after the last activity, not after the first.
  advance(std::chrono::duration_cast<caf::timespan>(59s));
  EXPECT_TRUE(retire_requests->empty());
  advance(std::chrono::duration_cast<caf::timespan>(1s));
  EXPECT_EQ(retire_requests->size(), 1u);
}

TEST_F(TenantTest, DrainRefusesNewWorkAndQuitsAfterTheLastOp) {
  auto op = run_cmd();
  caf::anon_send(tenant, drain_atom::value);
  run();
  auto refused = run_cmd();
  EXPECT_EQ(refused->error, errc::shutting_down);
  EXPECT_EQ(backend->open_channels, 1u);
  backend->finish_all("org1");
  run();
  EXPECT_TRUE(op->value.has_value());
  EXPECT_EQ(backend->open_channels, 0u); // actor gone, channel released
}

TEST_F(TenantTest, IdleTimerWaitsForFastOperationsAndCountsFromTheLastOne) {
  auto fast = gate.lock();
  ASSERT_TRUE(fast->try_enter());
  advance(std::chrono::duration_cast<caf::timespan>(61s));
  EXPECT_TRUE(retire_requests->empty()); // busy through the gate
  EXPECT_EQ(counters().inflight, 1u);
  fast->leave(testing::fake_backend::ok_outcome(), sched.clock().now()); // t = 61 s
  advance(std::chrono::duration_cast<caf::timespan>(59s)); // the re-armed timer fires at 121 s
  EXPECT_TRUE(retire_requests->empty());
  advance(std::chrono::duration_cast<caf::timespan>(2s));
  EXPECT_EQ(retire_requests->size(), 1u);
  auto c = counters();
  EXPECT_EQ(c.ops, 1u);
  EXPECT_EQ(c.inflight, 0u);
  EXPECT_EQ(c.latency.count, 1u);
}

TEST_F(TenantTest, DrainWaitsForTheGateToEmpty) {
  auto fast = gate.lock();
  ASSERT_TRUE(fast->try_enter());
  caf::anon_send(tenant, drain_atom::value);
  run();
  EXPECT_FALSE(fast->try_enter()); // the drain closed the gate
  EXPECT_EQ(run_cmd()->error, errc::shutting_down);
  fast->leave(testing::fake_backend::ok_outcome(), sched.clock().now());
  run(); // gate_empty -> quit
  fast.reset();
  EXPECT_EQ(backend->open_channels, 0u); // actor gone, channel released
}

} // namespace
} // namespace tenantrt
