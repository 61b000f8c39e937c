// tenantload's outputs: the --report JSON carries every figure, the --plot
// SVG is well-formed with one line per mode, axes and a legend, and the
// table names every mode.

#include <gtest/gtest.h>

#include <regex>
#include <stack>

#include "tools/tenantload/load_report.hpp"
#include "tools/tenantload/svg_chart.hpp"

namespace tenantrt::load {
namespace {

mode_result sample_mode(const std::string& name, uint32_t connections, uint64_t latency_us) {
  mode_result m;
  m.mode = name;
  m.wall_s = 3;
  m.load_s = 2;
  m.client_cpu_s = 0.5;
  m.connection_cap = 10;
  m.connection_floor = 2;
  m.client_rss_peak_kb = 20480;
  phase_result load;
  load.name = "load";
  load.start_s = 0;
  load.end_s = 2;
  for (int i = 0; i < 100; ++i) {
    load.figures.latency.record(latency_us * 1000);
    // Scheduled sends went out late by up to 99 us: the corrected latency.
    load.figures.corrected_latency.record((latency_us + static_cast<uint64_t>(i)) * 1000);
  }
  load.figures.ops = 100;
  load.figures.skipped_sends = 3;
  load.figures.errors["pool_wait_timeout"] = 2;
  phase_result idle;
  idle.name = "idle";
  idle.idle = true;
  idle.start_s = 2;
  idle.end_s = 3;
  idle.reach_min_ms = 700;
  m.phases = {load, idle};
  for (auto& p : m.phases)
    m.figures.merge(p.figures);
  for (int i = 1; i <= 30; ++i)
    m.samples.push_back({i * 0.1, i < 20 ? connections : 2, i < 20 ? 4 : 0});
  m.windows = {{1, 50, 1, double(latency_us), double(latency_us) * 2, connections},
               {2, 50, 1, double(latency_us), double(latency_us) * 3, connections},
               {3, 0, 0, 0, 0, 2}};
  m.connections_peak = connections;
  m.connections_mean = 5.5;
  return m;
}

run_report sample_report() {
  run_report r;
  r.scenario = "smoke";
  r.started_at = "2026-11-27T07:00:00Z";
  r.server = "mongodb://user:***@127.0.0.1:27017/";
  r.server_port = 27017;
  r.machine = read_machine_info();
  r.modes = {sample_mode("runtime", 10, 300), sample_mode("pool-per-tenant", 400, 250)};
  r.modes.back().daemon_cpu_s = 0.25;
  mode_result failed;
  failed.mode = "daemon";
  failed.failure = "tenantrtd not found";
  r.modes.push_back(failed);
  return r;
}

/// Tags balance (open/close nest, self-closing skipped); false with a reason.
::testing::AssertionResult well_formed(const std::string& xml) {
  std::stack<std::string> open;
  std::regex tag{R"(<(/?)([A-Za-z_][\w:.-]*)([^>]*?)(/?)>)"};
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), tag); it != std::sregex_iterator();
       ++it) {
    auto& m = *it;
    std::string name = m[2];
    if (!m[4].str().empty())
      continue; // <x/>
    if (m[1].str().empty()) {
      open.push(name);
    } else {
      if (open.empty() || open.top() != name)
        return ::testing::AssertionFailure() << "unbalanced </" << name << ">";
      open.pop();
    }
  }
  if (!open.empty())
    return ::testing::AssertionFailure() << "unclosed <" << open.top() << ">";
  return ::testing::AssertionSuccess();
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

TEST(TenantloadReportTest, JsonCarriesEveryFigure) {
  auto j = to_json(sample_report());
  EXPECT_EQ(j["tool"], "tenantload");
  EXPECT_EQ(j["scenario"], "smoke");
  EXPECT_GT(j["machine"]["cpus"].get<unsigned>(), 0u);
  ASSERT_EQ(j["modes"].size(), 3u);
  auto& m = j["modes"][0];
  EXPECT_EQ(m["mode"], "runtime");
  EXPECT_EQ(m["ops"], 100);
  EXPECT_EQ(m["errors"]["pool_wait_timeout"], 2);
  EXPECT_EQ(m["error_total"], 2);
  EXPECT_DOUBLE_EQ(m["throughput_ops_s"].get<double>(), 50);
  for (const char* key : {"p50_us", "p95_us", "p99_us", "max_us", "mean_us"})
    EXPECT_NEAR(m["latency"][key].get<double>(), 300, 300.0 / 32) << key;
  // Both latencies side by side, the corrected one from the scheduled send.
  EXPECT_NEAR(m["corrected_latency"]["p50_us"].get<double>(), 350, 350.0 / 32);
  EXPECT_NEAR(m["corrected_latency"]["p99_us"].get<double>(), 399, 399.0 / 32);
  EXPECT_EQ(m["corrected_latency"]["count"], 100);
  EXPECT_EQ(m["skipped_sends"], 3);
  EXPECT_EQ(m["phases"][0]["skipped_sends"], 3);
  EXPECT_NEAR(m["phases"][0]["corrected_latency"]["p99_us"].get<double>(), 399, 399.0 / 32);
  EXPECT_EQ(m["phases"][1]["corrected_latency"]["count"], 0);
  EXPECT_DOUBLE_EQ(m["cpu"]["client_us_per_op"].get<double>(), 5000);
  EXPECT_TRUE(m["cpu"]["daemon_s"].is_null());
  EXPECT_EQ(m["connections"]["peak"], 10);
  EXPECT_EQ(m["connections"]["cap"], 10);
  EXPECT_EQ(m["connections"]["floor"], 2);
  EXPECT_EQ(m["rss_kb"]["client_peak"], 20480);
  EXPECT_EQ(m["tenants"]["counted"], false);
  EXPECT_EQ(m["tenants"]["count_failures"], 0);
  ASSERT_EQ(m["phases"].size(), 2u);
  EXPECT_EQ(m["phases"][1]["reach_min_ms"], 700);
  EXPECT_TRUE(m["phases"][0]["reach_min_ms"].is_null());
  EXPECT_EQ(m["series"]["samples"].size(), 30u);
  EXPECT_EQ(m["series"]["samples"][0].size(), 3u);
  EXPECT_EQ(m["series"]["windows"].size(), 3u);
  EXPECT_DOUBLE_EQ(m["series"]["windows"][1]["p99_us"].get<double>(), 900);
  EXPECT_DOUBLE_EQ(j["modes"][1]["cpu"]["daemon_us_per_op"].get<double>(), 2500);
  EXPECT_EQ(j["modes"][2]["failure"], "tenantrtd not found");
  // The report never carries a password: it only ever gets the redacted URI.
  EXPECT_EQ(j.dump().find("pass"), std::string::npos);
}

TEST(TenantloadReportTest, SvgIsWellFormedWithALinePerModeAxesAndLegend) {
  auto svg = render_svg(sample_report());
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_TRUE(well_formed(svg));
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  // Two panels; each has a line for each mode that ran (the failed one has
  // none). The latency line breaks at the empty window but is one polyline
  // here since the empty window is last.
  EXPECT_EQ(count_of(svg, "data-mode=\"runtime\""), 2u);
  EXPECT_EQ(count_of(svg, "data-mode=\"pool-per-tenant\""), 2u);
  EXPECT_EQ(count_of(svg, "data-mode=\"daemon\""), 0u);
  EXPECT_NE(svg.find("<g class=\"legend\">"), std::string::npos);
  EXPECT_NE(svg.find(">daemon (failed)</text>"), std::string::npos);
  EXPECT_NE(svg.find("seconds since the mode started"), std::string::npos);
  EXPECT_NE(svg.find(">connections</text>"), std::string::npos);
  EXPECT_NE(svg.find(">p99 ms</text>"), std::string::npos);
  EXPECT_NE(svg.find(">400</text>"), std::string::npos); // the y axis reaches the peak
  EXPECT_NE(svg.find(">idle</text>"), std::string::npos); // phase boundary label
}

TEST(TenantloadReportTest, SvgEscapesNamesAndSurvivesAnEmptyRun) {
  run_report r;
  r.scenario = "a<b>&\"c\"";
  auto svg = render_svg(r);
  EXPECT_TRUE(well_formed(svg));
  EXPECT_NE(svg.find("a&lt;b&gt;&amp;&quot;c&quot;"), std::string::npos);
}

TEST(TenantloadReportTest, TableNamesEveryModeAndPhase) {
  auto table = render_table(sample_report());
  EXPECT_NE(table.find("runtime"), std::string::npos);
  EXPECT_NE(table.find("pool-per-tenant"), std::string::npos);
  EXPECT_NE(table.find("mode daemon failed: tenantrtd not found"), std::string::npos) << table;
  EXPECT_NE(table.find("after 0.7s"), std::string::npos) << table;
  EXPECT_NE(table.find("errors runtime: pool_wait_timeout 2"), std::string::npos) << table;
  // The corrected columns beside the old ones, and the skipped sends.
  std::regex header{R"(MODE +OPS +OPS/S +ERRORS +SKIPPED +P50 +P95 +P99 +MAX +CORR P50 +CORR P99 )"};
  EXPECT_TRUE(std::regex_search(table, header)) << table;
  std::regex runtime_row{R"(\nruntime +100 +50 +2 +3 +30\dus +30\dus +30\dus +300us +3[45]\dus +(39\d|40\d)us )"};
  EXPECT_TRUE(std::regex_search(table, runtime_row)) << table;
  EXPECT_NE(table.find("CORR: from the scheduled send"), std::string::npos) << table;
}

} // namespace
} // namespace tenantrt::load
