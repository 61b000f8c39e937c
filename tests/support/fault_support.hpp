#pragma once
// Shared by the fault tests: a small-timeout config against dev-mongo, a load
// generator (threads sending commands through tenantrt::runtime and recording
// every outcome with its latency), a direct admin command to dev-mongo (fail
// points, latency) and the metrics actor's health.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <nlohmann/json.hpp>

#include "actors/runtime_access.hpp"
#include "runtime/mongoc_driver.hpp"
#include "runtime/runtime.hpp"

namespace tenantrt::faults {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using nlohmann::ordered_json;

/// Milliseconds between two steady times.
inline int64_t ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

/// One cluster on uri with small timeouts, so every fault shows within a
/// second or two; the maintenance and main ping run often.
inline runtime_config small_timeout_config(const std::string& uri) {
  runtime_config c;
  auto& cluster = c.clusters.at("default");
  cluster.uri = uri;
  cluster.pool.max_pool_size = 4;
  cluster.pool.min_pool_size = 1;
  cluster.pool.max_idle_time_ms = 60000;
  cluster.pool.wait_queue_timeout_ms = 1000;
  cluster.pool.server_selection_timeout_ms = 1000;
  cluster.pool.connect_timeout_ms = 1000;
  cluster.pool.socket_timeout_ms = 2000;
  c.pool_maintenance_interval_ms = 100;
  c.registry.main_ping_interval_ms = 200;
  c.metrics.sample_interval_ms = 200;
  c.executor.threads = 8;
  c.logging.level = "warn";
  return c;
}

/// Sends cmd to dev-mongo's admin database over a client of its own (not
/// through tenantrt): fail points, devMongoSetLatency, serverStatus.
inline nlohmann::json admin_command(const std::string& uri, const ordered_json& cmd) {
  ensure_mongoc_initialized();
  auto text = cmd.dump();
  bson_error_t error;
  bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(text.data()),
                                   static_cast<ssize_t>(text.size()), &error);
  if (doc == nullptr)
    throw std::runtime_error(std::string{"bad admin command: "} + error.message);
  mongoc_client_t* client = mongoc_client_new(uri.c_str());
  bson_t reply;
  bool ok = mongoc_client_command_simple(client, "admin", doc, nullptr, &reply, &error);
  char* json = bson_as_relaxed_extended_json(&reply, nullptr);
  std::string out = json ? json : "{}";
  bson_free(json);
  bson_destroy(&reply);
  bson_destroy(doc);
  mongoc_client_destroy(client);
  if (!ok)
    throw std::runtime_error("admin command " + text + " failed: " + error.message);
  return nlohmann::json::parse(out);
}

/// devMongoSetLatency: every later command of that server waits ms.
inline void set_latency(const std::string& uri, uint32_t ms) {
  admin_command(uri, ordered_json{{"devMongoSetLatency", ms}});
}

/// The metrics actor's health document ({"status": ..., "warnings": [...]}).
inline nlohmann::json health(runtime& rt) {
  caf::scoped_actor self{rt.system()};
  nlohmann::json out;
  self->request(tenantrt::runtime_access::metrics(rt), std::chrono::seconds{10}, health_atom::value)
    .receive([&](std::string& text) { out = nlohmann::json::parse(text); },
             [&](caf::error& err) { out = {{"status", "error: " + rt.system().render(err)}}; });
  return out;
}

/// One finished operation.
struct op_record {
  std::string tenant;
  errc code = errc::none;
  std::string message;
  clock_type::time_point started;
  clock_type::time_point finished;
  int64_t latency_ms() const { return ms_between(started, finished); }
  bool ok() const { return code == errc::none; }
};

/// Threads that each run commands for their own tenant back to back (a
/// synchronous caller per thread, as a service's request threads are) until
/// stop(). Every outcome is recorded.
class load_generator {
public:
  /// threads callers; caller i uses tenant prefix + i and alternates an
  /// insert and a find.
  load_generator(runtime& rt, size_t threads, std::string prefix = "load")
    : rt_(rt), prefix_(std::move(prefix)) {
    for (size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this, i] { run(i); });
  }

  ~load_generator() { stop(); }

  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

  /// A copy of every record so far.
  std::vector<op_record> records() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return records_;
  }

  /// Operations that did not finish within 60 s (a hang: must stay 0).
  size_t hung() const { return hung_; }

  /// Records finished in [from, to).
  static std::vector<op_record> between(const std::vector<op_record>& all,
                                        clock_type::time_point from,
                                        clock_type::time_point to) {
    std::vector<op_record> out;
    for (auto& r : all)
      if (r.finished >= from && r.finished < to)
        out.push_back(r);
    return out;
  }

  /// "code: count, ..." of records.
  static std::map<std::string, size_t> by_code(const std::vector<op_record>& records) {
    std::map<std::string, size_t> out;
    for (auto& r : records)
      ++out[r.ok() ? std::string{"ok"} : std::string{to_string(r.code)}];
    return out;
  }

  static std::string describe(const std::map<std::string, size_t>& counts) {
    std::ostringstream out;
    for (auto& [code, n] : counts)
      out << code << ": " << n << "; ";
    return out.str();
  }

private:
  void run(size_t index) {
    auto tenant = prefix_ + std::to_string(index);
    for (uint64_t n = 0; !stop_; ++n) {
      ordered_json cmd = n % 2 == 0
                           ? ordered_json{{"insert", "events"},
                                          {"documents", {{{"n", n}, {"caller", index}}}}}
                           : ordered_json{{"find", "events"}, {"filter", {{"n", n - 1}}}};
      op_record rec;
      rec.tenant = tenant;
      rec.started = clock_type::now();
      auto future = rt_.run_command(tenant, cmd);
      if (future.wait_for(60s) != std::future_status::ready) {
        ++hung_;
        return;
      }
      auto r = future.get();
      rec.finished = clock_type::now();
      rec.code = r.code;
      rec.message = r.message;
      {
        std::lock_guard<std::mutex> lock{mutex_};
        records_.push_back(std::move(rec));
      }
      if (r.code != errc::none)
        std::this_thread::sleep_for(20ms); // a caller's pause after an error, not a spin
    }
  }

  runtime& rt_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> hung_{0};
  mutable std::mutex mutex_;
  std::vector<op_record> records_;
  std::vector<std::thread> threads_;
};

} // namespace tenantrt::faults
