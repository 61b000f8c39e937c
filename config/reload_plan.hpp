#pragma once
// What a reload may apply to a running runtime, and what needs a restart.
//
// plan_reload() compares the running configuration with the newly loaded one
// key by key. Talked to by the runtime's reload (actors/runtime_impl.cpp),
// which applies the one list and logs the other.

#include <string>
#include <vector>

#include "config/runtime_config.hpp"

namespace tenantrt {

/// What a reload can apply at once and what needs a restart, comparing the
/// running config with the newly loaded one. Both hold JSON paths as in
/// config_problem (e.g. "clusters.eu.uri", "clusters.us" for a cluster added
/// or removed), in file layout order with map entries by name; never values,
/// so a changed password or token shows only as its path.
struct reload_plan {
  /// JSON paths whose value changed and apply at once.
  std::vector<std::string> applied;
  /// JSON paths whose value changed but need a restart (clusters added or
  /// removed, uri, pool_per_tenant, default_cluster, main_cluster,
  /// main_database, database_template, routing, executor, scheduler,
  /// control.listen, metrics.http_listen).
  std::vector<std::string> needs_restart;
};

/// Compares running with next key by key; both are assumed valid (as
/// parse_config() returns them). Changes nothing.
reload_plan plan_reload(const runtime_config& running, const runtime_config& next);

} // namespace tenantrt
