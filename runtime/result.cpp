#include "runtime/result.hpp"

namespace tenantrt {

nlohmann::json result::reply() const {
  if (reply_json.empty())
    return nullptr;
  auto parsed = nlohmann::json::parse(reply_json, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json{} : parsed;
}

} // namespace tenantrt
