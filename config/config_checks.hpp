#pragma once
// The semantic checks behind validate(), for config/*.cpp only.
//
// Clusters that must exist, limits, URIs, tenant ids and database names
// (config/names.hpp), listen addresses (config/listen_address.hpp). The checks
// read a runtime_config as it is, change nothing and name every problem's JSON
// path; the strict reader (config/json_io.hpp) has already refused wrong types
// and unknown keys. validate() is declared in config/config_loader.hpp.

#include <cstdint>
#include <string>

#include "config/json_io.hpp"
#include "config/runtime_config.hpp"

namespace tenantrt {

/// One pass of every check over one configuration, in file layout order.
class config_checker {
public:
  explicit config_checker(const runtime_config& cfg);

  /// Every problem found; call once.
  problem_list run();

private:
  void add(std::string path, std::string reason);
  void at_least(uint32_t value, uint32_t min, std::string path);
  void at_most(uint32_t value, uint32_t max, std::string path);

  /// Names, URIs and pool limits of each cluster.
  void check_clusters();
  /// name (at path) is a configured cluster.
  void check_cluster_name(const std::string& name, std::string path);
  /// routing.exact keys are tenant ids, prefixes could start one; targets exist.
  void check_routing();
  void check_registry();
  void check_log_level();
  /// Listen addresses (a token for non-loopback ones), token length, limits.
  void check_control();
  /// Sampling limits; http_listen is empty or a loopback HOST:PORT.
  void check_metrics();

  const runtime_config& cfg_;
  problem_list out_;
};

} // namespace tenantrt
