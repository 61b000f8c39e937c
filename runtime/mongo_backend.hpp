#pragma once
// The production command_backend: runs tenant and main-database commands on
// MongoDB through tenantrt's own cluster_pools, every driver call on a
// blocking_executor thread (never on CAF's scheduler). The registry and the
// tenant actors talk to it through command_backend / tenant_channel; the pool
// maintainer actor calls maintain_all() on its timer; the metrics side reads
// pool_counters_by_cluster().
//
// Pools: one per cluster whose pool_per_tenant is false (shared by all of its
// tenants), plus one per open tenant_channel on a pool_per_tenant cluster
// (owned by that channel: destroying the channel shuts the pool down on the
// executor and closes its sockets). The main database runs on the shared pool
// of main_cluster (or default_cluster), which exists even when that cluster
// is pool_per_tenant.
//
// Completions run on an executor thread (or at once on the caller's thread
// when the job is refused with overloaded / shutting_down).

#include <map>
#include <memory>
#include <string>

#include "config/runtime_config.hpp"
#include "runtime/blocking_executor.hpp"
#include "runtime/cluster_pool.hpp"
#include "runtime/command_backend.hpp"

namespace tenantrt {

/// command_backend over cluster_pools and a blocking_executor.
class mongo_backend final : public command_backend {
public:
  /// Builds the shared pools (nothing connects: call warm_up()). Throws
  /// std::runtime_error when a shared cluster's URI is invalid or
  /// main_cluster / default_cluster names no cluster. clock is handed to
  /// every pool (tests age idle connections with it).
  mongo_backend(const runtime_config& config, std::shared_ptr<blocking_executor> executor,
                pool_clock clock = std::chrono::steady_clock::now);

  /// Calls shutdown(). Channels and queued jobs may outlive the backend; they
  /// then fail with errc::shutting_down.
  ~mongo_backend() override;

  mongo_backend(const mongo_backend&) = delete;
  mongo_backend& operator=(const mongo_backend&) = delete;

  /// A channel to target.database on target.cluster; with pool_per_tenant, a
  /// new pool owned by the channel. nullptr and *error set for an unknown
  /// cluster or a URI the driver rejects.
  std::shared_ptr<tenant_channel> open(const tenant_target& target, std::string* error) override;

  /// Runs command_json on main_database of main_cluster (or default_cluster).
  void submit_main(std::string command_json, completion done) override;

  /// Posts maintain() of each shared pool so min_pool_size connections open
  /// at start, without any command.
  void warm_up();

  /// Posts maintain() of every live pool (shared and per-tenant); a pool
  /// whose previous maintain() still runs is skipped.
  void maintain_all();

  /// Counters per configured cluster: its shared pool plus every live
  /// per-tenant pool of it summed (tenant_pools counts the latter).
  std::map<std::string, pool_counters> pool_counters_by_cluster() const;

  /// Config reload: the pool settings of every cluster named in config apply
  /// to its live pools (see cluster_pool::apply_settings) and to per-tenant
  /// pools opened later. URIs, clusters and pool_per_tenant stay as built
  /// (they need a restart). Never blocks on the driver.
  void apply_pool_settings(const runtime_config& config);

  /// Shuts every pool down (idle sockets closed now, busy ones at checkin);
  /// later submits fail with errc::shutting_down. Runs on the caller's thread
  /// and may block on the driver while closing. Idempotent. The executor is
  /// not shut down here (the runtime owns it).
  void shutdown();

private:
  struct shared_state;
  // Shared with the channels and queued jobs, which may outlive the backend.
  std::shared_ptr<shared_state> state_;
};

} // namespace tenantrt
