// The semantic checks behind validate() (config/config_checks.hpp), one rule
// each: what must exist, limits, URIs, names and addresses, and that
// validate() changes nothing.
#include "config/config_loader.hpp"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/config_problems.hpp"

namespace tenantrt {
namespace {

using namespace config_testing;

// -- semantic checks, one rule each -------------------------------------------------------

TEST(ConfigLoader, RequiresAtLeastOneCluster) {
  expect_single_problem(problems_of(R"({"clusters": {}})"), "clusters",
                        "at least one cluster is required");
}

TEST(ConfigLoader, DefaultClusterMustExist) {
  runtime_config cfg;
  cfg.default_cluster = "eu";
  expect_single_problem(cfg, "default_cluster", "names cluster \"eu\", which is not configured");
}

TEST(ConfigLoader, MainClusterMustExistWhenSet) {
  runtime_config cfg;
  cfg.main_cluster = "";
  EXPECT_TRUE(validate(cfg).empty());
  cfg.main_cluster = "shared";
  expect_single_problem(cfg, "main_cluster", "\"shared\"");
}

TEST(ConfigLoader, RoutingTargetsMustExist) {
  runtime_config cfg;
  cfg.routing.exact["org42"] = "analytics";
  cfg.routing.prefix["eu-"] = "eu";
  auto problems = validate(cfg);
  ASSERT_EQ(problems.size(), 2u) << listed(problems);
  EXPECT_EQ(problems[0].path, "routing.exact.org42");
  EXPECT_TRUE(contains(problems[0].reason, "\"analytics\""));
  EXPECT_EQ(problems[1].path, "routing.prefix.eu-");
}

TEST(ConfigLoader, UriProblemsAreReportedAtTheClustersUriWithoutThePassword) {
  // The rules themselves (scheme, hosts, srv) are uri_problem's: uri_test.cpp.
  runtime_config cfg;
  cfg.clusters["default"].uri = "";
  expect_single_problem(cfg, "clusters.default.uri", "must not be empty");
  cfg.clusters["default"].uri = "mongodb+srv://admin:hunter2@h:1";
  expect_single_problem(cfg, "clusters.default.uri", "mongodb+srv://admin:***@h:1");
  EXPECT_TRUE(lacks(validate(cfg)[0].reason, "hunter2"));
  cfg.clusters["eu.west"] = cfg.clusters["default"];
  cfg.clusters["eu.west"].name = "eu.west";
  cfg.clusters["default"].uri = "mongodb://h";
  cfg.clusters["eu.west"].uri = "http://h";
  expect_single_problem(cfg, "clusters[\"eu.west\"].uri", "must start with mongodb://");
}

TEST(ConfigLoader, MaxPoolSizeMustBeAtLeastOne) {
  runtime_config cfg;
  cfg.clusters["default"].pool.max_pool_size = 0;
  cfg.clusters["default"].pool.min_pool_size = 0;
  expect_single_problem(cfg, "clusters.default.max_pool_size", "must be at least 1, got 0");
}

TEST(ConfigLoader, MinPoolSizeMustNotExceedMax) {
  runtime_config cfg;
  cfg.clusters["default"].pool.min_pool_size = 11;
  expect_single_problem(cfg, "clusters.default.min_pool_size",
                        "must not exceed max_pool_size (10)");
  cfg.clusters["default"].pool.min_pool_size = 10;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, PoolTimeoutsMustBePositive) {
  for (auto key : {"max_idle_time_ms", "wait_queue_timeout_ms", "socket_timeout_ms",
                   "server_selection_timeout_ms", "connect_timeout_ms"}) {
    auto text
      = std::string{R"({"clusters": {"c": {")"} + key + R"(": 0}}, "default_cluster": "c"})";
    expect_single_problem(problems_of(text), std::string{"clusters.c."} + key,
                          "must be at least 1");
  }
}

TEST(ConfigLoader, MaxTenantConnectionsMustBeAtLeastOne) {
  runtime_config cfg;
  cfg.registry.max_tenant_connections = 0;
  expect_single_problem(cfg, "registry.max_tenant_connections", "must be at least 1, got 0");
}

TEST(ConfigLoader, CleanupIntervalMustBeAtLeast100Ms) {
  runtime_config cfg;
  cfg.registry.cleanup_interval_ms = 99;
  expect_single_problem(cfg, "registry.cleanup_interval_ms", "must be at least 100, got 99");
  cfg.registry.cleanup_interval_ms = 100;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, IdleTimeoutMustBeAtLeastOneMs) {
  runtime_config cfg;
  cfg.registry.idle_timeout_ms = 0;
  expect_single_problem(cfg, "registry.idle_timeout_ms", "must be at least 1");
}

TEST(ConfigLoader, RegistryTimersMustBePositive) {
  for (auto key : {"wait_queue_timeout_ms", "main_ping_interval_ms"}) {
    auto text = std::string{R"({"registry": {")"} + key + R"(": 0}})";
    expect_single_problem(problems_of(text), std::string{"registry."} + key, "must be at least 1");
  }
  expect_single_problem(problems_of(R"({"pool_maintenance_interval_ms": 0})"),
                        "pool_maintenance_interval_ms", "must be at least 1");
}

TEST(ConfigLoader, QuarantineBackoffMustBeConsistent) {
  runtime_config cfg;
  cfg.registry.quarantine.max_backoff_ms = 1000;
  expect_single_problem(cfg, "registry.quarantine.max_backoff_ms",
                        "must be at least backoff_ms (30000)");
  cfg = runtime_config{};
  cfg.registry.quarantine.crash_window_ms = 0;
  expect_single_problem(cfg, "registry.quarantine.crash_window_ms", "must be at least 1");
}

TEST(ConfigLoader, ExecutorThreadsMustBeBetween1And1024) {
  runtime_config cfg;
  cfg.executor.threads = 0;
  expect_single_problem(cfg, "executor.threads", "must be at least 1, got 0");
  cfg.executor.threads = 1025;
  expect_single_problem(cfg, "executor.threads", "must be at most 1024, got 1025");
  cfg.executor.threads = 1024;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ExecutorMaxQueueMustBeAtLeastOne) {
  runtime_config cfg;
  cfg.executor.max_queue = 0;
  expect_single_problem(cfg, "executor.max_queue", "must be at least 1");
}

TEST(ConfigLoader, SchedulerThreadsAtMost1024) {
  runtime_config cfg;
  cfg.scheduler.threads = 5000;
  expect_single_problem(cfg, "scheduler.threads", "must be at most 1024");
}

TEST(ConfigLoader, LogLevelMustBeKnown) {
  runtime_config cfg;
  for (auto level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    cfg.logging.level = level;
    EXPECT_TRUE(validate(cfg).empty()) << level;
  }
  for (auto level : {"", "INFO", "warning", "verbose"}) {
    cfg.logging.level = level;
    expect_single_problem(cfg, "logging.level", "is not a log level");
  }
}

TEST(ConfigLoader, ProblemsQuoteValuesPrintablyAndShort) {
  runtime_config cfg;
  cfg.logging.level = "loud\n\xC3\xA9";
  expect_single_problem(cfg, "logging.level", "\"loud\\x0A\\xC3\\xA9\" is not a log level");
  cfg.logging.level = std::string(200, 'v');
  expect_single_problem(cfg, "logging.level",
                        "\"" + std::string(64, 'v') + "...\" (200 bytes) is not a log level");
  cfg = runtime_config{};
  cfg.metrics.http_listen = "0.0.0.0:9464\x01";
  expect_single_problem(cfg, "metrics.http_listen", "\"0.0.0.0:9464\\x01\"");
}

TEST(ConfigLoader, DatabaseTemplateNeedsIdExactlyOnce) {
  runtime_config cfg;
  cfg.database_template = "tenants";
  expect_single_problem(cfg, "database_template", "has none");
  cfg.database_template = "{id}_{id}";
  expect_single_problem(cfg, "database_template", "has it 2 times");
  cfg.database_template = "{id}";
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, DatabaseTemplateMustYieldValidNamesAndSaysWhichCharacter) {
  runtime_config cfg;
  for (auto [database_template, what] :
       std::vector<std::pair<std::string, std::string>>{{"tenant.{id}", "'.' at position 6"},
                                                        {"t/{id}", "'/' at position 1"},
                                                        {"t {id}", "' ' at position 1"},
                                                        {"t${id}", "'$'"},
                                                        {"t*{id}", "'*'"},
                                                        {"t<{id}", "'<'"},
                                                        {"t>{id}", "'>'"},
                                                        {"t:{id}", "':'"},
                                                        {"t|{id}", "'|'"},
                                                        {"t?{id}", "'?'"},
                                                        {"t\"{id}", "'\"'"},
                                                        {"t\\{id}", "'\\'"},
                                                        {std::string{"t\0{id}", 6}, "byte 0x00"}}) {
    cfg.database_template = database_template;
    expect_single_problem(cfg, "database_template", what);
  }
}

TEST(ConfigLoader, DatabaseTemplateMustLeaveRoomForAnId) {
  runtime_config cfg;
  cfg.database_template = std::string(62, 'd') + "{id}"; // 63 bytes with a 1-character id
  EXPECT_TRUE(validate(cfg).empty());
  cfg.database_template = std::string(63, 'd') + "{id}";
  expect_single_problem(cfg, "database_template", "64 bytes; MongoDB allows at most 63");
}

TEST(ConfigLoader, MainDatabaseMustBeAValidUnreservedName) {
  runtime_config cfg;
  for (auto [name, what] :
       std::vector<std::pair<std::string, std::string>>{{"admin", "reserved"},
                                                        {"Local", "reserved"},
                                                        {"config", "reserved"},
                                                        {"my.db", "'.'"},
                                                        {"", "empty"},
                                                        {std::string(64, 'm'), "at most 63"}}) {
    cfg.main_database = name;
    expect_single_problem(cfg, "main_database", what);
  }
}

TEST(ConfigLoader, RoutingExactKeysMustBeValidTenantIds) {
  runtime_config cfg;
  cfg.routing.exact["org.42"] = "default";
  expect_single_problem(cfg, "routing.exact[\"org.42\"]", "contains '.' at position 3");
}

TEST(ConfigLoader, RoutingPrefixKeysMustBeNonEmptyTenantIdCharacters) {
  runtime_config cfg;
  cfg.routing.prefix[""] = "default";
  expect_single_problem(cfg, "routing.prefix[\"\"]", "empty prefix would match every tenant");
  cfg.routing.prefix.clear();
  cfg.routing.prefix["eu/"] = "default";
  expect_single_problem(cfg, "routing.prefix[\"eu/\"]", "'/'");
  cfg.routing.prefix.clear();
  cfg.routing.prefix["eu-"] = "default";
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ControlListenNeedsAtLeastOneAddress) {
  expect_single_problem(problems_of(R"({"control": {"listen": []}})"), "control.listen",
                        "at least one address is required");
}

TEST(ConfigLoader, ControlUnixPathMustBeAbsoluteAndFitSunPath) {
  runtime_config cfg;
  cfg.control.listen = {"unix:"};
  expect_single_problem(cfg, "control.listen[0]", "names no socket path");
  cfg.control.listen = {"unix:run/t.sock"};
  expect_single_problem(cfg, "control.listen[0]", "absolute");
  cfg.control.listen = {"unix:" + std::string{"/t\0x", 4}};
  expect_single_problem(cfg, "control.listen[0]", "NUL");
  cfg.control.listen = {"unix:/" + std::string(106, 's')}; // 107 bytes + NUL = sun_path
  EXPECT_TRUE(validate(cfg).empty()) << listed(validate(cfg));
  cfg.control.listen = {"unix:/" + std::string(107, 's')};
  expect_single_problem(cfg, "control.listen[0]", "socket path of 108 bytes; at most 107");
}

TEST(ConfigLoader, ControlHostPortNeedsAPortFrom1To65535) {
  runtime_config cfg;
  for (auto address : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                       "127.0.0.1:http", "127.0.0.1:+80", "127.0.0.1:000080", "[::1]"}) {
    cfg.control.listen = {address};
    auto problems = validate(cfg);
    ASSERT_EQ(problems.size(), 1u) << address << "\n" << listed(problems);
    EXPECT_EQ(problems[0].path, "control.listen[0]");
    EXPECT_TRUE(contains(problems[0].reason, "port")) << address;
  }
  for (auto address : {"127.0.0.1:1", "127.0.0.1:65535", "[::1]:7070"}) {
    cfg.control.listen = {address};
    EXPECT_TRUE(validate(cfg).empty()) << address << "\n" << listed(validate(cfg));
  }
}

TEST(ConfigLoader, ControlHostMustBeIpv4LocalhostOrBracketedIpv6) {
  runtime_config cfg;
  cfg.control.token = "0123456789abcdef"; // so only the host's form is judged
  for (auto [address, what] : std::vector<std::pair<std::string, std::string>>{
         {":7070", "has no host"},
         {"example.com:7070", "names are not resolved"},
         {"LOCALHOST:7070", "names are not resolved"},
         {"256.0.0.1:7070", "IPv4 address"},
         {"127.0.0:7070", "IPv4 address"},
         {"127.0.0.01:7070", "IPv4 address"},
         {"::1:7070", "in brackets"},
         {"[::1:7070", "without a closing ']'"},
         {"[zz::1]:7070", "no valid IPv6"},
         {"[]:7070", "no valid IPv6"},
         {"tcp://127.0.0.1:7070", "without a scheme or path"}}) {
    cfg.control.listen = {address};
    expect_single_problem(cfg, "control.listen[0]", what);
  }
  for (auto address : {"0.0.0.0:7070", "10.1.2.3:7070", "localhost:7070", "[::]:7070",
                       "[fe80::1]:7070", "unix:/run/t.sock"}) {
    cfg.control.listen = {address};
    EXPECT_TRUE(validate(cfg).empty()) << address << "\n" << listed(validate(cfg));
  }
}

TEST(ConfigLoader, NonLoopbackControlAddressNeedsAToken) {
  runtime_config cfg;
  for (auto address : {"0.0.0.0:7070", "10.1.2.3:7070", "128.0.0.1:7070", "[::]:7070",
                       "[::ffff:127.0.0.1]:7070", "[2001:db8::1]:7070"}) {
    cfg.control.listen = {"unix:/run/t.sock", address};
    expect_single_problem(cfg, "control.listen[1]",
                          "a non-loopback control address needs control.token");
  }
  // Loopback (any 127.x, localhost, [::1]) and unix sockets need none.
  cfg.control.listen = {"127.0.0.1:1", "127.255.3.4:2", "localhost:3", "[::1]:4",
                        "[0:0:0:0:0:0:0:1]:5", "unix:/run/t.sock"};
  EXPECT_TRUE(validate(cfg).empty()) << listed(validate(cfg));
  cfg.control.listen = {"0.0.0.0:7070"};
  cfg.control.token = "0123456789abcdef";
  EXPECT_TRUE(validate(cfg).empty()) << listed(validate(cfg));
}

TEST(ConfigLoader, ControlTokenNeedsAtLeast16CharactersWhenSet) {
  runtime_config cfg;
  cfg.control.token = std::string(15, 't');
  expect_single_problem(cfg, "control.token", "must be at least 16 characters when set, got 15");
  cfg.control.token = std::string(16, 't');
  EXPECT_TRUE(validate(cfg).empty());
  cfg.control.token = "";
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ControlMaxLineBytesBetween1024And16MiB) {
  runtime_config cfg;
  cfg.control.max_line_bytes = 1023;
  expect_single_problem(cfg, "control.max_line_bytes", "must be at least 1024, got 1023");
  cfg.control.max_line_bytes = 16777217;
  expect_single_problem(cfg, "control.max_line_bytes", "must be at most 16777216");
  for (uint32_t bytes : {1024u, 16777216u}) {
    cfg.control.max_line_bytes = bytes;
    EXPECT_TRUE(validate(cfg).empty()) << bytes;
  }
}

TEST(ConfigLoader, ControlMaxClientsBetween1And65536) {
  runtime_config cfg;
  cfg.control.max_clients = 0;
  expect_single_problem(cfg, "control.max_clients", "must be at least 1, got 0");
  cfg.control.max_clients = 65537;
  expect_single_problem(cfg, "control.max_clients", "must be at most 65536");
  cfg.control.max_clients = 65536;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ControlClientIdleTimeoutIsZeroOrBetween1000And86400000) {
  runtime_config cfg;
  cfg.control.client_idle_timeout_ms = 999;
  expect_single_problem(cfg, "control.client_idle_timeout_ms",
                        "must be 0 (no idle timeout) or at least 1000 ms, got 999");
  cfg.control.client_idle_timeout_ms = 1;
  expect_single_problem(cfg, "control.client_idle_timeout_ms", "at least 1000 ms, got 1");
  cfg.control.client_idle_timeout_ms = 86400001;
  expect_single_problem(cfg, "control.client_idle_timeout_ms",
                        "must be at most 86400000 ms (one day; use 0 for no idle timeout), got "
                        "86400001");
  cfg.control.client_idle_timeout_ms = 4294967295u;
  expect_single_problem(cfg, "control.client_idle_timeout_ms", "must be at most 86400000 ms");
  for (uint32_t ms : {0u, 1000u, 300000u, 86400000u}) {
    cfg.control.client_idle_timeout_ms = ms;
    EXPECT_TRUE(validate(cfg).empty()) << ms << "\n" << listed(validate(cfg));
  }
  // The same through the file, with the key's full path.
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": 999}})"),
                        "control.client_idle_timeout_ms", "or at least 1000 ms, got 999");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": 86400001}})"),
                        "control.client_idle_timeout_ms", "must be at most 86400000 ms");
  EXPECT_EQ(parse(R"({"control": {"client_idle_timeout_ms": 0}})").control.client_idle_timeout_ms,
            0u);
}

TEST(ConfigLoader, ControlClientIdleTimeoutRejectsOtherTypes) {
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": "5m"}})"),
                        "control.client_idle_timeout_ms", "expected unsigned integer, got string");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": 1500.5}})"),
                        "control.client_idle_timeout_ms",
                        "expected unsigned integer, got floating-point number 1500.5");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": -1}})"),
                        "control.client_idle_timeout_ms", "must not be negative, got -1");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": null}})"),
                        "control.client_idle_timeout_ms", "expected unsigned integer, got null");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": false}})"),
                        "control.client_idle_timeout_ms", "expected unsigned integer, got boolean");
}

TEST(ConfigLoader, MetricsSampleIntervalAtLeast100Ms) {
  runtime_config cfg;
  cfg.metrics.sample_interval_ms = 99;
  expect_single_problem(cfg, "metrics.sample_interval_ms", "must be at least 100, got 99");
  cfg.metrics.sample_interval_ms = 100;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, MetricsHistorySizeBetween1And100000) {
  runtime_config cfg;
  cfg.metrics.history_size = 0;
  expect_single_problem(cfg, "metrics.history_size", "must be at least 1, got 0");
  cfg.metrics.history_size = 100001;
  expect_single_problem(cfg, "metrics.history_size", "must be at most 100000");
  cfg.metrics.history_size = 100000;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, MetricsWarnTenantLimitPercentBetween1And100) {
  runtime_config cfg;
  cfg.metrics.warn_tenant_limit_percent = 0;
  expect_single_problem(cfg, "metrics.warn_tenant_limit_percent", "must be at least 1, got 0");
  cfg.metrics.warn_tenant_limit_percent = 101;
  expect_single_problem(cfg, "metrics.warn_tenant_limit_percent", "must be at most 100, got 101");
  cfg.metrics.warn_tenant_limit_percent = 100;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, MetricsHttpListenIsEmptyOrALoopbackHostPort) {
  runtime_config cfg;
  for (auto address : {"", "127.0.0.1:9464", "127.1.2.3:9464", "localhost:9464", "[::1]:9464"}) {
    cfg.metrics.http_listen = address;
    EXPECT_TRUE(validate(cfg).empty()) << address << "\n" << listed(validate(cfg));
  }
  cfg.control.token = "0123456789abcdef"; // a control token does not open /metrics up
  for (auto [address, what] : std::vector<std::pair<std::string, std::string>>{
         {"0.0.0.0:9464", "must use a loopback host"},
         {"10.0.0.5:9464", "must use a loopback host"},
         {"[::]:9464", "must use a loopback host"},
         {"9464", "has no port"},
         {"127.0.0.1:0", "port from 1 to 65535"},
         {"metrics.internal:9464", "names are not resolved"},
         {"unix:/run/metrics.sock", "TCP only"}}) {
    cfg.metrics.http_listen = address;
    expect_single_problem(cfg, "metrics.http_listen", what);
  }
}

TEST(ConfigLoader, ShutdownDrainTimeoutAtLeastOneMs) {
  expect_single_problem(problems_of(R"({"shutdown": {"drain_timeout_ms": 0}})"),
                        "shutdown.drain_timeout_ms", "must be at least 1, got 0");
}

TEST(ConfigLoader, ValidateChangesNothing) {
  runtime_config cfg;
  cfg.executor.threads = 0;
  cfg.logging.level = "LOUD";
  auto before = to_json(cfg, redaction::reveal_secrets);
  EXPECT_EQ(validate(cfg).size(), 2u);
  EXPECT_EQ(to_json(cfg, redaction::reveal_secrets), before);
}

} // namespace
} // namespace tenantrt
