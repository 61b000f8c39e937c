#pragma once
// The metrics actor: how operators see tenantrt. Every
// metrics.sample_interval_ms it asks the registry for its stats (a request,
// never a blocking call) and reads the physical pools' counters, then keeps
// one sample in a ring of metrics.history_size, recomputes the warnings and
// updates a Prometheus registry. It renders the control socket's replies for
// stats, details, history, health and metrics; stats, details and health
// first ask the registry again, so they show the present, not the last sample.
//
// Talked to by: the control server (tenantctl's commands), the runtime facade
// (reload, drain), Prometheus scrapers through GET /metrics when
// metrics.http_listen is set (served by prometheus-cpp's own threads from
// the thread-safe prometheus::Registry; the actor owns the server).
//
//   spawn --> sampling --sample timer (generation)--> stats request --reply-->
//     ^                                                   sample + warnings
//     +---------------------------------------------------------+
//   sampling --drain, or exit--> (timers stopped, HTTP server closed, quit)
//
// Intervals are measured between samples: ops, errors, latency quantiles and
// wait timeouts of a sample are what changed since the previous sample.
//
// This pair is the actor only (timers, history ring, reload, drain). What it
// computes lives beside it, CAF-free: the sample model and the deltas
// (metrics_sample), warnings and health (metrics_warnings), the replies' JSON
// (stats_json), the Prometheus families (prometheus_exposition) and the
// GET /metrics endpoint (metrics_http).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/metrics_sample.hpp"
#include "actors/protocol.hpp"
#include "config/runtime_config.hpp"
#include "runtime/cluster_pool.hpp"

namespace tenantrt {

/// Where the metrics actor reads the physical pools (thread-safe;
/// mongo_backend::pool_counters_by_cluster). Called on the actor's thread,
/// so it must not block.
using pool_counters_source = std::function<std::map<std::string, pool_counters>()>;

class metrics_http;
class prometheus_exposition;

struct metrics_state {
  static const char* name;

  metrics_state();
  /// Out of line: the exposition and the endpoint are complete only in
  /// metrics.cpp.
  ~metrics_state();

  runtime_config config;
  registry_actor registry;
  pool_counters_source pools;

  /// Sampling timers carry this; a reload or drain bumps it (stale timers
  /// are ignored).
  uint64_t generation = 0;
  /// A sample's registry request is out; the next tick is skipped meanwhile.
  bool sampling = false;
  bool draining = false;
  std::deque<metrics_sample> history;

  /// The previous sample's counters, for the deltas of the next one.
  sample_baselines baselines;

  /// Monotonic totals accumulated from the deltas (Prometheus counters).
  uint64_t ops_total = 0;
  uint64_t errors_total = 0;

  /// Consecutive samples the main database was disconnected.
  uint32_t main_down_streak = 0;
  /// Per cluster: consecutive samples with fewer connections open than
  /// min_pool_size (see cluster_unreachable in metrics_warnings.cpp).
  std::map<std::string, uint32_t> shortfall_streaks;
  /// Warnings of the previous sample ("code" or "code/cluster"), so raising
  /// and clearing are logged once each.
  std::set<std::string> raised_warnings;

  /// Prometheus registry and series bookkeeping.
  std::unique_ptr<prometheus_exposition> exposition;
  /// The optional GET /metrics endpoint, serving exposition's registry;
  /// declared after it, so it closes first.
  std::unique_ptr<metrics_http> http;
};

/// The metrics actor's behaviour; spawn with
/// `spawn(metrics_impl, config, registry, pools)`. The first sample comes
/// after one sample interval; stops on drain_atom.
metrics_actor::behavior_type metrics_impl(metrics_actor::stateful_pointer<metrics_state> self,
                                          runtime_config config, registry_actor registry,
                                          pool_counters_source pools);

} // namespace tenantrt
