#include "runtime/errc.hpp"

namespace tenantrt {

std::string_view to_string(errc code) noexcept {
  // A switch without default: -Wswitch (in -Wall) flags a value left out.
  switch (code) {
    case errc::none: return "none";
    case errc::invalid_tenant_id: return "invalid_tenant_id";
    case errc::tenant_limit_reached: return "tenant_limit_reached";
    case errc::tenant_crashed: return "tenant_crashed";
    case errc::tenant_quarantined: return "tenant_quarantined";
    case errc::pool_wait_timeout: return "pool_wait_timeout";
    case errc::server_unreachable: return "server_unreachable";
    case errc::timeout: return "timeout";
    case errc::command_failed: return "command_failed";
    case errc::bad_command: return "bad_command";
    case errc::shutting_down: return "shutting_down";
    case errc::overloaded: return "overloaded";
    case errc::unknown_cluster: return "unknown_cluster";
    case errc::internal: return "internal";
  }
  return "internal";
}

std::optional<errc> errc_from_string(std::string_view text) noexcept {
  for (auto code : all_errcs)
    if (to_string(code) == text)
      return code;
  return std::nullopt;
}

} // namespace tenantrt
