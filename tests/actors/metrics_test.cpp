// Metrics actor on the deterministic test coordinator, with the real registry
// over the fake backend and pool counters the test sets: sampling by virtual
// time, the bounded ring, interval deltas, every warning raised and cleared,
// health, the stats/details JSON contract, history limits, top-N tenant
// series in the Prometheus text, reload and drain. One test serves GET
// /metrics on a real loopback port and fetches it with a plain socket.

#include "actors/metrics.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "actors/registry.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_backend.hpp"

using namespace std::chrono_literals;

namespace tenantrt {
namespace {

using testing::fake_backend;
using json = nlohmann::json;

caf::timespan span(std::chrono::milliseconds value) {
  return std::chrono::duration_cast<caf::timespan>(value);
}

/// A healthy shared pool: the warm minimum open, nobody waiting.
pool_counters healthy_pool() {
  pool_counters p;
  p.open = 2;
  p.idle = 2;
  p.max_pool_size = 10;
  p.min_pool_size = 2;
  p.created_total = 2;
  return p;
}

struct MetricsTest : testing::actor_fixture {
  std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>();
  std::shared_ptr<tenant_directory> directory = std::make_shared<tenant_directory>();
  /// What the pool_counters_source returns; tests change it between samples.
  std::shared_ptr<std::map<std::string, pool_counters>> pools
    = std::make_shared<std::map<std::string, pool_counters>>(
      std::map<std::string, pool_counters>{{"default", healthy_pool()}});
  runtime_config config = [] {
    runtime_config c;
    c.registry.max_tenant_connections = 5;
    c.registry.idle_timeout_ms = 3600000;
    c.registry.cleanup_interval_ms = 3600000;
    c.registry.wait_queue_timeout_ms = 5000;
    c.registry.main_ping_interval_ms = 10000;
    c.metrics.sample_interval_ms = 1000;
    c.metrics.history_size = 5;
    c.metrics.warn_total_connections = 30;
    c.metrics.warn_tenant_limit_percent = 80;
    c.metrics.prometheus_top_tenants = 2;
    return c;
  }();
  registry_actor registry;
  metrics_actor metrics;

  void start() {
    registry = sys.spawn(registry_impl, config, std::static_pointer_cast<command_backend>(backend),
                         directory);
    auto source = pools;
    metrics = sys.spawn(metrics_impl, config, registry,
                        pool_counters_source{[source] { return *source; }});
    run();
  }

  ~MetricsTest() override {
    if (metrics)
      caf::anon_send_exit(metrics, caf::exit_reason::user_shutdown);
    if (registry)
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    run();
  }

  /// Lets one sample interval pass (one sampling tick).
  void sample() { advance(span(std::chrono::milliseconds{config.metrics.sample_interval_ms})); }

  /// Runs one command for the tenant and completes it with the given outcome.
  void use(const std::string& tenant, std::chrono::microseconds latency = 100us,
           errc code = errc::none) {
    auto reply = ask<std::string>(registry, run_atom::value, tenant, std::string{R"({"ping":1})"});
    for (auto i : backend->unfinished(tenant)) {
      auto outcome = fake_backend::ok_outcome();
      outcome.latency = latency;
      if (code != errc::none) {
        outcome.code = code;
        outcome.message = "failed on purpose";
      }
      backend->finish(i, outcome);
    }
    run();
    ASSERT_TRUE(reply->settled()) << tenant;
  }

  json parsed(const std::shared_ptr<testing::reply_box<std::string>>& box) {
    EXPECT_TRUE(box->value.has_value()) << box->message;
    return box->value ? json::parse(*box->value) : json::object();
  }

  json stats() { return parsed(ask<std::string>(metrics, stats_atom::value)); }
  json details() { return parsed(ask<std::string>(metrics, details_atom::value)); }
  json health() { return parsed(ask<std::string>(metrics, health_atom::value)); }
  json history(uint32_t limit = 0) {
    return parsed(ask<std::string>(metrics, history_atom::value, limit))["samples"];
  }
  std::string prometheus_text() {
    return parsed(ask<std::string>(metrics, prometheus_atom::value))["text"];
  }

  /// The warning codes of a health reply.
  static std::multiset<std::string> codes(const json& reply) {
    std::multiset<std::string> out;
    for (auto& w : reply["warnings"])
      out.insert(w["code"].get<std::string>());
    return out;
  }

  static std::optional<json> find_warning(const json& reply, const std::string& code) {
    for (auto& w : reply["warnings"])
      if (w["code"] == code)
        return w;
    return std::nullopt;
  }

  json last_sample() { return history().back(); }
};

TEST_F(MetricsTest, SamplesOnceEveryIntervalOfVirtualTime) {
  start();
  EXPECT_TRUE(history().empty());
  advance(span(999ms));
  EXPECT_TRUE(history().empty());
  advance(span(1ms));
  EXPECT_EQ(history().size(), 1u);
  sample();
  sample();
  EXPECT_EQ(history().size(), 3u);
  auto s = last_sample();
  EXPECT_EQ(s["totalConnections"], 2);
  EXPECT_EQ(s["activeTenants"], 0);
  EXPECT_TRUE(std::regex_match(s["timestamp"].get<std::string>(),
                               std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"}));
}

TEST_F(MetricsTest, HistoryRingKeepsTheLastHistorySizeSamplesOldestFirst) {
  start();
  for (uint64_t i = 1; i <= 8; ++i) {
    (*pools)["default"].open = i; // marks each sample
    sample();
  }
  auto all = history();
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i]["totalConnections"], 4 + i);
}

TEST_F(MetricsTest, HistoryLimitReturnsTheLastSamplesAndZeroMeansAll) {
  start();
  for (uint64_t i = 1; i <= 4; ++i) {
    (*pools)["default"].open = i;
    sample();
  }
  auto last_two = history(2);
  ASSERT_EQ(last_two.size(), 2u);
  EXPECT_EQ(last_two[0]["totalConnections"], 3);
  EXPECT_EQ(last_two[1]["totalConnections"], 4);
  EXPECT_EQ(history(0).size(), 4u);
  EXPECT_EQ(history(100).size(), 4u);
}

TEST_F(MetricsTest, OpsAndErrorsAreDeltasBetweenSamples) {
  start();
  use("org1");
  use("org1");
  use("org2");
  use("org2", 100us, errc::command_failed);
  sample();
  auto first = last_sample();
  EXPECT_EQ(first["ops"], 4);
  EXPECT_EQ(first["errors"], 1);
  EXPECT_EQ(first["activeTenants"], 2);
  sample();
  EXPECT_EQ(last_sample()["ops"], 0);
  EXPECT_EQ(last_sample()["errors"], 0);
  use("org1");
  use("org1", 100us, errc::timeout);
  sample();
  EXPECT_EQ(last_sample()["ops"], 2);
  EXPECT_EQ(last_sample()["errors"], 1);
}

TEST_F(MetricsTest, DeltasNeverGoNegativeWhenTenantsAreReapedOrRecreated) {
  start();
  for (int i = 0; i < 5; ++i)
    use("org1");
  sample();
  EXPECT_EQ(last_sample()["ops"], 5);
  auto evicted = ask<bool>(registry, evict_atom::value, std::string{"org1"});
  ASSERT_TRUE(evicted->value && *evicted->value);
  sample();
  EXPECT_EQ(last_sample()["ops"], 0); // gone with its counters, not -5
  EXPECT_EQ(last_sample()["activeTenants"], 0);
  use("org1"); // a new actor
  sample();
  EXPECT_EQ(last_sample()["ops"], 1);
  for (int i = 0; i < 3; ++i)
    use("org1");
  sample();
  EXPECT_EQ(last_sample()["ops"], 3);
  // Evicted and created again between two samples: its counters restarted
  // below the baseline (4), so the new actor's count is all new.
  ask<bool>(registry, evict_atom::value, std::string{"org1"});
  use("org1");
  sample();
  EXPECT_EQ(last_sample()["ops"], 1);
  // A per-tenant pool closing takes its counts out of the cluster's sums.
  (*pools)["default"].wait_timeouts_total = 4;
  sample();
  EXPECT_EQ(last_sample()["waitTimeouts"], 4);
  (*pools)["default"].wait_timeouts_total = 1;
  sample();
  EXPECT_EQ(last_sample()["waitTimeouts"], 0);
}

TEST_F(MetricsTest, LatencyQuantilesCoverOnlyTheLastInterval) {
  start();
  for (int i = 0; i < 10; ++i)
    use("org1", 100us);
  sample();
  EXPECT_EQ(last_sample()["p50Us"], 100); // bucket [64, 128) capped by the max seen
  EXPECT_EQ(last_sample()["p99Us"], 100);
  for (int i = 0; i < 10; ++i)
    use("org1", 5000us);
  sample();
  // Lifetime quantiles would say p50 = 100 µs; the interval's are all slow.
  EXPECT_EQ(last_sample()["p50Us"], 5000);
  EXPECT_EQ(last_sample()["p99Us"], 5000);
  sample();
  EXPECT_EQ(last_sample()["p50Us"], 0); // no operations, no quantile
}

TEST_F(MetricsTest, WaitersAndWaitTimeoutsAddRegistryAndPools) {
  config.registry.max_tenant_connections = 1;
  config.metrics.history_size = 10;
  start();
  auto busy = ask<std::string>(registry, run_atom::value, std::string{"a"},
                               std::string{R"({"ping":1})"});
  auto waiting = ask<std::string>(registry, run_atom::value, std::string{"b"},
                                  std::string{R"({"ping":1})"});
  EXPECT_FALSE(waiting->settled());
  (*pools)["default"].waiters = 2;
  (*pools)["default"].wait_timeouts_total = 2;
  sample();
  EXPECT_EQ(last_sample()["waiters"], 3);
  EXPECT_EQ(last_sample()["inflight"], 1);
  for (int i = 0; i < 5; ++i)
    sample(); // the waiter gives up after 5 s: one tenant-limit timeout
  ASSERT_TRUE(waiting->error.has_value());
  EXPECT_EQ(*waiting->error, errc::tenant_limit_reached);
  uint64_t timeouts = 0;
  for (auto& s : history())
    timeouts += s["waitTimeouts"].get<uint64_t>();
  EXPECT_EQ(timeouts, 3u); // 2 from the pool + 1 from the registry
  backend->finish_all("a");
  run();
}

TEST_F(MetricsTest, HealthIsOkWithoutWarnings) {
  start();
  auto h = health();
  EXPECT_EQ(h["status"], "ok");
  EXPECT_TRUE(h["warnings"].empty());
}

TEST_F(MetricsTest, HighConnectionCountIsRaisedAboveTheThresholdAndCleared) {
  start();
  (*pools)["default"].open = 31;
  auto h = health();
  EXPECT_EQ(h["status"], "degraded");
  auto w = find_warning(h, "high_connection_count");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ((*w)["value"], 31);
  EXPECT_EQ((*w)["threshold"], 30);
  EXPECT_FALSE((*w)["message"].get<std::string>().empty());
  (*pools)["default"].open = 30; // not above
  EXPECT_EQ(health()["status"], "ok");
}

TEST_F(MetricsTest, TenantLimitNearIsRaisedAtThePercentageAndCleared) {
  start(); // limit 5, 80 % -> 4 tenants
  for (auto t : {"a", "b", "c"})
    use(t);
  EXPECT_EQ(codes(health()).count("tenant_limit_near"), 0u);
  use("d");
  auto w = find_warning(health(), "tenant_limit_near");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ((*w)["value"], 4);
  EXPECT_EQ((*w)["threshold"], 4);
  ask<bool>(registry, evict_atom::value, std::string{"d"});
  run();
  EXPECT_EQ(health()["status"], "ok");
}

TEST_F(MetricsTest, PoolSaturatedNeedsAFullPoolWithWaiters) {
  start();
  auto& pool = (*pools)["default"];
  pool.open = 10;
  pool.in_use = 10;
  pool.idle = 0;
  EXPECT_EQ(health()["status"], "ok"); // full but nobody waits
  pool.waiters = 3;
  auto w = find_warning(health(), "pool_saturated");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ((*w)["cluster"], "default");
  EXPECT_EQ((*w)["value"], 10);
  EXPECT_EQ((*w)["threshold"], 10);
  pool.waiters = 0;
  EXPECT_EQ(health()["status"], "ok");
}

TEST_F(MetricsTest, WaitTimeoutsWarnForTheIntervalTheyHappenedIn) {
  start();
  sample();
  (*pools)["default"].wait_timeouts_total = 1;
  auto now = find_warning(health(), "wait_timeouts"); // since the last sample
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ((*now)["value"], 1);
  EXPECT_EQ((*now)["threshold"], 0);
  sample();
  EXPECT_EQ(codes(health()).count("wait_timeouts"), 1u); // the last interval had one
  sample();
  EXPECT_EQ(health()["status"], "ok"); // an interval without
}

TEST_F(MetricsTest, MainDatabaseDisconnectedMeansClusterUnreachableAndDown) {
  backend->auto_complete_main = false;
  start();
  backend->finish(backend->unfinished("").at(0), fake_backend::ok_outcome());
  run();
  EXPECT_EQ(health()["status"], "ok");
  advance(span(10s)); // the registry's next main ping
  result down;
  down.code = errc::server_unreachable;
  down.message = "No suitable servers found";
  backend->finish(backend->unfinished("").at(0), down);
  run();
  auto h = health();
  EXPECT_EQ(h["status"], "down");
  auto w = find_warning(h, "cluster_unreachable");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ((*w)["cluster"], "default");
  EXPECT_EQ(stats()["stats"]["mainDb"]["state"], "disconnected");
  advance(span(10s));
  for (auto i : backend->unfinished(""))
    backend->finish(i, fake_backend::ok_outcome());
  run();
  EXPECT_EQ(health()["status"], "ok");
}

TEST_F(MetricsTest, OtherClusterBelowItsWarmMinimumForTwoSamplesIsUnreachable) {
  (*pools)["analytics"] = healthy_pool();
  start();
  (*pools)["analytics"].open = 0;
  (*pools)["analytics"].idle = 0;
  sample();
  EXPECT_EQ(health()["status"], "ok"); // one short sample: maybe still warming up
  sample();
  auto h = health();
  EXPECT_EQ(h["status"], "degraded"); // not down: the main database is fine
  auto w = find_warning(h, "cluster_unreachable");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ((*w)["cluster"], "analytics");
  EXPECT_EQ((*w)["value"], 2);
  EXPECT_EQ((*w)["threshold"], 2);
  (*pools)["analytics"].open = 2;
  EXPECT_EQ(health()["status"], "ok"); // cleared as soon as it connects
  sample();
  EXPECT_EQ(health()["status"], "ok");
}

TEST_F(MetricsTest, QuarantinedTenantIsWarnedUntilItsBackOffEnds) {
  start();
  for (int crash = 0; crash < 4; ++crash) {
    auto actor = ask<tenant_actor>(registry, acquire_atom::value, std::string{"flaky"});
    ASSERT_TRUE(actor->value.has_value()) << actor->message;
    caf::anon_send_exit(*actor->value, caf::exit_reason::unhandled_exception);
    run();
    advance(span(1s));
  }
  auto w = find_warning(health(), "tenant_quarantined");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ((*w)["value"], 1);
  EXPECT_EQ((*w)["tenants"], json::array({"flaky"}));
  advance(span(30s));
  EXPECT_EQ(health()["status"], "ok");
}

TEST_F(MetricsTest, StatsReplyHasEveryContractField) {
  (*pools)["analytics"] = healthy_pool();
  config.metrics.history_size = 20;
  start();
  use("org1");
  use("org1", 300us, errc::command_failed);
  for (int i = 0; i < 12; ++i)
    sample();
  auto r = stats();
  EXPECT_TRUE(std::regex_match(r["timestamp"].get<std::string>(),
                               std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"}));
  auto& s = r["stats"];
  EXPECT_EQ(s["totalConnections"], 4);
  EXPECT_EQ(s["mainDb"]["name"], "main");
  EXPECT_EQ(s["mainDb"]["state"], "connected");
  auto& t = s["tenantDbs"];
  EXPECT_EQ(t["activeConnections"], 1);
  EXPECT_EQ(t["maxConnections"], 5);
  EXPECT_EQ(t["registeredTenants"], 1);
  ASSERT_EQ(t["connections"].size(), 1u);
  auto& c = t["connections"][0];
  for (auto key : {"tenant", "database", "cluster", "state", "lastUsed", "idleMs", "useCount",
                   "inflight", "ops", "errors"})
    EXPECT_TRUE(c.contains(key)) << key;
  EXPECT_EQ(c["tenant"], "org1");
  EXPECT_EQ(c["database"], "tenant_org1");
  EXPECT_EQ(c["cluster"], "default");
  EXPECT_EQ(c["state"], "active");
  EXPECT_TRUE(std::regex_match(c["lastUsed"].get<std::string>(),
                               std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"}));
  EXPECT_EQ(c["idleMs"], 12000);
  EXPECT_EQ(c["useCount"], 2);
  EXPECT_EQ(c["inflight"], 0);
  EXPECT_EQ(c["ops"], 2);
  EXPECT_EQ(c["errors"], 1);
  EXPECT_FALSE(c.contains("latency")); // details only
  ASSERT_EQ(s["clusters"].size(), 2u);
  for (auto name : {"default", "analytics"}) {
    auto& p = s["clusters"][name];
    for (auto key : {"open", "inUse", "idle", "waiters", "maxPoolSize", "minPoolSize",
                     "createdTotal", "closedTotal", "waitTimeoutsTotal"})
      EXPECT_TRUE(p.contains(key)) << name << "." << key;
  }
  EXPECT_EQ(s["clusters"]["default"]["maxPoolSize"], 10);
  ASSERT_EQ(r["recentMetrics"].size(), 10u); // the last 10 of 12
  for (auto key : {"timestamp", "totalConnections", "activeTenants", "inflight", "ops", "errors",
                   "p50Us", "p99Us", "waiters", "waitTimeouts"})
    EXPECT_TRUE(r["recentMetrics"][0].contains(key)) << key;
  EXPECT_TRUE(r["warnings"].is_array());
}

TEST_F(MetricsTest, DetailsAddPerTenantLatency) {
  start();
  for (int i = 0; i < 8; ++i)
    use("org1", 100us);
  use("org1", 3000us);
  use("org1", 3000us);
  auto r = details();
  auto& c = r["stats"]["tenantDbs"]["connections"][0];
  ASSERT_TRUE(c.contains("latency"));
  EXPECT_EQ(c["latency"]["count"], 10);
  EXPECT_EQ(c["latency"]["sumUs"], 6800);
  EXPECT_EQ(c["latency"]["maxUs"], 3000);
  EXPECT_EQ(c["latency"]["p50Us"], 128);  // upper bound of the log2 bucket [64, 128)
  EXPECT_EQ(c["latency"]["p99Us"], 3000); // bucket [2048, 4096) capped by the max
  EXPECT_TRUE(r.contains("recentMetrics"));
  EXPECT_TRUE(r.contains("warnings"));
}

TEST_F(MetricsTest, ConnectBackOffFiguresReachStatsAndPrometheus) {
  start();
  sample();
  auto& pool = (*pools)["default"];
  pool.connect_failures_total = 7;
  pool.backoff_rejections_total = 3;
  pool.backoff_ms = 400;
  sample();
  auto p = stats()["stats"]["clusters"]["default"];
  EXPECT_EQ(p["connectFailuresTotal"], 7);
  EXPECT_EQ(p["backoffRejectionsTotal"], 3);
  EXPECT_EQ(p["backoffMs"], 400);
  auto text = prometheus_text();
  EXPECT_NE(text.find("tenantrt_pool_connect_failures_total{cluster=\"default\"} 7"),
            std::string::npos) << text;
  EXPECT_NE(text.find("tenantrt_pool_backoff_rejections_total{cluster=\"default\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("tenantrt_pool_backoff_milliseconds{cluster=\"default\"} 400"),
            std::string::npos);
}

TEST_F(MetricsTest, PrometheusKeepsSeriesOnlyForTheTopTenantsByUse) {
  start(); // top 2
  for (int i = 0; i < 3; ++i)
    use("a");
  for (int i = 0; i < 2; ++i)
    use("b");
  use("c");
  sample();
  auto text = prometheus_text();
  EXPECT_NE(text.find("# HELP tenantrt_connections "), std::string::npos);
  EXPECT_NE(text.find("tenantrt_connections 2"), std::string::npos);
  EXPECT_NE(text.find("tenantrt_active_tenants 3"), std::string::npos);
  EXPECT_NE(text.find("tenantrt_operations_total 6"), std::string::npos);
  EXPECT_NE(text.find("tenantrt_pool_connections_open{cluster=\"default\"} 2"), std::string::npos);
  EXPECT_NE(text.find("tenantrt_tenant_use_count{tenant=\"a\"} 3"), std::string::npos);
  EXPECT_NE(text.find("tenantrt_tenant_use_count{tenant=\"b\"} 2"), std::string::npos);
  EXPECT_EQ(text.find("tenant=\"c\""), std::string::npos);
  EXPECT_NE(text.find("tenantrt_health{status=\"ok\"} 1"), std::string::npos);
  for (int i = 0; i < 5; ++i)
    use("c");
  sample();
  text = prometheus_text();
  EXPECT_NE(text.find("tenantrt_tenant_use_count{tenant=\"c\"} 6"), std::string::npos);
  EXPECT_NE(text.find("tenant=\"a\""), std::string::npos);
  EXPECT_EQ(text.find("tenant=\"b\""), std::string::npos); // dropped out: series removed
  EXPECT_NE(text.find("tenantrt_operations_total 11"), std::string::npos);
  // Every metric is ours and documented.
  std::regex sample_line{R"(^([a-z0-9_]+)[{ ])"};
  size_t start_of_line = 0;
  while (start_of_line < text.size()) {
    auto end = text.find('\n', start_of_line);
    auto line = text.substr(start_of_line, end - start_of_line);
    start_of_line = end == std::string::npos ? text.size() : end + 1;
    std::smatch m;
    if (line.empty() || line[0] == '#' || !std::regex_search(line, m, sample_line))
      continue;
    EXPECT_EQ(m[1].str().rfind("tenantrt_", 0), 0u) << line;
    auto family = m[1].str();
    EXPECT_NE(text.find("# HELP " + family + " "), std::string::npos) << family;
  }
}

TEST_F(MetricsTest, ReloadReschedulesSamplingAndTrimsHistory) {
  start();
  for (int i = 0; i < 5; ++i)
    sample();
  auto next = config;
  next.metrics.history_size = 3;
  next.metrics.sample_interval_ms = 3000;
  next.metrics.warn_total_connections = 1;
  caf::anon_send(metrics, reload_atom::value, next);
  run();
  EXPECT_EQ(history().size(), 3u);
  EXPECT_EQ(codes(health()).count("high_connection_count"), 1u); // 2 > 1 now
  (*pools)["default"].open = 7;
  advance(span(1s)); // the old timer: stale
  advance(span(1s));
  EXPECT_EQ(last_sample()["totalConnections"], 2);
  advance(span(1s)); // 3 s after the reload
  EXPECT_EQ(last_sample()["totalConnections"], 7);
  EXPECT_EQ(history().size(), 3u);
}

TEST_F(MetricsTest, DrainStopsSamplingAndQuits) {
  start();
  sample();
  caf::anon_send(metrics, drain_atom::value);
  run();
  auto after = ask<std::string>(metrics, history_atom::value, uint32_t{0});
  ASSERT_TRUE(after->error.has_value()); // the actor is gone
  advance(span(5s)); // nothing left to fire into
  EXPECT_TRUE(ask<std::string>(metrics, history_atom::value, uint32_t{0})->error.has_value());
}

TEST_F(MetricsTest, RepliesFailWithShuttingDownWhenTheRegistryIsGone) {
  start();
  sample();
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  run();
  auto reply = ask<std::string>(metrics, stats_atom::value);
  ASSERT_TRUE(reply->error.has_value());
  EXPECT_EQ(*reply->error, errc::shutting_down);
  sample(); // a sample without a registry is skipped, not fatal
  EXPECT_EQ(history(0).size(), 1u);
}

/// A port that was free a moment ago (bind to 0, read it, close).
int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// GET path over plain HTTP/1.0; empty when nothing listens.
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return {};
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  auto request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(fd, request.data(), request.size(), 0);
  // Read up to Content-Length: the server may keep the socket open a while.
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
    response.append(buf, static_cast<size_t>(n));
    auto head_end = response.find("\r\n\r\n");
    auto length_at = response.find("Content-Length: ");
    if (head_end != std::string::npos && length_at != std::string::npos && length_at < head_end
        && response.size() - head_end - 4 >= std::stoul(response.substr(length_at + 16)))
      break;
  }
  ::close(fd);
  return response;
}

TEST_F(MetricsTest, HttpListenServesGetMetricsOnLoopbackUntilDrain) {
  auto port = free_loopback_port();
  config.metrics.http_listen = "127.0.0.1:" + std::to_string(port);
  start();
  use("org1");
  sample();
  auto response = http_get(port, "/metrics");
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_NE(response.find("tenantrt_tenant_use_count{tenant=\"org1\"} 1"), std::string::npos)
    << response;
  caf::anon_send(metrics, drain_atom::value);
  run();
  EXPECT_EQ(http_get(port, "/metrics"), ""); // closed with the actor
}

TEST_F(MetricsTest, HttpListenRefusesANonLoopbackAddress) {
  auto port = free_loopback_port();
  config.metrics.http_listen = "0.0.0.0:" + std::to_string(port);
  start();
  EXPECT_EQ(http_get(port, "/metrics"), "");
  EXPECT_EQ(health()["status"], "ok"); // the actor itself works
}

} // namespace
} // namespace tenantrt
