#pragma once
// A tenantload scenario: phases of load run in order against one server, read
// from a JSON file by parse_scenario(), which rejects unknown keys, wrong types
// and out-of-range values and names the JSON path of each problem (the same
// "path: reason" form as config/config_loader.hpp). The scenario may carry the
// tenantrt configuration that the runtime and daemon modes use.
//
//   {"name": "steady", "tenantrt": {...} | "path/to/config.json",
//    "phases": [{"name": "load", "duration_s": 20, "tenants": 200,
//                "distribution": {"type": "zipf", "exponent": 1.1},
//                "concurrency": 16, "rate": 1500,
//                "mix": {"ping": 1, "find": 1, "insert": 1, "update": 1},
//                "think_ms": 0}]}

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/runtime_config.hpp"

namespace tenantrt::load {

/// The operations a worker sends, each on the tenant's database.
enum class operation : uint8_t {
  ping,   ///< {ping: 1}
  find,   ///< find with a one-key filter and a small limit
  insert, ///< one small document
  update, ///< one updateOne-style upsert
};

inline constexpr std::array<operation, 4> all_operations{operation::ping, operation::find,
                                                         operation::insert, operation::update};

/// "ping", "find", "insert", "update".
const char* to_string(operation op) noexcept;

/// How a phase picks the tenant of each operation among its `tenants` ids.
enum class distribution_kind : uint8_t {
  uniform, ///< every tenant equally likely
  zipf,    ///< tenant k (1-based) has weight 1 / k^exponent
};

struct distribution {
  distribution_kind kind = distribution_kind::uniform;
  /// zipf only; > 0.
  double exponent = 1.0;
};

/// One phase of a scenario.
struct phase {
  std::string name;
  double duration_s = 0;
  /// Distinct tenant ids used (ids 0..tenants-1); may be 0 only when idle.
  uint32_t tenants = 0;
  distribution tenant_distribution;
  /// Worker threads; 0 is an idle phase (nothing sent: reaping shows).
  uint32_t concurrency = 0;
  /// Target operations per second over all workers; 0 = as fast as possible.
  double rate = 0;
  /// Relative weights of the operations (indexed by operation); sum > 0
  /// unless idle.
  std::array<double, 4> mix{1, 0, 0, 0};
  /// Pause of a worker after each operation.
  double think_ms = 0;

  bool idle() const noexcept { return concurrency == 0; }
};

struct scenario {
  std::string name;
  std::string description;
  /// Tenant ids are prefix + number, e.g. "t17".
  std::string tenant_prefix = "t";
  std::vector<phase> phases;
  /// The tenantrt configuration of the runtime and daemon modes (the
  /// cluster URIs are replaced by the target server's).
  runtime_config tenantrt;
  /// Where tenantrt came from: "built-in defaults", "inline", or a file path.
  std::string tenantrt_source = "built-in defaults";
};

/// One thing wrong with a scenario file.
struct scenario_problem {
  /// JSON path, e.g. "phases[1].mix.ping"; empty for the whole document.
  std::string path;
  std::string reason;
};

/// Thrown by parse_scenario() / load_scenario() with every problem found.
class scenario_error : public std::runtime_error {
public:
  scenario_error(std::vector<scenario_problem> problems, const std::string& source);
  const std::vector<scenario_problem>& problems() const noexcept { return problems_; }

private:
  std::vector<scenario_problem> problems_;
};

/// The tenantrt configuration used when a scenario names none: dev.json's
/// values with tighter timers (idle 10 s, cleanup 2 s), no HTTP metrics,
/// logging at warn.
runtime_config default_tenantrt_config();

/// Parses a scenario document. base_dir resolves a relative "tenantrt"
/// config path; default_name is used when the document has no "name".
/// Throws scenario_error listing every problem.
scenario parse_scenario(const std::string& json_text, const std::string& base_dir = ".",
                        const std::string& default_name = "scenario");

/// Reads and parses a file (name defaults to the file's stem).
scenario load_scenario(const std::string& path);

/// Every phase's duration multiplied by factor (> 0), e.g. for a quick run.
void scale_durations(scenario& s, double factor);

} // namespace tenantrt::load
