#include "runtime/tenant_naming.hpp"

namespace tenantrt {

tenant_naming::tenant_naming(const runtime_config& cfg) :
  database_template_(cfg.database_template),
  default_cluster_(cfg.default_cluster),
  exact_(cfg.routing.exact.begin(), cfg.routing.exact.end()),
  prefix_(cfg.routing.prefix.begin(), cfg.routing.prefix.end()) {
  for (const auto& [name, cluster] : cfg.clusters)
    clusters_.insert(name);
}

std::string tenant_naming::database_for(std::string_view tenant_id) const {
  return database_name_for(database_template_, tenant_id);
}

const std::string& tenant_naming::cluster_for(std::string_view tenant_id) const {
  if (auto exact = exact_.find(tenant_id); exact != exact_.end())
    return exact->second;
  const std::string* best = nullptr;
  std::size_t best_length = 0;
  for (const auto& [prefix, cluster] : prefix_) {
    bool matches = tenant_id.substr(0, prefix.size()) == prefix;
    if (matches && (best == nullptr || prefix.size() > best_length)) {
      best = &cluster;
      best_length = prefix.size();
    }
  }
  return best != nullptr ? *best : default_cluster_;
}

tenant_naming::resolution tenant_naming::resolve(std::string_view tenant_id) const {
  resolution out;
  if (auto problem = tenant_id_problem(tenant_id)) {
    out.code = errc::invalid_tenant_id;
    out.error = std::move(*problem);
    return out;
  }
  auto database = database_for(tenant_id);
  if (auto problem = database_name_problem(database)) {
    out.code = errc::invalid_tenant_id;
    if (database.size() > max_database_name_length) {
      auto fixed = database.size() - tenant_id.size();
      auto fits = fixed < max_database_name_length ? max_database_name_length - fixed : 0;
      out.error
        = "tenant id " + printable_quoted(tenant_id) + " (" + std::to_string(tenant_id.size())
          + " characters) is too long for database_template " + printable_quoted(database_template_)
          + ": its database name would be " + std::to_string(database.size())
          + " bytes, MongoDB allows " + std::to_string(max_database_name_length) + ", so at most "
          + std::to_string(fits) + " characters fit";
    } else {
      out.error = "tenant id " + printable_quoted(tenant_id) + " cannot be used: " + *problem;
    }
    return out;
  }
  const auto& cluster = cluster_for(tenant_id);
  if (clusters_.count(cluster) == 0) {
    out.code = errc::unknown_cluster;
    out.error = "tenant id " + printable_quoted(tenant_id) + " routes to cluster "
                + printable_quoted(cluster) + ", which is not configured";
    return out;
  }
  out.target = tenant_target{std::string{tenant_id}, std::move(database), cluster};
  return out;
}

} // namespace tenantrt
