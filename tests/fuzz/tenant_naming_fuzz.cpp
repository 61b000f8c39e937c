// Fuzzes tenant naming (runtime/tenant_naming.hpp): an untrusted tenant id
// resolved through a fuzzer-chosen database_template and routing table.
//
// Invariants checked (a violation aborts, which libFuzzer reports):
// - tenant_id_problem accepts exactly [A-Za-z0-9_-]{1,64};
// - database_name_problem accepts exactly 1..63 bytes without / \ . space
//   " $ * < > : | ? NUL that are not admin/local/config in any case;
// - an id that resolves maps to a database that is never admin/local/config
//   (any case), holds no '.', '$', '/', NUL, is 1..63 bytes, and equals
//   database_for(id); its cluster is a configured one;
// - a refused id gets invalid_tenant_id or unknown_cluster with a message
//   that is printable ASCII (ids come from the network and end up in logs)
//   and of bounded length whatever the id's length.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "config/runtime_config.hpp"
#include "runtime/tenant_naming.hpp"

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

bool reference_id_ok(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
          || c == '-'))
      return false;
  return true;
}

std::string lowered(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool reference_database_ok(std::string_view name) {
  if (name.empty() || name.size() > 63)
    return false;
  for (char c : name)
    if (std::string_view{"/\\. \"$*<>:|?"}.find(c) != std::string_view::npos || c == '\0')
      return false;
  auto low = lowered(name);
  return low != "admin" && low != "local" && low != "config";
}

void require_printable(const std::string& message) {
  require(!message.empty(), "a refusal has a message");
  require(message.size() < 1024, "a refusal's message is bounded");
  for (unsigned char c : message)
    require(c >= 0x20 && c < 0x7f, "a refusal's message is printable ASCII");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input{data, size};
  tenantrt::runtime_config cfg;
  // Mostly real templates (what the config loader lets through contains
  // {id}); sometimes anything, since tenant_naming must hold on its own.
  switch (input.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: break; // the default, tenant_{id}
    case 1: cfg.database_template = "{id}"; break;
    case 2:
      cfg.database_template = input.ConsumeRandomLengthString(16) + "{id}"
                              + input.ConsumeRandomLengthString(16);
      break;
    default: cfg.database_template = input.ConsumeRandomLengthString(40); break;
  }
  cfg.clusters["eu"] = tenantrt::cluster_config{"eu", "mongodb://eu:27017", false, {}};
  cfg.routing.prefix[input.ConsumeRandomLengthString(8)] = "eu";
  cfg.routing.exact[input.ConsumeRandomLengthString(8)] = "nowhere";
  auto id = input.ConsumeRemainingBytesAsString();

  require(tenantrt::tenant_id_problem(id).has_value() != reference_id_ok(id),
          "tenant_id_problem matches [A-Za-z0-9_-]{1,64}");
  if (auto problem = tenantrt::tenant_id_problem(id))
    require_printable(*problem);
  require(tenantrt::database_name_problem(id).has_value() != reference_database_ok(id),
          "database_name_problem matches MongoDB's rules");

  tenantrt::tenant_naming naming{cfg};
  auto resolved = naming.resolve(id);
  if (resolved.target) {
    require(resolved.code == tenantrt::errc::none, "a resolved id has no error code");
    require(reference_id_ok(id), "only valid ids resolve");
    const auto& db = resolved.target->database;
    require(!db.empty() && db.size() <= tenantrt::max_database_name_length,
            "database name is 1..63 bytes");
    require(db.find_first_of(std::string_view{"./$\0", 4}) == std::string::npos,
            "database name has no . / $ NUL");
    auto low = lowered(db);
    require(low != "admin" && low != "local" && low != "config", "database is not reserved");
    require(reference_database_ok(db), "database name is valid");
    require(db == naming.database_for(id), "database is database_for(id)");
    require(resolved.target->tenant_id == id, "target keeps the id");
    require(cfg.clusters.count(resolved.target->cluster) == 1, "cluster is configured");
    return 0;
  }
  require(resolved.code == tenantrt::errc::invalid_tenant_id
            || resolved.code == tenantrt::errc::unknown_cluster,
          "a refusal is invalid_tenant_id or unknown_cluster");
  require_printable(resolved.error);
  if (resolved.code == tenantrt::errc::unknown_cluster)
    require(reference_id_ok(id) && reference_database_ok(naming.database_for(id)),
            "unknown_cluster only for otherwise usable ids");
  else
    require(!reference_id_ok(id) || !reference_database_ok(naming.database_for(id)),
            "invalid_tenant_id only for unusable ids");
  return 0;
}
