// The embedded runtime end to end against dev-mongo, with the Node.js
// report's test checklist: (1) connection reuse, (2) several tenants at once,
// (3) statistics, (4) cleanup on demand, (5) idle detection and reaping,
// (6) the main database connection, (7) the pool settings in effect. Every
// socket promise is checked by counting established TCP connections to the
// server's port from /proc/net/tcp, outside the runtime.

#include "runtime/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tools/support/dev_mongo_server.hpp"
#include "tools/support/tcp_census.hpp"

using namespace std::chrono_literals;
using nlohmann::ordered_json;

namespace tenantrt {
namespace {

using devtools::count_established_to_port;
using devtools::dev_mongo_server;
using devtools::wait_for_connection_count;

runtime_config config_for(const dev_mongo_server& server) {
  runtime_config c;
  auto& cluster = c.clusters.at("default");
  cluster.uri = server.uri();
  cluster.pool.max_pool_size = 4;
  cluster.pool.min_pool_size = 2;
  cluster.pool.max_idle_time_ms = 60000;
  cluster.pool.wait_queue_timeout_ms = 5000;
  cluster.pool.server_selection_timeout_ms = 3000;
  cluster.pool.connect_timeout_ms = 3000;
  cluster.pool.socket_timeout_ms = 10000;
  c.pool_maintenance_interval_ms = 100;
  c.executor.threads = 8;
  c.logging.level = "warn";
  return c;
}

/// Samples the server-side connection count on a thread until stopped.
class census_sampler {
public:
  explicit census_sampler(uint16_t port)
    : thread_([this, port] {
        std::unique_lock<std::mutex> lock{mutex_};
        while (!stop_) {
          peak_ = std::max(peak_, count_established_to_port(port));
          wake_.wait_for(lock, 5ms);
        }
      }) {}
  size_t stop() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    return peak_;
  }

private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  size_t peak_ = 0;
  std::thread thread_;
};

/// Runs commands for many tenants concurrently through callbacks; waits for all.
std::vector<result> run_concurrently(runtime& rt, const std::vector<std::string>& tenants,
                                     const ordered_json& command) {
  std::vector<result> results(tenants.size());
  std::mutex mutex;
  std::condition_variable all_done;
  size_t remaining = tenants.size();
  for (size_t i = 0; i < tenants.size(); ++i)
    rt.run_command(tenants[i], command, [&, i](result r) {
      std::lock_guard<std::mutex> lock{mutex};
      results[i] = std::move(r);
      if (--remaining == 0)
        all_done.notify_all();
    });
  std::unique_lock<std::mutex> lock{mutex};
  EXPECT_TRUE(all_done.wait_for(lock, 60s, [&] { return remaining == 0; }));
  return results;
}

std::optional<tenant_stats> tenant_row(const runtime_stats& s, const std::string& tenant) {
  for (auto& row : s.registry.tenants)
    if (row.tenant == tenant)
      return row;
  return std::nullopt;
}

/// Makes dev-mongo hold the next find for block_ms (a fail point set
/// through the main database), so an operation is in flight on purpose.
result hold_next_find(runtime& rt, int block_ms) {
  return rt.run_main_command(
    {{"configureFailPoint", "failCommand"},
     {"mode", {{"times", 1}}},
     {"data", {{"failCommands", {"find"}}, {"blockConnection", true}, {"blockTimeMS", block_ms}}}}).get();
}

/// Polls stats until pred holds (state changes are asynchronous) or 10 s pass.
template <class Pred>
bool eventually(runtime& rt, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(rt.stats()))
      return true;
    std::this_thread::sleep_for(20ms); // polling an asynchronous condition
  }
  return pred(rt.stats());
}

class RuntimeTest : public ::testing::Test {
protected:
  dev_mongo_server server;
  uint16_t port = server.port();
};

TEST_F(RuntimeTest, MinPoolSizeConnectionsAreOpenedWarmWithoutAnyCommand) {
  runtime rt{config_for(server)};
  EXPECT_EQ(wait_for_connection_count(port, [](size_t n) { return n == 2; }, 10s), 2u);
  EXPECT_EQ(rt.stats().pools.at("default").open, 2u);
}

TEST_F(RuntimeTest, SameTenantTwiceReusesOneActorAndNoNewConnection) {
  runtime rt{config_for(server)};
  auto first = rt.run_command("org42", ordered_json{{"insert", "orders"},
                                                    {"documents", {{{"item", "tea"}}}}}).get();
  ASSERT_TRUE(first.ok()) << first.message;
  auto sockets = count_established_to_port(port);
  auto created = rt.stats().pools.at("default").created_total;
  auto second = rt.run_command("org42", R"({"find":"orders","filter":{}})"_json).get();
  ASSERT_TRUE(second.ok()) << second.message;
  EXPECT_EQ(second.reply()["cursor"]["firstBatch"][0]["item"], "tea");
  // The text is the reply itself (relaxed extended JSON), parsed or not.
  EXPECT_EQ(nlohmann::json::parse(second.reply_json), second.reply());
  EXPECT_EQ(result{}.reply(), nullptr); // no reply: null, not an exception
  auto s = rt.stats();
  EXPECT_EQ(s.registry.active_tenants, 1u);
  EXPECT_EQ(s.registry.created_total, 1u);
  EXPECT_EQ(tenant_row(s, "org42")->use_count, 2u);
  EXPECT_EQ(s.pools.at("default").created_total, created);
  EXPECT_EQ(count_established_to_port(port), sockets);
}

TEST_F(RuntimeTest, SeveralTenantsAtOnceStayWithinMaxPoolSize) {
  runtime rt{config_for(server)};
  std::vector<std::string> tenants;
  for (int round = 0; round < 4; ++round)
    for (int t = 0; t < 30; ++t)
      tenants.push_back("org" + std::to_string(t));
  // min_pool_size 2: warm before the burst, so the floor below is the pool's.
  ASSERT_EQ(wait_for_connection_count(port, [](size_t n) { return n == 2; }, 10s), 2u);
  census_sampler sampler{port};
  auto results = run_concurrently(rt, tenants, {{"insert", "events"}, {"documents", {{{"n", 1}}}}});
  auto peak = sampler.stop();
  for (auto& r : results)
    EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_LE(peak, 4u) << "more sockets than max_pool_size";
  EXPECT_GE(peak, 2u);
  auto s = rt.stats();
  EXPECT_EQ(s.registry.active_tenants, 30u);
  EXPECT_LE(s.pools.at("default").open, 4u);
  auto count = rt.run_command("org7", R"({"count":"events"})"_json).get();
  EXPECT_EQ(count.reply()["n"], 4); // each tenant's own database
}

TEST_F(RuntimeTest, StatsAgreeWithTheSocketsTheServerSees) {
  runtime rt{config_for(server)};
  ASSERT_TRUE(rt.run_command("a", R"({"ping":1})"_json).get().ok());
  ASSERT_TRUE(rt.run_command("b", R"({"ping":1})"_json).get().ok());
  auto failed = rt.run_command("b", R"({"nosuchcommand":1})"_json).get();
  EXPECT_EQ(failed.code, errc::command_failed);
  EXPECT_NE(failed.message.find("nosuchcommand"), std::string::npos) << failed.message;
  auto s = rt.stats();
  EXPECT_EQ(s.registry.active_tenants, 2u);
  EXPECT_EQ(s.registry.max_tenants, 50u);
  auto b = tenant_row(s, "b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->counters.ops, 2u);
  EXPECT_EQ(b->counters.errors, 1u);
  EXPECT_EQ(b->database, "tenant_b");
  EXPECT_EQ(b->cluster, "default");
  EXPECT_GT(b->counters.latency.max_us, 0u);
  auto open = s.total_connections;
  EXPECT_EQ(wait_for_connection_count(port, [&](size_t n) { return n == open; }, 5s), open);
}

TEST_F(RuntimeTest, IdleTenantsAreReapedAndTheirPerTenantPoolsClosed) {
  auto config = config_for(server);
  config.clusters.at("default").pool_per_tenant = true;
  config.clusters.at("default").pool.min_pool_size = 0;
  // While the test looks at the tenants busy, no machine is slow enough for
  // them to be idle this long; the reload below makes them idle at once.
  config.registry.idle_timeout_ms = 600000;
  config.registry.cleanup_interval_ms = 200;
  runtime rt{config};
  for (auto tenant : {"t1", "t2", "t3"})
    ASSERT_TRUE(rt.run_command(tenant, R"({"ping":1})"_json).get().ok());
  EXPECT_EQ(count_established_to_port(port), 3u + 1u); // a pool per tenant + the main db pool
  EXPECT_TRUE(rt.cleanup().empty()); // nobody idle for the timeout yet
  config.registry.idle_timeout_ms = 400;
  auto reloaded = rt.reload(config);
  ASSERT_NE(std::find(reloaded.applied.begin(), reloaded.applied.end(), "registry.idle_timeout_ms"),
            reloaded.applied.end());
  EXPECT_TRUE(eventually(rt, [](const runtime_stats& s) { return s.registry.active_tenants == 0; }));
  EXPECT_EQ(rt.stats().registry.reaped_total, 3u);
  EXPECT_EQ(wait_for_connection_count(port, [](size_t n) { return n == 1; }, 10s), 1u);
}

TEST_F(RuntimeTest, MainDatabaseIsHeldConnectedAndServesSharedData) {
  runtime rt{config_for(server)};
  EXPECT_TRUE(eventually(rt, [](const runtime_stats& s) { return s.registry.main_state == "connected"; }));
  auto insert = rt.run_main_command({{"insert", "plans"}, {"documents", {{{"name", "pro"}}}}}).get();
  ASSERT_TRUE(insert.ok()) << insert.message;
  auto found = rt.run_main_command({{"find", "plans"}, {"filter", {{"name", "pro"}}}}).get();
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.reply()["cursor"]["ns"], "main.plans");
  EXPECT_EQ(rt.stats().registry.main_database, "main");
}

TEST_F(RuntimeTest, FullPoolWaitsThenFailsWithPoolWaitTimeout) {
  auto config = config_for(server);
  config.clusters.at("default").pool.max_pool_size = 2;
  config.clusters.at("default").pool.min_pool_size = 0;
  config.clusters.at("default").pool.wait_queue_timeout_ms = 300;
  runtime rt{config};
  auto failpoint = rt.run_main_command(
    {{"configureFailPoint", "failCommand"},
     {"mode", "alwaysOn"},
     {"data", {{"failCommands", {"find"}}, {"blockConnection", true}, {"blockTimeMS", 1500}}}}).get();
  ASSERT_TRUE(failpoint.ok()) << failpoint.message;
  census_sampler sampler{port};
  auto results = run_concurrently(rt, {"a", "b", "c"}, {{"find", "x"}, {"filter", ordered_json::object()}});
  auto peak = sampler.stop();
  auto timeouts = std::count_if(results.begin(), results.end(),
                                [](const result& r) { return r.code == errc::pool_wait_timeout; });
  EXPECT_EQ(timeouts, 1) << "two finds hold both connections, the third waits 300 ms";
  EXPECT_EQ(std::count_if(results.begin(), results.end(), [](const result& r) { return r.ok(); }), 2);
  EXPECT_LE(peak, 2u);
  EXPECT_EQ(rt.stats().pools.at("default").wait_timeouts_total, 1u);
}

TEST_F(RuntimeTest, InvalidTenantIdsAndBadCommandsNeverReachTheServer) {
  runtime rt{config_for(server)};
  wait_for_connection_count(port, [](size_t n) { return n == 2; }, 10s);
  auto created = rt.stats().pools.at("default").created_total;
  for (const std::string& bad : std::vector<std::string>{"../x", "a.b", "$cmd", "", std::string(65, 'x')}) {
    auto r = rt.run_command(bad, R"({"ping":1})"_json).get();
    EXPECT_EQ(r.code, errc::invalid_tenant_id) << bad;
    EXPECT_FALSE(r.message.empty());
  }
  EXPECT_EQ(rt.run_command("ok", R"([1,2])"_json).get().code, errc::bad_command);
  EXPECT_EQ(rt.run_command("ok", R"({"filter":{},"limit":1})"_json).get().code, errc::bad_command);
  EXPECT_EQ(rt.stats().registry.created_total, 0u);
  EXPECT_EQ(rt.stats().pools.at("default").created_total, created);
}

TEST_F(RuntimeTest, ShutdownDrainsInFlightWorkAndClosesEverySocket) {
  runtime rt{config_for(server)};
  auto failpoint = hold_next_find(rt, 700);
  ASSERT_TRUE(failpoint.ok()) << failpoint.message;
  auto slow = rt.run_command("org1", R"({"find":"orders","filter":{}})"_json);
  ASSERT_TRUE(eventually(rt, [](const runtime_stats& s) { return s.registry.inflight == 1; }));
  EXPECT_TRUE(rt.shutdown(5s));
  auto drained = slow.get();
  EXPECT_TRUE(drained.ok()) << drained.message; // finished, not cut off
  EXPECT_EQ(rt.run_command("org1", R"({"ping":1})"_json).get().code, errc::shutting_down);
  EXPECT_EQ(wait_for_connection_count(port, [](size_t n) { return n == 0; }, 10s), 0u);
}

TEST_F(RuntimeTest, ShutdownPastItsDeadlineFailsWhatIsLeftWithShuttingDown) {
  runtime rt{config_for(server)};
  auto failpoint = rt.run_main_command(
    {{"configureFailPoint", "failCommand"},
     {"mode", {{"times", 1}}},
     {"data", {{"failCommands", {"find"}}, {"blockConnection", true}, {"blockTimeMS", 1500}}}}).get();
  ASSERT_TRUE(failpoint.ok()) << failpoint.message;
  auto slow = rt.run_command("org1", R"({"find":"orders","filter":{}})"_json);
  ASSERT_TRUE(eventually(rt, [](const runtime_stats& s) { return s.registry.inflight == 1; }));
  EXPECT_FALSE(rt.shutdown(300ms));
  EXPECT_EQ(slow.get().code, errc::shutting_down);
  EXPECT_EQ(wait_for_connection_count(port, [](size_t n) { return n == 0; }, 10s), 0u);
}

// -- the fast path: an active tenant's commands through its gate ------------------

/// Holds every executor thread in a job until release(): work that needs the
/// executor waits, work on the caller's thread does not.
class executor_blocker {
public:
  executor_blocker(runtime& rt, size_t threads) {
    for (size_t i = 0; i < threads; ++i)
      EXPECT_TRUE(rt.post_blocking([this] {
        std::unique_lock<std::mutex> lock{mutex_};
        ++holding_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return released_; });
      }));
    std::unique_lock<std::mutex> lock{mutex_};
    EXPECT_TRUE(changed_.wait_for(lock, 10s, [&] { return holding_ == threads; }));
  }
  ~executor_blocker() { release(); }
  void release() {
    std::lock_guard<std::mutex> lock{mutex_};
    released_ = true;
    changed_.notify_all();
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t holding_ = 0;
  bool released_ = false;
};

TEST_F(RuntimeTest, ExecuteRunsAnActiveTenantsCommandOnTheCallersThread) {
  auto config = config_for(server);
  config.executor.threads = 2;
  config.pool_maintenance_interval_ms = 60000; // keep the executor to ourselves
  runtime rt{config};
  auto first = rt.execute("org42", ordered_json{{"insert", "orders"}, {"documents", {{{"item", "tea"}}}}});
  ASSERT_TRUE(first.ok()) << first.message; // through the registry: creates the tenant
  executor_blocker blocker{rt, 2};
  // Every executor thread is held: only the caller's thread can run this.
  auto call = std::async(std::launch::async, [&rt] {
    return rt.execute("org42", R"({"find":"orders","filter":{}})"_json);
  });
  if (call.wait_for(10s) != std::future_status::ready) {
    blocker.release(); // let the test end rather than hang
    FAIL() << "execute() waited for the executor";
  }
  auto found = call.get();
  ASSERT_TRUE(found.ok()) << found.message;
  EXPECT_EQ(found.reply()["cursor"]["firstBatch"][0]["item"], "tea");
  auto async = rt.run_command("org42", R"({"ping":1})"_json); // needs the executor
  EXPECT_EQ(async.wait_for(200ms), std::future_status::timeout);
  blocker.release();
  EXPECT_TRUE(async.get().ok());
  auto s = rt.stats();
  EXPECT_EQ(s.registry.created_total, 1u);
  EXPECT_EQ(tenant_row(s, "org42")->use_count, 3u);
  EXPECT_EQ(tenant_row(s, "org42")->counters.ops, 3u);
}

TEST_F(RuntimeTest, FastPathAnswersAndRefusesAsTheRegistryPathDoes) {
  runtime rt{config_for(server)};
  ASSERT_TRUE(rt.execute("org1", R"({"ping":1})"_json).ok()); // active from now on
  auto failed = rt.execute("org1", R"({"nosuchcommand":1})"_json);
  EXPECT_EQ(failed.code, errc::command_failed);
  EXPECT_NE(failed.message.find("nosuchcommand"), std::string::npos) << failed.message;
  EXPECT_EQ(failed.reply()["ok"], 0);
  auto async_failed = rt.run_command("org1", R"({"nosuchcommand":1})"_json).get();
  EXPECT_EQ(async_failed.code, errc::command_failed);
  EXPECT_EQ(rt.execute("org1", R"([1,2])"_json).code, errc::bad_command);
  EXPECT_EQ(rt.execute("org1", ordered_json{{"insert", "x"}, {"documents", {{{"a", 1}}}}, {"$db", "admin"}}).code,
            errc::bad_command);
  EXPECT_EQ(rt.execute("../x", R"({"ping":1})"_json).code, errc::invalid_tenant_id);
  // Another tenant's database named by a stage: refused, on both paths.
  auto merge_into_other = ordered_json{
    {"aggregate", "orders"},
    {"pipeline", {{{"$merge", {{"into", {{"db", "tenant_org2"}, {"coll", "x"}}}}}}}},
    {"cursor", ordered_json::object()}};
  auto merged = rt.execute("org1", merge_into_other);
  EXPECT_EQ(merged.code, errc::bad_command);
  EXPECT_NE(merged.message.find("'$merge' names database 'tenant_org2'"), std::string::npos)
    << merged.message;
  EXPECT_EQ(rt.run_command("org1", merge_into_other).get().code, errc::bad_command);
  auto b = tenant_row(rt.stats(), "org1");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->counters.ops, 5u);
  EXPECT_EQ(b->counters.errors, 4u);
  EXPECT_TRUE(rt.shutdown(5s));
  EXPECT_EQ(rt.execute("org1", R"({"ping":1})"_json).code, errc::shutting_down);
  EXPECT_EQ(rt.run_command("org1", R"({"ping":1})"_json).get().code, errc::shutting_down);
}

TEST_F(RuntimeTest, EvictingATenantLetsItsFastOperationFinishAndTheNextOneRecreatesIt) {
  runtime rt{config_for(server)};
  ASSERT_TRUE(rt.execute("org1", R"({"ping":1})"_json).ok());
  auto failpoint = hold_next_find(rt, 700);
  ASSERT_TRUE(failpoint.ok()) << failpoint.message;
  auto slow = std::async(std::launch::async, [&rt] {
    return rt.execute("org1", R"({"find":"orders","filter":{}})"_json);
  });
  ASSERT_TRUE(eventually(rt, [](const runtime_stats& s) { return s.registry.inflight == 1; }));
  EXPECT_TRUE(rt.evict("org1"));
  EXPECT_EQ(rt.stats().registry.active_tenants, 0u);
  auto finished = slow.get();
  EXPECT_TRUE(finished.ok()) << finished.message; // not cut off by the eviction
  ASSERT_TRUE(rt.execute("org1", R"({"ping":1})"_json).ok());
  EXPECT_EQ(rt.stats().registry.created_total, 2u);
}

TEST_F(RuntimeTest, ShutdownDrainsFastOperationsInFlight) {
  runtime rt{config_for(server)};
  ASSERT_TRUE(rt.execute("org1", R"({"ping":1})"_json).ok());
  auto failpoint = hold_next_find(rt, 700);
  ASSERT_TRUE(failpoint.ok()) << failpoint.message;
  auto slow = rt.run_command("org1", R"({"find":"orders","filter":{}})"_json); // fast path, executor
  ASSERT_TRUE(eventually(rt, [](const runtime_stats& s) { return s.registry.inflight == 1; }));
  EXPECT_TRUE(rt.shutdown(5s));
  EXPECT_EQ(slow.wait_for(0s), std::future_status::ready); // shutdown waited for it
  auto drained = slow.get();
  EXPECT_TRUE(drained.ok()) << drained.message;
  EXPECT_EQ(wait_for_connection_count(port, [](size_t n) { return n == 0; }, 10s), 0u);
}

TEST_F(RuntimeTest, FastPathTrafficKeepsATenantAliveAndItIsReapedOnceIdle) {
  using steady = std::chrono::steady_clock;
  auto config = config_for(server);
  config.registry.idle_timeout_ms = 400;
  config.registry.cleanup_interval_ms = 200;
  const auto idle_timeout = std::chrono::milliseconds{config.registry.idle_timeout_ms};
  runtime rt{config};
  auto previous_start = steady::now();
  ASSERT_TRUE(rt.execute("busy", R"({"ping":1})"_json).ok()); // through the registry
  // Every later ping takes the fast path. Each counts as a use: the idle
  // time the registry shows right after one is at most the time since that
  // ping started. That is an ordering, not a duration: a stalled machine
  // cannot fail it.
  steady::duration longest_window{0}; // the longest the tenant can have been unused
  auto until = steady::now() + 1500ms;
  while (steady::now() < until) {
    auto started = steady::now();
    ASSERT_TRUE(rt.execute("busy", R"({"ping":1})"_json).ok());
    auto row = tenant_row(rt.stats(), "busy");
    auto looked = steady::now();
    auto since_start = std::chrono::duration_cast<std::chrono::milliseconds>(looked - started);
    if (row)
      EXPECT_LE(row->idle_ms, since_start.count() + 1) << "the fast path did not count as a use";
    else
      EXPECT_GE(since_start, idle_timeout) << "reaped right after a use";
    longest_window = std::max<steady::duration>(longest_window, looked - previous_start);
    previous_start = started;
    std::this_thread::sleep_for(50ms); // the traffic's pace, not a synchronisation
  }
  auto s = rt.stats();
  // Unused for idle_timeout_ms it may be reaped: only a machine that never
  // left it that long can tell a reap while in use.
  if (longest_window < idle_timeout) {
    EXPECT_EQ(s.registry.created_total, 1u) << "reaped while in use";
    EXPECT_EQ(s.registry.reaped_total, 0u);
  } else {
    std::cout << "[note] the machine stalled the traffic for "
              << std::chrono::duration_cast<std::chrono::milliseconds>(longest_window).count()
              << " ms (idle timeout " << idle_timeout.count()
              << " ms): a reap meanwhile was allowed" << std::endl;
  }
  EXPECT_TRUE(eventually(rt, [](const runtime_stats& st) { return st.registry.active_tenants == 0; }));
  auto reaped = rt.stats().registry;
  EXPECT_GE(reaped.reaped_total, 1u);
  EXPECT_EQ(reaped.reaped_total, reaped.created_total); // every incarnation ended by the reaper
}

TEST(RuntimeClustersTest, ServerDownFailsClearlyWithinSelectionTimeoutAndOtherClustersKeepServing) {
  dev_mongo_server down_server;
  dev_mongo_server other_server;
  auto config = config_for(down_server);
  config.clusters.at("default").pool.server_selection_timeout_ms = 1000;
  config.clusters.at("default").pool.connect_timeout_ms = 1000;
  auto other = config.clusters.at("default");
  other.name = "other";
  other.uri = other_server.uri();
  config.clusters["other"] = other;
  config.routing.prefix["eu-"] = "other";
  runtime rt{config};
  ASSERT_TRUE(rt.run_command("us-1", R"({"ping":1})"_json).get().ok());
  down_server.stop();
  auto started = std::chrono::steady_clock::now();
  auto failed = rt.run_command("us-1", R"({"ping":1})"_json).get();
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(failed.code, errc::server_unreachable) << failed.message;
  EXPECT_LT(elapsed, 2500ms) << "server_selection_timeout_ms is 1000";
  auto served = rt.run_command("eu-1", R"({"ping":1})"_json).get();
  EXPECT_TRUE(served.ok()) << served.message;
  EXPECT_EQ(tenant_row(rt.stats(), "eu-1")->cluster, "other");
  down_server.start();
  bool recovered = false;
  for (int attempt = 0; attempt < 50 && !recovered; ++attempt) {
    recovered = rt.run_command("us-1", R"({"ping":1})"_json).get().ok();
    if (!recovered)
      std::this_thread::sleep_for(100ms); // the driver rescans every 500 ms
  }
  EXPECT_TRUE(recovered);
}

} // namespace
} // namespace tenantrt
