#include "actors/protocol.hpp"

#include <caf/message.hpp>

#include <mutex>

namespace tenantrt {

struct relay_reply::once {
  explicit once(callback cb) : done(std::move(cb)) {}
  ~once() {
    // Dropped unanswered (the relay stopped first): the caller still hears.
    if (done) {
      auto failure = make_error(errc::shutting_down, "tenantrt is shut down");
      done(nullptr, &failure);
    }
  }
  /// The callback, once: later calls get an empty one.
  callback take() {
    std::lock_guard<std::mutex> guard{mutex};
    auto out = std::move(done);
    done = nullptr;
    return out;
  }
  callback done;
  std::mutex mutex;
};

relay_reply::relay_reply(callback done) : once_(std::make_shared<once>(std::move(done))) {}

void relay_reply::deliver(std::string& reply) const {
  if (!once_)
    return; // default-constructed: nobody to tell
  if (auto done = once_->take())
    done(&reply, nullptr);
}

void relay_reply::fail(const caf::error& failure) const {
  if (!once_)
    return;
  if (auto done = once_->take())
    done(nullptr, &failure);
}

} // namespace tenantrt
