#pragma once
// A checked-out connection of a cluster_pool: the RAII handle that returns it.
//
// cluster_pool::checkout() hands one out; command_runner runs commands on
// its client and discards it after a network error; destroying it checks
// the connection back in. Part of the pool (it alone may construct one).

#include <memory>
#include <string>

// The driver's client type, kept out of this header (mongoc is linked
// PRIVATE into tenantrt).
struct _mongoc_client_t;

namespace tenantrt {

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

  /// True when the connection has talked to the server before (it was
  /// returned to the pool at least once): a network error on it may just mean
  /// the server restarted meanwhile. False for an empty lease.
  bool reused() const noexcept;

  /// Returns the connection to the pool now; the lease becomes empty.
  void checkin() noexcept;

  /// Closes the connection instead of returning it (after a network error:
  /// a single-threaded client that failed a server check refuses to rescan
  /// for 5 s, a fresh client does not). The lease becomes empty and a waiter,
  /// if any, may open a connection in the freed slot.
  void discard() noexcept;

  /// discard() after the connection could not reach the server; why is the
  /// error (no password). A new connection (not reused()) that never reached
  /// the server feeds the pool's connect back-off, why as its last error.
  void discard_unreachable(const std::string& why) noexcept;

private:
  friend class cluster_pool;
  client_lease(cluster_pool* owner, std::unique_ptr<pooled_connection> connection) noexcept;

  cluster_pool* pool_ = nullptr;
  std::unique_ptr<pooled_connection> connection_;
};

} // namespace tenantrt
