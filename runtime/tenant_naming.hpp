#pragma once
// Tenant naming: turns an untrusted tenant id (from the control socket or the
// embedding service) into the database and cluster it lives on, and refuses
// ids that are malformed or would reach a reserved database (admin, local,
// config). The registry asks it before creating a tenant actor. The rules
// themselves live one floor down, in config/names.hpp, which the config
// loader checks too.

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "config/names.hpp"
#include "config/runtime_config.hpp"
#include "runtime/command_backend.hpp"
#include "runtime/errc.hpp"

namespace tenantrt {

/// Resolves tenant ids to their database and cluster; immutable after
/// construction, so one instance may be shared by readers on any thread.
class tenant_naming {
public:
  /// Copies what it needs (template, routing, default cluster, cluster names).
  explicit tenant_naming(const runtime_config& cfg);

  /// The tenant's database and cluster, or a code and message: errc::invalid_tenant_id
  /// when the id is invalid or would reach an unusable or reserved database,
  /// errc::unknown_cluster when routing names a cluster the config lacks.
  struct resolution {
    std::optional<tenant_target> target;
    errc code = errc::none;
    std::string error;
  };

  /// Routing: exact id, then the longest matching prefix, then default_cluster.
  resolution resolve(std::string_view tenant_id) const;

  /// Substitutes tenant_id for {id} in database_template; checks nothing.
  std::string database_for(std::string_view tenant_id) const;

  /// Cluster name routing picks for tenant_id; checks nothing.
  const std::string& cluster_for(std::string_view tenant_id) const;

private:
  std::string database_template_;
  std::string default_cluster_;
  std::map<std::string, std::string, std::less<>> exact_;
  std::map<std::string, std::string, std::less<>> prefix_;
  std::set<std::string, std::less<>> clusters_;
};

} // namespace tenantrt
