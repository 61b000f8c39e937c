#pragma once
// Tenant naming: turns an untrusted tenant id (from the control socket or the
// embedding service) into the database and cluster it lives on, and refuses
// ids that are malformed or would reach a reserved database (admin, local,
// config). The registry asks it before creating a tenant actor; the config
// loader reuses its checks for database_template, main_database and routing.
//
// Rules: a tenant id matches [A-Za-z0-9_-]{1,64}; its database is
// database_template with {id} replaced, and must be a valid MongoDB database
// name (1..63 bytes, none of / \ . space " $ * < > : | ? NUL) that is not
// reserved in any letter case. The 63-byte limit means a template's fixed
// part shortens the longest usable id: "tenant_{id}" leaves 56 characters.

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "config/runtime_config.hpp"
#include "runtime/command_backend.hpp"
#include "runtime/errc.hpp"

namespace tenantrt {

/// Longest tenant id accepted whatever the template.
inline constexpr std::size_t max_tenant_id_length = 64;

/// Longest MongoDB database name, in bytes.
inline constexpr std::size_t max_database_name_length = 63;

/// nullopt when id matches [A-Za-z0-9_-]{1,64}; otherwise why not (quotes the
/// id printably, control and non-ASCII bytes escaped, long input truncated,
/// and names the rule broken).
std::optional<std::string> tenant_id_problem(std::string_view id);

/// nullopt when name is a usable tenant database name (valid MongoDB database
/// name, not admin/local/config in any letter case); otherwise why not.
std::optional<std::string> database_name_problem(std::string_view name);

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
