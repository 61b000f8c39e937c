// The lease of one pooled connection: move, check in, discard.
#include "runtime/client_lease.hpp"

#include <utility>

#include "runtime/cluster_pool.hpp"
#include "runtime/cluster_pool_state.hpp"

namespace tenantrt {

client_lease::client_lease() noexcept = default;

client_lease::client_lease(cluster_pool* owner,
                           std::unique_ptr<pooled_connection> connection) noexcept
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

bool client_lease::reused() const noexcept {
  return connection_ && connection_->reused;
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

void client_lease::discard_unreachable(const std::string& why) noexcept {
  if (!connection_)
    return;
  // A connection that never answered and now cannot reach the server: the
  // server is down or refusing (a timeout means it did answer the handshake).
  if (!connection_->reused) {
    connection_->connect_failed = true;
    try {
      connection_->connect_error = why;
    } catch (...) { // out of memory: the back-off works without the text
    }
  }
  discard();
}

} // namespace tenantrt
