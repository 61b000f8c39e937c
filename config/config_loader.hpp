#pragma once
// The one way a runtime_config is filled from JSON: parse_config() reads every
// key (rejecting unknown keys, wrong types and out-of-range numbers), applies
// the environment overrides, runs validate(), and throws config_error listing
// every problem with its JSON path. load_config() does the same for a file.
// to_json() writes the effective configuration back (the `config` control
// command), with credentials redacted unless asked otherwise. plan_reload()
// tells a reload what it may apply to a running runtime.
//
// Environment overrides (empty values are ignored):
//   MONGODB_URI             uri of the default_cluster
//   TENANTRT_LOG_LEVEL      logging.level
//   TENANTRT_CONTROL_TOKEN  control.token (keeps the secret out of the file)

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/runtime_config.hpp"

namespace tenantrt {

/// One thing wrong with a configuration.
struct config_problem {
  /// JSON path of the offending key, e.g. "clusters.eu.max_pool_size"; empty
  /// for the document as a whole (malformed JSON, unreadable file).
  std::string path;
  /// What is wrong; never contains a URI password or control.token.
  std::string reason;
};

/// Thrown by parse_config() and load_config() with every problem found.
class config_error : public std::runtime_error {
public:
  /// source: the file the text came from, or empty.
  explicit config_error(std::vector<config_problem> problems, std::string source = {});

  /// Every problem, in document order, then semantic ones.
  const std::vector<config_problem>& problems() const noexcept { return problems_; }

  /// File name given to load_config(); empty for parse_config().
  const std::string& source() const noexcept { return source_; }

private:
  std::vector<config_problem> problems_;
  std::string source_;
};

/// Looks up an environment variable; nullopt when unset.
using environment_lookup = std::function<std::optional<std::string>(const char* name)>;

/// The real process environment (std::getenv).
std::optional<std::string> process_environment(const char* name);

/// Parses json_text, applies the environment overrides read through env and
/// validates the result. Throws config_error with every problem.
runtime_config parse_config(const std::string& json_text,
                            const environment_lookup& env = process_environment);

/// Reads the file at path and calls parse_config() with the process
/// environment. Throws config_error (source() = path), also when the file
/// cannot be read.
runtime_config load_config(const std::string& path);

/// Semantic checks (names that must exist, limits, URIs, database names); changes
/// nothing and returns every problem, empty when cfg is usable.
std::vector<config_problem> validate(const runtime_config& cfg);

/// Whether to_json() may show credentials.
enum class redaction {
  /// URIs pass through redact_uri() and control.token becomes "***" ("" when
  /// unset) (for logs and the control socket).
  redact_secrets,
  /// Everything as configured (to write a file back that parse_config() reads).
  reveal_secrets,
};

/// The effective configuration with every key, in the file layout that
/// parse_config() reads.
nlohmann::ordered_json to_json(const runtime_config& cfg,
                               redaction mode = redaction::redact_secrets);

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
