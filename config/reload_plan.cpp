#include "config/reload_plan.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "config/config_loader.hpp"
#include "config/json_io.hpp"

namespace tenantrt {

using nlohmann::ordered_json;

namespace {

enum class reload_effect { at_once, restart };

/// Keys of a JSON path matched against a pattern; "*" matches any one key
/// (a cluster's name). The longest matching pattern decides.
struct reload_rule {
  std::vector<std::string_view> pattern;
  reload_effect effect;
};

const std::vector<reload_rule>& reload_rules() {
  static const std::vector<reload_rule> rules = [] {
    using e = reload_effect;
    std::vector<reload_rule> out{
      // Pools, tenant actors and sockets are built at start from these.
      {{"clusters", "*"}, e::restart}, // a cluster added or removed
      {{"clusters", "*", "uri"}, e::restart},
      {{"clusters", "*", "pool_per_tenant"}, e::restart},
      {{"default_cluster"}, e::restart},
      {{"routing"}, e::restart}, // live tenant actors are bound to their cluster
      {{"database_template"}, e::restart},
      {{"main_database"}, e::restart},
      {{"main_cluster"}, e::restart},
      {{"pool_maintenance_interval_ms"}, e::at_once},
      {{"registry"}, e::at_once},
      {{"executor"}, e::restart},
      {{"scheduler"}, e::restart},
      {{"logging", "level"}, e::at_once},
      {{"control", "listen"}, e::restart},
      {{"control", "token"}, e::at_once},
      {{"control", "max_line_bytes"}, e::at_once},
      {{"control", "max_clients"}, e::at_once},
      {{"control", "client_idle_timeout_ms"}, e::at_once},
      {{"control", "allow_exec"}, e::at_once},
      {{"metrics"}, e::at_once},
      {{"metrics", "http_listen"}, e::restart},
      {{"shutdown"}, e::at_once},
    };
    // Every pool setting (sizes, timeouts) applies to the running pools.
    auto add_pool_key = [&out](const char* key, const auto&...) {
      out.push_back({{"clusters", "*", key}, e::at_once});
    };
    const pool_settings pool;
    visit_fields(add_pool_key, pool);
    return out;
  }();
  return rules;
}

/// How a change at keys takes effect; a key no rule names needs a restart
/// (claiming it applied when nothing reads it again would mislead).
reload_effect effect_of(const std::vector<std::string>& keys) {
  std::size_t best_length = 0;
  auto effect = reload_effect::restart;
  for (const auto& rule : reload_rules()) {
    const auto& pattern = rule.pattern;
    if (pattern.size() > keys.size() || pattern.size() <= best_length)
      continue;
    bool matches = std::equal(pattern.begin(), pattern.end(), keys.begin(),
                              [](std::string_view p, const std::string& k) {
                                return p == "*" || p == k;
                              });
    if (matches) {
      best_length = pattern.size();
      effect = rule.effect;
    }
  }
  return effect;
}

/// Walks the two configurations' JSON side by side and sorts each changed
/// key's path by its effect. Only paths are kept: values may be secrets.
class reload_planner {
public:
  reload_plan run(const ordered_json& running, const ordered_json& next) {
    std::vector<std::string> keys;
    compare(running, next, keys, "");
    return std::move(plan_);
  }

private:
  void compare(const ordered_json& running, const ordered_json& next,
               std::vector<std::string>& keys, const std::string& path) {
    if (!running.is_object() || !next.is_object()) {
      if (running != next)
        record(keys, path);
      return;
    }
    std::vector<std::string> names;
    for (const auto& item : running.items())
      names.push_back(item.key());
    bool same_keys = true;
    for (const auto& item : next.items())
      if (!running.contains(item.key())) {
        names.push_back(item.key());
        same_keys = false;
      }
    same_keys = same_keys && running.size() == next.size();
    // Struct sections always have every key, in to_json()'s order. Differing
    // keys mean a map (clusters, routing), which to_json() writes sorted.
    if (!same_keys)
      std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      auto child_path = join_path(path, name);
      keys.push_back(name);
      if (running.contains(name) && next.contains(name))
        compare(running.at(name), next.at(name), keys, child_path);
      else
        record(keys, child_path); // added or removed as a whole
      keys.pop_back();
    }
  }

  void record(const std::vector<std::string>& keys, const std::string& path) {
    auto& list = effect_of(keys) == reload_effect::at_once ? plan_.applied : plan_.needs_restart;
    list.push_back(path);
  }

  reload_plan plan_;
};

} // namespace

reload_plan plan_reload(const runtime_config& running, const runtime_config& next) {
  // Revealed, so that a changed password or token counts as a change.
  return reload_planner{}.run(to_json(running, redaction::reveal_secrets),
                              to_json(next, redaction::reveal_secrets));
}

} // namespace tenantrt
