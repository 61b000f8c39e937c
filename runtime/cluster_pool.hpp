#pragma once
// The physical connections of one cluster (or, with pool_per_tenant, of one
// tenant). mongo_backend owns the pools and runs every call below on a
// blocking_executor thread; the pool maintainer actor triggers maintain().
//
// Why tenantrt pools by itself: mongo-c-driver 1.23's mongoc_client_pool_t
// ignores maxIdleTimeMS and its minPoolSize destroys clients instead of
// keeping them warm (design brief, "Facts measured on this platform"). So
// this pool holds single-threaded mongoc_client_t handles that it creates,
// hands out, times and destroys. A single-threaded client uses one socket per
// server (monitoring shares it): against one server, connections == sockets;
// against an N-member replica set each connection holds N sockets and the
// cap counts connections.
//
// Promises (verified in tests/integration/cluster_pool_test.cpp by counting
// the sockets the server sees):
//   - never more than max_pool_size connections open;
//   - maintain() keeps min_pool_size connections opened, connected and idle
//     (and pings the ones idle longer than max_idle_time_ms: keepalive);
//   - maintain() closes connections idle longer than max_idle_time_ms, down to
//     min_pool_size;
//   - checkout is LIFO (most recently used first, so surplus connections age
//     out); a checkout that finds the pool full waits, FIFO, up to
//     wait_queue_timeout_ms, then fails with errc::pool_wait_timeout;
//   - a server that refuses connections is not hammered: after a failed
//     connection attempt the pool backs off (exponential with jitter, per
//     pool, 100 ms doubling up to min(5 s, server_selection_timeout_ms / 2),
//     so a server that is back is used again within the selection timeout).
//     Meanwhile a checkout that would open a connection waits for one in use
//     (the server may be at its connection limit) or, when none is in use,
//     fails at once with errc::server_unreachable; idle connections are
//     still handed out. After it one attempt at a time (a probe: a checkout
//     or maintain()) tries again. A new connection that reaches the server
//     ends the back-off (old ones answering do not: a server at its
//     connection limit serves them and refuses new ones).
//
// Lifecycle of one pooled connection:
//
//   (slot reserved) --client created--> in_use <--checkout-- idle
//                       |                  |  --checkin-----> ^
//   maintain(): create + ping -------------|------------------+
//                                          |                   |
//           discard / checkin after        |                   | idle too long /
//           clear() or shutdown()          v                   | clear() / shutdown()
//                                       closed <---------------+

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/runtime_config.hpp"
#include "runtime/command_backend.hpp"
#include "runtime/errc.hpp"

// The driver's client type, kept out of this header (mongoc is linked
// PRIVATE into tenantrt).
struct _mongoc_client_t;

namespace tenantrt {

/// Initialises mongo-c-driver once per process (std::call_once around
/// mongoc_init) and routes the driver's log to tenantrt::log(). mongoc_cleanup
/// is deliberately never called: a client destroyed after it (a static, a
/// detached thread) would crash, and the OS reclaims everything at exit.
void ensure_mongoc_initialized();

/// The clock the pool reads idle ages from; tests inject a fake one.
using pool_clock = std::function<std::chrono::steady_clock::time_point()>;

/// A pool's counters (connections are mongoc clients; see the header comment).
struct pool_counters {
  /// Connections open now: idle + in use + being connected by maintain().
  uint64_t open = 0;
  /// Connections handed out by checkout() and not yet returned.
  uint64_t in_use = 0;
  /// Connections waiting in the pool.
  uint64_t idle = 0;
  /// Checkouts waiting for a free connection.
  uint64_t waiters = 0;
  /// Connections ever created.
  uint64_t created_total = 0;
  /// Connections ever closed.
  uint64_t closed_total = 0;
  /// Checkouts that gave up after wait_queue_timeout_ms.
  uint64_t wait_timeouts_total = 0;
  /// New connections that could not reach the server (checkout or maintain()).
  uint64_t connect_failures_total = 0;
  /// Checkouts refused with server_unreachable during a connect back-off.
  uint64_t backoff_rejections_total = 0;
  /// Current back-off step in ms, 0 while the server answers (summed pools
  /// keep the largest).
  uint64_t backoff_ms = 0;
  /// Configured cap (summed when pools are summed).
  uint64_t max_pool_size = 0;
  /// Configured warm minimum (summed when pools are summed).
  uint64_t min_pool_size = 0;
  /// Per-tenant pools summed into these counters (0 for a shared pool).
  uint64_t tenant_pools = 0;

  /// Adds every field of other (used to sum per-tenant pools per cluster).
  pool_counters& operator+=(const pool_counters& other);
};

/// Names a pool in logs, errors and counters.
struct pool_identity {
  /// Cluster name from the config.
  std::string cluster;
  /// Owning tenant for a pool_per_tenant pool; empty for a shared pool.
  std::string tenant_id;

  /// "cluster" or "cluster/tenant".
  std::string label() const;
};

class cluster_pool;
struct pooled_connection;

/// One checked-out connection. Destroying the lease checks it back in (or
/// destroys it when the pool was cleared or shut down meanwhile). Move-only.
/// The pool must outlive its leases (mongo_backend's jobs hold the pool by
/// shared_ptr for that reason).
class client_lease {
public:
  /// An empty lease (owns nothing).
  client_lease() noexcept;
  /// Checks the connection in, unless released already.
  ~client_lease();
  /// Takes over other's connection; other becomes empty.
  client_lease(client_lease&& other) noexcept;
  /// Returns the current connection first, then takes over other's.
  client_lease& operator=(client_lease&& other) noexcept;
  client_lease(const client_lease&) = delete;
  client_lease& operator=(const client_lease&) = delete;

  /// True while the lease holds a connection.
  explicit operator bool() const noexcept;

  /// The driver client (single-threaded; only the lease holder uses it).
  _mongoc_client_t* client() const noexcept;

  /// The pool the connection belongs to; nullptr for an empty lease.
  cluster_pool* pool() const noexcept;

  /// Returns the connection to the pool now; the lease becomes empty.
  void checkin() noexcept;

  /// Closes the connection instead of returning it (after a network error:
  /// a single-threaded client that failed a server check refuses to rescan
  /// for 5 s, a fresh client does not). The lease becomes empty and a waiter,
  /// if any, may open a connection in the freed slot.
  void discard() noexcept;

private:
  friend class cluster_pool;
  client_lease(cluster_pool* owner, std::unique_ptr<pooled_connection> connection) noexcept;

  cluster_pool* pool_ = nullptr;
  std::unique_ptr<pooled_connection> connection_;
};

/// What checkout() returns: a lease, or why there is none.
struct checkout_result {
  /// Holds a connection when code == errc::none.
  client_lease lease;
  /// errc::none, errc::pool_wait_timeout, errc::server_unreachable (connect
  /// back-off), errc::shutting_down or errc::internal.
  errc code = errc::none;
  /// Human text for failures (no password).
  std::string message;
};

/// The pool of one cluster (or one tenant). Thread-safe. Every member may
/// block (on the driver or, checkout(), on the wait queue) except
/// counters(), identity(), settings(), apply_settings() and redacted_uri().
class cluster_pool {
public:
  /// Builds the pool; opens nothing (call maintain() to warm it up). Every
  /// client's URI gets socketTimeoutMS, serverSelectionTimeoutMS and
  /// connectTimeoutMS from settings (they win over the URI's own), with
  /// connectTimeoutMS capped by the selection timeout (a silent server would
  /// otherwise hold the first scan for connectTimeoutMS),
  /// serverSelectionTryOnce=false (rescan every 500 ms until the selection
  /// timeout instead of failing at once and then refusing to rescan for 5 s:
  /// short restarts are ridden over) and appname "tenantrt" unless the URI
  /// names one. Throws std::runtime_error (message without password) when
  /// the driver rejects uri.
  cluster_pool(pool_identity identity, const std::string& uri, const pool_settings& settings,
               pool_clock clock = std::chrono::steady_clock::now);

  /// Calls shutdown(). No lease may be outstanding.
  ~cluster_pool();

  cluster_pool(const cluster_pool&) = delete;
  cluster_pool& operator=(const cluster_pool&) = delete;

  /// The most recently used idle connection, else a new one while fewer than
  /// max_pool_size are open (it connects on first use), else waits in FIFO
  /// order up to wait_queue_timeout_ms for one to be returned or closed.
  checkout_result checkout();

  /// Closes connections idle longer than max_idle_time_ms (oldest first,
  /// never below min_pool_size; max_idle_time_ms 0 disables this, as
  /// maxIdleTimeMS=0 does in MongoDB URIs), pings the ones kept for the
  /// minimum that are that old (keepalive: after a server restart their
  /// sockets are dead; a failed ping discards them), then opens and pings
  /// new connections until min_pool_size are open. Stops topping up at the
  /// first ping that fails (server down; retried on the next call).
  /// Blocking: run it on an executor thread.
  void maintain();

  /// Closes every idle connection and marks the ones in use to be closed at
  /// checkin (the server went away or restarted: their sockets are dead).
  /// maintain() opens fresh ones.
  void clear();

  /// Closes every idle connection, fails every waiting checkout with
  /// errc::shutting_down, refuses later checkouts and closes connections
  /// checked in later. Idempotent.
  void shutdown();

  /// Runs command_json (extended JSON, first key = command name) on
  /// database with a connection of this pool; see run_command() for the
  /// outcome. The JSON is parsed before checkout (a bad command takes no
  /// connection). After a network error the connection is discarded, and the
  /// pool cleared when it was a pooled one (a refused new connection feeds
  /// the connect back-off instead); a read-only command (find, count, distinct, aggregate
  /// without $out/$merge, list*, ping, ...) whose reused socket died under it
  /// is retried once on a fresh connection, as the drivers' retryable reads
  /// do. Writes are never retried. The outcome's latency is left 0 (the
  /// caller measures).
  result run(const std::string& database, const std::string& command_json);

  /// A snapshot of the counters.
  pool_counters counters() const;

  /// Cluster (and tenant) of this pool.
  const pool_identity& identity() const noexcept;

  /// The settings in force (a copy: apply_settings() may change them).
  pool_settings settings() const;

  /// Replaces the settings at run time (config reload). Sizes and
  /// max_idle_time_ms act at once: a raised cap serves waiters now, a lowered
  /// one closes surplus connections at checkin and in maintain(). Timeouts
  /// apply to connections opened from now on. Never blocks on the driver.
  void apply_settings(const pool_settings& settings);

  /// The URI as logged: redact_uri() (config/uri.hpp) of the configured one.
  const std::string& redacted_uri() const noexcept;

private:
  friend class client_lease;
  friend result run_command(client_lease& lease, const std::string& database,
                                     const std::string& command_json);
  struct state;

  void checkin(std::unique_ptr<pooled_connection> connection) noexcept;
  void discard(std::unique_ptr<pooled_connection> connection) noexcept;
  /// Discards lease's connection after a network error or timeout; a fresh
  /// connection that could not reach the server feeds the connect back-off.
  static void discard_after_error(client_lease& lease, const result& outcome) noexcept;

  std::unique_ptr<state> state_;
};

/// The boundary between the driver and the runtime's errors: runs
/// command_json on database with lease's client, once (no retry), and
/// converts the result.
///  - success: errc::none, reply_json = the reply as relaxed extended JSON;
///  - the server answered ok:0: errc::command_failed, message "command
///    '<name>' on '<database>' failed with code <code> (<codeName>):
///    <errmsg>", reply_json = the server's reply;
///  - authentication refused: errc::command_failed;
///  - not a JSON object / not extended JSON / empty: errc::bad_command;
///  - no suitable server, refused, reset, protocol error:
///    errc::server_unreachable (the lease is discarded);
///  - no answer within socket_timeout_ms: errc::timeout (the lease is
///    discarded: the driver closed that socket anyway).
/// Messages name the pool and never contain the URI's password.
result run_command(client_lease& lease, const std::string& database,
                            const std::string& command_json);

} // namespace tenantrt
