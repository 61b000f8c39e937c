// The metrics actor: the sampling timer, the history ring, the replies, reload and drain.
#include "actors/metrics.hpp"

#include <chrono>
#include <utility>
#include <vector>

#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/metrics_http.hpp"
#include "actors/metrics_warnings.hpp"
#include "actors/prometheus_exposition.hpp"
#include "actors/stats_json.hpp"
#include "runtime/logging.hpp"

namespace tenantrt {

const char* metrics_state::name = "metrics";

metrics_state::metrics_state()
  : exposition(std::make_unique<prometheus_exposition>()), http(std::make_unique<metrics_http>()) {}

metrics_state::~metrics_state() = default;

namespace {

using metrics_pointer = metrics_actor::stateful_pointer<metrics_state>;

/// How long stats, details, health and a sample wait for the registry. The
/// registry itself gives each tenant 2 s to report its counters.
constexpr auto registry_timeout = std::chrono::seconds{5};

/// Asks the registry for its stats (never blocking), adds the pools, and
/// hands the observation to on_observation; or the failure to on_error.
template <class OnObservation, class OnError>
void observe(metrics_pointer self, OnObservation on_observation, OnError on_error) {
  self->request(self->state.registry, registry_timeout, stats_atom::value)
    .then([=](registry_stats& stats) mutable {
            auto& st = self->state;
            auto pools = st.pools ? st.pools() : std::map<std::string, pool_counters>{};
            auto obs = observation_of(std::move(stats), std::move(pools));
            on_observation(obs);
          },
          [=](caf::error& err) mutable { on_error(err); });
}

/// The error a reply gets when the registry cannot answer.
caf::error registry_unavailable(const caf::error& err) {
  if (err.category() == caf::atom("system")
      && static_cast<caf::sec>(err.code()) == caf::sec::request_receiver_down)
    return make_error(errc::shutting_down, "the registry has stopped");
  if (errc_of(err) == errc::timeout)
    return make_error(errc::timeout, "the registry did not answer the stats request in time");
  return make_error(errc::internal, "registry stats failed: " + message_of(err));
}

void schedule_sample(metrics_pointer self, uint64_t generation) {
  self->delayed_send(self, ms(self->state.config.metrics.sample_interval_ms), sample_atom::value,
                     generation);
}

void trim_history(metrics_state& st) {
  while (st.history.size() > st.config.metrics.history_size)
    st.history.pop_front();
}

/// The warnings of an observation between samples (stats, details,
/// health): the last sample's streaks and wait timeouts carry over.
std::vector<warning> warnings_now(const metrics_state& st, const observation& obs) {
  warning_inputs at_last_sample;
  at_last_sample.wait_timeouts = st.history.empty() ? 0 : st.history.back().wait_timeouts;
  at_last_sample.main_down_streak = st.main_down_streak;
  at_last_sample.shortfall_streaks = st.shortfall_streaks;
  auto in = on_demand_inputs(at_last_sample, interval_since(st.baselines, obs), obs);
  return compute_warnings(st.config, obs, in);
}

void take_sample(metrics_pointer self, const observation& obs) {
  auto& st = self->state;
  auto figures = interval_since(st.baselines, obs);
  auto s = sample_of(obs, figures, iso8601_utc(wall_unix_ms()));
  st.baselines = baselines_of(obs);
  st.ops_total += figures.ops;
  st.errors_total += figures.errors;

  st.history.push_back(s);
  trim_history(st);

  st.main_down_streak = obs.registry.main_state == "disconnected" ? st.main_down_streak + 1 : 0;
  std::map<std::string, uint32_t> streaks;
  for (auto& [cluster, pool] : obs.pools)
    if (short_of_minimum(pool))
      streaks[cluster] = st.shortfall_streaks[cluster] + 1;
  st.shortfall_streaks = std::move(streaks);

  warning_inputs in;
  in.wait_timeouts = s.wait_timeouts;
  in.main_down_streak = st.main_down_streak;
  in.shortfall_streaks = st.shortfall_streaks;
  auto warnings = compute_warnings(st.config, obs, in);
  log_warning_changes(st.raised_warnings, warnings);
  st.exposition->update(obs, s, warnings, health_status(obs, warnings), st.ops_total,
                        st.errors_total, st.config.metrics.prometheus_top_tenants);
  log().debug("metrics sample: {} connections, {} tenants, {} ops, {} errors, p99 {} us, {} "
              "warnings",
              s.total_connections, s.active_tenants, s.ops, s.errors, s.p99_us, warnings.size());
}

void start_http(metrics_pointer self) {
  auto& st = self->state;
  auto& address = st.config.metrics.http_listen;
  if (address.empty())
    return;
  std::string error;
  if (st.http->serve(address, st.exposition->collectable(), &error)) {
    auto ports = st.http->listening_ports();
    log().info("metrics: serving GET /metrics on {} (port {})", address,
               ports.empty() ? 0 : ports.front());
  } else {
    log().error("metrics: {}; GET /metrics is off", error);
  }
}

void stop(metrics_pointer self) {
  auto& st = self->state;
  st.draining = true;
  ++st.generation; // pending sample timers become stale
  st.http->stop();
}

} // namespace

metrics_actor::behavior_type metrics_impl(metrics_pointer self, runtime_config config,
                                          registry_actor registry, pool_counters_source pools) {
  auto& st = self->state;
  st.config = std::move(config);
  st.registry = std::move(registry);
  st.pools = std::move(pools);
  start_http(self);
  // Stopped from outside (the actor system going down): close the HTTP
  // server before the state goes.
  self->set_exit_handler([=](caf::exit_msg& em) {
    stop(self);
    self->quit(em.reason);
  });
  schedule_sample(self, st.generation);
  log().info("metrics started: a sample every {} ms, {} kept", st.config.metrics.sample_interval_ms,
             st.config.metrics.history_size);
  return {
    [=](stats_atom) -> caf::typed_response_promise<std::string> {
      auto promise = self->make_response_promise<std::string>();
      observe(
        self,
        [=](const observation& obs) mutable {
          auto warnings = warnings_now(self->state, obs);
          promise.deliver(stats_reply(obs, warnings, self->state.history, tenant_detail::counters));
        },
        [=](const caf::error& err) mutable { promise.deliver(registry_unavailable(err)); });
      return promise;
    },
    [=](details_atom) -> caf::typed_response_promise<std::string> {
      auto promise = self->make_response_promise<std::string>();
      observe(
        self,
        [=](const observation& obs) mutable {
          auto warnings = warnings_now(self->state, obs);
          log_details_table(obs);
          promise.deliver(
            stats_reply(obs, warnings, self->state.history, tenant_detail::with_latency));
        },
        [=](const caf::error& err) mutable { promise.deliver(registry_unavailable(err)); });
      return promise;
    },
    [=](history_atom, uint32_t limit) {
      return history_reply(self->state.history, limit);
    },
    [=](health_atom) -> caf::typed_response_promise<std::string> {
      auto promise = self->make_response_promise<std::string>();
      observe(
        self,
        [=](const observation& obs) mutable {
          auto warnings = warnings_now(self->state, obs);
          promise.deliver(health_reply(obs, warnings));
        },
        [=](const caf::error& err) mutable { promise.deliver(registry_unavailable(err)); });
      return promise;
    },
    [=](prometheus_atom) { return metrics_reply(self->state.exposition->render()); },
    [=](reload_atom, runtime_config& next) {
      auto& st = self->state;
      auto before = st.config.metrics;
      if (next.metrics.http_listen != before.http_listen)
        log().warn("metrics.http_listen changed; it applies after a restart");
      next.metrics.http_listen = before.http_listen;
      st.config = std::move(next);
      trim_history(st);
      if (st.config.metrics.sample_interval_ms != before.sample_interval_ms && !st.draining)
        schedule_sample(self, ++st.generation);
      log().info("metrics reloaded: a sample every {} ms, {} kept",
                 st.config.metrics.sample_interval_ms, st.config.metrics.history_size);
    },
    [=](sample_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.generation || st.draining)
        return; // stale timer
      schedule_sample(self, generation); // keep the cadence whatever the reply takes
      if (st.sampling) {
        log().debug("metrics: previous sample still waiting for the registry; tick skipped");
        return;
      }
      st.sampling = true;
      observe(
        self,
        [=](const observation& obs) {
          self->state.sampling = false;
          if (!self->state.draining)
            take_sample(self, obs);
        },
        [=](const caf::error& err) {
          self->state.sampling = false;
          log().warn("metrics: sample skipped: {}", message_of(registry_unavailable(err)));
        });
    },
    [=](drain_atom) {
      stop(self);
      log().info("metrics stopped");
      self->quit();
    },
  };
}

} // namespace tenantrt
