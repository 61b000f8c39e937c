#pragma once
// Runs a scenario's phases against one load_target (one --mode) and measures
// it from outside: worker threads send the phase's mix at its rate, a sampler
// counts established connections to the server port in /proc/net/tcp every
// 100 ms (devtools::count_established_to_port) and closes a 1 s window of
// operations, errors and latency every 10 samples.

#include <cstdint>
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
