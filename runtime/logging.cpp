#include "runtime/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace tenantrt {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto existing = spdlog::get("tenantrt");
    if (existing)
      return existing;
    auto created = spdlog::stderr_color_mt("tenantrt");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    return created;
  }();
  return *logger;
}

bool set_log_level(const std::string& level_name) {
  auto level = spdlog::level::from_str(level_name);
  // from_str maps unknown names to off; only accept "off" when asked for.
  if (level == spdlog::level::off && level_name != "off")
    return false;
  log().set_level(level);
  return true;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (auto& item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

} // namespace tenantrt
