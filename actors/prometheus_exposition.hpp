#pragma once
// The Prometheus exposition of tenantrt's metrics: the metric families, updated at each sample.
//
// The metrics actor updates it once per sample and renders its text for the
// control socket's metrics command; the HTTP endpoint (actors/metrics_http.hpp)
// collects the same registry for scrapers on its own threads (the registry
// and every metric are thread-safe). Per-tenant series exist only for the top
// N tenants by use; the others' series are removed, so the number of series
// stays bounded. prometheus-cpp stays inside the .cpp.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/metrics_sample.hpp"
#include "actors/metrics_warnings.hpp"

namespace prometheus {
class Collectable;
} // namespace prometheus

namespace tenantrt {

/// A prometheus::Registry with every tenantrt family registered at
/// construction (gauges and counters, per cluster and per top tenant).
class prometheus_exposition {
public:
  prometheus_exposition();
  ~prometheus_exposition();

  prometheus_exposition(const prometheus_exposition&) = delete;
  prometheus_exposition& operator=(const prometheus_exposition&) = delete;

  /// Puts one sample's figures into the registry. ops_total and errors_total
  /// are the totals accumulated from the samples' deltas (the counters follow
  /// them up); series are kept for the top_tenants tenants by use.
  void update(const observation& obs, const metrics_sample& sample,
              const std::vector<warning>& warnings, const std::string& status, uint64_t ops_total,
              uint64_t errors_total, uint32_t top_tenants);

  /// The exposition text of everything registered.
  std::string render() const;

  /// The registry, for the HTTP endpoint to collect.
  std::shared_ptr<prometheus::Collectable> collectable() const;

private:
  class impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tenantrt
