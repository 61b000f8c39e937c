#include "tools/tenantload/load_report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace tenantrt::load {

using nlohmann::ordered_json;

namespace {

double us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

ordered_json errors_json(const std::map<std::string, uint64_t>& errors) {
  ordered_json out = ordered_json::object();
  for (auto& [code, n] : errors)
    out[code] = n;
  return out;
}

template <class T>
ordered_json optional_json(const std::optional<T>& value) {
  return value ? ordered_json(*value) : ordered_json(nullptr);
}

/// interleaved: client CPU is of the whole run, so no per-op figure.
ordered_json phase_json(const phase_result& p, bool interleaved) {
  double seconds = p.end_s - p.start_s;
  ordered_json cpu_per_op = nullptr;
  if (!interleaved)
    cpu_per_op = p.figures.ops > 0 ? p.client_cpu_s * 1e6 / static_cast<double>(p.figures.ops) : 0.0;
  return {{"name", p.name},
          {"idle", p.idle},
          {"start_s", p.start_s},
          {"end_s", p.end_s},
          {"ops", p.figures.ops},
          {"errors", errors_json(p.figures.errors)},
          {"error_total", p.figures.error_total()},
          {"throughput_ops_s", seconds > 0 ? static_cast<double>(p.figures.ops) / seconds : 0.0},
          {"latency", latency_json(p.figures.latency)},
          {"corrected_latency", latency_json(p.figures.corrected_latency)},
          {"skipped_sends", p.figures.skipped_sends},
          {"client_cpu_s", p.client_cpu_s},
          {"client_cpu_us_per_op", cpu_per_op},
          {"connections", {{"peak", p.connections_peak},
                           {"mean", p.connections_mean},
                           {"end", p.connections_end}}},
          {"tenants", {{"peak", p.tenants_peak}, {"end", p.tenants_end}}},
          {"reach_min_ms", optional_json(p.reach_min_ms)}};
}

ordered_json mode_json(const mode_result& m) {
  if (!m.failure.empty())
    return {{"mode", m.mode}, {"failure", m.failure}};
  bool interleaved = !m.interleaved_with.empty();
  ordered_json phases = ordered_json::array();
  for (auto& p : m.phases)
    phases.push_back(phase_json(p, interleaved));
  ordered_json samples = ordered_json::array();
  for (auto& s : m.samples)
    samples.push_back({std::round(s.t_s * 1000) / 1000, s.connections, s.tenants});
  ordered_json windows = ordered_json::array();
  for (auto& w : m.windows)
    windows.push_back({{"t_s", w.t_s},
                       {"ops", w.ops},
                       {"errors", w.errors},
                       {"p50_us", w.p50_us},
                       {"p99_us", w.p99_us},
                       {"connections_peak", w.connections_peak}});
  std::optional<double> daemon_us_per_op;
  if (m.daemon_cpu_s && m.figures.ops > 0)
    daemon_us_per_op = *m.daemon_cpu_s * 1e6 / static_cast<double>(m.figures.ops);
  return {{"mode", m.mode},
          {"interleaved_with", m.interleaved_with},
          {"wall_s", m.wall_s},
          {"load_s", m.load_s},
          {"ops", m.figures.ops},
          {"errors", errors_json(m.figures.errors)},
          {"error_total", m.figures.error_total()},
          {"throughput_ops_s", m.throughput()},
          {"latency", latency_json(m.figures.latency)},
          {"corrected_latency", latency_json(m.figures.corrected_latency)},
          {"skipped_sends", m.figures.skipped_sends},
          {"cpu", {{"client_s", m.client_cpu_s},
                   {"client_us_per_op",
                    interleaved ? ordered_json(nullptr) : ordered_json(m.client_cpu_us_per_op())},
                   {"daemon_s", optional_json(m.daemon_cpu_s)},
                   {"daemon_us_per_op", optional_json(daemon_us_per_op)}}},
          {"rss_kb", {{"client_peak", m.client_rss_peak_kb},
                      {"daemon_peak", optional_json(m.daemon_rss_peak_kb)}}},
          {"connections", {{"peak", m.connections_peak},
                           {"mean", m.connections_mean},
                           {"cap", optional_json(m.connection_cap)},
                           {"floor", m.connection_floor},
                           {"samples_over_cap", m.samples_over_cap}}},
          {"tenants", {{"counted", m.counts_tenants},
                       {"count_failures", m.tenant_count_failures}}},
          {"phases", std::move(phases)},
          {"series", {{"sample_interval_ms", 100},
                      {"samples_columns", {"t_s", "connections", "tenants"}},
                      {"samples", std::move(samples)},
                      {"windows", std::move(windows)}}}};
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

/// Latency in a short human unit: 850us, 2.3ms, 1.20s.
std::string human_latency(uint64_t ns) {
  if (ns < 1000000)
    return fixed(static_cast<double>(ns) / 1e3, 0) + "us";
  if (ns < 1000000000)
    return fixed(static_cast<double>(ns) / 1e6, 1) + "ms";
  return fixed(static_cast<double>(ns) / 1e9, 2) + "s";
}

std::string pad(const std::string& text, size_t width, bool left) {
  if (text.size() >= width)
    return text;
  std::string fill(width - text.size(), ' ');
  return left ? text + fill : fill + text;
}

std::string render_rows(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (widths.size() <= c)
        widths.push_back(0);
      widths[c] = std::max(widths[c], row[c].size());
    }
  std::string out;
  for (auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c)
      line += (c == 0 ? "" : "  ") + pad(row[c], widths[c], c == 0);
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string errors_text(const std::map<std::string, uint64_t>& errors) {
  std::string text;
  for (auto& [code, n] : errors)
    text += (text.empty() ? "" : ", ") + code + " " + std::to_string(n);
  return text;
}

std::string read_first_line_with(const char* file, const std::string& key) {
  std::ifstream in{file};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size(), key) == 0) {
      auto colon = line.find(':');
      auto text = colon == std::string::npos ? line : line.substr(colon + 1);
      auto first = text.find_first_not_of(" \t");
      return first == std::string::npos ? "" : text.substr(first);
    }
  return {};
}

} // namespace

uint64_t op_figures::error_total() const {
  uint64_t total = 0;
  for (auto& [code, n] : errors)
    total += n;
  return total;
}

void op_figures::merge(const op_figures& other) {
  ops += other.ops;
  for (auto& [code, n] : other.errors)
    errors[code] += n;
  latency.merge(other.latency);
  corrected_latency.merge(other.corrected_latency);
  skipped_sends += other.skipped_sends;
}

double mode_result::client_cpu_us_per_op() const {
  return figures.ops > 0 ? client_cpu_s * 1e6 / static_cast<double>(figures.ops) : 0.0;
}

machine_info read_machine_info() {
  machine_info m;
  m.cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  m.model = read_first_line_with("/proc/cpuinfo", "model name");
  utsname name{};
  if (uname(&name) == 0)
    m.kernel = std::string{name.sysname} + " " + name.release;
  std::ifstream load{"/proc/loadavg"};
  std::string a, b, c;
  if (load >> a >> b >> c)
    m.load_average = a + " " + b + " " + c;
  return m;
}

ordered_json latency_json(const latency_histogram& h) {
  return {{"count", h.count()},
          {"p50_us", us(h.quantile_ns(0.50))},
          {"p95_us", us(h.quantile_ns(0.95))},
          {"p99_us", us(h.quantile_ns(0.99))},
          {"max_us", us(h.max_ns())},
          {"mean_us", h.mean_ns() / 1000.0}};
}

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

ordered_json to_json(const run_report& report) {
  ordered_json modes = ordered_json::array();
  for (auto& m : report.modes)
    modes.push_back(mode_json(m));
  return {{"tool", "tenantload"},
          {"scenario", report.scenario},
          {"description", report.description},
          {"started_at", report.started_at},
          {"server", {{"uri", report.server}, {"port", report.server_port}}},
          {"duration_scale", report.duration_scale},
          {"tenantrt_config", {{"source", report.tenantrt_source},
                               {"settings", report.tenantrt_settings}}},
          {"machine", {{"cpus", report.machine.cpus},
                       {"model", report.machine.model},
                       {"kernel", report.machine.kernel},
                       {"load_average", report.machine.load_average}}},
          {"modes", std::move(modes)}};
}

std::string render_table(const run_report& report) {
  std::string out = "scenario " + report.scenario + " against " + report.server + "\n\n";
  std::vector<std::vector<std::string>> rows{{"MODE", "OPS", "OPS/S", "ERRORS", "SKIPPED", "P50",
                                              "P95", "P99", "MAX", "CORR P50", "CORR P99",
                                              "CPU/OP", "DAEMON CPU/OP", "CONNS PEAK", "MEAN",
                                              "RSS MB"}};
  for (auto& m : report.modes) {
    if (!m.failure.empty()) {
      rows.push_back({m.mode, "failed"});
      continue;
    }
    auto& h = m.figures.latency;
    std::string daemon_cpu = "-";
    if (m.daemon_cpu_s && m.figures.ops > 0)
      daemon_cpu = fixed(*m.daemon_cpu_s * 1e6 / static_cast<double>(m.figures.ops), 0) + "us";
    std::string rss = fixed(static_cast<double>(m.client_rss_peak_kb) / 1024.0, 0);
    if (m.daemon_rss_peak_kb)
      rss += "+" + fixed(static_cast<double>(*m.daemon_rss_peak_kb) / 1024.0, 0);
    auto& c = m.figures.corrected_latency;
    rows.push_back({m.mode, std::to_string(m.figures.ops), fixed(m.throughput(), 0),
                    std::to_string(m.figures.error_total()),
                    std::to_string(m.figures.skipped_sends), human_latency(h.quantile_ns(0.5)),
                    human_latency(h.quantile_ns(0.95)), human_latency(h.quantile_ns(0.99)),
                    human_latency(h.max_ns()), c.count() ? human_latency(c.quantile_ns(0.5)) : "-",
                    c.count() ? human_latency(c.quantile_ns(0.99)) : "-",
                    m.interleaved_with.empty() ? fixed(m.client_cpu_us_per_op(), 0) + "us" : "-",
                    daemon_cpu, std::to_string(m.connections_peak), fixed(m.connections_mean, 1),
                    rss});
  }
  out += render_rows(rows);
  for (auto& m : report.modes)
    if (!m.failure.empty())
      out += "mode " + m.mode + " failed: " + m.failure + "\n";
  out += "P50..MAX: from the actual send; CORR: from the scheduled send (corrected for "
         "coordinated omission); SKIPPED: scheduled sends dropped more than 1 s behind\n";
  if (std::any_of(report.modes.begin(), report.modes.end(),
                  [](const mode_result& m) { return !m.interleaved_with.empty(); }))
    out += "interleaved: the modes ran at once, operations alternating; sockets and RSS are of "
           "the whole run, CPU per op is not separable\n";
  out += "\n";
  std::vector<std::vector<std::string>> phase_rows{
    {"MODE", "PHASE", "OPS", "OPS/S", "ERRORS", "SKIPPED", "P50", "P99", "CORR P99", "CONNS PEAK",
     "END", "TENANTS END", "FLOOR REACHED"}};
  for (auto& m : report.modes) {
    if (!m.failure.empty())
      continue;
    for (auto& p : m.phases) {
      double seconds = p.end_s - p.start_s;
      auto& h = p.figures.latency;
      auto& c = p.figures.corrected_latency;
      phase_rows.push_back(
        {m.mode, p.name, std::to_string(p.figures.ops),
         fixed(seconds > 0 ? static_cast<double>(p.figures.ops) / seconds : 0, 0),
         std::to_string(p.figures.error_total()), std::to_string(p.figures.skipped_sends),
         h.count() ? human_latency(h.quantile_ns(0.5)) : "-",
         h.count() ? human_latency(h.quantile_ns(0.99)) : "-",
         c.count() ? human_latency(c.quantile_ns(0.99)) : "-", std::to_string(p.connections_peak),
         std::to_string(p.connections_end), p.tenants_end < 0 ? "-" : std::to_string(p.tenants_end),
         p.reach_min_ms ? "after " + fixed(*p.reach_min_ms / 1000.0, 1) + "s"
                        : (p.idle ? "no" : "-")});
    }
  }
  out += render_rows(phase_rows);
  for (auto& m : report.modes)
    if (m.figures.error_total() > 0)
      out += "errors " + m.mode + ": " + errors_text(m.figures.errors) + "\n";
  for (auto& m : report.modes)
    if (m.tenant_count_failures > 0)
      out += "tenant count " + m.mode + ": unknown in " + std::to_string(m.tenant_count_failures)
             + " samples (stats did not answer); an unknown count never counts as reaped\n";
  return out;
}

} // namespace tenantrt::load
