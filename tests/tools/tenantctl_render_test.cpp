// tenantctl's rendering and exit statuses, without a daemon: replies shaped
// like the control socket's contract go in, text and statuses come out.

#include "tools/tenantctl_render.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

using namespace tenantrt::ctl;
using nlohmann::json;

json sample_stats_reply() {
  return json::parse(R"({
    "id": 1, "ok": true, "timestamp": "2024-05-01T12:00:00.123Z",
    "stats": {
      "totalConnections": 4,
      "mainDb": {"name": "main", "state": "connected"},
      "tenantDbs": {
        "activeConnections": 2, "maxConnections": 50, "registeredTenants": 2,
        "connections": [
          {"tenant": "acme", "database": "tenant_acme", "cluster": "default", "state": "active",
           "lastUsed": "2024-05-01T11:59:59.000Z", "idleMs": 1234, "useCount": 12, "inflight": 0,
           "ops": 12, "errors": 0},
          {"tenant": "globex-long-name", "database": "tenant_globex-long-name",
           "cluster": "default", "state": "draining", "lastUsed": "2024-05-01T11:55:00.000Z",
           "idleMs": 300000, "useCount": 3, "inflight": 2, "ops": 1, "errors": 1}
        ]
      },
      "clusters": {"default": {"open": 4, "inUse": 1, "idle": 3, "waiters": 0,
                               "maxPoolSize": 10, "minPoolSize": 2, "createdTotal": 5,
                               "closedTotal": 1, "waitTimeoutsTotal": 0}}
    },
    "recentMetrics": [{"timestamp": "2024-05-01T11:59:50.000Z", "totalConnections": 2},
                      {"timestamp": "2024-05-01T12:00:00.000Z", "totalConnections": 4}],
    "warnings": []
  })");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

TEST(SocketAddressTest, ParsesTcpUnixAndBracketedIpv6) {
  std::string error;
  auto tcp = parse_socket_address("127.0.0.1:7070", &error);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->kind, socket_address::family::tcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 7070);
  auto unix_socket = parse_socket_address("unix:/run/tenantrt/control.sock", &error);
  ASSERT_TRUE(unix_socket);
  EXPECT_EQ(unix_socket->kind, socket_address::family::unix_path);
  EXPECT_EQ(unix_socket->path, "/run/tenantrt/control.sock");
  auto v6 = parse_socket_address("[::1]:7070", &error);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:7070");
}

TEST(SocketAddressTest, RejectsUnusableAddressesWithAReason) {
  for (const char* bad : {"7070", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", ":7070",
                          "unix:", "::1:7070", "host:port"}) {
    std::string error;
    EXPECT_FALSE(parse_socket_address(bad, &error)) << bad;
    EXPECT_NE(error.find(bad), std::string::npos) << error;
  }
}

TEST(ExitStatusTest, MapsRepliesToZeroOneForScripts) {
  EXPECT_EQ(exit_status_of("stats", json{{"ok", true}}), exit_status::ok);
  EXPECT_EQ(exit_status_of("exec", json{{"ok", false}, {"error", {{"code", "timeout"}}}}),
            exit_status::failed);
  EXPECT_EQ(exit_status_of("health", json{{"ok", true}, {"status", "ok"}}), exit_status::ok);
  EXPECT_EQ(exit_status_of("health", json{{"ok", true}, {"status", "degraded"}}),
            exit_status::failed);
  EXPECT_EQ(exit_status_of("health", json{{"ok", true}, {"status", "down"}}),
            exit_status::failed);
  EXPECT_EQ(exit_status_of("stats", json::parse("[1,2]")), exit_status::failed);
  EXPECT_EQ(exit_status_of("stats", json{}), exit_status::failed);
  EXPECT_EQ(static_cast<int>(exit_status::unreachable), 2);
}

TEST(RenderStatsTest, ShowsTenantTableTotalsPoolsChartAndNoWarnings) {
  auto text = render_stats(sample_stats_reply(), render_options{});
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "no colour unless asked";
  EXPECT_NE(text.find("main database  main (connected)"), std::string::npos) << text;
  EXPECT_NE(text.find("tenants        2 active of 50, 2 registered"), std::string::npos);
  EXPECT_NE(text.find("connections    4 physical"), std::string::npos);
  auto lines = lines_of(text);
  auto header = std::find_if(lines.begin(), lines.end(),
                             [](auto& l) { return l.rfind("TENANT", 0) == 0; });
  ASSERT_NE(header, lines.end()) << text;
  EXPECT_NE(header->find("STATE"), std::string::npos);
  EXPECT_NE(header->find("IN-FLIGHT"), std::string::npos);
  // Every data row lines up with the header: "USES" ends where the numbers end.
  auto uses_end = header->find("USES") + 4;
  EXPECT_EQ((header + 1)->substr(uses_end - 2, 2), "12") << *(header + 1);
  EXPECT_EQ((header + 2)->substr(uses_end - 1, 1), "3") << *(header + 2);
  EXPECT_NE((header + 1)->find("1.2s"), std::string::npos);
  EXPECT_NE((header + 2)->find("5m00s"), std::string::npos);
  EXPECT_NE(text.find("total (2)"), std::string::npos);
  EXPECT_NE(text.find("WAIT TIMEOUTS"), std::string::npos);
  EXPECT_NE(text.find("connections  \u2585\u2588  now 4, min 2, max 4 (last 2 samples)"),
            std::string::npos)
    << text;
  EXPECT_NE(text.find("warnings: none"), std::string::npos);
}

TEST(RenderStatsTest, HighlightsWarningsOnlyWithColour) {
  auto reply = sample_stats_reply();
  reply["warnings"] = json::parse(R"([{"code": "high_connection_count",
    "message": "35 physical connections", "value": 35, "threshold": 30}])");
  auto plain = render_stats(reply, render_options{});
  EXPECT_NE(plain.find("WARN high_connection_count: 35 physical connections (value 35, "
                       "threshold 30)"),
            std::string::npos)
    << plain;
  render_options colour;
  colour.color = true;
  auto colored = render_stats(reply, colour);
  EXPECT_NE(colored.find("\x1b[1;33mWARN\x1b[0m"), std::string::npos);
}

TEST(RenderStatsTest, DetailsAddLatencyColumns) {
  auto reply = sample_stats_reply();
  reply["stats"]["tenantDbs"]["connections"][0]["latency"] = {
    {"count", 4}, {"sumUs", 4000}, {"maxUs", 2500}, {"p50Us", 512}, {"p99Us", 2048}};
  reply["stats"]["tenantDbs"]["connections"][1]["latency"] = {
    {"count", 0}, {"sumUs", 0}, {"maxUs", 0}, {"p50Us", 0}, {"p99Us", 0}};
  auto lines = lines_of(render_stats(reply, render_options{}));
  auto header = std::find_if(lines.begin(), lines.end(),
                             [](auto& l) { return l.rfind("TENANT", 0) == 0; });
  ASSERT_NE(header, lines.end());
  EXPECT_NE(header->find("P50    P99    MAX   MEAN"), std::string::npos) << *header;
  EXPECT_NE((header + 1)->find("512us  2.0ms  2.5ms  1.0ms"), std::string::npos) << *(header + 1);
  // A tenant without operations has no latency, not "0us".
  EXPECT_NE((header + 2)->find("-      -      -      -"), std::string::npos) << *(header + 2);
}

TEST(RenderStatsTest, ShowsHealthWhenTheReplyCarriesIt) {
  auto reply = sample_stats_reply();
  reply["status"] = "degraded";
  EXPECT_NE(render_stats(reply, render_options{}).find("  health         degraded\n"),
            std::string::npos);
}

TEST(RenderStatsTest, MissingFieldsRenderAsDashesNotFailures) {
  auto text = render_stats(json{{"ok", true}}, render_options{});
  EXPECT_NE(text.find("no active tenants"), std::string::npos) << text;
  EXPECT_NE(text.find("main database  - (-)"), std::string::npos) << text;
}

TEST(RenderHistoryTest, BarsScaleWithTotalConnections) {
  auto reply = json::parse(R"({"ok": true, "samples": [
    {"timestamp": "2024-05-01T12:00:00.000Z", "totalConnections": 2, "activeTenants": 1,
     "inflight": 0, "ops": 10, "errors": 0, "p50Us": 300, "p99Us": 900, "waiters": 0,
     "waitTimeouts": 0},
    {"timestamp": "2024-05-01T12:00:10.000Z", "totalConnections": 4, "activeTenants": 2,
     "inflight": 1, "ops": 20, "errors": 1, "p50Us": 400, "p99Us": 1500, "waiters": 0,
     "waitTimeouts": 0}]})");
  render_options options;
  options.chart_width = 8;
  auto lines = lines_of(render_history(reply, options));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_NE(lines[1].find("12:00:00"), std::string::npos);
  std::string half, full;
  for (int i = 0; i < 4; ++i)
    half += "\u2588";
  full = half + half;
  EXPECT_EQ(lines[1].substr(lines[1].size() - half.size()), half) << lines[1];
  EXPECT_EQ(lines[2].substr(lines[2].size() - full.size()), full) << lines[2];
  EXPECT_NE(lines[2].find("1.5ms"), std::string::npos);
  EXPECT_NE(render_history(json{{"ok", true}, {"samples", json::array()}}, options)
              .find("no samples yet"),
            std::string::npos);
}

TEST(RenderReplyTest, SmallCommandsReadAsSentences) {
  render_options options;
  EXPECT_EQ(render_reply("cleanup", json{{"reaped", 2}, {"tenants", {"a", "b"}}}, options),
            "reaped 2 idle tenants: a, b\n");
  EXPECT_EQ(render_reply("cleanup", json{{"reaped", 0}, {"tenants", json::array()}}, options),
            "reaped 0 idle tenants\n");
  EXPECT_EQ(render_reply("evict", json{{"evicted", true}, {"tenant", "acme"}}, options),
            "tenant acme evicted\n");
  EXPECT_EQ(render_reply("evict", json{{"evicted", false}}, options),
            "tenant was not active; nothing evicted\n");
  EXPECT_EQ(render_reply("reload",
                         json{{"applied", {"registry.max_tenant_connections"}},
                              {"needsRestart", {"control.listen"}}},
                         options),
            "applied: registry.max_tenant_connections\n"
            "needs restart (running value kept): control.listen\n");
  EXPECT_EQ(render_reply("reload", json{{"applied", json::array()}, {"needsRestart", json::array()}},
                         options),
            "reloaded: no changes\n");
  EXPECT_EQ(render_reply("metrics", json{{"text", "tenantrt_up 1\n"}}, options), "tenantrt_up 1\n");
  EXPECT_EQ(render_reply("health", json{{"status", "ok"}, {"warnings", json::array()}}, options),
            "health: ok\nwarnings: none\n");
  EXPECT_NE(render_reply("exec", json{{"reply", {{"n", 1}, {"ok", 1.0}}}}, options).find("\"n\": 1"),
            std::string::npos);
}

TEST(RenderReplyTest, ErrorsNameCodeAndMessage) {
  auto reply = json::parse(R"({"id": 3, "ok": false, "error": {"code": "tenant_limit_reached",
    "message": "50 tenants active"}})");
  EXPECT_EQ(render_error(reply, render_options{}),
            "error tenant_limit_reached: 50 tenants active\n");
}

} // namespace
