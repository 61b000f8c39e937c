#pragma once
// GoogleTest fixture on CAF 0.17's test coordinator: no scheduler threads, the
// test decides when actors run (run()) and when virtual time passes
// (advance()). caf/test/dsl.hpp cannot live inside GoogleTest, hence this.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/protocol.hpp"

namespace tenantrt::testing {

/// Where an asynchronous request's answer lands.
template <class T>
struct reply_box {
  std::optional<T> value;
  std::optional<errc> error;
  std::string message;
  bool settled() const { return value.has_value() || error.has_value(); }
};

struct actor_fixture : ::testing::Test {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());

  /// Runs every actor until all mailboxes are empty; fires no timer.
  size_t run() { return sched.run(); }

  /// Moves virtual time forward, fires the timers due, runs the actors.
  size_t advance(caf::timespan span) {
    auto fired = sched.advance_time(span);
    run();
    return fired;
  }

  /// Sends a request from a fresh actor and returns where its answer lands;
  /// the actors have run once when it returns.
  template <class T, class Handle, class... Ts>
  std::shared_ptr<reply_box<T>> ask(const Handle& dest, Ts... message) {
    auto box = std::make_shared<reply_box<T>>();
    sys.spawn([=](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, message...)
        .then([=](T& value) { box->value = std::move(value); },
              [=](caf::error& err) {
                box->error = errc_of(err);
                box->message = message_of(err);
              });
    });
    run();
    return box;
  }
};

} // namespace tenantrt::testing
