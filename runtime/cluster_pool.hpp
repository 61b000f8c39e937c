#pragma once
// The physical connections of one cluster (or one tenant): opened, handed out, waited for, closed.
//
// With pool_per_tenant a pool serves one tenant. mongo_backend owns the pools
// and runs every call below on a blocking_executor thread, commands through
// run_on_pool() (runtime/command_runner.hpp: the pool only pools, it knows no
// command); the pool maintainer actor triggers maintain().
//
// Why tenantrt pools by itself: mongo-c-driver 1.23's mongoc_client_pool_t
// ignores maxIdleTimeMS and its minPoolSize destroys clients instead of
// keeping them warm (measured on this platform: docs/architecture.md, "Why
// tenantrt pools by itself"). So this pool holds single-threaded
// mongoc_client_t handles that it creates, hands out, times and destroys. A
// single-threaded client uses one socket per server (monitoring shares it):
// against one server, connections == sockets; against an N-member replica
// set each connection holds N sockets and the cap counts connections.
//
// Promises (verified in tests/runtime/cluster_pool_test.cpp by counting
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
#include "runtime/client_lease.hpp"
#include "runtime/errc.hpp"
#include "runtime/stats.hpp"

namespace tenantrt {

/// The clock the pool reads idle ages from; tests inject a fake one.
using pool_clock = std::function<std::chrono::steady_clock::time_point()>;

/// Names a pool in logs, errors and counters.
struct pool_identity {
  /// Cluster name from the config.
  std::string cluster;
  /// Owning tenant for a pool_per_tenant pool; empty for a shared pool.
  std::string tenant_id;

  /// "cluster" or "cluster/tenant".
  std::string label() const;
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
/// counters(), identity(), label(), settings(), apply_settings(),
/// redacted_uri() and scrubbed().
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
  /// names one (client_uri(), runtime/mongoc_driver.hpp). Throws
  /// std::runtime_error (message without password) when the driver rejects
  /// uri.
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

  /// A snapshot of the counters.
  pool_counters counters() const;

  /// Cluster (and tenant) of this pool.
  const pool_identity& identity() const noexcept;

  /// identity().label(), computed once: how messages and logs name the pool.
  const std::string& label() const noexcept;

  /// The settings in force (a copy: apply_settings() may change them).
  pool_settings settings() const;

  /// Replaces the settings at run time (config reload). Sizes and
  /// max_idle_time_ms act at once: a raised cap serves waiters now, a lowered
  /// one closes surplus connections at checkin and in maintain(). Timeouts
  /// apply to connections opened from now on. Never blocks on the driver.
  void apply_settings(const pool_settings& settings);

  /// The URI as logged: redact_uri() (config/uri.hpp) of the configured one.
  const std::string& redacted_uri() const noexcept;

  /// text with the URI's password, as written and percent-decoded, replaced
  /// by "***": for driver and server messages, which may quote it.
  std::string scrubbed(const std::string& text) const;

private:
  friend class client_lease;
  struct state;

  void checkin(std::unique_ptr<pooled_connection> connection) noexcept;
  void discard(std::unique_ptr<pooled_connection> connection) noexcept;

  std::unique_ptr<state> state_;
};

} // namespace tenantrt
