#pragma once
// What tenantload sends operations through, one implementation per --mode:
//   runtime          an embedded tenantrt::runtime (runtime/runtime.hpp), its
//                    blocking execute(): a request thread that waits anyway
//   runtime-async    the same runtime through run_command(...).get(): the
//                    future API, whose commands run on the executor
//   daemon           tenantrtd's control socket `exec` (one connection per worker)
//   naive            a new mongoc_client_t per operation
//   pool-per-tenant  one mongoc_client_pool_t per tenant, cached for ever
//   direct           one shared mongoc_client_pool_t, no actors (the floor)
// The load runner (load_runner.hpp) opens one session per worker thread and
// never touches the driver or CAF itself.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/runtime_config.hpp"

namespace tenantrt::load {

/// One worker's channel; used from that worker's thread only.
class target_session {
public:
  virtual ~target_session() = default;
  /// Runs command on the tenant's database; returns "" on success, else a
  /// short error code (tenantrt's errc names, or driver domain_code names).
  virtual std::string run(const std::string& tenant_id, const nlohmann::ordered_json& command) = 0;
};

class load_target {
public:
  virtual ~load_target() = default;
  /// A new worker channel; throws std::runtime_error when it cannot open.
  virtual std::unique_ptr<target_session> open_session() = 0;
  /// Whether the mode has tenants to count (runtime, daemon).
  virtual bool counts_tenants() const { return false; }
  /// Active tenants right now; -1 when the mode has none (counts_tenants()
  /// false) or the count could not be read this time.
  virtual int64_t active_tenants() { return -1; }
  /// The process doing the work when it is not tenantload (tenantrtd).
  virtual std::optional<pid_t> worker_process() const { return std::nullopt; }
  /// Most sockets the mode may hold at once, when it promises one.
  virtual std::optional<uint32_t> connection_cap() const { return std::nullopt; }
  /// The sockets an idle, reaped mode keeps (warm minimum).
  virtual uint32_t connection_floor() const { return 0; }
  /// Stops: drains, closes every socket (and stops a child daemon).
  virtual void stop() = 0;
};

/// Driver URI options for the raw-driver modes, so a down server fails
/// operations instead of blocking: selection/connect 5 s, socket 30 s,
/// serverSelectionTryOnce=false (as tenantrt's own clients).
struct driver_timeouts {
  uint32_t server_selection_timeout_ms = 5000;
  uint32_t connect_timeout_ms = 5000;
  uint32_t socket_timeout_ms = 30000;
};

/// async: run_command(...).get() instead of execute().
std::unique_ptr<load_target> make_runtime_target(runtime_config config, bool async);
std::unique_ptr<load_target> make_naive_target(const std::string& uri, driver_timeouts timeouts);
std::unique_ptr<load_target> make_pool_per_tenant_target(const std::string& uri,
                                                         driver_timeouts timeouts);
std::unique_ptr<load_target> make_direct_target(const std::string& uri, driver_timeouts timeouts);

struct daemon_options {
  /// The config to start tenantrtd with (cluster URIs already set).
  runtime_config config;
  /// Control address (HOST:PORT or unix:/path) of a running tenantrtd; empty:
  /// start tenantrtd_path with config on a private unix socket.
  std::string control_address;
  /// control.token of that daemon ("" = none).
  std::string token;
  std::string tenantrtd_path;
  /// Where the started daemon's log goes (kept when it fails to start).
  std::string log_level = "warn";
};

std::unique_ptr<load_target> make_daemon_target(daemon_options options);

/// Makes the named target; throws std::invalid_argument for an unknown mode.
std::unique_ptr<load_target> make_target(const std::string& mode, const runtime_config& config,
                                         const std::string& uri, const daemon_options& daemon);

/// The five modes, in the order `--mode all` runs them.
const std::vector<std::string>& all_modes();

/// Short name of a driver error (domain and code), e.g. "stream_socket",
/// "server_selection_failure", "server_11000".
std::string driver_error_name(uint32_t domain, uint32_t code);

} // namespace tenantrt::load
