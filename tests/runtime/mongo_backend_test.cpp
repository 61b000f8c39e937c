// mongo_backend against the dev-mongo server: commands through channels and
// the executor, shared versus per-tenant pools, warm-up, maintenance,
// overload and shutdown, each checked by counting the sockets the server sees.

#include "runtime/mongo_backend.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tools/support/dev_mongo_server.hpp"
#include "tests/support/fake_pool_clock.hpp"
#include "tests/support/polling.hpp"
#include "tools/support/tcp_census.hpp"

namespace tenantrt {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using devtools::count_established_to_port;
using devtools::dev_mongo_server;
using devtools::wait_for_connection_count;

constexpr auto ping_json = R"({"ping": 1})";

using fake_clock = testing::fake_pool_clock;

/// A completion that a test can wait for, remembering its thread.
struct awaited_outcome {
  std::promise<result> promise;
  std::future<result> future = promise.get_future();
  std::thread::id thread;

  completion callback() {
    return [this](result outcome) {
      thread = std::this_thread::get_id();
      promise.set_value(std::move(outcome));
    };
  }
  result get() {
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "completion never came";
      return {};
    }
    return future.get();
  }
};

result run_on(tenant_channel& channel, std::string command_json) {
  awaited_outcome awaited;
  channel.submit(std::move(command_json), awaited.callback());
  return awaited.get();
}

result run_main(mongo_backend& backend, std::string command_json) {
  awaited_outcome awaited;
  backend.submit_main(std::move(command_json), awaited.callback());
  return awaited.get();
}

using testing::eventually;

class MongoBackendTest : public ::testing::Test {
protected:
  void SetUp() override {
    server_ = std::make_unique<dev_mongo_server>();
    port_ = server_->port();
    executor_ = std::make_shared<blocking_executor>(8, 1000);
  }

  void TearDown() override {
    backend_.reset();
    executor_->shutdown();
    server_.reset();
  }

  static pool_settings small_settings() {
    pool_settings settings;
    settings.max_pool_size = 4;
    settings.min_pool_size = 1;
    settings.max_idle_time_ms = 60000;
    settings.wait_queue_timeout_ms = 5000;
    settings.socket_timeout_ms = 5000;
    settings.server_selection_timeout_ms = 1000;
    settings.connect_timeout_ms = 3000;
    return settings;
  }

  /// "shared" (tenants share one pool, also the main cluster) and "isolated"
  /// (pool_per_tenant), both on the test server.
  runtime_config make_config() {
    runtime_config config;
    config.clusters.clear();
    cluster_config shared;
    shared.name = "shared";
    shared.uri = server_->uri();
    shared.pool = small_settings();
    cluster_config isolated = shared;
    isolated.name = "isolated";
    isolated.pool_per_tenant = true;
    isolated.pool.min_pool_size = 1;
    isolated.pool.max_pool_size = 2;
    config.clusters = {{"shared", shared}, {"isolated", isolated}};
    config.default_cluster = "shared";
    config.main_database = "maindb";
    return config;
  }

  mongo_backend& make_backend(const runtime_config& config) {
    backend_ = std::make_unique<mongo_backend>(config, executor_, [this] { return clock_.now(); });
    return *backend_;
  }

  size_t sockets_become(size_t wanted) {
    return wait_for_connection_count(port_, [wanted](size_t n) { return n == wanted; }, 5s);
  }

  std::unique_ptr<dev_mongo_server> server_;
  uint16_t port_ = 0;
  std::shared_ptr<blocking_executor> executor_;
  fake_clock clock_;
  std::unique_ptr<mongo_backend> backend_;
};

TEST_F(MongoBackendTest, SubmitRunsOnTheExecutorAndMeasuresLatency) {
  auto& backend = make_backend(make_config());
  std::string error;
  auto channel = backend.open({"org1", "tenant_org1", "shared"}, &error);
  ASSERT_TRUE(channel) << error;
  awaited_outcome awaited;
  channel->submit(ping_json, awaited.callback());
  auto outcome = awaited.get();
  EXPECT_EQ(outcome.code, errc::none) << outcome.message;
  EXPECT_NE(outcome.reply_json.find("\"ok\""), std::string::npos);
  EXPECT_GT(outcome.latency.count(), 0);
  EXPECT_NE(awaited.thread, std::this_thread::get_id()) << "completion runs on an executor thread";
}

TEST_F(MongoBackendTest, InsertThenFindThroughATenantChannel) {
  auto& backend = make_backend(make_config());
  std::string error;
  auto channel = backend.open({"org1", "tenant_org1", "shared"}, &error);
  ASSERT_TRUE(channel) << error;
  auto inserted = run_on(*channel, R"({"insert": "orders", "documents": [{"_id": 7, "sku": "A-1"}]})");
  ASSERT_EQ(inserted.code, errc::none) << inserted.message;
  auto found = run_on(*channel, R"({"find": "orders", "filter": {"_id": 7}})");
  ASSERT_EQ(found.code, errc::none) << found.message;
  EXPECT_NE(found.reply_json.find("\"sku\" : \"A-1\""), std::string::npos) << found.reply_json;
}

TEST_F(MongoBackendTest, SubmitMainRunsOnTheMainDatabase) {
  auto& backend = make_backend(make_config());
  auto inserted = run_main(backend, R"({"insert": "settings", "documents": [{"_id": "theme"}]})");
  ASSERT_EQ(inserted.code, errc::none) << inserted.message;
  std::string error;
  // A channel whose database is the main one sees the document.
  auto main_view = backend.open({"x", "maindb", "shared"}, &error);
  ASSERT_TRUE(main_view) << error;
  auto found = run_on(*main_view, R"({"find": "settings", "filter": {}})");
  EXPECT_NE(found.reply_json.find("theme"), std::string::npos) << found.reply_json;
  auto tenant = backend.open({"org1", "tenant_org1", "shared"}, &error);
  auto not_there = run_on(*tenant, R"({"find": "settings", "filter": {}})");
  EXPECT_EQ(not_there.reply_json.find("theme"), std::string::npos) << not_there.reply_json;
}

TEST_F(MongoBackendTest, WarmUpOpensMinConnectionsOfSharedPoolsWithoutCommands) {
  auto config = make_config();
  config.clusters["shared"].pool.min_pool_size = 3;
  auto& backend = make_backend(config);
  EXPECT_EQ(count_established_to_port(port_), 0u);
  backend.warm_up();
  EXPECT_EQ(sockets_become(3), 3u) << "per-tenant clusters have no pool before a tenant opens";
  ASSERT_TRUE(eventually([&] { return backend.pool_counters_by_cluster()["shared"].idle == 3; }));
  auto counters = backend.pool_counters_by_cluster();
  EXPECT_EQ(counters["shared"].open, 3u);
  EXPECT_EQ(counters["isolated"].open, 0u);
  EXPECT_EQ(counters["isolated"].tenant_pools, 0u);
}

TEST_F(MongoBackendTest, SharedClusterTenantsShareOnePoolUnderItsCap) {
  auto& backend = make_backend(make_config());
  std::vector<std::shared_ptr<tenant_channel>> channels;
  std::string error;
  for (int i = 0; i < 10; ++i)
    channels.push_back(
      backend.open({"t" + std::to_string(i), "tenant_t" + std::to_string(i), "shared"}, &error));
  // 10 tenants x 20 concurrent pings, 8 executor threads, pool cap 4.
  std::atomic<int> pending{0};
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::condition_variable all_done;
  for (int round = 0; round < 20; ++round)
    for (auto& channel : channels) {
      ++pending;
      channel->submit(ping_json, [&](result outcome) {
        if (outcome.code != errc::none)
          ++failures;
        std::lock_guard<std::mutex> guard{mutex};
        if (--pending == 0)
          all_done.notify_all();
      });
    }
  size_t max_sockets = 0;
  while (pending.load() != 0) // each census takes a few ms: that is the sampling period
    max_sockets = std::max(max_sockets, count_established_to_port(port_));
  {
    // The last completion notifies under the mutex: wait until it let go.
    std::unique_lock<std::mutex> guard{mutex};
    all_done.wait(guard, [&] { return pending.load() == 0; });
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(max_sockets, 4u);
  auto counters = backend.pool_counters_by_cluster()["shared"];
  EXPECT_LE(counters.created_total, 4u);
  EXPECT_EQ(counters.tenant_pools, 0u);
}

TEST_F(MongoBackendTest, PoolPerTenantGivesEachTenantItsOwnPoolAndClosingTheChannelClosesIt) {
  auto& backend = make_backend(make_config());
  std::string error;
  auto first = backend.open({"a", "tenant_a", "isolated"}, &error);
  auto second = backend.open({"b", "tenant_b", "isolated"}, &error);
  ASSERT_TRUE(first && second) << error;
  EXPECT_EQ(count_established_to_port(port_), 0u);

  ASSERT_EQ(run_on(*first, ping_json).code, errc::none);
  ASSERT_EQ(run_on(*second, ping_json).code, errc::none);
  EXPECT_EQ(sockets_become(2), 2u) << "one connection per tenant pool";
  auto counters = backend.pool_counters_by_cluster()["isolated"];
  EXPECT_EQ(counters.tenant_pools, 2u);
  EXPECT_EQ(counters.open, 2u);
  EXPECT_EQ(counters.max_pool_size, 4u) << "2 pools x max 2";

  // Each pool has its own cap: tenant a saturating its pool does not touch b.
  auto block = run_on(*first, R"({"configureFailPoint": "failCommand", "mode": {"times": 2},
      "data": {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 400}})");
  ASSERT_EQ(block.code, errc::none) << block.message;
  std::vector<std::unique_ptr<awaited_outcome>> waits;
  for (int i = 0; i < 2; ++i) {
    waits.push_back(std::make_unique<awaited_outcome>());
    first->submit(R"({"find": "c", "filter": {}})", waits.back()->callback());
  }
  ASSERT_TRUE(eventually([&] { return backend.pool_counters_by_cluster()["isolated"].in_use >= 2; }));
  EXPECT_EQ(run_on(*second, ping_json).code, errc::none) << "b is not queued behind a";
  for (auto& wait : waits)
    EXPECT_EQ(wait->get().code, errc::none);
  EXPECT_EQ(sockets_become(3), 3u) << "a: 2 (its cap), b: 1";

  first.reset(); // closes tenant a's pool on the executor
  EXPECT_EQ(sockets_become(1), 1u);
  ASSERT_TRUE(eventually([&] {
    return backend.pool_counters_by_cluster()["isolated"].tenant_pools == 1;
  }));
  EXPECT_EQ(backend.pool_counters_by_cluster()["isolated"].open, 1u);
}

TEST_F(MongoBackendTest, MaintainAllWarmsTenantPoolsAndClosesIdleEverywhere) {
  auto config = make_config();
  config.clusters["shared"].pool.min_pool_size = 1;
  config.clusters["isolated"].pool.min_pool_size = 1;
  auto& backend = make_backend(config);
  std::string error;
  auto isolated = backend.open({"a", "tenant_a", "isolated"}, &error);
  auto shared = backend.open({"s", "tenant_s", "shared"}, &error);
  backend.maintain_all();
  EXPECT_EQ(sockets_become(2), 2u) << "shared min 1 + tenant a's min 1";

  // Four concurrent slow finds push the shared pool to its cap of 4.
  auto armed = run_on(*shared, R"({"configureFailPoint": "failCommand", "mode": {"times": 4},
      "data": {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 300}})");
  ASSERT_EQ(armed.code, errc::none);
  std::vector<std::unique_ptr<awaited_outcome>> waits;
  for (int i = 0; i < 4; ++i) {
    waits.push_back(std::make_unique<awaited_outcome>());
    shared->submit(R"({"find": "c", "filter": {}})", waits.back()->callback());
  }
  for (auto& wait : waits)
    EXPECT_EQ(wait->get().code, errc::none);
  EXPECT_EQ(sockets_become(5), 5u);

  clock_.advance(61s);
  backend.maintain_all();
  EXPECT_EQ(sockets_become(2), 2u) << "idle surplus closed, mins kept";
}

TEST_F(MongoBackendTest, ReloadedPoolSettingsReachLiveAndLaterPools) {
  auto config = make_config();
  auto& backend = make_backend(config);
  std::string error;
  auto before = backend.open({"a", "tenant_a", "isolated"}, &error);
  backend.warm_up();
  backend.maintain_all();
  ASSERT_EQ(sockets_become(2), 2u) << "shared min 1 + tenant a min 1";

  config.clusters["shared"].pool.min_pool_size = 3;
  config.clusters["isolated"].pool.min_pool_size = 2;
  backend.apply_pool_settings(config);
  auto after = backend.open({"b", "tenant_b", "isolated"}, &error);
  // maintain_all() skips a pool whose last run has not finished: tick until
  // the pools are topped up, as the maintainer actor would.
  EXPECT_TRUE(eventually([&] {
    backend.maintain_all();
    return count_established_to_port(port_) == 7;
  })) << "shared 3 + tenant a 2 + tenant b 2";
  auto counters = backend.pool_counters_by_cluster();
  EXPECT_EQ(counters["shared"].min_pool_size, 3u);
  EXPECT_EQ(counters["isolated"].min_pool_size, 4u) << "2 tenant pools x min 2";
}

TEST_F(MongoBackendTest, RefusedJobCompletesAtOnceWithOverloaded) {
  executor_ = std::make_shared<blocking_executor>(1, 1);
  auto& backend = make_backend(make_config());
  std::mutex mutex;
  std::condition_variable cv;
  bool started = false;
  bool release = false;
  ASSERT_TRUE(executor_->try_post([&] {
    std::unique_lock<std::mutex> guard{mutex};
    started = true;
    cv.notify_all();
    cv.wait(guard, [&] { return release; });
  }));
  {
    std::unique_lock<std::mutex> guard{mutex};
    cv.wait(guard, [&] { return started; });
  }
  std::string error;
  auto channel = backend.open({"org1", "tenant_org1", "shared"}, &error);
  awaited_outcome queued;
  channel->submit(ping_json, queued.callback()); // fills the queue of 1
  awaited_outcome refused;
  channel->submit(ping_json, refused.callback());
  ASSERT_EQ(refused.future.wait_for(0s), std::future_status::ready) << "completed inside submit";
  auto outcome = refused.get();
  EXPECT_EQ(outcome.code, errc::overloaded) << outcome.message;
  EXPECT_EQ(refused.thread, std::this_thread::get_id());
  {
    std::lock_guard<std::mutex> guard{mutex};
    release = true;
    cv.notify_all();
  }
  EXPECT_EQ(queued.get().code, errc::none);
}

TEST_F(MongoBackendTest, ServerDownThenRestartThroughTheBackend) {
  auto& backend = make_backend(make_config());
  backend.warm_up();
  ASSERT_TRUE(eventually([&] { return backend.pool_counters_by_cluster()["shared"].idle == 1; }));
  ASSERT_EQ(sockets_become(1), 1u);
  std::string error;
  auto channel = backend.open({"org1", "tenant_org1", "shared"}, &error);
  ASSERT_EQ(run_on(*channel, ping_json).code, errc::none);

  server_->stop();
  auto down = run_on(*channel, ping_json);
  EXPECT_EQ(down.code, errc::server_unreachable) << down.message;
  EXPECT_LE(down.latency, 1500ms) << "within server_selection_timeout_ms (1000)";
  auto main_down = run_main(backend, ping_json);
  EXPECT_EQ(main_down.code, errc::server_unreachable) << main_down.message;

  server_->start();
  auto up = run_on(*channel, ping_json);
  EXPECT_EQ(up.code, errc::none) << up.message;
  backend.maintain_all();
  EXPECT_EQ(sockets_become(1), 1u);
}

TEST_F(MongoBackendTest, ErrorsKeepTheirKinds) {
  auto& backend = make_backend(make_config());
  std::string error;
  auto channel = backend.open({"org1", "tenant_org1", "shared"}, &error);
  auto failed = run_on(*channel, R"({"frobnicate": 1})");
  EXPECT_EQ(failed.code, errc::command_failed);
  EXPECT_NE(failed.message.find("frobnicate"), std::string::npos) << failed.message;
  EXPECT_EQ(run_on(*channel, "{\"find\": ").code, errc::bad_command);
  EXPECT_EQ(backend.open({"x", "tenant_x", "nowhere"}, &error), nullptr);
  EXPECT_NE(error.find("nowhere"), std::string::npos) << error;
}

TEST_F(MongoBackendTest, ShutdownClosesEverySocketAndRefusesWork) {
  auto& backend = make_backend(make_config());
  backend.warm_up();
  // Commands racing the asynchronous warm-up would open a second connection.
  ASSERT_TRUE(eventually([&] { return backend.pool_counters_by_cluster()["shared"].idle == 1; }));
  std::string error;
  auto isolated = backend.open({"a", "tenant_a", "isolated"}, &error);
  auto shared = backend.open({"s", "tenant_s", "shared"}, &error);
  ASSERT_EQ(run_on(*isolated, ping_json).code, errc::none);
  ASSERT_EQ(run_on(*shared, ping_json).code, errc::none);
  EXPECT_EQ(sockets_become(2), 2u);

  backend.shutdown();
  EXPECT_EQ(sockets_become(0), 0u);
  EXPECT_EQ(run_on(*shared, ping_json).code, errc::shutting_down);
  EXPECT_EQ(run_on(*isolated, ping_json).code, errc::shutting_down);
  EXPECT_EQ(run_main(backend, ping_json).code, errc::shutting_down);
  backend.maintain_all(); // nothing reopens
  EXPECT_EQ(count_established_to_port(port_), 0u);
  isolated.reset();
  shared.reset();
}

} // namespace
} // namespace tenantrt
