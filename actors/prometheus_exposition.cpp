// The Prometheus exposition: every tenantrt metric family, updated at each sample, and its text.
#include "actors/prometheus_exposition.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace tenantrt {

/// The registry, every family and the series of the clusters and top tenants.
class prometheus_exposition::impl {
public:
  using gauge_family = prometheus::Family<prometheus::Gauge>;
  using counter_family = prometheus::Family<prometheus::Counter>;

  impl() : registry_(std::make_shared<prometheus::Registry>()) {
    connections_ = &scalar_gauge("tenantrt_connections",
                                 "Physical connections open, all clusters");
    active_tenants_ = &scalar_gauge("tenantrt_active_tenants", "Tenants with a live actor");
    max_tenants_ = &scalar_gauge("tenantrt_max_tenants", "registry.max_tenant_connections");
    draining_tenants_ = &scalar_gauge("tenantrt_draining_tenants",
                                      "Tenant actors told to stop, not terminated yet");
    inflight_ = &scalar_gauge("tenantrt_inflight_operations", "Operations in flight");
    waiters_ = &scalar_gauge("tenantrt_waiters",
                             "Callers waiting for a tenant slot or a pooled connection");
    limit_waiters_ = &scalar_gauge("tenantrt_tenant_limit_waiters",
                                   "Callers waiting for a tenant slot at the tenant limit");
    quarantined_ = &scalar_gauge("tenantrt_quarantined_tenants",
                                 "Tenants quarantined after repeated crashes");
    interval_ops_ = &scalar_gauge("tenantrt_interval_operations",
                                  "Operations finished in the last sample interval");
    interval_errors_ = &scalar_gauge("tenantrt_interval_errors",
                                     "Operations failed in the last sample interval");
    interval_p50_ = &scalar_gauge("tenantrt_interval_latency_p50_microseconds",
                                  "Median latency in the last sample interval (log2 bucket "
                                  "upper bound)");
    interval_p99_ = &scalar_gauge("tenantrt_interval_latency_p99_microseconds",
                                  "99th percentile latency in the last sample interval (log2 "
                                  "bucket upper bound)");
    last_sample_ = &scalar_gauge("tenantrt_last_sample_timestamp_seconds",
                                 "Unix time of the last sample");
    interval_wait_timeouts_ = &scalar_gauge(
      "tenantrt_interval_wait_timeouts",
      "Pool wait timeouts plus tenant-limit timeouts in the last sample interval");
    ops_total_ = &scalar_counter("tenantrt_operations_total", "Operations finished");
    errors_total_ = &scalar_counter("tenantrt_operation_errors_total", "Operations failed");
    created_total_ = &scalar_counter("tenantrt_tenants_created_total", "Tenant actors created");
    reaped_total_ = &scalar_counter("tenantrt_tenants_reaped_total",
                                    "Tenants reaped after their idle timeout");
    evicted_total_ = &scalar_counter("tenantrt_tenants_evicted_total",
                                     "Tenants evicted (LRU at the limit or on request)");
    crashed_total_ = &scalar_counter("tenantrt_tenants_crashed_total", "Tenant actors crashed");
    limit_timeouts_total_ = &scalar_counter(
      "tenantrt_tenant_limit_timeouts_total",
      "Callers refused at the tenant limit (queue full or wait timed out)");
    main_db_ = &gauge("tenantrt_main_db_state",
                      "State of the main database: 1 for the current state, 0 otherwise");
    health_ = &gauge("tenantrt_health", "Health status: 1 for the current status, 0 otherwise");
    warnings_ = &gauge("tenantrt_warnings", "Warnings raised at the last sample, by code");
    for (auto state : {"connecting", "connected", "disconnected"})
      main_db_->Add({{"state", state}});
    for (auto status : {"ok", "degraded", "down"})
      health_->Add({{"status", status}});
    for (auto code : warning_codes)
      warnings_->Add({{"code", code}});

    pool_open_ = &gauge("tenantrt_pool_connections_open", "Connections open in a cluster's pools");
    pool_in_use_ = &gauge("tenantrt_pool_connections_in_use", "Connections checked out");
    pool_idle_ = &gauge("tenantrt_pool_connections_idle", "Connections idle in the pool");
    pool_waiters_ = &gauge("tenantrt_pool_waiters", "Checkouts waiting for a connection");
    pool_max_ = &gauge("tenantrt_pool_max_size", "Configured max_pool_size (summed per cluster)");
    pool_min_ = &gauge("tenantrt_pool_min_size", "Configured min_pool_size (summed per cluster)");
    pool_tenant_pools_ = &gauge("tenantrt_pool_tenant_pools",
                                "Per-tenant pools summed into the cluster's figures");
    pool_created_ = &counter("tenantrt_pool_connections_created_total", "Connections created");
    pool_closed_ = &counter("tenantrt_pool_connections_closed_total", "Connections closed");
    pool_wait_timeouts_ = &counter("tenantrt_pool_wait_timeouts_total",
                                   "Checkouts that gave up after wait_queue_timeout_ms");
    pool_connect_failures_ = &counter("tenantrt_pool_connect_failures_total",
                                      "New connections that could not reach the server");
    pool_backoff_rejections_ = &counter("tenantrt_pool_backoff_rejections_total",
                                        "Checkouts refused during a connect back-off");
    pool_backoff_ = &gauge("tenantrt_pool_backoff_milliseconds",
                           "Current connect back-off step, 0 while the server answers");

    tenant_uses_ = &gauge("tenantrt_tenant_use_count",
                          "Uses of the tenant's current actor (top tenants by use)");
    tenant_inflight_ = &gauge("tenantrt_tenant_inflight_operations",
                              "Operations in flight on the tenant (top tenants by use)");
    tenant_ops_ = &gauge("tenantrt_tenant_operations",
                         "Operations finished by the tenant's current actor (top tenants by use)");
    tenant_errors_ = &gauge("tenantrt_tenant_errors",
                            "Operations failed on the tenant's current actor (top tenants by use)");
    tenant_idle_ = &gauge("tenantrt_tenant_idle_seconds",
                          "Time since the tenant's last use (top tenants by use)");
    tenant_p50_ = &gauge("tenantrt_tenant_latency_p50_microseconds",
                         "Median latency of the tenant's current actor (log2 bucket upper bound)");
    tenant_p99_ = &gauge("tenantrt_tenant_latency_p99_microseconds",
                         "99th percentile latency of the tenant's current actor (log2 bucket "
                         "upper bound)");
  }

  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  void update(const observation& obs, const metrics_sample& sample,
              const std::vector<warning>& warnings, const std::string& status, uint64_t ops_total,
              uint64_t errors_total, uint32_t top_tenants) {
    auto& r = obs.registry;
    connections_->Set(static_cast<double>(obs.total_connections));
    active_tenants_->Set(r.active_tenants);
    max_tenants_->Set(r.max_tenants);
    draining_tenants_->Set(r.draining_tenants);
    inflight_->Set(static_cast<double>(sample.inflight));
    waiters_->Set(static_cast<double>(sample.waiters));
    limit_waiters_->Set(r.waiters);
    quarantined_->Set(static_cast<double>(r.quarantined.size()));
    interval_ops_->Set(static_cast<double>(sample.ops));
    interval_errors_->Set(static_cast<double>(sample.errors));
    interval_p50_->Set(static_cast<double>(sample.p50_us));
    interval_p99_->Set(static_cast<double>(sample.p99_us));
    interval_wait_timeouts_->Set(static_cast<double>(sample.wait_timeouts));
    last_sample_->SetToCurrentTime();
    raise_to(*ops_total_, ops_total);
    raise_to(*errors_total_, errors_total);
    raise_to(*created_total_, r.created_total);
    raise_to(*reaped_total_, r.reaped_total);
    raise_to(*evicted_total_, r.evicted_total);
    raise_to(*crashed_total_, r.crashed_total);
    raise_to(*limit_timeouts_total_, r.limit_timeouts_total);
    for (auto state : {"connecting", "connected", "disconnected"})
      main_db_->Add({{"state", state}}).Set(r.main_state == state ? 1 : 0);
    for (auto state : {"ok", "degraded", "down"})
      health_->Add({{"status", state}}).Set(status == state ? 1 : 0);
    for (auto code : warning_codes)
      warnings_->Add({{"code", code}})
        .Set(static_cast<double>(std::count_if(warnings.begin(), warnings.end(),
                                               [&](const warning& w) { return w.code == code; })));
    update_clusters(obs);
    update_tenants(obs, top_tenants);
  }

  std::string render() const {
    return prometheus::TextSerializer{}.Serialize(registry_->Collect());
  }

  std::shared_ptr<prometheus::Collectable> collectable() const { return registry_; }

private:
  struct cluster_series {
    prometheus::Gauge* open;
    prometheus::Gauge* in_use;
    prometheus::Gauge* idle;
    prometheus::Gauge* waiters;
    prometheus::Gauge* max_size;
    prometheus::Gauge* min_size;
    prometheus::Gauge* tenant_pools;
    prometheus::Counter* created;
    prometheus::Counter* closed;
    prometheus::Counter* wait_timeouts;
    prometheus::Counter* connect_failures;
    prometheus::Counter* backoff_rejections;
    prometheus::Gauge* backoff;
    /// The counters at the last update, for the counters' increments.
    pool_counters last;
  };

  struct tenant_series {
    prometheus::Gauge* uses;
    prometheus::Gauge* inflight;
    prometheus::Gauge* ops;
    prometheus::Gauge* errors;
    prometheus::Gauge* idle;
    prometheus::Gauge* p50;
    prometheus::Gauge* p99;
  };

  gauge_family& gauge(const std::string& name, const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  }

  counter_family& counter(const std::string& name, const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  }

  prometheus::Gauge& scalar_gauge(const std::string& name, const std::string& help) {
    return gauge(name, help).Add({});
  }

  prometheus::Counter& scalar_counter(const std::string& name, const std::string& help) {
    return counter(name, help).Add({});
  }

  /// Counters only grow: follow a source total upwards.
  static void raise_to(prometheus::Counter& c, uint64_t total) {
    auto value = static_cast<double>(total);
    if (value > c.Value())
      c.Increment(value - c.Value());
  }

  void update_clusters(const observation& obs) {
    for (auto i = clusters_.begin(); i != clusters_.end();) {
      if (obs.pools.count(i->first) == 0) {
        remove_cluster(*i);
        i = clusters_.erase(i);
      } else {
        ++i;
      }
    }
    for (auto& [name, pool] : obs.pools) {
      auto found = clusters_.find(name);
      if (found == clusters_.end()) {
        prometheus::Labels labels{{"cluster", name}};
        cluster_series s{&pool_open_->Add(labels),    &pool_in_use_->Add(labels),
                         &pool_idle_->Add(labels),    &pool_waiters_->Add(labels),
                         &pool_max_->Add(labels),     &pool_min_->Add(labels),
                         &pool_tenant_pools_->Add(labels), &pool_created_->Add(labels),
                         &pool_closed_->Add(labels),  &pool_wait_timeouts_->Add(labels),
                         &pool_connect_failures_->Add(labels),
                         &pool_backoff_rejections_->Add(labels), &pool_backoff_->Add(labels),
                         pool_counters{}};
        found = clusters_.emplace(name, s).first;
      }
      auto& s = found->second;
      s.open->Set(static_cast<double>(pool.open));
      s.in_use->Set(static_cast<double>(pool.in_use));
      s.idle->Set(static_cast<double>(pool.idle));
      s.waiters->Set(static_cast<double>(pool.waiters));
      s.max_size->Set(static_cast<double>(pool.max_pool_size));
      s.min_size->Set(static_cast<double>(pool.min_pool_size));
      s.tenant_pools->Set(static_cast<double>(pool.tenant_pools));
      // Per-tenant pools leave the sums when they close: count growth only.
      s.created->Increment(static_cast<double>(grown_or_zero(pool.created_total,
                                                             s.last.created_total)));
      s.closed->Increment(static_cast<double>(grown_or_zero(pool.closed_total,
                                                            s.last.closed_total)));
      s.wait_timeouts->Increment(static_cast<double>(
        grown_or_zero(pool.wait_timeouts_total, s.last.wait_timeouts_total)));
      s.connect_failures->Increment(static_cast<double>(
        grown_or_zero(pool.connect_failures_total, s.last.connect_failures_total)));
      s.backoff_rejections->Increment(static_cast<double>(
        grown_or_zero(pool.backoff_rejections_total, s.last.backoff_rejections_total)));
      s.backoff->Set(static_cast<double>(pool.backoff_ms));
      s.last = pool;
    }
  }

  void remove_cluster(const std::pair<const std::string, cluster_series>& entry) {
    auto& s = entry.second;
    pool_open_->Remove(s.open);
    pool_in_use_->Remove(s.in_use);
    pool_idle_->Remove(s.idle);
    pool_waiters_->Remove(s.waiters);
    pool_max_->Remove(s.max_size);
    pool_min_->Remove(s.min_size);
    pool_tenant_pools_->Remove(s.tenant_pools);
    pool_created_->Remove(s.created);
    pool_closed_->Remove(s.closed);
    pool_wait_timeouts_->Remove(s.wait_timeouts);
    pool_connect_failures_->Remove(s.connect_failures);
    pool_backoff_rejections_->Remove(s.backoff_rejections);
    pool_backoff_->Remove(s.backoff);
  }

  void update_tenants(const observation& obs, uint32_t top_n) {
    // The top N by use (ties by id, so the choice is stable).
    std::vector<const tenant_stats*> ranked;
    for (auto& row : obs.registry.tenants)
      ranked.push_back(&row);
    std::sort(ranked.begin(), ranked.end(), [](const tenant_stats* a, const tenant_stats* b) {
      return a->use_count != b->use_count ? a->use_count > b->use_count : a->tenant < b->tenant;
    });
    if (ranked.size() > top_n)
      ranked.resize(top_n);
    std::map<std::string, const tenant_stats*> top;
    for (auto* row : ranked)
      top.emplace(row->tenant, row);
    for (auto i = tenants_.begin(); i != tenants_.end();) {
      if (top.count(i->first) == 0) {
        remove_tenant(i->second);
        i = tenants_.erase(i);
      } else {
        ++i;
      }
    }
    for (auto& [tenant, row] : top) {
      auto found = tenants_.find(tenant);
      if (found == tenants_.end()) {
        prometheus::Labels labels{{"tenant", tenant}};
        tenant_series s{&tenant_uses_->Add(labels),   &tenant_inflight_->Add(labels),
                        &tenant_ops_->Add(labels),    &tenant_errors_->Add(labels),
                        &tenant_idle_->Add(labels),   &tenant_p50_->Add(labels),
                        &tenant_p99_->Add(labels)};
        found = tenants_.emplace(tenant, s).first;
      }
      auto& s = found->second;
      s.uses->Set(static_cast<double>(row->use_count));
      s.inflight->Set(static_cast<double>(inflight_of(*row)));
      s.ops->Set(static_cast<double>(row->counters.ops));
      s.errors->Set(static_cast<double>(row->counters.errors));
      s.idle->Set(static_cast<double>(row->idle_ms) / 1000.0);
      s.p50->Set(static_cast<double>(row->counters.latency.quantile_us(0.5)));
      s.p99->Set(static_cast<double>(row->counters.latency.quantile_us(0.99)));
    }
  }

  void remove_tenant(const tenant_series& s) {
    tenant_uses_->Remove(s.uses);
    tenant_inflight_->Remove(s.inflight);
    tenant_ops_->Remove(s.ops);
    tenant_errors_->Remove(s.errors);
    tenant_idle_->Remove(s.idle);
    tenant_p50_->Remove(s.p50);
    tenant_p99_->Remove(s.p99);
  }

  // Shared with the HTTP endpoint, which collects on its own threads (the
  // registry and every metric are thread-safe).
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Gauge* connections_ = nullptr;
  prometheus::Gauge* active_tenants_ = nullptr;
  prometheus::Gauge* max_tenants_ = nullptr;
  prometheus::Gauge* draining_tenants_ = nullptr;
  prometheus::Gauge* inflight_ = nullptr;
  prometheus::Gauge* waiters_ = nullptr;
  prometheus::Gauge* limit_waiters_ = nullptr;
  prometheus::Gauge* quarantined_ = nullptr;
  prometheus::Gauge* interval_ops_ = nullptr;
  prometheus::Gauge* interval_errors_ = nullptr;
  prometheus::Gauge* interval_p50_ = nullptr;
  prometheus::Gauge* interval_p99_ = nullptr;
  prometheus::Gauge* interval_wait_timeouts_ = nullptr;
  prometheus::Gauge* last_sample_ = nullptr;
  prometheus::Counter* ops_total_ = nullptr;
  prometheus::Counter* errors_total_ = nullptr;
  prometheus::Counter* created_total_ = nullptr;
  prometheus::Counter* reaped_total_ = nullptr;
  prometheus::Counter* evicted_total_ = nullptr;
  prometheus::Counter* crashed_total_ = nullptr;
  prometheus::Counter* limit_timeouts_total_ = nullptr;
  gauge_family* main_db_ = nullptr;
  gauge_family* health_ = nullptr;
  gauge_family* warnings_ = nullptr;

  gauge_family* pool_open_ = nullptr;
  gauge_family* pool_in_use_ = nullptr;
  gauge_family* pool_idle_ = nullptr;
  gauge_family* pool_waiters_ = nullptr;
  gauge_family* pool_max_ = nullptr;
  gauge_family* pool_min_ = nullptr;
  gauge_family* pool_tenant_pools_ = nullptr;
  counter_family* pool_created_ = nullptr;
  counter_family* pool_closed_ = nullptr;
  counter_family* pool_wait_timeouts_ = nullptr;
  counter_family* pool_connect_failures_ = nullptr;
  counter_family* pool_backoff_rejections_ = nullptr;
  gauge_family* pool_backoff_ = nullptr;
  std::map<std::string, cluster_series> clusters_;

  gauge_family* tenant_uses_ = nullptr;
  gauge_family* tenant_inflight_ = nullptr;
  gauge_family* tenant_ops_ = nullptr;
  gauge_family* tenant_errors_ = nullptr;
  gauge_family* tenant_idle_ = nullptr;
  gauge_family* tenant_p50_ = nullptr;
  gauge_family* tenant_p99_ = nullptr;
  std::map<std::string, tenant_series> tenants_;
};

prometheus_exposition::prometheus_exposition() : impl_(std::make_unique<impl>()) {}

prometheus_exposition::~prometheus_exposition() = default;

void prometheus_exposition::update(const observation& obs, const metrics_sample& sample,
                                   const std::vector<warning>& warnings,
                                   const std::string& status, uint64_t ops_total,
                                   uint64_t errors_total, uint32_t top_tenants) {
  impl_->update(obs, sample, warnings, status, ops_total, errors_total, top_tenants);
}

std::string prometheus_exposition::render() const { return impl_->render(); }

std::shared_ptr<prometheus::Collectable> prometheus_exposition::collectable() const {
  return impl_->collectable();
}

} // namespace tenantrt
