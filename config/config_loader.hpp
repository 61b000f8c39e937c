#pragma once
// The public face of config/: a runtime_config from JSON text or a file, and back.
//
// The one way a runtime_config is filled from JSON: parse_config() reads every
// key (rejecting unknown keys, wrong types and out-of-range numbers), applies
// the environment overrides, runs validate(), and throws config_error listing
// every problem with its JSON path. load_config() does the same for a file.
// to_json() writes the effective configuration back (the `config` control
// command), with credentials redacted unless asked otherwise.
//
// Behind this header, the reader, writer and environment overrides are in
// config/json_io.cpp, the checks behind validate() in
// config/config_checks.cpp, both internal. plan_reload() has its own header,
// config/reload_plan.hpp, included below so that users of this header keep
// compiling; include it directly when only planning a reload.
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

#include "config/reload_plan.hpp" // plan_reload(), reload_plan: for existing users of this header
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
/// Defined in config/config_checks.cpp.
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
/// parse_config() reads. Defined in config/json_io.cpp.
nlohmann::ordered_json to_json(const runtime_config& cfg,
                               redaction mode = redaction::redact_secrets);

} // namespace tenantrt
