#pragma once
// Runs a scenario's phases against one load_target (one --mode) and measures
// it from outside: worker threads send the phase's mix at its rate, a sampler
// counts established connections to the server port in /proc/net/tcp every
// 100 ms (devtools::count_established_to_port) and closes a 1 s window of
// operations, errors and latency every 10 samples.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/tenantload/load_report.hpp"
#include "tools/tenantload/load_target.hpp"
#include "tools/tenantload/scenario.hpp"

namespace tenantrt::load {

struct run_options {
  /// The server's port, whose sockets are counted.
  uint16_t server_port = 0;
  /// A progress line on stderr (only when it is a terminal).
  bool progress = false;
  /// Seed of the workers' random choices (tenant, operation).
  uint64_t seed = 1;
};

/// Picks tenant indices [0, tenants) by the phase's distribution.
class tenant_picker {
public:
  tenant_picker(uint32_t tenants, const distribution& dist);
  uint32_t pick(std::mt19937_64& rng) const;
  /// Probability of index k (for tests).
  double probability(uint32_t k) const;

private:
  uint32_t tenants_;
  /// zipf: cumulative weights; empty for uniform.
  std::vector<double> cumulative_;
};

/// Picks an operation by the mix's weights.
operation pick_operation(const std::array<double, 4>& mix, std::mt19937_64& rng);

/// The command document of an operation on `collection` (key selects the
/// document a find/update touches, sequence tags inserted documents).
nlohmann::ordered_json load_command(operation op, const std::string& collection, uint64_t key,
                                    uint64_t sequence);

/// Where a worker reads the time and waits: the steady clock in tenantload,
/// a virtual clock in tests.
struct worker_clock {
  using time_point = std::chrono::steady_clock::time_point;
  std::function<time_point()> now;
  /// Returns at once when t has passed.
  std::function<void(time_point)> sleep_until;
};

/// The real one: std::chrono::steady_clock and std::this_thread::sleep_until.
worker_clock steady_worker_clock();

/// One worker's sends in a phase (see the top of load_runner.cpp).
struct send_schedule {
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  /// The worker's first slot (its share of the phase start).
  time_point first;
  /// The phase end: no slot at or after it is sent.
  time_point end;
  /// Between two slots (concurrency / rate); none: a closed loop, each
  /// operation sent when the previous one ended, until end.
  std::optional<duration> interval;
  /// Pause after each operation (think_ms).
  duration think{0};
  /// Further behind its next slot than this, a worker skips to now.
  duration max_backlog = std::chrono::seconds{1};
};

/// One operation's latency, measured both ways.
struct op_timing {
  /// From the actual send to the reply.
  uint64_t service_ns = 0;
  /// From the scheduled send (the slot) to the reply; none in a closed loop.
  std::optional<uint64_t> corrected_ns;
};

/// What a worker does with each of its slots; run_paced calls them on the
/// worker's thread.
struct paced_worker {
  /// Sends one operation; "" on success, else its error code.
  std::function<std::string()> send;
  /// The timing and outcome of the operation send() just ran.
  std::function<void(const op_timing&, const std::string& error)> record;
  /// n scheduled slots were skipped (never sent), the worker being more than
  /// max_backlog behind.
  std::function<void(uint64_t n)> skipped;
};

/// Runs one worker's loop through schedule, reading clock; returns the
/// operations sent.
uint64_t run_paced(const send_schedule& schedule, const worker_clock& clock,
                   const paced_worker& worker);

/// One mode in a run: its name and its target (not owned).
struct lane {
  std::string mode;
  load_target* target = nullptr;
};

/// Fills result's per-phase socket and tenant figures and the idle phases'
/// reach_min_ms from result.samples and result.phases (run_together calls
/// it at the end of a run).
void summarise_samples(mode_result& result);

/// Runs every phase of s through all lanes at once: each worker sends its
/// operations to the lanes in turn, so the lanes share the phase's rate and
/// see the same machine at the same moments (on a noisy shared machine, the
/// fair way to compare two modes' latency). One result per lane, in order;
/// with several lanes, sockets, client CPU and RSS are of the whole run
/// (mode_result::interleaved_with names the others).
std::vector<mode_result> run_together(const scenario& s, const std::vector<lane>& lanes,
                                      const run_options& options);

/// Runs every phase of s through target and returns what was measured
/// (mode_result::mode = mode).
mode_result run_mode(const scenario& s, const std::string& mode, load_target& target,
                     const run_options& options);

} // namespace tenantrt::load
