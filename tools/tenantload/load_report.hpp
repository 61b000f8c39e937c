#pragma once
// What one tenantload run measured, and its renderings: the human table, the
// --report JSON. Filled by load_runner (tools/tenantload/load_runner.hpp);
// plotted by svg_chart.hpp. Figures are measured outside the runtime's own
// counters: sockets from /proc/net/tcp, CPU from getrusage and /proc/PID/stat.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/tenantload/latency_histogram.hpp"

namespace tenantrt::load {

/// One 100 ms sample of what the server sees.
struct connection_sample {
  /// Seconds since the mode started.
  double t_s = 0;
  /// Established TCP connections to the server port (whole host).
  uint32_t connections = 0;
  /// Active tenants (runtime / daemon modes), -1 when not known: the mode
  /// has none, or its count could not be read (see
  /// mode_result::tenant_count_failures).
  int64_t tenants = -1;
};

/// One 1 s window of operations.
struct window_stats {
  /// End of the window, seconds since the mode started.
  double t_s = 0;
  uint64_t ops = 0;
  uint64_t errors = 0;
  /// 0 when the window had no operation.
  double p50_us = 0;
  double p99_us = 0;
  uint32_t connections_peak = 0;
};

/// Operations, errors (by code) and latency of a phase or of a whole mode.
/// What each latency measures: the comment at the top of load_runner.cpp.
struct op_figures {
  uint64_t ops = 0;
  std::map<std::string, uint64_t> errors;
  /// Successful operations, from the actual send to the reply.
  latency_histogram latency;
  /// Successful operations of phases with a rate, from the scheduled send to
  /// the reply ("corrected" for coordinated omission); empty without a rate.
  latency_histogram corrected_latency;
  /// Scheduled sends skipped because the worker was more than 1 s behind.
  uint64_t skipped_sends = 0;

  uint64_t error_total() const;
  void merge(const op_figures& other);
};

struct phase_result {
  std::string name;
  bool idle = false;
  /// Seconds since the mode started.
  double start_s = 0;
  double end_s = 0;
  op_figures figures;
  uint32_t connections_peak = 0;
  double connections_mean = 0;
  uint32_t connections_end = 0;
  int64_t tenants_peak = -1;
  int64_t tenants_end = -1;
  /// Idle phase after load: ms from the load stopping to the first sample
  /// with connections <= the mode's minimum and, in a mode that counts
  /// tenants, a tenant count read as 0 (an unknown count is not 0).
  std::optional<double> reach_min_ms;
  /// Client CPU seconds spent during the phase.
  double client_cpu_s = 0;
};

struct mode_result {
  std::string mode;
  /// Set when the mode could not run (setup failed); nothing else is valid.
  std::string failure;
  double wall_s = 0;
  op_figures figures;
  /// Seconds of load (non-idle phases), for throughput.
  double load_s = 0;
  /// CPU of tenantload itself (getrusage RUSAGE_SELF, minus its sampler).
  double client_cpu_s = 0;
  /// CPU of the tenantrtd child (daemon mode, when tenantload started it).
  std::optional<double> daemon_cpu_s;
  uint64_t client_rss_peak_kb = 0;
  std::optional<uint64_t> daemon_rss_peak_kb;
  uint32_t connections_peak = 0;
  double connections_mean = 0;
  /// Most sockets the mode may hold (runtime/daemon: max_pool_size per
  /// cluster; the driver pools have no cap worth stating).
  std::optional<uint32_t> connection_cap;
  /// The floor idle reaping should reach (min_pool_size per cluster, or 0).
  uint32_t connection_floor = 0;
  /// Samples the cap was exceeded in.
  uint64_t samples_over_cap = 0;
  /// The mode has tenants to count (load_target::counts_tenants).
  bool counts_tenants = false;
  /// Samples whose tenant count could not be read, in a mode that counts
  /// them (each carries tenants = -1).
  uint64_t tenant_count_failures = 0;
  /// Modes that ran at the same time, operations alternating
  /// (run_together): then sockets, client CPU and RSS are of the whole run.
  std::vector<std::string> interleaved_with;
  std::vector<phase_result> phases;
  std::vector<connection_sample> samples;
  std::vector<window_stats> windows;

  double throughput() const { return load_s > 0 ? static_cast<double>(figures.ops) / load_s : 0; }
  double client_cpu_us_per_op() const;
};

struct machine_info {
  unsigned cpus = 0;
  std::string model;
  std::string kernel;
  std::string load_average;
};

machine_info read_machine_info();

struct run_report {
  std::string scenario;
  std::string description;
  /// ISO 8601 UTC start time.
  std::string started_at;
  /// The server's URI with its password redacted.
  std::string server;
  uint16_t server_port = 0;
  double duration_scale = 1;
  std::string tenantrt_source;
  /// Selected tenantrt settings (JSON: max_pool_size, ...).
  nlohmann::ordered_json tenantrt_settings;
  machine_info machine;
  std::vector<mode_result> modes;
};

/// Everything: per mode, per phase, time series.
nlohmann::ordered_json to_json(const run_report& report);

/// The human summary: one row per mode, then one per mode and phase.
std::string render_table(const run_report& report);

/// Latency summary in microseconds {count, p50_us, p95_us, p99_us, max_us, mean_us}.
nlohmann::ordered_json latency_json(const latency_histogram& h);

/// ISO 8601 UTC now, e.g. "2026-11-27T07:30:00Z".
std::string utc_now_iso8601();

} // namespace tenantrt::load
