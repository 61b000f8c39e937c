#pragma once
// One spdlog logger for the whole runtime. Lifecycle events (tenant created /
// reaped / evicted / crashed, pool connection opened / closed) log at info,
// each operation at debug. Never pass a URI or token in unredacted.

#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace tenantrt {

/// The runtime's logger ("tenantrt"), created on first use.
spdlog::logger& log();

/// Sets the level from its name (trace, debug, info, warn, error, critical,
/// off); returns false and changes nothing for an unknown name.
bool set_log_level(const std::string& level_name);

/// A list in a log line: "a, b, c"; "none" when it is empty.
std::string joined(const std::vector<std::string>& items);

} // namespace tenantrt
