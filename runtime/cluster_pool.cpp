#include "runtime/cluster_pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <mongoc/mongoc.h>

#include "config/uri.hpp"
#include "runtime/database_scope.hpp"
#include "runtime/logging.hpp"

namespace tenantrt {

// --- driver initialisation --------------------------------------------------

namespace {

void forward_driver_log(mongoc_log_level_t level, const char* domain, const char* message,
                        void* /*user_data*/) {
  // Driver messages name hosts, never credentials.
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      log().error("mongoc [{}]: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      log().warn("mongoc [{}]: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
      log().debug("mongoc [{}]: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_DEBUG:
    case MONGOC_LOG_LEVEL_TRACE:
      log().trace("mongoc [{}]: {}", domain, message);
      break;
  }
}

} // namespace

void ensure_mongoc_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(forward_driver_log, nullptr);
  });
}

// --- RAII owners of driver handles -------------------------------------------

namespace {

struct client_deleter {
  void operator()(mongoc_client_t* client) const noexcept { mongoc_client_destroy(client); }
};
using client_ptr = std::unique_ptr<mongoc_client_t, client_deleter>;

struct uri_deleter {
  void operator()(mongoc_uri_t* uri) const noexcept { mongoc_uri_destroy(uri); }
};
using uri_ptr = std::unique_ptr<mongoc_uri_t, uri_deleter>;
/// Shared: a client being created keeps the URI it started from alive while
/// apply_settings() swaps in a new one.
using shared_uri = std::shared_ptr<const mongoc_uri_t>;

/// A stack bson_t that is always destroyed (bson_destroy on an initialised
/// document is required even when a driver call failed).
class owned_bson {
public:
  owned_bson() { bson_init(&doc_); }
  ~owned_bson() { bson_destroy(&doc_); }
  owned_bson(const owned_bson&) = delete;
  owned_bson& operator=(const owned_bson&) = delete;
  bson_t* get() noexcept { return &doc_; }
  const bson_t* get() const noexcept { return &doc_; }

private:
  bson_t doc_;
};

std::string to_relaxed_json(const bson_t* doc) {
  size_t length = 0;
  char* text = bson_as_relaxed_extended_json(doc, &length);
  if (text == nullptr)
    return "{}";
  std::string result{text, length};
  bson_free(text);
  return result;
}

using steady_time = std::chrono::steady_clock::time_point;

int32_t as_int32(uint32_t value) {
  return static_cast<int32_t>(std::min<uint32_t>(value, std::numeric_limits<int32_t>::max()));
}

/// base with the settings applied: what every client of the pool connects
/// with. pool_settings are the documented knobs: they win over the same
/// options written into the URI.
shared_uri client_uri(const mongoc_uri_t* base, const pool_settings& settings) {
  mongoc_uri_t* u = mongoc_uri_copy(base);
  mongoc_uri_set_option_as_int32(u, MONGOC_URI_SOCKETTIMEOUTMS, as_int32(settings.socket_timeout_ms));
  mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                 as_int32(settings.server_selection_timeout_ms));
  // A single-threaded client's first scan waits up to connectTimeoutMS for a
  // server that accepts but never answers (measured: 4 s with
  // serverSelectionTimeoutMS=1000), so cap it by the selection timeout: every
  // error then comes within server_selection_timeout_ms.
  mongoc_uri_set_option_as_int32(
    u, MONGOC_URI_CONNECTTIMEOUTMS,
    as_int32(std::min(settings.connect_timeout_ms, settings.server_selection_timeout_ms)));
  // serverSelectionTryOnce=false (single-threaded default: true). With true, a
  // client that saw the server down fails at once and then refuses to rescan
  // for 5 s ("No servers yet eligible for rescan"), even after the server is
  // back. With false it rescans every 500 ms up to serverSelectionTimeoutMS:
  // a restart shorter than the timeout is ridden over, the first command
  // after it succeeds (measured), and errors still come within the timeout.
  mongoc_uri_set_option_as_bool(u, MONGOC_URI_SERVERSELECTIONTRYONCE, false);
  if (mongoc_uri_get_appname(u) == nullptr)
    mongoc_uri_set_appname(u, "tenantrt");
  return shared_uri{u, [](const mongoc_uri_t* doomed) {
                      mongoc_uri_destroy(const_cast<mongoc_uri_t*>(doomed));
                    }};
}

} // namespace

// --- counters and identity ---------------------------------------------------

pool_counters& pool_counters::operator+=(const pool_counters& other) {
  open += other.open;
  in_use += other.in_use;
  idle += other.idle;
  waiters += other.waiters;
  created_total += other.created_total;
  closed_total += other.closed_total;
  wait_timeouts_total += other.wait_timeouts_total;
  connect_failures_total += other.connect_failures_total;
  backoff_rejections_total += other.backoff_rejections_total;
  backoff_ms = std::max(backoff_ms, other.backoff_ms);
  max_pool_size += other.max_pool_size;
  min_pool_size += other.min_pool_size;
  tenant_pools += other.tenant_pools;
  return *this;
}

std::string pool_identity::label() const {
  return tenant_id.empty() ? cluster : cluster + "/" + tenant_id;
}

// --- pooled connections and the pool's state ---------------------------------

/// One physical connection: a single-threaded client and its bookkeeping.
struct pooled_connection {
  client_ptr client;
  /// Sequence number within the pool, for logs.
  uint64_t id = 0;
  /// The pool's generation at creation; clear() makes older ones stale.
  uint64_t generation = 0;
  /// Last checkin (pool clock); idle age = now - last_used.
  steady_time last_used{};
  /// Has talked to the server before (returned to the pool at least once):
  /// a network error on it may just mean the server restarted meanwhile.
  bool reused = false;
  /// The one attempt allowed after a connect back-off expired.
  bool probe = false;
  /// Never reached the server (set just before it is discarded), and why.
  bool connect_failed = false;
  std::string connect_error;
};

namespace {

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

const char* describe(close_reason reason) {
  switch (reason) {
    case close_reason::idle_expired: return "idle longer than max_idle_time_ms";
    case close_reason::discarded: return "discarded after an error";
    case close_reason::stale: return "returned after the pool was cleared";
    case close_reason::cleared: return "pool cleared";
    case close_reason::shutdown: return "pool shut down";
    case close_reason::surplus: return "above max_pool_size";
  }
  return "closed";
}

/// Counts for a log line, taken under the lock, printed after it.
struct count_snapshot {
  uint64_t open;
  uint64_t idle;
  uint64_t in_use;
  uint64_t max;
};

/// {ping: 1} on admin: opens the socket if needed and proves the server answers.
bool ping_client(mongoc_client_t* client, bson_error_t* error) {
  owned_bson ping;
  BSON_APPEND_INT32(ping.get(), "ping", 1);
  owned_bson reply;
  return mongoc_client_command_simple(client, "admin", ping.get(), nullptr, reply.get(), error);
}

std::vector<std::unique_ptr<pooled_connection>>
single(std::unique_ptr<pooled_connection> connection) {
  std::vector<std::unique_ptr<pooled_connection>> result;
  result.push_back(std::move(connection));
  return result;
}

} // namespace

struct cluster_pool::state {
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
  std::deque<waiter*> waiters;
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

  // Connect back-off (see the header). Real time, not the pool clock: a test
  // that freezes idle ages must not freeze the back-off.
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
  uint64_t backoff_cap_ms() const {
    return std::clamp<uint64_t>(settings.server_selection_timeout_ms / 2, backoff_initial_ms,
                                backoff_max_ms);
  }

  /// Is a new connection refused now (a back-off or a probe under way)?
  bool backing_off_locked() const {
    return backoff_ms != 0 && (probing || std::chrono::steady_clock::now() < backoff_until);
  }

  /// May a new connection be opened now? Sets probe when this one is the
  /// single attempt after a back-off.
  bool may_connect_locked(bool& probe) {
    probe = false;
    if (backoff_ms == 0)
      return true;
    if (probing || std::chrono::steady_clock::now() < backoff_until)
      return false;
    probing = true;
    probe = true;
    return true;
  }

  /// Why a checkout may not connect now (errc::server_unreachable text).
  std::string backoff_message_locked() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  backoff_until - std::chrono::steady_clock::now())
                  .count();
    return "pool " + label + ": server unreachable, not connecting "
           + (probing ? std::string{"while a probe connection tries"}
                      : "for another " + std::to_string(std::max<int64_t>(left, 0)) + " ms")
           + " (back-off after " + std::to_string(failures_in_row)
           + " failed connection attempts; last: " + last_connect_error + ")";
  }

  /// A new connection could not reach the server: back off (grows only on
  /// the first failure and on a probe's, so concurrent failures count once).
  void connect_failed_locked(bool probe, const std::string& error) {
    ++connect_failures_total;
    ++failures_in_row;
    last_connect_error = error;
    if (probe)
      probing = false;
    if (backoff_ms != 0 && !probe)
      return;
    backoff_ms = backoff_ms == 0 ? backoff_initial_ms : std::min(backoff_ms * 2, backoff_cap_ms());
    // Equal jitter: half fixed, half random, so pools restarted together
    // spread out.
    auto half = backoff_ms / 2;
    auto delay = half + std::uniform_int_distribution<uint64_t>{0, backoff_ms - half}(jitter);
    backoff_until = std::chrono::steady_clock::now() + std::chrono::milliseconds{delay};
  }

  /// The server answered: end any back-off. True if one ended.
  bool connect_succeeded_locked() {
    probing = false;
    if (backoff_ms == 0)
      return false;
    backoff_ms = 0;
    failures_in_row = 0;
    return true;
  }

  uint64_t warm_target() const {
    return std::min<uint64_t>(settings.min_pool_size, settings.max_pool_size);
  }

  std::string scrubbed(const std::string& text) const {
    return scrub_secret(scrub_secret(text, password), password_as_written);
  }

  count_snapshot snapshot_locked() const {
    return {open, idle.size(), in_use, settings.max_pool_size};
  }

  /// A connection left (open already decremented): give its slot to the
  /// longest waiter, which then creates a connection itself.
  void grant_slot_locked() {
    if (shut || waiters.empty() || open >= settings.max_pool_size)
      return;
    auto* first = waiters.front();
    waiters.pop_front();
    ++open;
    ++in_use;
    first->slot_granted = true;
    first->done = true;
    first->wakeup.notify_one();
  }

  /// Hands connection to the longest waiter; false (connection untouched)
  /// when nobody waits.
  bool hand_to_waiter_locked(std::unique_ptr<pooled_connection>& connection) {
    if (waiters.empty())
      return false;
    auto* first = waiters.front();
    waiters.pop_front();
    ++in_use;
    first->handed = std::move(connection);
    first->done = true;
    first->wakeup.notify_one();
    return true;
  }

  /// Closes connections that already left idle / in_use but still count as
  /// open. The clients are destroyed (sockets closed) before their slots are
  /// freed, so a waiter's new socket never coexists with an old one: the cap
  /// holds at the socket level, not just in the books. Enters with guard
  /// locked, returns with it unlocked.
  void close_connections(std::unique_lock<std::mutex>& guard,
                         std::vector<std::unique_ptr<pooled_connection>> closing,
                         close_reason reason) {
    guard.unlock();
    std::vector<uint64_t> ids;
    ids.reserve(closing.size());
    for (auto& connection : closing) {
      ids.push_back(connection->id);
      connection.reset();
    }
    guard.lock();
    open -= closing.size();
    closed_total += closing.size();
    for (size_t i = 0; i < closing.size(); ++i)
      grant_slot_locked();
    auto counts = snapshot_locked();
    guard.unlock();
    for (auto id : ids)
      log_closed(id, reason, counts);
  }

  /// A new client with from_uri (taken under the mutex; lazy: it connects on
  /// first use).
  static client_ptr make_client(const shared_uri& from_uri) {
    client_ptr client{mongoc_client_new_from_uri(from_uri.get())};
    if (client)
      mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
    return client;
  }

  void log_opened(uint64_t id, const count_snapshot& counts, const char* why) const {
    log().info("pool {}: connection {} opened ({}; open {}/{}, idle {}, in use {})", label, id,
               why, counts.open, counts.max, counts.idle, counts.in_use);
  }

  void log_closed(uint64_t id, close_reason reason, const count_snapshot& counts) const {
    log().info("pool {}: connection {} closed ({}; open {}/{}, idle {}, in use {})", label, id,
               describe(reason), counts.open, counts.max, counts.idle, counts.in_use);
  }
};

// --- client_lease --------------------------------------------------------------

client_lease::client_lease() noexcept = default;

client_lease::client_lease(cluster_pool* owner, std::unique_ptr<pooled_connection> connection) noexcept
  : pool_(owner), connection_(std::move(connection)) {}

client_lease::~client_lease() {
  checkin();
}

client_lease::client_lease(client_lease&& other) noexcept
  : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}

client_lease& client_lease::operator=(client_lease&& other) noexcept {
  if (this != &other) {
    checkin();
    pool_ = std::exchange(other.pool_, nullptr);
    connection_ = std::move(other.connection_);
  }
  return *this;
}

client_lease::operator bool() const noexcept {
  return connection_ != nullptr;
}

_mongoc_client_t* client_lease::client() const noexcept {
  return connection_ ? connection_->client.get() : nullptr;
}

cluster_pool* client_lease::pool() const noexcept {
  return connection_ ? pool_ : nullptr;
}

void client_lease::checkin() noexcept {
  if (connection_ && pool_)
    pool_->checkin(std::move(connection_));
  connection_.reset();
}

void client_lease::discard() noexcept {
  if (connection_ && pool_)
    pool_->discard(std::move(connection_));
  connection_.reset();
}

// --- cluster_pool ----------------------------------------------------------------

cluster_pool::cluster_pool(pool_identity identity, const std::string& uri,
                           const pool_settings& settings, pool_clock clock)
  : state_(std::make_unique<state>()) {
  ensure_mongoc_initialized();
  auto& st = *state_;
  st.identity = std::move(identity);
  st.label = st.identity.label();
  st.settings = settings;
  st.clock = clock ? std::move(clock) : pool_clock{std::chrono::steady_clock::now};
  st.redacted_uri = redact_uri(uri);

  bson_error_t error;
  st.base_uri.reset(mongoc_uri_new_with_error(uri.c_str(), &error));
  if (!st.base_uri) {
    // The driver's message may quote the URI: scrub what looks like a secret.
    throw std::runtime_error("pool " + st.label + ": invalid MongoDB URI " + st.redacted_uri
                             + ": " + scrub_password(error.message, uri));
  }
  if (const char* password = mongoc_uri_get_password(st.base_uri.get()))
    st.password = password;
  st.password_as_written = uri_password(uri);
  st.uri = client_uri(st.base_uri.get(), settings);
}

cluster_pool::~cluster_pool() {
  shutdown();
  std::lock_guard<std::mutex> guard{state_->mutex};
  if (state_->in_use != 0)
    log().error("pool {}: destroyed with {} connections still leased", state_->label,
                state_->in_use);
}

checkout_result cluster_pool::checkout() {
  auto& st = *state_;
  checkout_result result;
  std::unique_lock<std::mutex> guard{st.mutex};
  if (st.shut) {
    result.code = errc::shutting_down;
    result.message = "pool " + st.label + " is shut down";
    return result;
  }
  bool must_create = false;
  // Nobody overtakes a waiter: with waiters queued, go to the back of the line.
  if (st.waiters.empty()) {
    if (!st.idle.empty()) {
      auto connection = std::move(st.idle.back());
      st.idle.pop_back();
      ++st.in_use;
      result.lease = client_lease{this, std::move(connection)};
      return result;
    }
    // Backing off with connections in use: wait for one of them rather
    // than fail (the server may just be at its connection limit).
    bool wait_for_returned = st.backing_off_locked() && st.in_use > 0;
    if (st.open < st.settings.max_pool_size && !wait_for_returned) {
      ++st.open;
      ++st.in_use;
      must_create = true;
    }
  }
  if (!must_create) {
    waiter self;
    st.waiters.push_back(&self);
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{st.settings.wait_queue_timeout_ms};
    while (!self.done) {
      if (self.wakeup.wait_until(guard, deadline) == std::cv_status::timeout && !self.done) {
        st.waiters.erase(std::find(st.waiters.begin(), st.waiters.end(), &self));
        ++st.wait_timeouts_total;
        result.code = errc::pool_wait_timeout;
        result.message = "pool " + st.label + ": no connection free within wait_queue_timeout_ms "
                         + std::to_string(st.settings.wait_queue_timeout_ms) + " (max_pool_size "
                         + std::to_string(st.settings.max_pool_size) + ", in use "
                         + std::to_string(st.in_use) + ")";
        return result;
      }
    }
    if (self.failure != errc::none) {
      result.code = self.failure;
      result.message = "pool " + st.label + " shut down while waiting for a connection";
      return result;
    }
    if (self.handed) {
      result.lease = client_lease{this, std::move(self.handed)};
      return result;
    }
    // slot_granted: open and in_use were counted for us.
  }
  // A slot is ours (open and in_use counted): may we connect?
  bool probe = false;
  if (!st.may_connect_locked(probe)) {
    --st.open;
    --st.in_use;
    ++st.backoff_rejections_total;
    result.code = errc::server_unreachable;
    result.message = st.backoff_message_locked();
    st.grant_slot_locked(); // the next waiter fails as fast, or connects
    return result;
  }
  auto generation = st.generation;
  auto id = ++st.next_id;
  auto uri = st.uri;
  guard.unlock();

  auto connection = std::make_unique<pooled_connection>();
  connection->client = state::make_client(uri);
  connection->id = id;
  connection->generation = generation;
  connection->probe = probe;
  guard.lock();
  if (!connection->client) {
    if (probe)
      st.probing = false;
    --st.open;
    --st.in_use;
    st.grant_slot_locked();
    result.code = errc::internal;
    result.message = "pool " + st.label + ": the driver refused to create a client";
    return result;
  }
  ++st.created_total;
  auto counts = st.snapshot_locked();
  guard.unlock();
  st.log_opened(id, counts, "checkout found no idle connection");
  result.lease = client_lease{this, std::move(connection)};
  return result;
}

void cluster_pool::checkin(std::unique_ptr<pooled_connection> connection) noexcept {
  auto& st = *state_;
  std::unique_lock<std::mutex> guard{st.mutex};
  --st.in_use;
  // A new connection came back without a network error: the server takes
  // connections again. (Old ones answering prove nothing: a server at its
  // connection limit serves those and refuses new ones.)
  bool recovered = !connection->reused && st.connect_succeeded_locked();
  if (recovered) {
    guard.unlock();
    log().info("pool {}: server reachable again; connect back-off ended", st.label);
    guard.lock();
  }
  if (st.shut || connection->generation != st.generation) {
    auto reason = st.shut ? close_reason::shutdown : close_reason::stale;
    st.close_connections(guard, single(std::move(connection)), reason);
    return;
  }
  if (st.open > st.settings.max_pool_size) { // max_pool_size was lowered
    st.close_connections(guard, single(std::move(connection)), close_reason::surplus);
    return;
  }
  connection->last_used = st.clock();
  connection->reused = true;
  if (st.hand_to_waiter_locked(connection))
    return;
  st.idle.push_back(std::move(connection));
}

void cluster_pool::discard(std::unique_ptr<pooled_connection> connection) noexcept {
  auto& st = *state_;
  std::unique_lock<std::mutex> guard{st.mutex};
  --st.in_use;
  if (connection->connect_failed) {
    bool first = st.backoff_ms == 0;
    st.connect_failed_locked(connection->probe, connection->connect_error);
    if (first) {
      auto step = st.backoff_ms;
      auto text = st.last_connect_error;
      guard.unlock();
      log().warn("pool {}: cannot connect ({}); backing off from {} ms, up to {} ms, with jitter",
                 st.label, text, step, st.backoff_cap_ms());
      guard.lock();
    }
  } else if (!connection->reused) {
    st.connect_succeeded_locked(); // it reached the server (then timed out or broke)
  }
  st.close_connections(guard, single(std::move(connection)), close_reason::discarded);
}

void cluster_pool::discard_after_error(client_lease& lease, const result& outcome) noexcept {
  if (!lease)
    return;
  // A connection that never answered and now cannot reach the server: the
  // server is down or refusing (a timeout means it did answer the handshake).
  auto& connection = *lease.connection_;
  if (!connection.reused && outcome.code == errc::server_unreachable) {
    connection.connect_failed = true;
    try {
      connection.connect_error = outcome.message;
    } catch (...) { // out of memory: the back-off works without the text
    }
  }
  lease.discard();
}

void cluster_pool::maintain() {
  auto& st = *state_;
  // 1. Close idle connections above a lowered max_pool_size, oldest first.
  {
    std::unique_lock<std::mutex> guard{st.mutex};
    if (st.shut)
      return;
    std::vector<std::unique_ptr<pooled_connection>> surplus;
    while (!st.idle.empty() && st.open - surplus.size() > st.settings.max_pool_size) {
      surplus.push_back(std::move(st.idle.front()));
      st.idle.erase(st.idle.begin());
    }
    if (!surplus.empty())
      st.close_connections(guard, std::move(surplus), close_reason::surplus);
  }

  // 2. Close connections idle too long, oldest first, down to the minimum.
  {
    std::unique_lock<std::mutex> guard{st.mutex};
    if (st.shut)
      return;
    if (st.settings.max_idle_time_ms > 0) {
      std::vector<std::unique_ptr<pooled_connection>> expired;
      auto now = st.clock();
      auto max_idle = std::chrono::milliseconds{st.settings.max_idle_time_ms};
      auto keep = st.warm_target();
      auto first_kept = st.idle.begin();
      // Oldest at front(); a younger one ends the run (checkin times only grow).
      while (first_kept != st.idle.end() && st.open - expired.size() > keep
             && now - (*first_kept)->last_used >= max_idle) {
        expired.push_back(std::move(*first_kept));
        ++first_kept;
      }
      st.idle.erase(st.idle.begin(), first_kept);
      if (!expired.empty())
        st.close_connections(guard, std::move(expired), close_reason::idle_expired);
    }
  }

  // 3. Keepalive: the connections still idle that long are the warm minimum.
  //    Ping them so they stay warm in fact, not only in the books: after a
  //    server restart their sockets are dead (the driver reconnects a socket
  //    idle > 1 s on use; a failed ping discards it and clears the pool).
  {
    std::vector<std::unique_ptr<pooled_connection>> stale;
    {
      std::lock_guard<std::mutex> guard{st.mutex};
      if (st.shut)
        return;
      auto now = st.clock();
      auto max_idle = std::chrono::milliseconds{st.settings.max_idle_time_ms};
      auto first_young = st.idle.begin();
      while (st.settings.max_idle_time_ms > 0 && first_young != st.idle.end()
             && now - (*first_young)->last_used >= max_idle) {
        stale.push_back(std::move(*first_young));
        ++first_young;
      }
      st.idle.erase(st.idle.begin(), first_young);
      st.in_use += stale.size(); // leased to maintain() while pinging
    }
    bool failed = false;
    for (auto& connection : stale) {
      bson_error_t error;
      if (ping_client(connection->client.get(), &error)) {
        checkin(std::move(connection));
      } else {
        log().info("pool {}: keepalive ping of connection {} failed: {}", st.label,
                   connection->id, st.scrubbed(error.message));
        discard(std::move(connection));
        failed = true;
      }
    }
    if (failed)
      clear();
  }

  // 4. Top up to min_pool_size with connected clients (a ping opens the
  //    socket and proves the server answers).
  for (;;) {
    uint64_t id = 0;
    uint64_t generation = 0;
    shared_uri uri;
    bool probe = false;
    {
      std::lock_guard<std::mutex> guard{st.mutex};
      if (st.shut || st.open >= st.warm_target())
        return;
      if (!st.may_connect_locked(probe))
        return; // backing off after failed connects: a later tick tries
      ++st.open; // reserve the slot while connecting
      id = ++st.next_id;
      generation = st.generation;
      uri = st.uri;
    }
    auto connection = std::make_unique<pooled_connection>();
    connection->client = state::make_client(uri);
    connection->id = id;
    connection->generation = generation;
    bson_error_t error;
    bool connected = false;
    if (connection->client) {
      connected = ping_client(connection->client.get(), &error);
    } else {
      bson_set_error(&error, MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_NOT_READY,
                     "the driver refused to create a client");
    }
    if (!connected) {
      connection.reset(); // before its slot is free again (the cap holds for sockets)
      std::unique_lock<std::mutex> guard{st.mutex};
      --st.open;
      st.connect_failed_locked(probe, "pool " + st.label + ": " + st.scrubbed(error.message));
      st.grant_slot_locked();
      bool first_failure = !std::exchange(st.warm_up_failing, true);
      guard.unlock();
      auto text = st.scrubbed(error.message);
      if (first_failure)
        log().warn("pool {}: cannot open a warm connection: {}", st.label, text);
      else
        log().debug("pool {}: cannot open a warm connection: {}", st.label, text);
      return; // the server is down: retry on the next maintenance tick
    }
    std::unique_lock<std::mutex> guard{st.mutex};
    ++st.created_total;
    st.connect_succeeded_locked();
    bool recovered = std::exchange(st.warm_up_failing, false);
    if (st.shut || generation != st.generation) {
      auto reason = st.shut ? close_reason::shutdown : close_reason::stale;
      st.close_connections(guard, single(std::move(connection)), reason);
      return;
    }
    connection->last_used = st.clock();
    connection->reused = true; // it has talked to the server
    if (!st.hand_to_waiter_locked(connection))
      st.idle.push_back(std::move(connection));
    auto counts = st.snapshot_locked();
    guard.unlock();
    if (recovered)
      log().info("pool {}: server reachable again", st.label);
    st.log_opened(id, counts, "warm-up to min_pool_size");
  }
}

void cluster_pool::clear() {
  auto& st = *state_;
  std::unique_lock<std::mutex> guard{st.mutex};
  ++st.generation;
  std::vector<std::unique_ptr<pooled_connection>> closing;
  closing.swap(st.idle);
  if (closing.empty() && st.in_use == 0)
    return;
  log().info("pool {}: cleared after a network error ({} idle close now, {} in use at checkin)",
             st.label, closing.size(), st.in_use);
  st.close_connections(guard, std::move(closing), close_reason::cleared);
}

void cluster_pool::shutdown() {
  auto& st = *state_;
  std::unique_lock<std::mutex> guard{st.mutex};
  if (st.shut)
    return;
  st.shut = true;
  for (auto* waiting : st.waiters) {
    waiting->failure = errc::shutting_down;
    waiting->done = true;
    waiting->wakeup.notify_one();
  }
  st.waiters.clear();
  auto in_use = st.in_use;
  std::vector<std::unique_ptr<pooled_connection>> closing;
  closing.swap(st.idle);
  st.close_connections(guard, std::move(closing), close_reason::shutdown);
  log().info("pool {}: shut down ({} connections in use close at checkin)", st.label, in_use);
}

pool_counters cluster_pool::counters() const {
  auto& st = *state_;
  std::lock_guard<std::mutex> guard{st.mutex};
  pool_counters result;
  result.open = st.open;
  result.in_use = st.in_use;
  result.idle = st.idle.size();
  result.waiters = st.waiters.size();
  result.created_total = st.created_total;
  result.closed_total = st.closed_total;
  result.wait_timeouts_total = st.wait_timeouts_total;
  result.connect_failures_total = st.connect_failures_total;
  result.backoff_rejections_total = st.backoff_rejections_total;
  result.backoff_ms = st.backoff_ms;
  result.max_pool_size = st.settings.max_pool_size;
  result.min_pool_size = st.settings.min_pool_size;
  result.tenant_pools = st.identity.tenant_id.empty() ? 0 : 1;
  return result;
}

const pool_identity& cluster_pool::identity() const noexcept {
  return state_->identity;
}

pool_settings cluster_pool::settings() const {
  std::lock_guard<std::mutex> guard{state_->mutex};
  return state_->settings;
}

void cluster_pool::apply_settings(const pool_settings& settings) {
  auto& st = *state_;
  // Build the new URI outside the lock (base_uri never changes).
  auto uri = client_uri(st.base_uri.get(), settings);
  std::lock_guard<std::mutex> guard{st.mutex};
  st.settings = settings;
  st.uri = std::move(uri);
  // A raised cap frees slots for whoever waits now.
  while (!st.shut && !st.waiters.empty() && st.open < st.settings.max_pool_size)
    st.grant_slot_locked();
  log().info("pool {}: settings applied (min {}, max {}, max idle {} ms; timeouts apply to "
             "connections opened from now on)",
             st.label, settings.min_pool_size, settings.max_pool_size, settings.max_idle_time_ms);
}

const std::string& cluster_pool::redacted_uri() const noexcept {
  return state_->redacted_uri;
}

// --- the driver boundary ------------------------------------------------------------

namespace {

/// A command parsed from JSON text, or why it could not be.
struct parsed_command {
  owned_bson document;
  std::string name;
  std::string error; // empty when parsed
};

/// Parses command_json for database; out.error says why it will not run there.
void parse_command(const std::string& command_json, parsed_command& out,
                   const std::string& database) {
  auto first = command_json.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || command_json[first] != '{') {
    out.error = "the command must be a JSON object, e.g. {\"ping\": 1}";
    return;
  }
  bson_error_t error;
  // bson_init_from_json wants an uninitialised bson_t; owned_bson holds an
  // empty initialised one, which needs no destroy before re-initialising
  // (an empty inline bson_t owns no memory).
  if (!bson_init_from_json(out.document.get(), command_json.data(),
                           static_cast<ssize_t>(command_json.size()), &error)) {
    bson_init(out.document.get()); // keep the owner's invariant
    out.error = std::string{"invalid JSON / extended JSON: "} + error.message;
    return;
  }
  bson_iter_t iter;
  if (!bson_iter_init(&iter, out.document.get()) || !bson_iter_next(&iter)) {
    out.error = "empty command document";
    return;
  }
  out.name = bson_iter_key(&iter);
  if (out.name.empty() || out.name[0] == '$') {
    // e.g. {"$numberLong": 5}: an extended JSON value, not a command.
    out.error = "the first key must be a command name, not '" + out.name + "'";
    return;
  }
  // The driver sends a command to the database its "$db" key names, not to
  // the one we pass: a tenant could reach admin. The control socket and the
  // facade refuse it earlier; this covers CAF callers sending raw text.
  while (bson_iter_next(&iter)) {
    if (std::string_view{bson_iter_key(&iter)} == "$db") {
      out.error = "a command must not name its database with \"$db\"; the tenant's "
                  "database is used";
      return;
    }
  }
  if (auto problem = foreign_database_problem(out.document.get(), database))
    out.error = std::move(*problem);
}

/// Read-only commands that may run twice without harm (the retryable reads
/// of MongoDB's driver spec plus diagnostics); aggregate only without an
/// $out / $merge stage.
bool is_retryable_read(const parsed_command& command) {
  static const char* const reads[] = {
    "find", "count", "distinct", "listCollections", "listIndexes", "listDatabases",
    "ping", "hello", "isMaster", "ismaster", "buildInfo", "buildinfo", "serverStatus",
    "dbStats", "collStats", "connectionStatus",
  };
  for (const char* name : reads)
    if (command.name == name)
      return true;
  if (command.name != "aggregate")
    return false;
  bson_iter_t pipeline;
  bson_iter_t stage;
  if (!bson_iter_init_find(&pipeline, command.document.get(), "pipeline")
      || !BSON_ITER_HOLDS_ARRAY(&pipeline) || !bson_iter_recurse(&pipeline, &stage))
    return false;
  while (bson_iter_next(&stage)) {
    bson_iter_t operator_iter;
    if (!BSON_ITER_HOLDS_DOCUMENT(&stage) || !bson_iter_recurse(&stage, &operator_iter)
        || !bson_iter_next(&operator_iter))
      return false;
    std::string op = bson_iter_key(&operator_iter);
    if (op == "$out" || op == "$merge")
      return false;
  }
  return true;
}

/// Fields of a server error reply.
struct server_error {
  int64_t code = 0;
  std::string code_name;
  std::string errmsg;
};

bool reply_has_ok(const bson_t* reply) {
  bson_iter_t iter;
  return bson_iter_init_find(&iter, reply, "ok");
}

server_error read_server_error(const bson_t* reply, const bson_error_t& error) {
  server_error result;
  result.code = error.code;
  result.errmsg = error.message;
  bson_iter_t iter;
  if (bson_iter_init_find(&iter, reply, "code") && BSON_ITER_HOLDS_NUMBER(&iter))
    result.code = bson_iter_as_int64(&iter);
  if (bson_iter_init_find(&iter, reply, "codeName") && BSON_ITER_HOLDS_UTF8(&iter))
    result.code_name = bson_iter_utf8(&iter, nullptr);
  if (bson_iter_init_find(&iter, reply, "errmsg") && BSON_ITER_HOLDS_UTF8(&iter))
    result.errmsg = bson_iter_utf8(&iter, nullptr);
  return result;
}

/// Runs an already parsed command; the heart of run_command and run.
/// What execute() needs to know about the pool.
struct pool_view {
  const std::string& label;
  const pool_settings& settings;
  const std::string& password;
  const std::string& password_as_written;
};

/// How a command failed on the network; decides whether a read is retried.
enum class network_failure {
  none,        // no network failure
  socket_died, // the connection broke under the command (e.g. server restarted)
  no_server,   // server selection waited and found nothing: really down
};

result execute(client_lease& lease, const std::string& database,
                        const parsed_command& command, const pool_view& pool,
                        network_failure& failure) {
  const auto& settings = pool.settings;
  failure = network_failure::none;
  result outcome;
  owned_bson reply;
  bson_error_t error;
  auto started = std::chrono::steady_clock::now();
  // command_simple: the document is sent as given (no read preference or
  // concerns added); reply is always initialised, also on failure.
  bool ok = mongoc_client_command_simple(lease.client(), database.c_str(), command.document.get(),
                                         nullptr, reply.get(), &error);
  auto elapsed = std::chrono::steady_clock::now() - started;
  if (ok) {
    outcome.reply_json = to_relaxed_json(reply.get());
    return outcome;
  }
  auto prefix = "pool " + pool.label + ": ";
  if (reply_has_ok(reply.get())) {
    // The server answered: its error, its reply. The connection is fine.
    auto server = read_server_error(reply.get(), error);
    outcome.code = errc::command_failed;
    outcome.message = "command '" + command.name + "' on '" + database + "' failed with code "
                      + std::to_string(server.code)
                      + (server.code_name.empty() ? "" : " (" + server.code_name + ")") + ": "
                      + scrub_secret(scrub_secret(server.errmsg, pool.password), pool.password_as_written);
    outcome.reply_json = to_relaxed_json(reply.get());
    return outcome;
  }
  auto text = scrub_secret(scrub_secret(error.message, pool.password), pool.password_as_written);
  switch (error.domain) {
    case MONGOC_ERROR_STREAM: {
      // The driver reports a read timeout and a reset with the same domain,
      // code and text ("socket error or timeout"): tell them apart by time.
      auto timeout = std::chrono::milliseconds{settings.socket_timeout_ms};
      if (settings.socket_timeout_ms > 0 && elapsed >= timeout * 9 / 10) {
        outcome.code = errc::timeout;
        outcome.message = prefix + "no reply within socket_timeout_ms "
                          + std::to_string(settings.socket_timeout_ms) + ": " + text;
      } else {
        outcome.code = errc::server_unreachable;
        outcome.message = prefix + text;
        failure = network_failure::socket_died;
      }
      break;
    }
    case MONGOC_ERROR_SERVER_SELECTION:
      outcome.code = errc::server_unreachable;
      outcome.message = prefix + text;
      failure = network_failure::no_server;
      break;
    case MONGOC_ERROR_PROTOCOL:
      outcome.code = errc::server_unreachable;
      outcome.message = prefix + text;
      failure = network_failure::socket_died;
      break;
    case MONGOC_ERROR_CLIENT:
      if (error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
        // The server refused our credentials: its answer, not a network fault.
        outcome.code = errc::command_failed;
        outcome.message = prefix + "authentication failed: " + text;
      } else if (error.code == MONGOC_ERROR_CLIENT_TOO_BIG) {
        outcome.code = errc::bad_command;
        outcome.message = prefix + text;
      } else {
        outcome.code = errc::internal;
        outcome.message = prefix + text;
      }
      break;
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_BSON:
    case MONGOC_ERROR_NAMESPACE:
      outcome.code = errc::bad_command;
      outcome.message = prefix + text;
      break;
    default:
      outcome.code = errc::internal;
      outcome.message = prefix + "driver error " + std::to_string(error.domain) + "."
                        + std::to_string(error.code) + ": " + text;
      break;
  }
  return outcome;
}

} // namespace

result run_command(client_lease& lease, const std::string& database,
                            const std::string& command_json) {
  result outcome;
  auto* owner = lease.pool();
  if (owner == nullptr) {
    outcome.code = errc::internal;
    outcome.message = "run_command called with an empty lease";
    return outcome;
  }
  parsed_command command;
  parse_command(command_json, command, database);
  if (!command.error.empty()) {
    outcome.code = errc::bad_command;
    outcome.message = command.error;
    return outcome;
  }
  auto& st = *owner->state_;
  auto settings = owner->settings(); // a copy: apply_settings() may run meanwhile
  network_failure failure;
  outcome = execute(lease, database, command,
                    {st.label, settings, st.password, st.password_as_written}, failure);
  // After a network fault or timeout the client's socket is gone and a
  // single-threaded client would refuse to rescan for 5 s: start afresh.
  if (outcome.code == errc::server_unreachable || outcome.code == errc::timeout)
    cluster_pool::discard_after_error(lease, outcome);
  return outcome;
}

result cluster_pool::run(const std::string& database, const std::string& command_json) {
  result outcome;
  // Parse first: a malformed command never takes a connection.
  parsed_command command;
  parse_command(command_json, command, database);
  if (!command.error.empty()) {
    outcome.code = errc::bad_command;
    outcome.message = command.error;
    return outcome;
  }
  auto checkout_outcome = checkout();
  if (checkout_outcome.code != errc::none) {
    outcome.code = checkout_outcome.code;
    outcome.message = std::move(checkout_outcome.message);
    return outcome;
  }
  auto& st = *state_;
  auto settings = this->settings(); // a copy: apply_settings() may run meanwhile
  pool_view view{st.label, settings, st.password, st.password_as_written};
  bool reused = checkout_outcome.lease.connection_->reused;
  network_failure failure;
  outcome = execute(checkout_outcome.lease, database, command, view, failure);
  // After a network fault or timeout the client's socket is gone and a
  // single-threaded client would refuse to rescan for 5 s: start afresh.
  if (outcome.code == errc::server_unreachable || outcome.code == errc::timeout)
    discard_after_error(checkout_outcome.lease, outcome);
  if (outcome.code != errc::server_unreachable)
    return outcome;
  // A pooled socket died: the server went away or restarted, every idle
  // socket is dead too. A refused new connection says nothing about them (a
  // server at its connection limit keeps serving the ones it has).
  if (reused)
    clear();
  // Retryable reads (as in the drivers' spec): a pooled socket that died
  // while idle (a restart quicker than the driver's 1 s closed-socket check)
  // fails before the new server saw anything; one retry on a fresh
  // connection hides the restart. Not after a failed server selection (the
  // server is down: retrying would double the wait), never for writes.
  if (!reused || failure != network_failure::socket_died || !is_retryable_read(command))
    return outcome;
  log().debug("pool {}: retrying '{}' once on a fresh connection after: {}", st.label,
              command.name, outcome.message);
  auto retry_checkout = checkout();
  if (retry_checkout.code != errc::none)
    return outcome;
  bool retry_reused = retry_checkout.lease.connection_->reused;
  outcome = execute(retry_checkout.lease, database, command, view, failure);
  if (outcome.code == errc::server_unreachable || outcome.code == errc::timeout)
    discard_after_error(retry_checkout.lease, outcome);
  if (outcome.code == errc::server_unreachable && retry_reused)
    clear();
  return outcome;
}

} // namespace tenantrt
