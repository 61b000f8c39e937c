#pragma once
// cluster_pool's opaque state; internal, for cluster_pool*.cpp and client_lease.cpp only.
//
// cluster_pool.hpp keeps this opaque (as mongoc-client-pool.c keeps its
// struct); it lives in a header only because maintain() and the lease, each
// in a .cpp of its own, need it too. The behaviour (slots, waiters, back-off)
// is defined in cluster_pool.cpp. Includes the driver's headers: never
// include it from a public header.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "config/runtime_config.hpp"
#include "runtime/cluster_pool.hpp"
#include "runtime/errc.hpp"
#include "runtime/mongoc_driver.hpp"

namespace tenantrt {

/// One physical connection: a single-threaded client and its bookkeeping.
struct pooled_connection {
  client_ptr client;
  /// Sequence number within the pool, for logs.
  uint64_t id = 0;
  /// The pool's generation at creation; clear() makes older ones stale.
  uint64_t generation = 0;
  /// Last checkin (pool clock); idle age = now - last_used.
  std::chrono::steady_clock::time_point last_used{};
  /// Has talked to the server before (returned to the pool at least once):
  /// a network error on it may just mean the server restarted meanwhile.
  bool reused = false;
  /// The one attempt allowed after a connect back-off expired.
  bool probe = false;
  /// Never reached the server (set just before it is discarded), and why.
  bool connect_failed = false;
  std::string connect_error;
};

namespace pool_detail {

/// A checkout waiting for a connection. Lives on the waiting thread's stack;
/// only touched under the pool mutex.
struct waiter {
  std::condition_variable wakeup;
  /// Set when a returning connection was handed straight to this waiter.
  std::unique_ptr<pooled_connection> handed;
  /// Set when a closed connection freed a slot reserved for this waiter.
  bool slot_granted = false;
  /// errc::shutting_down when the pool shut down under it.
  errc failure = errc::none;
  bool done = false;
};

/// Why a connection closes, for the log line.
enum class close_reason {
  idle_expired, // idle longer than max_idle_time_ms
  discarded,    // the lease holder saw an error
  stale,        // checked in after clear()
  cleared,      // idle when clear() ran
  shutdown,     // idle at shutdown() or checked in after it
  surplus,      // above a lowered max_pool_size
};

/// Counts for a log line, taken under the lock, printed after it.
struct count_snapshot {
  uint64_t open;
  uint64_t idle;
  uint64_t in_use;
  uint64_t max;
};

/// connection as the one element of what close_connections() takes.
inline std::vector<std::unique_ptr<pooled_connection>>
single(std::unique_ptr<pooled_connection> connection) {
  std::vector<std::unique_ptr<pooled_connection>> result;
  result.push_back(std::move(connection));
  return result;
}

} // namespace pool_detail

struct cluster_pool::state {
  using steady_time = std::chrono::steady_clock::time_point;
  using close_reason = pool_detail::close_reason;
  using count_snapshot = pool_detail::count_snapshot;

  pool_identity identity;
  std::string label;
  pool_settings settings;
  pool_clock clock;
  std::string redacted_uri;
  /// The URI's password, decoded and as written, scrubbed from every message.
  std::string password;
  std::string password_as_written;
  /// The URI as configured (parsed once; never changed).
  uri_ptr base_uri;
  /// base_uri with the settings' timeouts and tenantrt's options; every new
  /// client copies it. Swapped by apply_settings(); read under the mutex.
  shared_uri uri;

  mutable std::mutex mutex;
  /// back() = most recently returned: LIFO checkout, oldest at front().
  std::vector<std::unique_ptr<pooled_connection>> idle;
  /// FIFO: front() waited longest.
  std::deque<pool_detail::waiter*> waiters;
  uint64_t open = 0;
  uint64_t in_use = 0;
  uint64_t generation = 0;
  uint64_t next_id = 0;
  uint64_t created_total = 0;
  uint64_t closed_total = 0;
  uint64_t wait_timeouts_total = 0;
  bool shut = false;
  /// Last warm-up ping failed: log the next failure at debug only.
  bool warm_up_failing = false;

  // Connect back-off (see cluster_pool.hpp). Real time, not the pool clock: a
  // test that freezes idle ages must not freeze the back-off.
  /// Current step; 0 while the server answers.
  uint64_t backoff_ms = 0;
  /// No new connection before this.
  steady_time backoff_until{};
  /// A probe connection is out; nobody else connects until it reports.
  bool probing = false;
  uint64_t connect_failures_total = 0;
  uint64_t backoff_rejections_total = 0;
  /// Failed attempts since the server last answered, and the last error.
  uint64_t failures_in_row = 0;
  std::string last_connect_error;
  std::minstd_rand jitter{std::random_device{}()};

  static constexpr uint64_t backoff_initial_ms = 100;
  static constexpr uint64_t backoff_max_ms = 5000;

  /// The cap: half the selection timeout, so a server that is back is tried
  /// again well within server_selection_timeout_ms.
  uint64_t backoff_cap_ms() const;

  /// Is a new connection refused now (a back-off or a probe under way)?
  bool backing_off_locked() const;

  /// May a new connection be opened now? Sets probe when this one is the
  /// single attempt after a back-off.
  bool may_connect_locked(bool& probe);

  /// Why a checkout may not connect now (errc::server_unreachable text).
  std::string backoff_message_locked() const;

  /// A new connection could not reach the server: back off (grows only on
  /// the first failure and on a probe's, so concurrent failures count once).
  void connect_failed_locked(bool probe, const std::string& error);

  /// The server answered: end any back-off. True if one ended.
  bool connect_succeeded_locked();

  /// What maintain() keeps open: min_pool_size, never above max_pool_size.
  uint64_t warm_target() const;

  /// text with the URI's password (decoded and as written) replaced.
  std::string scrubbed(const std::string& text) const;

  count_snapshot snapshot_locked() const;

  /// A connection left (open already decremented): give its slot to the
  /// longest waiter, which then creates a connection itself.
  void grant_slot_locked();

  /// Hands connection to the longest waiter; false (connection untouched)
  /// when nobody waits.
  bool hand_to_waiter_locked(std::unique_ptr<pooled_connection>& connection);

  /// Closes connections that already left idle / in_use but still count as
  /// open. The clients are destroyed (sockets closed) before their slots are
  /// freed, so a waiter's new socket never coexists with an old one: the cap
  /// holds at the socket level, not just in the books. Enters with guard
  /// locked, returns with it unlocked.
  void close_connections(std::unique_lock<std::mutex>& guard,
                         std::vector<std::unique_ptr<pooled_connection>> closing,
                         close_reason reason);

  void log_opened(uint64_t id, const count_snapshot& counts, const char* why) const;
  void log_closed(uint64_t id, close_reason reason, const count_snapshot& counts) const;
};

} // namespace tenantrt
