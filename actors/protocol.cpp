#include "actors/protocol.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include <mutex>

namespace tenantrt {

caf::error make_error(errc code, std::string message, std::string reply_json) {
  return caf::error{static_cast<uint8_t>(code), error_category_atom,
                    caf::make_message(std::move(message), std::move(reply_json))};
}

errc errc_of(const caf::error& err) {
  if (!err)
    return errc::none;
  if (err.category() == error_category_atom)
    return static_cast<errc>(err.code());
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_receiver_down:
        return errc::tenant_crashed;
      case caf::sec::request_timeout:
        return errc::timeout;
      default:
        break;
    }
  }
  return errc::internal;
}

std::string message_of(const caf::error& err) {
  if (err.category() == error_category_atom && err.context().match_element<std::string>(0))
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

std::string reply_of(const caf::error& err) {
  if (err.category() == error_category_atom && err.context().size() > 1
      && err.context().match_element<std::string>(1))
    return err.context().get_as<std::string>(1);
  return {};
}

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

void latency_summary::record(uint64_t latency_us) {
  ++count;
  sum_us += latency_us;
  if (latency_us > max_us)
    max_us = latency_us;
  size_t bucket = 0;
  while (bucket + 1 < bucket_count && latency_us >= (uint64_t{1} << bucket))
    ++bucket;
  ++buckets[bucket];
}

uint64_t latency_summary::quantile_us(double q) const {
  if (count == 0)
    return 0;
  auto rank = static_cast<uint64_t>(q * static_cast<double>(count - 1)) + 1;
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < buckets.size(); ++bucket) {
    seen += buckets[bucket];
    if (seen >= rank)
      return bucket + 1 < bucket_count ? std::min(uint64_t{1} << bucket, max_us)
                                       : max_us;
  }
  return max_us;
}

} // namespace tenantrt
