#pragma once
// A command_backend for the microbenchmarks: every command (tenant or main
// database) succeeds at once with {"ok":1.0}, on the submitting thread, so a
// benchmark measures the actors and not a server. Unlike the unit tests'
// fake_backend it is safe under a multi-threaded scheduler: channels are
// opened by the registry and destroyed by whichever thread drops the last
// tenant actor reference, so the channel count is atomic and nothing else is
// shared.

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "runtime/command_backend.hpp"

namespace tenantrt::bench {

class instant_backend : public command_backend {
public:
  std::shared_ptr<tenant_channel> open(const tenant_target& /*target*/,
                                       std::string* /*error*/) override {
    open_channels_->fetch_add(1, std::memory_order_relaxed);
    return std::make_shared<channel>(open_channels_);
  }

  void submit_main(std::string /*command_json*/, completion done) override {
    done(ok_outcome());
  }

  /// Channels opened and not yet destroyed (= tenant actors not yet destroyed).
  size_t open_channels() const { return open_channels_->load(std::memory_order_relaxed); }

private:
  static result ok_outcome() {
    result out;
    out.reply_json = R"({"ok":1.0})";
    return out;
  }

  class channel : public tenant_channel {
  public:
    explicit channel(std::shared_ptr<std::atomic<size_t>> open_channels)
      : open_channels_(std::move(open_channels)) {}
    ~channel() override { open_channels_->fetch_sub(1, std::memory_order_relaxed); }
    void submit(std::string /*command_json*/, completion done) override { done(ok_outcome()); }

  private:
    std::shared_ptr<std::atomic<size_t>> open_channels_;
  };

  // Shared with the channels: a tenant actor (and its channel) may be
  // destroyed after the backend, e.g. when a pending timer held it.
  std::shared_ptr<std::atomic<size_t>> open_channels_
    = std::make_shared<std::atomic<size_t>>(0);
};

} // namespace tenantrt::bench
