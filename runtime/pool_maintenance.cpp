// Periodic maintenance of a cluster_pool: idle closing, keepalive pings, warm top-up.
#include "runtime/cluster_pool.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <mongoc/mongoc.h>

#include "runtime/cluster_pool_state.hpp"
#include "runtime/logging.hpp"
#include "runtime/mongoc_driver.hpp"

namespace tenantrt {

using pool_detail::close_reason;
using pool_detail::single;

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
    connection->client = make_client(uri.get());
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

} // namespace tenantrt
