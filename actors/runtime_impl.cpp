#include "actors/runtime_impl.hpp"

#include <stdexcept>

#include <caf/io/middleman.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/metrics.hpp"
#include "actors/pool_maintainer.hpp"
#include "actors/registry.hpp"
#include "actors/relay.hpp"
#include "actors/runtime_access.hpp"
#include "config/reload_plan.hpp"
#include "runtime/command_document.hpp"
#include "runtime/logging.hpp"

namespace tenantrt {

namespace {

std::unique_ptr<caf::actor_system_config> make_system_config(const runtime_config& config) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  if (config.scheduler.threads > 0)
    cfg->set("scheduler.max-threads", static_cast<size_t>(config.scheduler.threads));
  // The control socket (tenantrtd) runs as a broker on the middleman.
  cfg->load<caf::io::middleman>();
  // CAF's idle workers poll their queue 500 times with 50 us sleeps before
  // they wait on a condition variable; at the few thousand messages per
  // second of a connection runtime they never reach the wait, and those
  // wake-ups cost more CPU than the operations (tenantload steady: client
  // CPU per op halved without them). External enqueues wake a waiting worker
  // through that condition variable, so no message waits for a poll.
  cfg->set("work-stealing.moderate-poll-attempts", size_t{0});
  // An idle worker also wakes every relaxed-sleep-duration (10 ms by default)
  // to look for work to steal: 4 workers made 400 wake-ups a second, half a
  // context switch per operation at 800 ops/s. Work is never stranded by a
  // longer sleep: external enqueues wake their worker, and a worker runs what
  // its own actors send each other.
  cfg->set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::milliseconds{200}});
  cfg->set("logger.console-verbosity", caf::atom("quiet"));
  cfg->set("logger.file-verbosity", caf::atom("quiet"));
  cfg->add_error_category(error_category_atom,
                          [](uint8_t code, caf::atom_value, const caf::message& context) {
                            std::string text{to_string(static_cast<errc>(code))};
                            if (context.match_element<std::string>(0))
                              text += ": " + context.get_as<std::string>(0);
                            return text;
                          });
  return cfg;
}

relay_reply::callback to_relay_callback(completion callback) {
  return [callback = std::move(callback)](std::string* reply, const caf::error* failure) {
    if (failure != nullptr) {
      callback(result_from_error(*failure));
      return;
    }
    result out;
    out.reply_json = std::move(*reply);
    callback(std::move(out));
  };
}

template <class Reply, class... Message>
Reply ask(caf::actor_system& system, const registry_actor& registry,
          std::chrono::milliseconds timeout, const char* what, Message... message) {
  caf::scoped_actor self{system};
  Reply out{};
  std::string failure;
  self->request(registry, timeout, message...)
    .receive([&](Reply& reply) { out = std::move(reply); },
             [&](caf::error& err) { failure = message_of(err); });
  if (!failure.empty())
    throw std::runtime_error(std::string{what} + " failed: " + failure);
  return out;
}

} // namespace

result result_from_error(const caf::error& err) {
  result out;
  out.code = errc_of(err);
  out.message = message_of(err);
  out.reply_json = reply_of(err);
  return out;
}

runtime::runtime(runtime_config config) : impl_(std::make_unique<impl>()) {
  impl_->config_ = std::move(config);
  impl_->own_system_config_ = make_system_config(impl_->config_);
  impl_->own_system_ = std::make_unique<caf::actor_system>(*impl_->own_system_config_);
  impl_->system_ = impl_->own_system_.get();
  impl_->start();
}

runtime::runtime(caf::actor_system& system, runtime_config config)
  : impl_(std::make_unique<impl>()) {
  impl_->config_ = std::move(config);
  impl_->system_ = &system;
  impl_->start();
}

runtime::~runtime() {
  shutdown();
}

void runtime::impl::start() {
  if (!set_log_level(config_.logging.level))
    throw std::runtime_error("logging.level: unknown level '" + config_.logging.level + "'");
  executor_ = std::make_shared<blocking_executor>(config_.executor.threads,
                                                  config_.executor.max_queue);
  backend_ = std::make_shared<mongo_backend>(config_, executor_);
  backend_->warm_up();
  directory_ = std::make_shared<tenant_directory>();
  registry_ = system_->spawn(registry_impl, config_,
                             std::static_pointer_cast<command_backend>(backend_), directory_);
  relay_ = system_->spawn(relay_impl, registry_);
  std::weak_ptr<mongo_backend> weak_backend = backend_;
  metrics_ = system_->spawn(metrics_impl, config_, registry_, [weak_backend] {
    auto backend = weak_backend.lock();
    return backend ? backend->pool_counters_by_cluster() : std::map<std::string, pool_counters>{};
  });
  maintainer_ = system_->spawn(
    pool_maintainer_impl,
    [weak_backend] {
      if (auto backend = weak_backend.lock())
        backend->maintain_all();
    },
    std::chrono::duration_cast<caf::timespan>(
      std::chrono::milliseconds{config_.pool_maintenance_interval_ms}));
  log().info("tenantrt started: {} cluster(s), default '{}', main database '{}'",
             config_.clusters.size(), config_.default_cluster, config_.main_database);
}

void runtime::impl::submit(const std::string& tenant_id, std::optional<std::string> command_text,
                           std::string text_error, completion callback) {
  if (!command_text) {
    callback(result{errc::bad_command, std::move(text_error), {}});
    return;
  }
  if (stopped_) {
    callback(result{errc::shutting_down, "tenantrt is shut down", {}});
    return;
  }
  // The fast path takes a copy: when it declines, done is dropped unrun.
  if (!try_run_active(tenant_id, *command_text, callback))
    submit_to_registry(tenant_id, std::move(*command_text), std::move(callback));
}

bool runtime::try_run_active(const std::string& tenant_id, const std::string& command_json,
                             completion done) {
  return impl_->try_run_active(tenant_id, command_json, std::move(done));
}

bool runtime::impl::try_run_active(const std::string& tenant_id, const std::string& command_json,
                                   completion done) {
  if (stopped_)
    return false;
  auto gate = directory_->find(tenant_id);
  if (!gate || !gate->try_enter())
    return false;
  // Left before done runs: whoever sees the result sees the tenant idle.
  gate->channel()->submit(command_json, [gate, done = std::move(done)](result outcome) {
    gate->leave(outcome, std::chrono::steady_clock::now());
    done(std::move(outcome));
  });
  return true;
}

void runtime::impl::submit_to_registry(const std::string& tenant_id, std::string command_text,
                                       completion callback) {
  caf::anon_send(relay_, run_atom::value, tenant_id, std::move(command_text),
                 relay_reply{to_relay_callback(std::move(callback))});
}

result runtime::impl::execute_text(const std::string& tenant_id, std::optional<std::string> command_text,
                             std::string text_error) {
  if (!command_text)
    return result{errc::bad_command, std::move(text_error), {}};
  if (stopped_)
    return result{errc::shutting_down, "tenantrt is shut down", {}};
  auto gate = directory_->find(tenant_id);
  if (gate && gate->try_enter()) {
    result outcome;
    try {
      outcome = gate->channel()->run_now(std::move(*command_text));
    } catch (const std::exception& ex) { // the gate must be left whatever happens
      outcome.code = errc::internal;
      outcome.message = std::string{"tenant "} + tenant_id + ": " + ex.what();
    }
    gate->leave(outcome, std::chrono::steady_clock::now());
    return outcome;
  }
  auto promise = std::make_shared<std::promise<result>>();
  auto future = promise->get_future();
  submit_to_registry(tenant_id, std::move(*command_text),
                     [promise](result r) { promise->set_value(std::move(r)); });
  return future.get();
}

result runtime::execute(const std::string& tenant_id, const nlohmann::json& command) {
  auto text = command_text(command);
  return impl_->execute_text(tenant_id, std::move(text.text), std::move(text.error));
}

result runtime::execute(const std::string& tenant_id, const nlohmann::ordered_json& command) {
  auto text = command_text(command);
  return impl_->execute_text(tenant_id, std::move(text.text), std::move(text.error));
}

void runtime::run_command(const std::string& tenant_id, const nlohmann::json& command,
                          completion callback) {
  auto text = command_text(command);
  impl_->submit(tenant_id, std::move(text.text), std::move(text.error), std::move(callback));
}

void runtime::run_command(const std::string& tenant_id, const nlohmann::ordered_json& command,
                          completion callback) {
  auto text = command_text(command);
  impl_->submit(tenant_id, std::move(text.text), std::move(text.error), std::move(callback));
}

std::future<result> runtime::run_command(const std::string& tenant_id,
                                         const nlohmann::json& command) {
  auto promise = std::make_shared<std::promise<result>>();
  auto future = promise->get_future();
  run_command(tenant_id, command, [promise](result r) { promise->set_value(std::move(r)); });
  return future;
}

std::future<result> runtime::run_command(const std::string& tenant_id,
                                         const nlohmann::ordered_json& command) {
  auto promise = std::make_shared<std::promise<result>>();
  auto future = promise->get_future();
  run_command(tenant_id, command, [promise](result r) { promise->set_value(std::move(r)); });
  return future;
}

std::future<result> runtime::run_main_command(const nlohmann::ordered_json& command) {
  auto promise = std::make_shared<std::promise<result>>();
  auto future = promise->get_future();
  auto text = command_text(command);
  if (!text.text || impl_->stopped_) {
    promise->set_value(text.text ? result{errc::shutting_down, "tenantrt is shut down", {}}
                                 : result{errc::bad_command, text.error, {}});
    return future;
  }
  caf::anon_send(impl_->relay_, main_atom::value, std::move(*text.text),
                 relay_reply{to_relay_callback([promise](result r) { promise->set_value(std::move(r)); })});
  return future;
}

runtime_config runtime::config() const {
  std::lock_guard<std::mutex> guard{impl_->config_mutex_};
  return impl_->config_;
}

namespace {

/// next, except for what only a restart can change, which keeps its running value.
runtime_config effective_after_reload(const runtime_config& running, const runtime_config& next) {
  runtime_config out = next;
  out.clusters = running.clusters;
  for (auto& [name, cluster] : out.clusters)
    if (auto updated = next.clusters.find(name); updated != next.clusters.end())
      cluster.pool = updated->second.pool; // sizes and timeouts apply; uri and layout stay
  out.default_cluster = running.default_cluster;
  out.main_cluster = running.main_cluster;
  out.main_database = running.main_database;
  out.database_template = running.database_template;
  out.routing = running.routing;
  out.executor = running.executor;
  out.scheduler = running.scheduler;
  out.control.listen = running.control.listen;
  out.metrics.http_listen = running.metrics.http_listen;
  return out;
}

} // namespace

reload_result runtime::reload(const runtime_config& next) {
  auto plan = plan_reload(config(), next);
  runtime_config effective;
  {
    std::lock_guard<std::mutex> guard{impl_->config_mutex_};
    effective = effective_after_reload(impl_->config_, next);
    impl_->config_ = effective;
  }
  set_log_level(effective.logging.level);
  impl_->backend_->apply_pool_settings(effective);
  caf::anon_send(impl_->registry_, reload_atom::value, effective);
  caf::anon_send(impl_->metrics_, reload_atom::value, effective);
  caf::anon_send(impl_->maintainer_, reload_atom::value,
                 std::chrono::duration_cast<caf::timespan>(
                   std::chrono::milliseconds{effective.pool_maintenance_interval_ms}));
  log().info("configuration reloaded: {} change(s) applied, {} need a restart", plan.applied.size(),
             plan.needs_restart.size());
  for (auto& path : plan.needs_restart)
    log().warn("reload: {} changed but needs a restart; the running value stays", path);
  return reload_result{plan.applied, plan.needs_restart};
}

bool runtime::post_blocking(std::function<void()> job) {
  return impl_->executor_->try_post(std::move(job));
}

runtime_stats runtime::stats(std::chrono::milliseconds timeout) {
  runtime_stats out;
  out.registry = ask<registry_stats>(*impl_->system_, impl_->registry_, timeout, "stats", stats_atom::value);
  out.pools = impl_->backend_->pool_counters_by_cluster();
  for (auto& [cluster, counters] : out.pools)
    out.total_connections += counters.open;
  return out;
}

std::vector<std::string> runtime::cleanup(std::chrono::milliseconds timeout) {
  return ask<std::vector<std::string>>(*impl_->system_, impl_->registry_, timeout, "cleanup",
                                       cleanup_atom::value);
}

bool runtime::evict(const std::string& tenant_id, std::chrono::milliseconds timeout) {
  return ask<bool>(*impl_->system_, impl_->registry_, timeout, "evict", evict_atom::value, tenant_id);
}

bool runtime::shutdown(std::chrono::milliseconds drain_timeout) {
  auto drained = drain(drain_timeout);
  impl_->own_system_.reset(); // waits for every actor
  return drained;
}

bool runtime::drain(std::chrono::milliseconds drain_timeout) {
  if (impl_->stopped_.exchange(true))
    return impl_->drained_;
  bool drained = false;
  {
    caf::scoped_actor self{*impl_->system_};
    auto span = std::chrono::duration_cast<caf::timespan>(drain_timeout);
    // The registry answers by its own deadline; the margin covers a stuck system.
    self->request(impl_->registry_, drain_timeout + std::chrono::seconds{5}, drain_atom::value, span)
      .receive([&](bool all_done) { drained = all_done; },
               [&](caf::error& err) {
                 log().error("drain failed: {}", message_of(err));
                 self->send_exit(impl_->registry_, caf::exit_reason::kill);
               });
    self->send(impl_->relay_, drain_atom::value);
    self->send(impl_->maintainer_, drain_atom::value);
    self->send(impl_->metrics_, drain_atom::value);
  }
  impl_->backend_->shutdown();
  impl_->executor_->shutdown();
  log().info("tenantrt stopped ({})", drained ? "drained" : "drain timed out");
  impl_->drained_ = drained;
  return drained;
}

caf::actor_system& runtime::system() {
  return *impl_->system_;
}

registry_actor runtime_access::registry(const runtime& rt) {
  return rt.impl_->registry_;
}

metrics_actor runtime_access::metrics(const runtime& rt) {
  return rt.impl_->metrics_;
}

} // namespace tenantrt
