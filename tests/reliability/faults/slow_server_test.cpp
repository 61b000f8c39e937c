// Fault: a slow server (dev-mongo's devMongoSetLatency, set mid-run). Callers
// that find its small pool busy get pool_wait_timeout after
// wait_queue_timeout_ms; the queues in front of it are bounded (the blocking
// executor's max_queue -> overloaded at once; the registry's max_waiters at
// the tenant limit -> tenant_limit_reached at once); tenants routed to
// another cluster keep their normal latency meanwhile.

#include <condition_variable>
#include <iostream>

#include "tests/support/fault_support.hpp"
#include "tests/support/polling.hpp"
#include "tools/support/dev_mongo_server.hpp"

namespace tenantrt::faults {
namespace {

using devtools::dev_mongo_server;

/// Two clusters: "default" on fast, "slow" (tenants "slow_*") on slow.
runtime_config two_cluster_config(const dev_mongo_server& fast, const dev_mongo_server& slow) {
  auto c = small_timeout_config(fast.uri());
  cluster_config slow_cluster = c.clusters.at("default");
  slow_cluster.name = "slow";
  slow_cluster.uri = slow.uri();
  slow_cluster.pool.max_pool_size = 2;
  slow_cluster.pool.min_pool_size = 1;
  slow_cluster.pool.wait_queue_timeout_ms = 300;
  slow_cluster.pool.socket_timeout_ms = 10000; // slow, not dead: no timeouts here
  c.clusters["slow"] = slow_cluster;
  c.routing.prefix["slow_"] = "slow";
  c.executor.threads = 16;
  return c;
}

/// Sends one command per tenant in tenants at once (callbacks) and waits for
/// every result (60 s at most: a missing result fails the test).
std::vector<op_record> burst(runtime& rt, const std::vector<std::string>& tenants) {
  std::vector<op_record> out(tenants.size());
  std::mutex mutex;
  std::condition_variable done;
  size_t remaining = tenants.size();
  for (size_t i = 0; i < tenants.size(); ++i) {
    out[i].tenant = tenants[i];
    out[i].started = clock_type::now();
    rt.run_command(tenants[i], ordered_json{{"find", "orders"}, {"filter", ordered_json::object()}},
                   [&, i](result r) {
                     std::lock_guard<std::mutex> lock{mutex};
                     out[i].finished = clock_type::now();
                     out[i].code = r.code;
                     out[i].message = r.message;
                     if (--remaining == 0)
                       done.notify_all();
                   });
  }
  std::unique_lock<std::mutex> lock{mutex};
  EXPECT_TRUE(done.wait_for(lock, 60s, [&] { return remaining == 0; }))
    << remaining << " operations never completed";
  return out;
}

std::vector<std::string> tenant_ids(const std::string& prefix, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

/// Every tenant answers once, one after the other (actors created, pools
/// warm) before the latency.
void warm(runtime& rt, const std::vector<std::string>& tenants) {
  for (auto& tenant : tenants) {
    auto r = burst(rt, {tenant}).at(0);
    ASSERT_TRUE(r.ok()) << r.tenant << ": " << r.message;
  }
}

TEST(SlowServer, WaitQueueTimeoutsOnTheSlowClusterOtherClusterUnaffected) {
  dev_mongo_server fast;
  dev_mongo_server slow;
  auto config = two_cluster_config(fast, slow);
  const auto& slow_pool = config.clusters.at("slow").pool;
  runtime rt{config};
  auto slow_tenants = tenant_ids("slow_", 12);
  warm(rt, slow_tenants);

  constexpr uint32_t latency_ms = 1500;
  set_latency(slow.uri(), latency_ms);
  load_generator fast_load{rt, 2, "fast_"};
  auto results = burst(rt, slow_tenants);
  set_latency(slow.uri(), 0);
  std::this_thread::sleep_for(300ms); // a little fast load after the burst too
  fast_load.stop();

  auto codes = load_generator::by_code(results);
  // A waiter's timer fires wait_queue_timeout_ms after it queued; on top come
  // the hand-offs to and from the executor and a thread waking on a busy
  // 2-core machine: at most 12 ms measured, in Release and ASan builds, idle
  // and with two busy loops beside the test. 600 ms leaves room for a
  // scheduler stall on a shared machine, and the bound stays 600 ms below
  // latency_ms, the earliest a busy connection comes back: a waiter answered
  // then (or by a timer running four times too long) must fail.
  const int64_t wait_ms = slow_pool.wait_queue_timeout_ms;
  constexpr int64_t timer_slack_ms = 600;
  ASSERT_LE(wait_ms + timer_slack_ms, int64_t{latency_ms} * 2 / 3);
  // The pool holds 2 connections, each busy for 1.5 s: 2 callers get one,
  // the others give up after wait_queue_timeout_ms (300 ms).
  EXPECT_LE(codes["ok"], 2u) << load_generator::describe(codes);
  EXPECT_GE(codes["pool_wait_timeout"], 10u) << load_generator::describe(codes);
  int64_t slowest_wait_timeout = 0;
  for (auto& r : results) {
    if (r.ok())
      continue;
    EXPECT_EQ(r.code, errc::pool_wait_timeout) << r.message;
    EXPECT_NE(r.message.find("wait_queue_timeout_ms 300"), std::string::npos) << r.message;
    // They waited the queue timeout (a steady_clock deadline: never early
    // beyond the ms rounding), and not much longer.
    EXPECT_GE(r.latency_ms(), wait_ms - 1);
    EXPECT_LE(r.latency_ms(), wait_ms + timer_slack_ms);
    slowest_wait_timeout = std::max(slowest_wait_timeout, r.latency_ms());
  }
  EXPECT_GT(rt.stats().pools.at("slow").wait_timeouts_total, 0u);

  // Tenants on the other cluster: all succeed, far below the slow latency.
  auto fast_records = fast_load.records();
  ASSERT_GT(fast_records.size(), 10u);
  int64_t fast_max = 0;
  std::vector<int64_t> latencies;
  for (auto& r : fast_records) {
    EXPECT_TRUE(r.ok()) << r.tenant << ": " << r.message;
    fast_max = std::max(fast_max, r.latency_ms());
    latencies.push_back(r.latency_ms());
  }
  std::sort(latencies.begin(), latencies.end());
  EXPECT_LT(fast_max, static_cast<int64_t>(latency_ms) * 2 / 3)
    << "the fast cluster's callers were slowed by the slow one";
  EXPECT_EQ(rt.stats().pools.at("default").wait_timeouts_total, 0u);

  std::cout << "[figures] slow server (" << latency_ms << " ms, pool max 2, wait queue "
            << slow_pool.wait_queue_timeout_ms << " ms), 12 concurrent: "
            << load_generator::describe(codes) << "slowest pool_wait_timeout "
            << slowest_wait_timeout << " ms; fast cluster meanwhile " << fast_records.size()
            << " ops, p50 " << latencies[latencies.size() / 2] << " ms, max " << fast_max << " ms"
            << std::endl;
  EXPECT_TRUE(rt.shutdown(10s));
}

TEST(SlowServer, ExecutorQueueIsBoundedOverloadedAtOnce) {
  dev_mongo_server fast;
  dev_mongo_server slow;
  auto config = two_cluster_config(fast, slow);
  config.executor.threads = 4;
  config.executor.max_queue = 6;
  config.clusters.at("slow").pool.wait_queue_timeout_ms = 10000; // callers wait, not time out
  runtime rt{config};
  auto tenants = tenant_ids("slow_", 10);
  warm(rt, tenants);

  set_latency(slow.uri(), 1000);
  std::vector<std::string> flood;
  for (int round = 0; round < 6; ++round)
    flood.insert(flood.end(), tenants.begin(), tenants.end());
  auto results = burst(rt, flood); // 60 operations at once
  set_latency(slow.uri(), 0);

  auto codes = load_generator::by_code(results);
  // 4 executor threads + 6 queued jobs hold work; the rest is refused at
  // once instead of piling up behind the slow server.
  EXPECT_LE(codes["ok"], 4u + 6u) << load_generator::describe(codes);
  EXPECT_GE(codes["overloaded"], 60u - 4u - 6u) << load_generator::describe(codes);
  int64_t slowest_refusal = 0;
  for (auto& r : results) {
    if (r.code == errc::overloaded) {
      EXPECT_NE(r.message.find("max_queue 6"), std::string::npos) << r.message;
      slowest_refusal = std::max(slowest_refusal, r.latency_ms());
    } else {
      EXPECT_TRUE(r.ok()) << to_string(r.code) << ": " << r.message;
    }
  }
  // Refused without waiting for the slow server (generous for a loaded machine).
  EXPECT_LT(slowest_refusal, 1000);
  std::cout << "[figures] executor 4 threads + max_queue 6, 60 ops at a 1000 ms server: "
            << load_generator::describe(codes) << "slowest overloaded reply " << slowest_refusal
            << " ms" << std::endl;
  EXPECT_TRUE(rt.shutdown(10s));
}

TEST(SlowServer, RegistryWaitersAreBoundedAtTheTenantLimit) {
  dev_mongo_server fast;
  dev_mongo_server slow;
  auto config = two_cluster_config(fast, slow);
  config.registry.max_tenant_connections = 2;
  config.registry.max_waiters = 3;
  config.registry.wait_queue_timeout_ms = 500;
  runtime rt{config};
  warm(rt, {"slow_warm"}); // the slow pool connected
  ASSERT_TRUE(rt.evict("slow_warm"));   // and its tenant slot free again
  ASSERT_TRUE(testing::eventually([&] { return rt.stats().registry.active_tenants == 0; }, 10s));

  set_latency(slow.uri(), 1500);
  // 10 tenants at once: 2 admitted (busy, so not evictable), 3 wait in the
  // registry's queue until wait_queue_timeout_ms, 5 are refused at once.
  auto results = burst(rt, tenant_ids("slow_", 10));
  set_latency(slow.uri(), 0);

  auto codes = load_generator::by_code(results);
  EXPECT_EQ(codes["ok"], 2u) << load_generator::describe(codes);
  EXPECT_EQ(codes["tenant_limit_reached"], 8u) << load_generator::describe(codes);
  size_t refused_at_once = 0;
  size_t timed_out_waiting = 0;
  for (auto& r : results) {
    if (r.code != errc::tenant_limit_reached)
      continue;
    if (r.message.find("callers already waiting") != std::string::npos)
      ++refused_at_once;
    else if (r.message.find("within 500") != std::string::npos)
      ++timed_out_waiting;
    else
      ADD_FAILURE() << "unexpected message: " << r.message;
  }
  EXPECT_EQ(refused_at_once, 5u);
  EXPECT_EQ(timed_out_waiting, 3u);
  EXPECT_EQ(rt.stats().registry.waiters, 0u);
  std::cout << "[figures] tenant limit 2, max_waiters 3, 10 tenants at a 1500 ms server: "
            << load_generator::describe(codes) << refused_at_once << " refused at once, "
            << timed_out_waiting << " after waiting 500 ms" << std::endl;
  EXPECT_TRUE(rt.shutdown(10s));
}

} // namespace
} // namespace tenantrt::faults
