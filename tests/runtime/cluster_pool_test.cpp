// cluster_pool against the dev-mongo server: every promise of the pool is
// checked by counting the established TCP connections to the server port
// from outside the pool (tcp_census), not only through the pool's counters.
// What a command run on the pool returns is tests/runtime/command_runner_test.cpp.

#include "runtime/cluster_pool.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/command_runner.hpp"
#include "tests/support/polling.hpp"
#include "tests/support/pool_fixture.hpp"
#include "tools/support/tcp_census.hpp"

namespace tenantrt {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using devtools::count_established_to_port;

constexpr auto ping_json = R"({"ping": 1})";

using testing::eventually;

class ClusterPoolTest : public testing::pool_fixture {};

/// Checks a connection out and runs a ping on it (the socket opens lazily).
client_lease checkout_and_ping(cluster_pool& pool) {
  auto result = pool.checkout();
  EXPECT_EQ(result.code, errc::none) << result.message;
  if (result.lease) {
    auto outcome = run_on_client(result.lease, "admin", ping_json);
    EXPECT_EQ(outcome.code, errc::none) << outcome.message;
  }
  return std::move(result.lease);
}

TEST_F(ClusterPoolTest, NeverOpensMoreThanMaxPoolSizeUnderConcurrentLoad) {
  auto settings = small_settings();
  settings.max_pool_size = 4;
  auto& pool = make_pool(settings);

  std::atomic<bool> running{true};
  std::atomic<size_t> max_sockets{0};
  std::atomic<size_t> samples{0};
  std::thread sampler{[&] {
    while (running.load()) {
      auto now = count_established_to_port(port_);
      size_t seen = max_sockets.load();
      while (now > seen && !max_sockets.compare_exchange_weak(seen, now)) {
      }
      ++samples;
      std::this_thread::sleep_for(1ms); // sampling period, not synchronisation
    }
  }};

  // Reading /proc/net/tcp takes ~10 ms here: keep hammering until the
  // sampler has looked often enough, not for a fixed number of operations.
  constexpr int threads = 16;
  constexpr int min_ops_per_thread = 30;
  constexpr size_t min_samples = 40;
  std::atomic<int> failures{0};
  std::atomic<uint64_t> max_open{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (int i = 0; i < min_ops_per_thread || samples.load() < min_samples; ++i) {
        auto outcome = run_on_pool(pool, "admin", ping_json);
        if (outcome.code != errc::none)
          ++failures;
        auto open = pool.counters().open;
        uint64_t seen = max_open.load();
        while (open > seen && !max_open.compare_exchange_weak(seen, open)) {
        }
      }
    });
  for (auto& worker : workers)
    worker.join();
  running = false;
  sampler.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(samples.load(), min_samples);
  EXPECT_LE(max_sockets.load(), 4u) << "sockets to the server exceeded max_pool_size";
  EXPECT_EQ(max_sockets.load(), 4u) << "16 threads should have driven the pool to its cap";
  EXPECT_LE(max_open.load(), 4u);
  auto counters = pool.counters();
  EXPECT_EQ(counters.in_use, 0u);
  EXPECT_EQ(counters.open, counters.idle);
  EXPECT_EQ(counters.created_total, 4u) << "reuse: no connection beyond the cap was ever made";
  EXPECT_EQ(count_established_to_port(port_), counters.open);
}

TEST_F(ClusterPoolTest, MaintainOpensMinWarmConnectionsWithoutAnyCommand) {
  auto settings = small_settings();
  settings.min_pool_size = 3;
  auto& pool = make_pool(settings);
  EXPECT_EQ(count_established_to_port(port_), 0u) << "construction opens nothing";

  pool.maintain();
  EXPECT_EQ(sockets_become(3), 3u);
  auto counters = pool.counters();
  EXPECT_EQ(counters.open, 3u);
  EXPECT_EQ(counters.idle, 3u);
  EXPECT_EQ(counters.created_total, 3u);

  pool.maintain(); // already warm: nothing more
  EXPECT_EQ(pool.counters().created_total, 3u);
  EXPECT_EQ(count_established_to_port(port_), 3u);
}

TEST_F(ClusterPoolTest, MaintainRefillsMinAfterADiscard) {
  auto settings = small_settings();
  settings.min_pool_size = 2;
  auto& pool = make_pool(settings);
  pool.maintain();
  ASSERT_EQ(sockets_become(2), 2u);
  auto lease = pool.checkout().lease;
  ASSERT_TRUE(lease);
  lease.discard();
  EXPECT_EQ(sockets_become(1), 1u);
  pool.maintain();
  EXPECT_EQ(sockets_become(2), 2u);
  EXPECT_EQ(pool.counters().open, 2u);
}

TEST_F(ClusterPoolTest, ClosesConnectionsIdleLongerThanMaxIdleTimeDownToMin) {
  auto settings = small_settings();
  settings.max_pool_size = 6;
  settings.min_pool_size = 2;
  settings.max_idle_time_ms = 60000;
  auto& pool = make_pool(settings);
  {
    std::vector<client_lease> held;
    for (int i = 0; i < 6; ++i)
      held.push_back(checkout_and_ping(pool));
    ASSERT_EQ(sockets_become(6), 6u);
  } // all six checked in

  pool.maintain(); // nothing is old yet
  EXPECT_EQ(count_established_to_port(port_), 6u);

  clock_.advance(59s);
  pool.maintain();
  EXPECT_EQ(count_established_to_port(port_), 6u) << "59 s < max_idle_time_ms";

  clock_.advance(2s);
  pool.maintain();
  EXPECT_EQ(sockets_become(2), 2u);
  auto counters = pool.counters();
  EXPECT_EQ(counters.open, 2u);
  EXPECT_EQ(counters.idle, 2u);
  EXPECT_EQ(counters.closed_total, 4u);

  clock_.advance(600s);
  pool.maintain();
  EXPECT_EQ(count_established_to_port(port_), 2u) << "never below min_pool_size";
}

TEST_F(ClusterPoolTest, LifoCheckoutLetsSurplusConnectionsAgeOut) {
  auto settings = small_settings();
  settings.max_pool_size = 4;
  settings.min_pool_size = 1;
  settings.max_idle_time_ms = 60000;
  auto& pool = make_pool(settings);
  _mongoc_client_t* last_returned = nullptr;
  {
    std::vector<client_lease> held;
    for (int i = 0; i < 4; ++i)
      held.push_back(checkout_and_ping(pool));
    last_returned = held.back().client();
    // Returned in order: held.back() goes back last, so it is on top.
  }
  ASSERT_EQ(sockets_become(4), 4u);

  clock_.advance(30s);
  // A light load of one caller at a time: always the same (most recent) one.
  for (int i = 0; i < 20; ++i) {
    auto lease = checkout_and_ping(pool);
    EXPECT_EQ(lease.client(), last_returned) << "checkout must be LIFO";
  }
  clock_.advance(31s);
  pool.maintain();
  EXPECT_EQ(sockets_become(1), 1u) << "the three unused surplus connections aged out";
  auto lease = pool.checkout().lease;
  EXPECT_EQ(lease.client(), last_returned) << "the busy connection survived";
  EXPECT_EQ(pool.counters().created_total, 4u);
}

TEST_F(ClusterPoolTest, FullPoolCheckoutFailsWithPoolWaitTimeout) {
  auto settings = small_settings();
  settings.max_pool_size = 2;
  settings.wait_queue_timeout_ms = 200;
  auto& pool = make_pool(settings);
  auto first = checkout_and_ping(pool);
  auto second = checkout_and_ping(pool);
  ASSERT_EQ(sockets_become(2), 2u);

  auto started = steady_clock::now();
  auto third = pool.checkout();
  auto waited = steady_clock::now() - started;
  EXPECT_EQ(third.code, errc::pool_wait_timeout);
  EXPECT_FALSE(third.lease);
  EXPECT_NE(third.message.find("wait_queue_timeout_ms 200"), std::string::npos) << third.message;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 1000ms);
  auto counters = pool.counters();
  EXPECT_EQ(counters.wait_timeouts_total, 1u);
  EXPECT_EQ(counters.waiters, 0u);
  EXPECT_EQ(count_established_to_port(port_), 2u);

  // Same through run_on_pool(): the error reaches the command outcome.
  auto outcome = run_on_pool(pool, "admin", ping_json);
  EXPECT_EQ(outcome.code, errc::pool_wait_timeout);
  EXPECT_EQ(pool.counters().wait_timeouts_total, 2u);
}

TEST_F(ClusterPoolTest, WaitersAreServedInArrivalOrder) {
  auto settings = small_settings();
  settings.max_pool_size = 1;
  settings.wait_queue_timeout_ms = 10000;
  auto& pool = make_pool(settings);
  auto held = checkout_and_ping(pool);

  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  bool all_queued = true;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&, i] {
      auto result = pool.checkout();
      ASSERT_EQ(result.code, errc::none) << result.message;
      std::lock_guard<std::mutex> guard{order_mutex};
      order.push_back(i);
    });
    // Next waiter only after this one is queued, so arrival order is known.
    all_queued = all_queued && eventually([&] {
      return pool.counters().waiters == static_cast<uint64_t>(i + 1);
    });
  }
  held.checkin();
  for (auto& waiter : waiters)
    waiter.join();
  ASSERT_TRUE(all_queued);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(pool.counters().created_total, 1u);
  EXPECT_EQ(count_established_to_port(port_), 1u);
}

TEST_F(ClusterPoolTest, DiscardedSlotGoesToTheWaiter) {
  auto settings = small_settings();
  settings.max_pool_size = 1;
  auto& pool = make_pool(settings);
  auto held = checkout_and_ping(pool);
  std::thread waiter{[&] {
    auto lease = checkout_and_ping(pool);
    EXPECT_TRUE(lease);
  }};
  bool queued = eventually([&] { return pool.counters().waiters == 1; });
  held.discard();
  waiter.join();
  ASSERT_TRUE(queued);
  EXPECT_EQ(pool.counters().created_total, 2u);
  EXPECT_EQ(sockets_become(1), 1u);
}

TEST_F(ClusterPoolTest, AppliedSettingsResizeThePoolWithoutARestart) {
  auto settings = small_settings();
  settings.max_pool_size = 4;
  auto& pool = make_pool(settings);
  {
    std::vector<client_lease> held;
    for (int i = 0; i < 4; ++i)
      held.push_back(checkout_and_ping(pool));
  }
  ASSERT_EQ(sockets_become(4), 4u);

  settings.max_pool_size = 2;
  pool.apply_settings(settings);
  pool.maintain(); // idle connections above the new cap close at once
  EXPECT_EQ(sockets_become(2), 2u);
  EXPECT_EQ(pool.counters().max_pool_size, 2u);

  // At the lowered cap a third caller waits; raising the cap serves it.
  auto a = pool.checkout().lease;
  auto b = pool.checkout().lease;
  checkout_result third;
  std::thread waiter{[&] { third = pool.checkout(); }};
  bool queued = eventually([&] { return pool.counters().waiters == 1; });
  settings.max_pool_size = 3;
  pool.apply_settings(settings);
  waiter.join();
  ASSERT_TRUE(queued);
  EXPECT_EQ(third.code, errc::none) << third.message;
  EXPECT_EQ(pool.counters().open, 3u);
}

TEST_F(ClusterPoolTest, CheckinReuseOpensNoNewConnection) {
  auto& pool = make_pool(small_settings());
  for (int i = 0; i < 50; ++i) {
    auto lease = checkout_and_ping(pool);
    ASSERT_TRUE(lease);
    if (i % 10 == 0) { // a census costs ~10 ms here
      EXPECT_EQ(count_established_to_port(port_), 1u);
    }
  }
  EXPECT_EQ(count_established_to_port(port_), 1u);
  auto counters = pool.counters();
  EXPECT_EQ(counters.created_total, 1u);
  EXPECT_EQ(counters.open, 1u);
  EXPECT_EQ(counters.idle, 1u);
}

TEST_F(ClusterPoolTest, DiscardClosesTheSocket) {
  auto& pool = make_pool(small_settings());
  auto lease = checkout_and_ping(pool);
  ASSERT_EQ(sockets_become(1), 1u);
  lease.discard();
  EXPECT_FALSE(lease);
  EXPECT_EQ(sockets_become(0), 0u);
  auto counters = pool.counters();
  EXPECT_EQ(counters.open, 0u);
  EXPECT_EQ(counters.closed_total, 1u);
}

TEST_F(ClusterPoolTest, ShutdownLeavesNoSocketAndWakesWaiters) {
  auto settings = small_settings();
  settings.max_pool_size = 3;
  settings.min_pool_size = 2;
  auto& pool = make_pool(settings);
  pool.maintain();
  ASSERT_EQ(sockets_become(2), 2u);
  auto a = checkout_and_ping(pool);
  auto b = checkout_and_ping(pool);
  auto c = checkout_and_ping(pool);
  ASSERT_EQ(sockets_become(3), 3u);

  checkout_result handed;
  std::thread waiter{[&] { handed = pool.checkout(); }};
  bool first_queued = eventually([&] { return pool.counters().waiters == 1; });
  a.checkin(); // handed straight to the waiter
  waiter.join();
  ASSERT_TRUE(first_queued);
  EXPECT_EQ(handed.code, errc::none);

  errc late_code = errc::none;
  std::thread late_waiter{[&] { late_code = pool.checkout().code; }};
  bool queued = eventually([&] { return pool.counters().waiters == 1; });
  pool.shutdown();
  late_waiter.join();
  ASSERT_TRUE(queued);
  EXPECT_EQ(late_code, errc::shutting_down);
  EXPECT_EQ(count_established_to_port(port_), 3u) << "all three are in use, none closed yet";

  handed.lease.checkin(); // after shutdown: closed, not pooled
  b.checkin(); // after shutdown: closed, not pooled
  c.checkin();
  EXPECT_EQ(sockets_become(0), 0u);
  EXPECT_EQ(pool.counters().open, 0u);
  EXPECT_EQ(pool.checkout().code, errc::shutting_down);
  EXPECT_EQ(run_on_pool(pool, "admin", ping_json).code, errc::shutting_down);
}

TEST_F(ClusterPoolTest, ServerDownIsUnreachableWithinSelectionTimeoutThenRecovers) {
  auto settings = small_settings();
  settings.server_selection_timeout_ms = 1000;
  settings.min_pool_size = 1;
  auto& pool = make_pool(settings);
  pool.maintain();
  ASSERT_EQ(run_on_pool(pool, "admin", ping_json).code, errc::none);

  server_->stop();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto started = steady_clock::now();
    auto outcome = run_on_pool(pool, "admin", ping_json);
    auto took = steady_clock::now() - started;
    EXPECT_EQ(outcome.code, errc::server_unreachable) << outcome.message;
    EXPECT_LE(took, 1500ms) << "error must come within server_selection_timeout_ms";
    EXPECT_NE(outcome.message.find("pool test"), std::string::npos) << outcome.message;
  }
  pool.maintain(); // warm-up fails quietly while the server is down
  EXPECT_EQ(pool.counters().open, 0u);

  server_->start();
  auto outcome = run_on_pool(pool, "admin", ping_json);
  EXPECT_EQ(outcome.code, errc::none) << "first command after the restart: " << outcome.message;
  pool.maintain();
  EXPECT_EQ(sockets_become(1), 1u);
}

TEST_F(ClusterPoolTest, RefusedConnectsBackOffAndOneProbeRecovers) {
  auto settings = small_settings();
  settings.server_selection_timeout_ms = 1000; // back-off cap: 500 ms
  auto& pool = make_pool(settings);
  ASSERT_EQ(run_on_pool(pool, "admin", ping_json).code, errc::none);

  server_->stop();
  // 3 s of callers back to back: without a back-off each call would connect
  // (and wait the selection timeout); with it most fail at once and only a
  // probe now and then tries the server.
  size_t calls = 0;
  auto until = steady_clock::now() + 3s;
  while (steady_clock::now() < until) {
    auto outcome = run_on_pool(pool, "admin", ping_json);
    ++calls;
    ASSERT_EQ(outcome.code, errc::server_unreachable) << outcome.message;
    EXPECT_NE(outcome.message.find("pool test"), std::string::npos) << outcome.message;
  }
  auto down = pool.counters();
  EXPECT_GT(down.backoff_rejections_total, 0u);
  EXPECT_GT(calls, down.connect_failures_total * 3) << calls << " calls";
  EXPECT_LE(down.connect_failures_total, 5u);
  EXPECT_GE(down.backoff_ms, 100u);
  EXPECT_LE(down.backoff_ms, 500u);

  server_->start();
  auto restarted = steady_clock::now();
  ASSERT_TRUE(
    eventually([&] { return run_on_pool(pool, "admin", ping_json).code == errc::none; }, 10s));
  // Within the cap plus one selection, with slack for a loaded machine.
  EXPECT_LE(steady_clock::now() - restarted, 3500ms);
  EXPECT_EQ(pool.counters().backoff_ms, 0u);
}

TEST_F(ClusterPoolTest, KeepalivePingsRestoreWarmConnectionsAfterARestart) {
  auto settings = small_settings();
  settings.min_pool_size = 2;
  settings.max_idle_time_ms = 60000;
  auto& pool = make_pool(settings);
  pool.maintain();
  ASSERT_EQ(sockets_become(2), 2u);
  server_->stop();
  server_->start();
  EXPECT_EQ(sockets_become(0), 0u) << "the server restarted: the warm sockets died";
  EXPECT_EQ(pool.counters().open, 2u) << "the books do not know yet";

  clock_.advance(61s); // the warm minimum is now idle longer than max_idle_time_ms
  pool.maintain();     // keepalive pings: no user command involved
  EXPECT_EQ(sockets_become(2), 2u);
  EXPECT_EQ(pool.counters().open, 2u);
}

TEST_F(ClusterPoolTest, LoggedUriAndUriErrorsNeverContainThePassword) {
  auto settings = small_settings();
  auto uri = server_->uri();
  auto with_credentials = "mongodb://alice:s3cr3t%21Pa55@" + uri.substr(uri.find("://") + 3);
  cluster_pool pool{pool_identity{"secret", {}}, with_credentials, settings};
  EXPECT_EQ(pool.redacted_uri().find("s3cr3t"), std::string::npos) << pool.redacted_uri();
  EXPECT_NE(pool.redacted_uri().find("alice:"), std::string::npos) << pool.redacted_uri();

  try {
    cluster_pool broken{pool_identity{"broken", {}}, "mongodb://bob:hunter2@/bad?x=", settings};
    ADD_FAILURE() << "an invalid URI must throw";
  } catch (const std::runtime_error& ex) {
    EXPECT_EQ(std::string{ex.what()}.find("hunter2"), std::string::npos) << ex.what();
  }
}

} // namespace
} // namespace tenantrt
