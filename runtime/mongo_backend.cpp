#include "runtime/mongo_backend.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/command_runner.hpp"
#include "runtime/logging.hpp"

namespace tenantrt {

namespace {

/// A pool plus the flag that keeps maintenance runs from piling up when one
/// is slow (a warm-up ping against a dead server waits for the selection
/// timeout).
struct pool_entry {
  pool_entry(pool_identity identity, const std::string& uri, const pool_settings& settings,
             pool_clock clock)
    : pool(std::move(identity), uri, settings, std::move(clock)) {}

  cluster_pool pool;
  std::atomic<bool> maintaining{false};
};

using entry_ptr = std::shared_ptr<pool_entry>;

/// Clears the maintaining flag however maintain() ends.
class maintaining_guard {
public:
  explicit maintaining_guard(pool_entry& entry) : entry_(entry) {}
  ~maintaining_guard() { entry_.maintaining.store(false); }
  maintaining_guard(const maintaining_guard&) = delete;
  maintaining_guard& operator=(const maintaining_guard&) = delete;

private:
  pool_entry& entry_;
};

std::chrono::microseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                               - start);
}

} // namespace

struct mongo_backend::shared_state {
  std::shared_ptr<blocking_executor> executor;
  pool_clock clock;
  /// Names and URIs never change; each cluster's pool settings may
  /// (apply_pool_settings), so read them under the mutex.
  std::map<std::string, cluster_config> clusters;
  std::string main_cluster;
  std::string main_database;
  /// Shared pool per cluster (never changes after construction).
  std::map<std::string, entry_ptr> shared_pools;

  std::atomic<bool> shut{false};
  mutable std::mutex mutex;
  /// Live per-tenant pools, owned by their channels; pruned as they expire.
  std::map<uint64_t, std::weak_ptr<pool_entry>> tenant_pools;
  uint64_t next_tenant_pool_id = 0;

  /// Every live pool (shared first).
  std::vector<entry_ptr> live_pools() {
    std::vector<entry_ptr> result;
    for (auto& [name, entry] : shared_pools)
      result.push_back(entry);
    std::lock_guard<std::mutex> guard{mutex};
    for (auto i = tenant_pools.begin(); i != tenant_pools.end();) {
      if (auto entry = i->second.lock()) {
        result.push_back(std::move(entry));
        ++i;
      } else {
        i = tenant_pools.erase(i);
      }
    }
    return result;
  }

  void schedule_maintain(const entry_ptr& entry) {
    if (entry->maintaining.exchange(true))
      return; // the previous run is still busy
    bool posted = executor->try_post([entry] {
      maintaining_guard guard{*entry};
      entry->pool.maintain();
    });
    if (!posted) {
      entry->maintaining.store(false);
      log().debug("pool {}: maintenance skipped, executor refused the job",
                  entry->pool.identity().label());
    }
  }

  /// Runs command_json on database of entry's pool on the calling thread.
  static result run_timed(pool_entry& entry, const std::string& who,
                                     const std::string& database, const std::string& command_json,
                                     std::chrono::steady_clock::time_point submitted) {
    auto outcome = run_on_pool(entry.pool, database, command_json);
    if (outcome.code != errc::none)
      outcome.message = who + ": " + outcome.message;
    outcome.latency = since(submitted);
    return outcome;
  }

  /// run_timed on the caller's thread unless the backend is shut down.
  result run_inline(const entry_ptr& entry, const std::string& who,
                             const std::string& database, const std::string& command_json) {
    auto submitted = std::chrono::steady_clock::now();
    if (shut.load() || !entry) {
      result outcome;
      outcome.code = errc::shutting_down;
      outcome.message = who + ": the backend is shut down";
      return outcome;
    }
    return run_timed(*entry, who, database, command_json, submitted);
  }

  /// Runs command_json on database of entry's pool on the executor. Failure
  /// messages start with "<who>: " (e.g. "tenant org42" or "main database").
  void post_command(const entry_ptr& entry, const std::string& who, const std::string& database,
                    std::string command_json, completion done) {
    auto submitted = std::chrono::steady_clock::now();
    auto refuse = [&](errc code, std::string message) {
      result outcome;
      outcome.code = code;
      outcome.message = who + ": " + message;
      outcome.latency = since(submitted);
      done(std::move(outcome));
    };
    if (shut.load() || !entry || !executor) {
      refuse(errc::shutting_down, "the backend is shut down");
      return;
    }
    // Shared so that done is still ours when try_post refuses the job.
    auto shared_done = std::make_shared<completion>(std::move(done));
    bool posted = executor->try_post(
      [entry, who, database, command = std::move(command_json), shared_done, submitted] {
        (*shared_done)(run_timed(*entry, who, database, command, submitted));
      });
    if (posted)
      return;
    done = std::move(*shared_done);
    if (executor->accepting())
      refuse(errc::overloaded, "blocking executor queue full (max_queue "
                                 + std::to_string(executor->counters().max_queue) + ")");
    else
      refuse(errc::shutting_down, "the blocking executor is shut down");
  }
};

namespace {

/// A tenant's path to its database. With pool_per_tenant it owns the pool.
class mongo_channel final : public tenant_channel {
public:
  using post_function = std::function<void(const entry_ptr&, const std::string&,
                                            const std::string&, std::string, completion)>;

  using run_function = std::function<result(const entry_ptr&, const std::string&,
                                                      const std::string&, const std::string&)>;

  mongo_channel(post_function post, run_function run, entry_ptr entry,
                const tenant_target& target, std::function<void(entry_ptr)> release_owned_pool)
    : post_(std::move(post)),
      run_(std::move(run)),
      entry_(std::move(entry)),
      who_("tenant " + target.tenant_id),
      database_(target.database),
      release_owned_pool_(std::move(release_owned_pool)) {}

  ~mongo_channel() override {
    if (release_owned_pool_)
      release_owned_pool_(std::move(entry_));
  }

  void submit(std::string command_json, completion done) override {
    post_(entry_, who_, database_, std::move(command_json), std::move(done));
  }

  result run_now(std::string command_json) override {
    return run_(entry_, who_, database_, command_json);
  }

private:
  post_function post_;
  run_function run_;
  entry_ptr entry_;
  /// Context for failure messages: "tenant <id>".
  std::string who_;
  std::string database_;
  /// Set for an owned (per-tenant) pool: shuts it down off the caller's thread.
  std::function<void(entry_ptr)> release_owned_pool_;
};

} // namespace

mongo_backend::mongo_backend(const runtime_config& config,
                             std::shared_ptr<blocking_executor> executor, pool_clock clock)
  : state_(std::make_shared<shared_state>()) {
  auto& st = *state_;
  st.executor = std::move(executor);
  st.clock = clock ? std::move(clock) : pool_clock{std::chrono::steady_clock::now};
  st.clusters = config.clusters;
  st.main_database = config.main_database;
  st.main_cluster = config.main_cluster.empty() ? config.default_cluster : config.main_cluster;
  if (!st.executor)
    throw std::runtime_error("mongo_backend needs a blocking_executor");
  if (st.clusters.count(config.default_cluster) == 0)
    throw std::runtime_error("default_cluster '" + config.default_cluster
                                + "' names no configured cluster");
  if (st.clusters.count(st.main_cluster) == 0)
    throw std::runtime_error("main_cluster '" + st.main_cluster
                                + "' names no configured cluster");
  for (auto& [name, cluster] : st.clusters) {
    // The main cluster always has a shared pool: it carries the main database.
    if (cluster.pool_per_tenant && name != st.main_cluster)
      continue;
    st.shared_pools.emplace(name, std::make_shared<pool_entry>(pool_identity{name, {}},
                                                               cluster.uri, cluster.pool, st.clock));
  }
  for (auto& [name, entry] : st.shared_pools)
    log().info("pool {}: created for {} (min {}, max {}, max idle {} ms)", name,
               entry->pool.redacted_uri(), entry->pool.settings().min_pool_size,
               entry->pool.settings().max_pool_size, entry->pool.settings().max_idle_time_ms);
}

mongo_backend::~mongo_backend() {
  shutdown();
}

std::shared_ptr<tenant_channel> mongo_backend::open(const tenant_target& target,
                                                    std::string* error) {
  auto& st = *state_;
  cluster_config cluster;
  {
    std::lock_guard<std::mutex> guard{st.mutex};
    auto found = st.clusters.find(target.cluster);
    if (found == st.clusters.end()) {
      if (error)
        *error = "unknown cluster '" + target.cluster + "' for tenant '" + target.tenant_id + "'";
      return nullptr;
    }
    cluster = found->second;
  }
  std::weak_ptr<shared_state> weak_state = state_;
  auto post = [weak_state](const entry_ptr& entry, const std::string& who,
                           const std::string& database, std::string command_json,
                           completion done) {
    auto backend = weak_state.lock();
    if (!backend) {
      result outcome;
      outcome.code = errc::shutting_down;
      outcome.message = who + ": the backend is gone";
      done(std::move(outcome));
      return;
    }
    backend->post_command(entry, who, database, std::move(command_json), std::move(done));
  };
  auto run = [weak_state](const entry_ptr& entry, const std::string& who,
                          const std::string& database, const std::string& command_json) {
    if (auto backend = weak_state.lock())
      return backend->run_inline(entry, who, database, command_json);
    result outcome;
    outcome.code = errc::shutting_down;
    outcome.message = who + ": the backend is gone";
    return outcome;
  };
  if (!cluster.pool_per_tenant) {
    return std::make_shared<mongo_channel>(std::move(post), run, st.shared_pools.at(target.cluster),
                                           target, nullptr);
  }
  if (st.shut.load())
    return std::make_shared<mongo_channel>(std::move(post), run, nullptr, target, nullptr);

  entry_ptr entry;
  try {
    entry = std::make_shared<pool_entry>(pool_identity{target.cluster, target.tenant_id},
                                         cluster.uri, cluster.pool, st.clock);
  } catch (const std::runtime_error& ex) {
    if (error)
      *error = ex.what();
    return nullptr;
  }
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> guard{st.mutex};
    id = ++st.next_tenant_pool_id;
    st.tenant_pools.emplace(id, entry);
  }
  log().info("pool {}: created for tenant {} (pool_per_tenant)", entry->pool.identity().label(),
             target.tenant_id);
  auto release = [weak_state, id](entry_ptr owned) {
    auto backend = weak_state.lock();
    if (backend) {
      std::lock_guard<std::mutex> guard{backend->mutex};
      backend->tenant_pools.erase(id);
    }
    // Closing clients may talk to the server (endSessions): do it on the
    // executor; the job's reference keeps the pool alive until it ran.
    if (backend && backend->executor
        && backend->executor->try_post([owned] { owned->pool.shutdown(); }))
      return;
    owned->pool.shutdown(); // executor gone or full: close here rather than leak
  };
  return std::make_shared<mongo_channel>(std::move(post), run, std::move(entry), target,
                                         std::move(release));
}

void mongo_backend::submit_main(std::string command_json, completion done) {
  auto& st = *state_;
  st.post_command(st.shared_pools.at(st.main_cluster), "main database", st.main_database,
                  std::move(command_json), std::move(done));
}

void mongo_backend::warm_up() {
  auto& st = *state_;
  if (st.shut.load())
    return;
  for (auto& [name, entry] : st.shared_pools)
    st.schedule_maintain(entry);
}

void mongo_backend::maintain_all() {
  auto& st = *state_;
  if (st.shut.load())
    return;
  for (auto& entry : st.live_pools())
    st.schedule_maintain(entry);
}

std::map<std::string, pool_counters> mongo_backend::pool_counters_by_cluster() const {
  auto& st = *state_;
  std::map<std::string, pool_counters> result;
  {
    std::lock_guard<std::mutex> guard{st.mutex};
    for (auto& [name, cluster] : st.clusters)
      result[name]; // every configured cluster appears, even without a pool
  }
  for (auto& entry : st.live_pools())
    result[entry->pool.identity().cluster] += entry->pool.counters();
  return result;
}

void mongo_backend::apply_pool_settings(const runtime_config& config) {
  auto& st = *state_;
  {
    std::lock_guard<std::mutex> guard{st.mutex};
    for (auto& [name, cluster] : st.clusters)
      if (auto updated = config.clusters.find(name); updated != config.clusters.end())
        cluster.pool = updated->second.pool; // later tenant pools get these
  }
  for (auto& entry : st.live_pools()) {
    auto updated = config.clusters.find(entry->pool.identity().cluster);
    if (updated != config.clusters.end())
      entry->pool.apply_settings(updated->second.pool);
  }
}

void mongo_backend::shutdown() {
  auto& st = *state_;
  if (st.shut.exchange(true))
    return;
  for (auto& entry : st.live_pools())
    entry->pool.shutdown();
}

} // namespace tenantrt
