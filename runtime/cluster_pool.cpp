// cluster_pool: slots, FIFO waiters and connect back-off; checkout, checkin, clear, shutdown.
#include "runtime/cluster_pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <mongoc/mongoc.h>

#include "config/uri.hpp"
#include "runtime/cluster_pool_state.hpp"
#include "runtime/logging.hpp"
#include "runtime/mongoc_driver.hpp"

namespace tenantrt {

using pool_detail::close_reason;
using pool_detail::count_snapshot;
using pool_detail::single;
using pool_detail::waiter;

namespace {

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

} // namespace

// --- identity -------------------------------------------------------------------

std::string pool_identity::label() const {
  return tenant_id.empty() ? cluster : cluster + "/" + tenant_id;
}

// --- connect back-off ------------------------------------------------------

uint64_t cluster_pool::state::backoff_cap_ms() const {
  return std::clamp<uint64_t>(settings.server_selection_timeout_ms / 2, backoff_initial_ms,
                              backoff_max_ms);
}

bool cluster_pool::state::backing_off_locked() const {
  return backoff_ms != 0 && (probing || std::chrono::steady_clock::now() < backoff_until);
}

bool cluster_pool::state::may_connect_locked(bool& probe) {
  probe = false;
  if (backoff_ms == 0)
    return true;
  if (probing || std::chrono::steady_clock::now() < backoff_until)
    return false;
  probing = true;
  probe = true;
  return true;
}

std::string cluster_pool::state::backoff_message_locked() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                backoff_until - std::chrono::steady_clock::now())
                .count();
  return "pool " + label + ": server unreachable, not connecting "
         + (probing ? std::string{"while a probe connection tries"}
                    : "for another " + std::to_string(std::max<int64_t>(left, 0)) + " ms")
         + " (back-off after " + std::to_string(failures_in_row)
         + " failed connection attempts; last: " + last_connect_error + ")";
}

void cluster_pool::state::connect_failed_locked(bool probe, const std::string& error) {
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

bool cluster_pool::state::connect_succeeded_locked() {
  probing = false;
  if (backoff_ms == 0)
    return false;
  backoff_ms = 0;
  failures_in_row = 0;
  return true;
}

// --- slots, waiters and closing ----------------------------------------------

uint64_t cluster_pool::state::warm_target() const {
  return std::min<uint64_t>(settings.min_pool_size, settings.max_pool_size);
}

std::string cluster_pool::state::scrubbed(const std::string& text) const {
  return scrub_secret(scrub_secret(text, password), password_as_written);
}

count_snapshot cluster_pool::state::snapshot_locked() const {
  return {open, idle.size(), in_use, settings.max_pool_size};
}

void cluster_pool::state::grant_slot_locked() {
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

bool cluster_pool::state::hand_to_waiter_locked(std::unique_ptr<pooled_connection>& connection) {
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

void cluster_pool::state::close_connections(
  std::unique_lock<std::mutex>& guard, std::vector<std::unique_ptr<pooled_connection>> closing,
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

void cluster_pool::state::log_opened(uint64_t id, const count_snapshot& counts,
                                     const char* why) const {
  log().info("pool {}: connection {} opened ({}; open {}/{}, idle {}, in use {})", label, id,
             why, counts.open, counts.max, counts.idle, counts.in_use);
}

void cluster_pool::state::log_closed(uint64_t id, close_reason reason,
                                     const count_snapshot& counts) const {
  log().info("pool {}: connection {} closed ({}; open {}/{}, idle {}, in use {})", label, id,
             describe(reason), counts.open, counts.max, counts.idle, counts.in_use);
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
  connection->client = make_client(uri.get());
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

const std::string& cluster_pool::label() const noexcept {
  return state_->label;
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

std::string cluster_pool::scrubbed(const std::string& text) const {
  return state_->scrubbed(text);
}

} // namespace tenantrt
