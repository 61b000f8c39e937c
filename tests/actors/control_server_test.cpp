// The control server broker in a real actor system (scheduler threads plus
// the io middleman) behind real sockets, TCP on loopback and Unix: every
// command's reply shape, the error codes, the token, limits on lines, clients,
// in-flight requests and unread output, the idle timeout, and the socket
// file's life cycle.
// The registry and the metrics actor are small stubs with canned answers: no
// MongoDB. Every wait is on a condition (poll with a deadline), never a sleep.

#include "actors/control_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

using namespace std::chrono_literals;
using nlohmann::ordered_json;

namespace tenantrt {
namespace {

// --- stubs

struct stub_registry_state {
  /// run requests for tenant "gate", answered when (main_atom, "release") comes.
  std::vector<std::pair<caf::typed_response_promise<std::string>, std::string>> gated;
  /// run requests for tenant "hang", never answered.
  std::vector<caf::typed_response_promise<std::string>> hung;
  /// run requests received (asked for with (main_atom, "runs")).
  size_t runs = 0;
  static inline const char* name = "stub_registry";
};

/// run replies {"ok":1,"tenant":...,"received":<command as sent>}; some
/// tenant ids fail with the registry's error codes.
registry_actor::behavior_type
stub_registry(registry_actor::stateful_pointer<stub_registry_state> self) {
  auto echo = [](const std::string& tenant, const std::string& command) {
    ordered_json reply;
    reply["ok"] = 1;
    reply["tenant"] = tenant;
    reply["received"] = ordered_json::parse(command);
    return reply.dump();
  };
  return {
    [](retire_atom, const std::string&, caf::actor_id) {},
    [=](run_atom, const std::string& tenant,
        const std::string& command) -> caf::result<std::string> {
      ++self->state.runs;
      if (tenant == "bad id!")
        return make_error(errc::invalid_tenant_id, "tenant id 'bad id!' is invalid");
      if (tenant == "full")
        return make_error(errc::tenant_limit_reached, "50 tenants active");
      if (tenant == "fail")
        return make_error(errc::command_failed, "no such command",
                          R"({"ok":0,"errmsg":"no such command","code":59})");
      if (tenant == "hang") {
        auto rp = self->make_response_promise<std::string>();
        self->state.hung.push_back(rp);
        return rp;
      }
      if (tenant == "gate") {
        auto rp = self->make_response_promise<std::string>();
        self->state.gated.emplace_back(rp, echo(tenant, command));
        return rp;
      }
      return echo(tenant, command);
    },
    [=](main_atom, const std::string& what) -> std::string {
      if (what == "runs")
        return std::to_string(self->state.runs);
      if (what == "release") {
        for (auto& [rp, reply] : self->state.gated)
          rp.deliver(reply);
        self->state.gated.clear();
      }
      return "{}";
    },
    [](acquire_atom, const std::string&) -> caf::result<tenant_actor> {
      return make_error(errc::internal, "not in this stub");
    },
    [](cleanup_atom) { return std::vector<std::string>{"org1", "org2"}; },
    [](evict_atom, const std::string& tenant) { return tenant == "org1"; },
    [](stats_atom) { return registry_stats{}; },
    [](evict_atom, const std::string& tenant, caf::timespan drain) {
      return tenant == "org1" && drain == caf::timespan{std::chrono::milliseconds{1500}};
    },
    [](drain_atom, caf::timespan) { return true; },
    [](reload_atom, const runtime_config&) { return true; },
    [](cleanup_tick_atom, uint64_t) {},
    [](main_ping_atom, uint64_t) {},
    [](wait_expired_atom) {},
    [](waiter_retry_atom) {},
    [](drain_deadline_atom) {},
    [](evict_deadline_atom, caf::actor_id) {},
    [](main_done_atom, uint64_t, const result&) {},
  };
}

/// Canned JSON objects; prometheus text of prometheus_bytes bytes.
metrics_actor::behavior_type stub_metrics(metrics_actor::pointer, size_t prometheus_bytes) {
  return {
    [](stats_atom) {
      return std::string{
        R"({"timestamp":"2024-01-02T03:04:05.000Z","stats":{"totalConnections":3,)"
        R"("mainDb":{"name":"main","state":"connected"},"tenantDbs":{"activeConnections":1,)"
        R"("maxConnections":50,"registeredTenants":1,"connections":[]},"clusters":{}},)"
        R"("recentMetrics":[],"warnings":[]})"};
    },
    [](details_atom) {
      return std::string{R"({"timestamp":"2024-01-02T03:04:05.000Z","stats":{"totalConnections":3},)"
                         R"("latency":{"org1":{"p50Us":100}},"warnings":[]})"};
    },
    [](history_atom, uint32_t limit) {
      ordered_json samples = ordered_json::array();
      for (uint32_t i = 0; i < (limit == 0 ? 5 : limit); ++i)
        samples.push_back({{"totalConnections", i}});
      return ordered_json{{"samples", samples}}.dump();
    },
    [](health_atom) { return std::string{R"({"status":"degraded","warnings":[{"code":"x"}]})"}; },
    [=](prometheus_atom) {
      return ordered_json{{"text", std::string(prometheus_bytes, 'm')}}.dump();
    },
    [](reload_atom, const runtime_config&) {},
    [](sample_atom, uint64_t) {},
    [](drain_atom) {},
  };
}

/// One worker thread standing in for the runtime's executor.
class job_runner {
public:
  job_runner() : thread_([this] { loop(); }) {}
  ~job_runner() { stop(); }

  bool post(std::function<void()> job) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopped_ || refuse_)
      return false;
    jobs_.push_back(std::move(job));
    wake_.notify_one();
    return true;
  }

  /// Jobs started so far.
  size_t executed() {
    std::lock_guard<std::mutex> guard{mutex_};
    return executed_;
  }

  void refuse(bool value) {
    std::lock_guard<std::mutex> guard{mutex_};
    refuse_ = value;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopped_)
        return;
      stopped_ = true;
      wake_.notify_one();
    }
    thread_.join();
  }

private:
  void loop() {
    std::unique_lock<std::mutex> lock{mutex_};
    for (;;) {
      wake_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
      if (jobs_.empty())
        return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      ++executed_; // Before running: a job's effect may be observed at once.
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopped_ = false;
  bool refuse_ = false;
  size_t executed_ = 0;
  std::thread thread_;
};

// --- a plain POSIX line client

int connect_tcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class line_client {
public:
  explicit line_client(int fd) : fd_(fd) {}
  line_client(const line_client&) = delete;
  line_client& operator=(const line_client&) = delete;
  ~line_client() { close(); }

  bool connected() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  /// Sends every byte (blocking).
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// The next line, or nullopt on EOF, error or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto pos = buf_.find('\n'); pos != std::string::npos) {
        auto line = buf_.substr(0, pos);
        buf_.erase(0, pos + 1);
        return line;
      }
      if (!fill(deadline))
        return std::nullopt;
    }
  }

  /// The next reply parsed (a {"client_error":...} object when none came).
  ordered_json read_reply(std::chrono::milliseconds timeout = 10s) {
    auto line = read_line(timeout);
    if (!line)
      return ordered_json{{"client_error", eof_ ? "eof" : "timeout"}};
    auto parsed = ordered_json::parse(*line, nullptr, false);
    if (parsed.is_discarded())
      return ordered_json{{"client_error", "not json: " + *line}};
    return parsed;
  }

  ordered_json call(const char* line) { return call(std::string{line}); }

  ordered_json call(const std::string& line) {
    if (!send_raw(line + "\n"))
      return ordered_json{{"client_error", "send"}};
    return read_reply();
  }

  ordered_json call(const ordered_json& request) { return call(request.dump()); }

  /// Reads (and drops) until the server closes; false on timeout.
  bool wait_closed(std::chrono::milliseconds timeout = 10s, size_t* bytes_read = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
      if (bytes_read)
        *bytes_read += buf_.size();
      buf_.clear();
    }
    if (bytes_read)
      *bytes_read += buf_.size();
    return eof_;
  }

  /// Waits, without reading, until the server shut the connection down.
  bool wait_hangup(std::chrono::milliseconds timeout) {
    // POLLIN is not asked for: unread replies must not wake the wait.
    pollfd p{fd_, POLLRDHUP, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0
           && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  /// Whether a reply is waiting (within the time given).
  bool readable(std::chrono::milliseconds timeout) {
    if (buf_.find('\n') != std::string::npos)
      return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char chunk[65536];
    auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = true; // Orderly close or reset: the server is done with us.
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
  bool eof_ = false;
};

// --- fixture

struct ControlServerTest : ::testing::Test {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.load<caf::io::middleman>();
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  job_runner runner;
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scoped_actor self{sys};
  size_t prometheus_bytes = 64;
  registry_actor registry = sys.spawn(stub_registry);
  metrics_actor metrics;
  caf::actor server;
  std::string dir;
  std::string socket_path;
  bool reload_fails = false;
  /// Tenants the fake fast path serves (runtime::try_run_active); others go
  /// to the stub registry. Its outcomes: "fast" echoes, "fastfail" fails.
  std::set<std::string> active_tenants;
  std::atomic<size_t> fast_runs{0};
  /// When set (before start), the config hook waits for it: a stuck job.
  std::optional<std::shared_future<void>> config_gate;
  std::vector<std::string> addresses;

  ControlServerTest() {
    char dir_template[] = "/tmp/tenantrt_control_XXXXXX";
    dir = ::mkdtemp(dir_template);
    socket_path = dir + "/control.sock";
  }

  ~ControlServerTest() override {
    for (auto& actor : {server, caf::actor_cast<caf::actor>(registry),
                        caf::actor_cast<caf::actor>(metrics)})
      if (actor) {
        self->send_exit(actor, caf::exit_reason::user_shutdown);
        self->wait_for(actor);
      }
    runner.stop();
    ::unlink(socket_path.c_str());
    ::rmdir(dir.c_str());
  }

  control_config config(std::vector<std::string> listen = {"127.0.0.1:0"}) {
    control_config c;
    c.listen = std::move(listen);
    return c;
  }

  control_services services() {
    control_services h;
    h.registry = registry;
    h.metrics = metrics;
    h.config_json = [this] {
      if (config_gate)
        config_gate->wait();
      return ordered_json{{"control", {{"listen", {"127.0.0.1:0"}}, {"token", "<redacted>"}}}};
    };
    h.run_blocking = [this](std::function<void()> job) { return runner.post(std::move(job)); };
    h.run_active = [this](const std::string& tenant, const std::string& command_json,
                          std::function<void(result)> done) {
      if (active_tenants.count(tenant) == 0)
        return false;
      ++fast_runs;
      return runner.post([tenant, command_json, done] {
        result outcome;
        if (tenant == "fastfail") {
          outcome.code = errc::command_failed;
          outcome.message = "tenant fastfail: no such command";
          outcome.reply_json = R"({"ok":0,"errmsg":"no such command","code":59})";
        } else {
          outcome.reply_json = R"({"ok":1,"path":"fast","received":)" + command_json + "}";
        }
        done(std::move(outcome));
      });
    };
    h.evict_drain_timeout = std::chrono::milliseconds{1500};
    return h;
  }

  control_hooks hooks() {
    control_hooks h;
    h.reload = [this]() -> ordered_json {
      if (reload_fails)
        throw std::runtime_error("config file: registry.max_tenant_connections must be > 0");
      return ordered_json{{"applied", {"registry.idle_timeout_ms"}}, {"needsRestart", ordered_json::array()}};
    };
    return h;
  }

  caf::expected<caf::actor> spawn(const control_config& c, control_server_limits limits = {}) {
    if (!metrics)
      metrics = sys.spawn(stub_metrics, prometheus_bytes);
    return spawn_control_server(sys, c, services(), hooks(), limits);
  }

  /// Starts the server and learns its addresses.
  /// start() with the default config but this client idle timeout.
  void start_with_idle_timeout(uint32_t timeout_ms) {
    auto c_cfg = config();
    c_cfg.client_idle_timeout_ms = timeout_ms;
    start(c_cfg);
  }

  void start(const control_config& c, control_server_limits limits = {}) {
    auto spawned = spawn(c, limits);
    ASSERT_TRUE(spawned) << sys.render(spawned.error());
    server = *spawned;
    self->request(server, 5s, control_addrs_atom::value)
      .receive([&](std::vector<std::string>& xs) { addresses = std::move(xs); },
               [&](caf::error& err) { FAIL() << sys.render(err); });
  }

  uint16_t tcp_port() const {
    for (auto& a : addresses)
      if (a.rfind("127.0.0.1:", 0) == 0)
        return static_cast<uint16_t>(std::stoi(a.substr(10)));
    return 0;
  }

  line_client tcp_client() { return line_client{connect_tcp(tcp_port())}; }

  /// Port of the first TCP address, whatever its host.
  uint16_t any_tcp_port() const {
    for (auto& a : addresses)
      if (a.rfind("unix:", 0) != 0)
        return static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
    return 0;
  }

  /// How many run requests reached the stub registry.
  size_t registry_runs() {
    size_t runs = 0;
    self->request(registry, 5s, main_atom::value, std::string{"runs"})
      .receive([&](std::string& text) { runs = std::stoul(text); },
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
    return runs;
  }

  /// Sends a reload and waits until the broker has applied it.
  void reload(const control_config& next_control) {
    runtime_config next;
    next.control = next_control;
    self->send(server, reload_atom::value, next);
    // A reply from the broker to the same sender comes after the reload ran.
    self->request(server, 5s, control_addrs_atom::value)
      .receive([](std::vector<std::string>&) {},
               [&](caf::error& err) { FAIL() << sys.render(err); });
  }

  void stop_server() {
    self->send_exit(server, caf::exit_reason::user_shutdown);
    self->wait_for(server);
    server = caf::actor{};
  }
};

ordered_json request(ordered_json id, std::string cmd, ordered_json fields = ordered_json::object()) {
  ordered_json r;
  r["id"] = std::move(id);
  r["cmd"] = std::move(cmd);
  for (auto& [key, value] : fields.items())
    r[key] = value;
  return r;
}

std::string code_of(const ordered_json& reply) {
  if (!reply.contains("error"))
    return "<none: " + reply.dump() + ">";
  return reply["error"]["code"].get<std::string>();
}

// --- tests

TEST_F(ControlServerTest, ListensOnLoopbackAndReportsThePort) {
  start(config());
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_NE(tcp_port(), 0);
}

TEST_F(ControlServerTest, EachCommandHasItsReplyShape) {
  start(config());
  auto c = tcp_client();
  ASSERT_TRUE(c.connected());

  auto stats = c.call(request(1, "stats"));
  EXPECT_EQ(stats["id"], 1);
  EXPECT_EQ(stats["ok"], true);
  EXPECT_EQ(stats["stats"]["totalConnections"], 3);
  EXPECT_EQ(stats["stats"]["mainDb"]["state"], "connected");
  EXPECT_TRUE(stats.contains("timestamp"));
  EXPECT_TRUE(stats["recentMetrics"].is_array());
  EXPECT_TRUE(stats["warnings"].is_array());
  // The reply starts with id and ok, then the metrics fields in their order.
  EXPECT_EQ(stats.begin().key(), "id");

  auto details = c.call(request(2, "details"));
  EXPECT_EQ(details["ok"], true);
  EXPECT_EQ(details["latency"]["org1"]["p50Us"], 100);

  auto cleanup = c.call(request(3, "cleanup"));
  EXPECT_EQ(cleanup["ok"], true);
  EXPECT_EQ(cleanup["reaped"], 2);
  EXPECT_EQ(cleanup["tenants"], ordered_json({"org1", "org2"}));

  auto history = c.call(request(4, "history", {{"limit", 3}}));
  EXPECT_EQ(history["samples"].size(), 3u);
  EXPECT_EQ(c.call(request(5, "history"))["samples"].size(), 5u);

  auto health = c.call(request(6, "health"));
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["warnings"].size(), 1u);

  // The stub answers true only for org1 with the configured drain time.
  EXPECT_EQ(c.call(request(7, "evict", {{"tenant", "org1"}}))["evicted"], true);
  EXPECT_EQ(c.call(request(8, "evict", {{"tenant", "org9"}}))["evicted"], false);
  EXPECT_EQ(code_of(c.call(request(9, "evict", {{"tenant", "../x"}}))), "invalid_tenant_id");

  auto exec = c.call(request(9, "exec", {{"tenant", "org1"}, {"command", {{"ping", 1}}}}));
  EXPECT_EQ(exec["ok"], true);
  EXPECT_EQ(exec["reply"]["ok"], 1);
  EXPECT_EQ(exec["reply"]["received"], ordered_json({{"ping", 1}}));

  auto config_reply = c.call(request(10, "config"));
  EXPECT_EQ(config_reply["ok"], true);
  EXPECT_EQ(config_reply["config"]["control"]["token"], "<redacted>");

  auto reload = c.call(request(11, "reload"));
  EXPECT_EQ(reload["ok"], true);
  EXPECT_EQ(reload["applied"], ordered_json({"registry.idle_timeout_ms"}));
  EXPECT_TRUE(reload["needsRestart"].is_array());

  auto metrics_reply = c.call(request(12, "metrics"));
  EXPECT_EQ(metrics_reply["ok"], true);
  EXPECT_EQ(metrics_reply["text"], std::string(64, 'm'));
}

TEST_F(ControlServerTest, ExecPassesExtendedJsonThroughInKeyOrder) {
  start(config());
  auto c = tcp_client();
  std::string command = R"({"insert":"orders","documents":[{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},)"
                        R"("at":{"$date":"2024-01-02T03:04:05Z"},"z":1,"a":2}],"ordered":true})";
  auto reply = c.call(R"({"id":"x1","cmd":"exec","tenant":"org1","command":)" + command + "}");
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["id"], "x1");
  EXPECT_EQ(reply["reply"]["received"].dump(), command);
}

TEST_F(ControlServerTest, RuntimeFailuresCarryErrcCodes) {
  start(config());
  auto c = tcp_client();
  auto exec = [&](const std::string& tenant) {
    return c.call(request(tenant, "exec", {{"tenant", tenant}, {"command", {{"ping", 1}}}}));
  };
  auto invalid = exec("bad id!");
  EXPECT_EQ(invalid["ok"], false);
  EXPECT_EQ(code_of(invalid), "invalid_tenant_id");
  EXPECT_EQ(invalid["id"], "bad id!");
  EXPECT_EQ(code_of(exec("full")), "tenant_limit_reached");
  auto failed = exec("fail");
  EXPECT_EQ(code_of(failed), "command_failed");
  EXPECT_EQ(failed["reply"]["code"], 59);
}

TEST_F(ControlServerTest, ExecOfAnActiveTenantTakesTheFastPathWithTheSameReplies) {
  active_tenants = {"hot", "fastfail"};
  start(config());
  auto c = tcp_client();
  std::string command = R"({"find":"orders","filter":{"at":{"$date":"2024-01-02T03:04:05Z"}}})";
  auto fast = c.call(R"({"id":7,"cmd":"exec","tenant":"hot","command":)" + command + "}");
  ASSERT_EQ(fast["ok"], true) << fast.dump();
  EXPECT_EQ(fast["id"], 7);
  EXPECT_EQ(fast["reply"]["path"], "fast");
  EXPECT_EQ(fast["reply"]["received"].dump(), command); // key order and extended JSON kept
  auto failed = c.call(request("f", "exec", {{"tenant", "fastfail"}, {"command", {{"nosuch", 1}}}}));
  EXPECT_EQ(code_of(failed), "command_failed");
  EXPECT_EQ(failed["reply"]["code"], 59);
  EXPECT_NE(failed["error"]["message"].get<std::string>().find("no such command"), std::string::npos);
  auto cold = c.call(request("c", "exec", {{"tenant", "cold"}, {"command", {{"ping", 1}}}}));
  EXPECT_EQ(cold["reply"]["tenant"], "cold"); // the stub registry's echo
  EXPECT_EQ(fast_runs.load(), 2u);
  EXPECT_EQ(registry_runs(), 1u);
  // A bad command never reaches either path.
  auto bad = c.call(request("b", "exec", {{"tenant", "hot"}, {"command", {{"$db", "admin"}, {"ping", 1}}}}));
  EXPECT_EQ(code_of(bad), "bad_command");
  EXPECT_EQ(fast_runs.load(), 2u);
}

TEST_F(ControlServerTest, MalformedJsonThenValidRequestOnSameConnection) {
  start(config());
  auto c = tcp_client();
  auto bad = c.call("{this is not json");
  EXPECT_EQ(code_of(bad), "bad_json");
  EXPECT_FALSE(bad.contains("id"));
  EXPECT_EQ(code_of(c.call("[1,2,3]")), "bad_json");
  EXPECT_EQ(code_of(c.call(R"({"id":1})")), "bad_request");
  EXPECT_EQ(code_of(c.call(R"({"id":1,"cmd":"evict"})")), "bad_request");
  auto ok = c.call(request(2, "health"));
  EXPECT_EQ(ok["ok"], true);
  EXPECT_EQ(ok["id"], 2);
}

TEST_F(ControlServerTest, UnknownCommand) {
  start(config());
  auto c = tcp_client();
  auto reply = c.call(request(1, "shutdown"));
  EXPECT_EQ(code_of(reply), "unknown_command");
  EXPECT_NE(reply["error"]["message"].get<std::string>().find("shutdown"), std::string::npos);
  EXPECT_EQ(c.call(request(2, "stats"))["ok"], true);
}

TEST_F(ControlServerTest, OversizedLineGetsOneReplyAndConnectionStaysUsable) {
  auto c_cfg = config();
  c_cfg.max_line_bytes = 1024;
  start(c_cfg);
  auto c = tcp_client();
  // 1 MiB in one line, then a valid request in the same write.
  std::string big = R"({"id":1,"cmd":"stats","pad":")" + std::string(1 << 20, 'p') + "\"}\n";
  ASSERT_TRUE(c.send_raw(big + request(2, "stats").dump() + "\n"));
  auto first = c.read_reply();
  EXPECT_EQ(code_of(first), "line_too_long");
  EXPECT_FALSE(first.contains("id"));
  auto second = c.read_reply();
  EXPECT_EQ(second["id"], 2);
  EXPECT_EQ(second["ok"], true);
  EXPECT_FALSE(c.readable(100ms)) << "one reply per line, no more";
  // Exactly at the limit is fine.
  auto padded = request(3, "stats");
  auto text = padded.dump();
  padded["pad"] = std::string(1024 - text.size() - std::string{R"(,"pad":"")"}.size(), 'q');
  ASSERT_EQ(padded.dump().size(), 1024u);
  EXPECT_EQ(c.call(padded)["ok"], true);
}

TEST_F(ControlServerTest, TooManyClientsGetOneReplyAndAreClosed) {
  auto c_cfg = config();
  c_cfg.max_clients = 2;
  start(c_cfg);
  auto a = tcp_client();
  auto b = tcp_client();
  // A served request proves the server registered each client.
  ASSERT_EQ(a.call(request(1, "health"))["ok"], true);
  ASSERT_EQ(b.call(request(1, "health"))["ok"], true);
  auto refused = tcp_client();
  ASSERT_TRUE(refused.connected());
  auto reply = refused.read_reply();
  EXPECT_EQ(code_of(reply), "too_many_clients");
  EXPECT_TRUE(refused.wait_closed());
  // The others are untouched.
  EXPECT_EQ(a.call(request(2, "stats"))["ok"], true);
  // A slot frees when a client leaves; retry until the server noticed.
  b.close();
  bool served = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    auto again = tcp_client();
    served = again.call(request(3, "health"))["ok"] == true;
  }
  EXPECT_TRUE(served);
}

TEST_F(ControlServerTest, TokenRequiredWhenSet) {
  auto c_cfg = config();
  c_cfg.token = "tok-123456";
  start(c_cfg);
  auto c = tcp_client();
  auto missing = c.call(request(1, "stats"));
  EXPECT_EQ(code_of(missing), "unauthorized");
  EXPECT_EQ(missing["id"], 1);
  auto wrong = c.call(request(2, "stats", {{"token", "tok-12345"}}));
  EXPECT_EQ(code_of(wrong), "unauthorized");
  EXPECT_EQ(wrong.dump().find("tok-123456"), std::string::npos);
  auto right = c.call(request(3, "stats", {{"token", "tok-123456"}}));
  EXPECT_EQ(right["ok"], true);
  EXPECT_EQ(right.dump().find("tok-123456"), std::string::npos);
}

TEST_F(ControlServerTest, UnixSocketServesWithMode0600AndIsRemovedOnExit) {
  start(config({"unix:" + socket_path}));
  struct stat st {};
  ASSERT_EQ(::lstat(socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  line_client c{connect_unix(socket_path)};
  ASSERT_TRUE(c.connected());
  auto reply = c.call(request("u1", "stats"));
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["id"], "u1");
  EXPECT_EQ(code_of(c.call("garbage")), "bad_json");
  EXPECT_EQ(c.call(request("u2", "health"))["id"], "u2");
  stop_server();
  EXPECT_NE(::lstat(socket_path.c_str(), &st), 0) << "socket file left behind";
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ControlServerTest, TcpAndUnixTogether) {
  start(config({"127.0.0.1:0", "unix:" + socket_path}));
  ASSERT_EQ(addresses.size(), 2u);
  EXPECT_EQ(addresses[1], "unix:" + socket_path);
  auto t = tcp_client();
  line_client u{connect_unix(socket_path)};
  EXPECT_EQ(t.call(request(1, "stats"))["ok"], true);
  EXPECT_EQ(u.call(request(2, "stats"))["ok"], true);
}

TEST_F(ControlServerTest, StaleSocketFileIsReplacedLiveOneAndRegularFileAreNot) {
  // Stale: a socket file nobody listens on.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, socket_path.c_str(), sizeof(sa.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    ::close(fd);
  }
  start(config({"unix:" + socket_path}));
  line_client c{connect_unix(socket_path)};
  EXPECT_EQ(c.call(request(1, "health"))["ok"], true);
  // Live: a second server on the same path is refused and leaves it alone.
  auto second = spawn(config({"unix:" + socket_path}));
  ASSERT_FALSE(second);
  auto text = sys.render(second.error());
  EXPECT_NE(text.find("already in use"), std::string::npos) << text;
  EXPECT_NE(text.find(socket_path), std::string::npos) << text;
  EXPECT_EQ(c.call(request(2, "health"))["ok"], true);
  // A regular file is never replaced.
  auto file = dir + "/plain";
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  auto refused = spawn(config({"unix:" + file}));
  ASSERT_FALSE(refused);
  EXPECT_NE(sys.render(refused.error()).find("not a socket"), std::string::npos);
  struct stat st {};
  EXPECT_EQ(::lstat(file.c_str(), &st), 0);
  ::unlink(file.c_str());
}

TEST_F(ControlServerTest, SpawnErrorsNameTheAddress) {
  auto non_loopback = spawn(config({"0.0.0.0:0"}));
  ASSERT_FALSE(non_loopback);
  auto text = sys.render(non_loopback.error());
  EXPECT_NE(text.find("0.0.0.0:0"), std::string::npos) << text;
  EXPECT_NE(text.find("token"), std::string::npos) << text;

  auto bad = spawn(config({"example.com:7070"}));
  ASSERT_FALSE(bad);
  EXPECT_NE(sys.render(bad.error()).find("control.listen[0]"), std::string::npos);

  auto no_dir = spawn(config({"unix:" + dir + "/missing/control.sock"}));
  ASSERT_FALSE(no_dir);
  EXPECT_NE(sys.render(no_dir.error()).find("does not exist"), std::string::npos);

  start(config());
  auto taken = spawn(config({"127.0.0.1:" + std::to_string(tcp_port())}));
  ASSERT_FALSE(taken);
  EXPECT_NE(sys.render(taken.error()).find("address already in use"), std::string::npos);
  // A failed spawn releases what it bound before the failing entry.
  auto partial = spawn(config({"unix:" + socket_path, "127.0.0.1:" + std::to_string(tcp_port())}));
  ASSERT_FALSE(partial);
  struct stat st {};
  EXPECT_NE(::lstat(socket_path.c_str(), &st), 0);
}

TEST_F(ControlServerTest, RepliesCarryTheIdAndMayOvertakeSlowOnes) {
  start(config());
  auto c = tcp_client();
  // The gated exec waits in the stub; stats answers first.
  ASSERT_TRUE(c.send_raw(request(ordered_json{{"n", 1}}, "exec",
                                 {{"tenant", "gate"}, {"command", {{"ping", 1}}}})
                           .dump()
                         + "\n" + request("second", "stats").dump() + "\n"));
  auto first = c.read_reply();
  EXPECT_EQ(first["id"], "second");
  self->send(registry, main_atom::value, std::string{"release"});
  auto second = c.read_reply();
  EXPECT_EQ(second["id"], ordered_json({{"n", 1}}));
  EXPECT_EQ(second["ok"], true);
}

TEST_F(ControlServerTest, InterleavedGarbageAndValidRequests) {
  start(config());
  auto c = tcp_client();
  std::string burst;
  for (int i = 0; i < 200; ++i) {
    burst += "garbage line " + std::to_string(i) + "\n";
    if (i % 50 == 0)
      burst += request(i, "health").dump() + "\n";
  }
  burst += "\n   \n"; // Blank lines are not requests: no reply.
  burst += request("last", "stats").dump() + "\n";
  ASSERT_TRUE(c.send_raw(burst));
  size_t bad_json = 0;
  std::vector<ordered_json> ok_ids;
  for (int i = 0; i < 205; ++i) {
    auto reply = c.read_reply();
    ASSERT_FALSE(reply.contains("client_error")) << reply.dump();
    if (reply["ok"] == true)
      ok_ids.push_back(reply["id"]);
    else if (code_of(reply) == "bad_json")
      ++bad_json;
  }
  EXPECT_EQ(bad_json, 200u);
  EXPECT_EQ(ok_ids.size(), 5u);
  EXPECT_NE(std::find(ok_ids.begin(), ok_ids.end(), ordered_json("last")), ok_ids.end());
  EXPECT_FALSE(c.readable(100ms));
}

TEST_F(ControlServerTest, RequestTimeoutRepliesTimeout) {
  control_server_limits limits;
  limits.request_timeout = std::chrono::milliseconds{200};
  start(config(), limits);
  auto c = tcp_client();
  auto reply = c.call(request(1, "exec", {{"tenant", "hang"}, {"command", {{"ping", 1}}}}));
  EXPECT_EQ(code_of(reply), "timeout");
  EXPECT_EQ(reply["id"], 1);
  EXPECT_EQ(c.call(request(2, "stats"))["ok"], true);
}

TEST_F(ControlServerTest, StuckBlockingJobRepliesTimeout) {
  control_server_limits limits;
  limits.request_timeout = std::chrono::milliseconds{200};
  std::promise<void> release;
  config_gate = release.get_future().share();
  start(config(), limits);
  auto c = tcp_client();
  auto reply = c.call(request(1, "config"));
  EXPECT_EQ(code_of(reply), "timeout");
  EXPECT_EQ(reply["id"], 1);
  release.set_value();
  // The late answer is dropped: the next reply belongs to the next request.
  auto next = c.call(request(2, "config"));
  EXPECT_EQ(next["id"], 2);
  EXPECT_EQ(next["ok"], true);
}

TEST_F(ControlServerTest, ReloadFailureKeepsServing) {
  reload_fails = true;
  start(config());
  auto c = tcp_client();
  auto reply = c.call(request(1, "reload"));
  EXPECT_EQ(code_of(reply), "reload_failed");
  EXPECT_NE(reply["error"]["message"].get<std::string>().find("max_tenant_connections"),
            std::string::npos);
  EXPECT_EQ(c.call(request(2, "stats"))["ok"], true);
}

TEST_F(ControlServerTest, RefusedBlockingJobIsOverloaded) {
  start(config());
  runner.refuse(true);
  auto c = tcp_client();
  EXPECT_EQ(code_of(c.call(request(1, "config"))), "overloaded");
  runner.refuse(false);
  EXPECT_EQ(c.call(request(2, "config"))["ok"], true);
}

TEST_F(ControlServerTest, ReloadMessageAppliesTokenAndLimits) {
  start(config());
  auto c = tcp_client();
  EXPECT_EQ(c.call(request(1, "stats"))["ok"], true);
  runtime_config next;
  next.control = config();
  next.control.token = "new-token";
  next.control.max_line_bytes = 64;
  self->send(server, reload_atom::value, next);
  // A reply from the broker to the same sender comes after the reload ran.
  self->request(server, 5s, control_addrs_atom::value)
    .receive([](std::vector<std::string>&) {}, [&](caf::error& err) { FAIL() << sys.render(err); });
  EXPECT_EQ(code_of(c.call(request(2, "stats"))), "unauthorized");
  EXPECT_EQ(c.call(request(3, "stats", {{"token", "new-token"}}))["ok"], true);
  EXPECT_EQ(code_of(c.call(request(4, "stats", {{"token", "new-token"}, {"pad", std::string(64, 'x')}}))),
            "line_too_long");
}

TEST_F(ControlServerTest, TooManyRequestsInFlightAreOverloaded) {
  control_server_limits limits;
  limits.max_inflight_per_client = 4;
  start(config(), limits);
  auto c = tcp_client();
  std::string burst;
  for (int i = 0; i < 6; ++i)
    burst += request(i, "exec", {{"tenant", "gate"}, {"command", {{"ping", i}}}}).dump() + "\n";
  ASSERT_TRUE(c.send_raw(burst));
  // The two beyond the limit are answered at once.
  for (int i = 4; i < 6; ++i) {
    auto reply = c.read_reply();
    EXPECT_EQ(code_of(reply), "overloaded");
    EXPECT_EQ(reply["id"], i);
  }
  self->send(registry, main_atom::value, std::string{"release"});
  for (int i = 0; i < 4; ++i) {
    auto reply = c.read_reply();
    EXPECT_EQ(reply["ok"], true) << reply.dump();
  }
  // Slots are free again.
  EXPECT_EQ(c.call(request(9, "stats"))["ok"], true);
}

TEST_F(ControlServerTest, ClientThatNeverReadsIsClosedOthersAreServed) {
  prometheus_bytes = 128 * 1024;
  control_server_limits limits;
  limits.max_pending_output_bytes = 64 * 1024;
  start(config({"unix:" + socket_path}), limits);
  line_client sluggish{connect_unix(socket_path)};
  std::string burst;
  for (int i = 0; i < 20; ++i)
    burst += request(i, "metrics").dump() + "\n";
  ASSERT_TRUE(sluggish.send_raw(burst));
  // Other clients are served meanwhile.
  line_client other{connect_unix(socket_path)};
  EXPECT_EQ(other.call(request("o", "health"))["ok"], true);
  // The sluggish client is closed long before 20 replies (2.5 MiB) went out.
  ASSERT_TRUE(sluggish.wait_hangup(20s));
  size_t bytes = 0;
  EXPECT_TRUE(sluggish.wait_closed(10s, &bytes));
  EXPECT_LT(bytes, size_t{10} * 128 * 1024);
  EXPECT_EQ(other.call(request("o2", "health"))["ok"], true);
}

TEST_F(ControlServerTest, BigAnswersAreRenderedOnTheExecutorOrInlineWhenRefused) {
  prometheus_bytes = 300 * 1024;
  start(config()); // inline_render_max_bytes: 64 KiB
  auto c = tcp_client();
  EXPECT_EQ(c.call(request(0, "health"))["ok"], true); // Small: rendered inline.
  EXPECT_EQ(runner.executed(), 0u);
  auto offloaded = c.call(request(1, "metrics"));
  EXPECT_EQ(offloaded["id"], 1);
  EXPECT_EQ(offloaded["text"].get<std::string>().size(), 300u * 1024);
  EXPECT_EQ(runner.executed(), 1u);
  runner.refuse(true);
  auto inline_rendered = c.call(request(2, "metrics"));
  EXPECT_EQ(inline_rendered["id"], 2);
  EXPECT_EQ(inline_rendered["text"].get<std::string>().size(), 300u * 1024);
}

TEST_F(ControlServerTest, StopClosesClientsAndTheListener) {
  start(config());
  auto port = tcp_port();
  auto c = tcp_client();
  EXPECT_EQ(c.call(request(1, "stats"))["ok"], true);
  stop_server();
  EXPECT_TRUE(c.wait_closed());
  int late = connect_tcp(port);
  EXPECT_LT(late, 0) << "still listening";
  if (late >= 0)
    ::close(late);
}

ordered_json ping_exec(ordered_json id, const std::string& tenant = "org1") {
  return request(std::move(id), "exec", {{"tenant", tenant}, {"command", {{"ping", 1}}}});
}

TEST_F(ControlServerTest, ExecRefusedWhenAllowExecIsFalseOtherCommandsServed) {
  auto c = config();
  c.allow_exec = false;
  start(c);
  auto client = tcp_client();
  auto refused = client.call(ping_exec("e1"));
  EXPECT_EQ(code_of(refused), "exec_disabled");
  EXPECT_EQ(refused["id"], "e1");
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("control.allow_exec is false"),
            std::string::npos)
    << refused.dump();
  // Refused for every tenant id, valid or not, before any validation.
  EXPECT_EQ(code_of(client.call(ping_exec(2, "bad id!"))), "exec_disabled");
  EXPECT_EQ(code_of(client.call(ping_exec(3, "../admin"))), "exec_disabled");
  // A malformed exec is still a protocol error first.
  EXPECT_EQ(code_of(client.call(request(4, "exec", {{"tenant", "org1"}}))), "bad_request");
  EXPECT_EQ(client.call(request(5, "stats"))["ok"], true);
  EXPECT_EQ(client.call(request(6, "health"))["ok"], true);
  EXPECT_EQ(client.call(request(7, "cleanup"))["ok"], true);
  EXPECT_EQ(client.call(request(8, "evict", {{"tenant", "org1"}}))["evicted"], true);
  EXPECT_EQ(client.call(request(9, "config"))["ok"], true);
  EXPECT_EQ(registry_runs(), 0u);
}

TEST_F(ControlServerTest, ExecDisabledByDefaultOnANonLoopbackAddress) {
  auto c = config({"0.0.0.0:0"});
  c.token = "0123456789abcdef-token";
  start(c);
  auto client = line_client{connect_tcp(any_tcp_port())};
  ASSERT_TRUE(client.connected());
  auto with_token = [&](ordered_json r) {
    r["token"] = "0123456789abcdef-token";
    return r;
  };
  auto refused = client.call(with_token(ping_exec(1)));
  EXPECT_EQ(code_of(refused), "exec_disabled");
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("not loopback"), std::string::npos)
    << refused.dump();
  EXPECT_EQ(refused.dump().find("0123456789abcdef-token"), std::string::npos);
  // Without the token the client learns nothing, not even that exec is off.
  EXPECT_EQ(code_of(client.call(ping_exec(2))), "unauthorized");
  EXPECT_EQ(client.call(with_token(request(3, "stats")))["ok"], true);
  EXPECT_EQ(registry_runs(), 0u);
  // Asked for explicitly, exec works on that address too (applied by reload).
  c.allow_exec = true;
  reload(c);
  auto allowed = client.call(with_token(ping_exec(4)));
  EXPECT_EQ(allowed["ok"], true) << allowed.dump();
  EXPECT_EQ(registry_runs(), 1u);
}

TEST_F(ControlServerTest, ReloadSwitchesExecOffAndBackToTheDefault) {
  start(config({"127.0.0.1:0", "unix:" + socket_path}));
  auto tcp = tcp_client();
  auto unix_client = line_client{connect_unix(socket_path)};
  EXPECT_EQ(tcp.call(ping_exec(1))["ok"], true); // loopback + unix: allowed by default
  EXPECT_EQ(unix_client.call(ping_exec(2))["ok"], true);
  auto off = config({"127.0.0.1:0", "unix:" + socket_path});
  off.allow_exec = false;
  reload(off);
  EXPECT_EQ(code_of(tcp.call(ping_exec(3))), "exec_disabled");
  EXPECT_EQ(code_of(unix_client.call(ping_exec(4))), "exec_disabled");
  reload(config({"127.0.0.1:0", "unix:" + socket_path})); // unset again
  EXPECT_EQ(tcp.call(ping_exec(5))["ok"], true);
  EXPECT_EQ(registry_runs(), 3u);
}

TEST_F(ControlServerTest, ExecNamingAnotherDatabaseWithDollarDbNeverReachesTheRegistry) {
  start(config());
  auto client = tcp_client();
  // The driver would send such a command to admin instead of the tenant's database.
  for (auto command : {R"({"ping":1,"$db":"admin"})", R"({"find":"system.users","$db":"admin"})",
                       R"({"insert":"x","documents":[{}],"$db":"tenant_other"})",
                       R"({"ping":1,"$db\u0000x":"admin"})"}) {
    auto reply = client.call(std::string{R"({"id":1,"cmd":"exec","tenant":"org1","command":)"}
                             + command + "}");
    EXPECT_EQ(code_of(reply), "bad_command") << command << " -> " << reply.dump();
    EXPECT_NE(reply.dump().find("$db"), std::string::npos) << reply.dump();
  }
  // "$db" deeper down is data, not a target.
  auto nested = client.call(
    R"({"id":2,"cmd":"exec","tenant":"org1","command":{"insert":"x","documents":[{"$db":"admin"}]}})");
  EXPECT_EQ(nested["ok"], true) << nested.dump();
  EXPECT_EQ(registry_runs(), 1u);
}

// --- idle clients (control.client_idle_timeout_ms). The broker takes any
// timeout; the loader's 1 s minimum does not apply, so these run in ms.

using steady = std::chrono::steady_clock;

std::chrono::milliseconds since(steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
}

/// Reads the idle_timeout line and then the end of the connection.
void expect_idle_timeout_then_closed(line_client& c, uint32_t timeout_ms) {
  auto reply = c.read_reply(10s);
  EXPECT_EQ(code_of(reply), "idle_timeout") << reply.dump();
  EXPECT_EQ(reply["ok"], false);
  EXPECT_FALSE(reply.contains("id"));
  EXPECT_EQ(reply["error"]["message"], "no request for " + std::to_string(timeout_ms)
                                         + " ms (control.client_idle_timeout_ms); closing");
  EXPECT_TRUE(c.wait_closed(10s)) << "still open after idle_timeout";
}

TEST_F(ControlServerTest, SilentClientGetsIdleTimeoutAfterTheTimeoutAndIsClosed) {
  start_with_idle_timeout(500);
  auto connected = steady::now(); // Before connect: the server's clock starts later.
  auto c = tcp_client();
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.readable(10s)) << "never closed";
  auto waited = since(connected);
  EXPECT_GE(waited, 500ms) << "closed before the timeout";
  // A sweep every 125 ms: late by that much, plus a loaded machine's delays.
  EXPECT_LT(waited, 3s);
  expect_idle_timeout_then_closed(c, 500);
}

TEST_F(ControlServerTest, ClientSendingEveryHalfTimeoutStaysOpenPastSeveralTimeouts) {
  start_with_idle_timeout(400);
  auto silent = tcp_client();
  auto active = tcp_client();
  auto dribbler = tcp_client(); // One byte of an unfinished line per round.
  std::string line = request("d", "health").dump();
  ASSERT_GE(line.size(), 8u);
  // 8 rounds of 200 ms: four timeouts.
  for (size_t round = 0; round < 8; ++round) {
    EXPECT_FALSE(active.readable(200ms)) << "round " << round << ": the active client got a line";
    auto reply = active.call(request(round, "health"));
    ASSERT_EQ(reply["ok"], true) << "round " << round << ": " << reply.dump();
    ASSERT_TRUE(dribbler.send_raw(line.substr(round, 1))) << round;
  }
  EXPECT_FALSE(dribbler.readable(0ms));
  auto finished = dribbler.call(line.substr(8));
  EXPECT_EQ(finished["id"], "d") << finished.dump();
  EXPECT_EQ(finished["ok"], true);
  // Meanwhile the sweep did run: the silent client is gone.
  expect_idle_timeout_then_closed(silent, 400);
}

TEST_F(ControlServerTest, RequestInFlightLongerThanTheTimeoutKeepsTheClient) {
  start_with_idle_timeout(300);
  auto silent = tcp_client();
  auto busy = tcp_client();
  ASSERT_TRUE(busy.send_raw(
    request("slow", "exec", {{"tenant", "gate"}, {"command", {{"ping", 1}}}}).dump() + "\n"));
  // The silent client connected with it is closed; the busy one hears nothing
  // for four timeouts.
  expect_idle_timeout_then_closed(silent, 300);
  EXPECT_FALSE(busy.readable(1200ms)) << busy.read_reply(100ms).dump();
  auto released = steady::now();
  self->send(registry, main_atom::value, std::string{"release"});
  auto reply = busy.read_reply();
  EXPECT_EQ(reply["id"], "slow") << reply.dump();
  EXPECT_EQ(reply["ok"], true);
  // Idle from its reply on, not from its last byte long ago.
  ASSERT_TRUE(busy.readable(10s));
  EXPECT_GE(since(released), 300ms) << "closed right after its reply";
  expect_idle_timeout_then_closed(busy, 300);
}

TEST_F(ControlServerTest, IdleTimeoutFreesTheSlotForANewClient) {
  auto c_cfg = config();
  c_cfg.max_clients = 1;
  c_cfg.client_idle_timeout_ms = 300;
  start(c_cfg);
  auto holder = tcp_client();
  ASSERT_TRUE(holder.connected());
  // The one slot is taken: a second client is refused.
  auto refused = tcp_client();
  EXPECT_EQ(code_of(refused.read_reply()), "too_many_clients");
  EXPECT_TRUE(refused.wait_closed());
  expect_idle_timeout_then_closed(holder, 300);
  // Freed with the idle close: served at once, no retry.
  auto next = tcp_client();
  auto reply = next.call(request("n", "health"));
  EXPECT_EQ(reply["ok"], true) << reply.dump();
}

TEST_F(ControlServerTest, ZeroIdleTimeoutNeverCloses) {
  start_with_idle_timeout(0);
  auto c = tcp_client();
  EXPECT_FALSE(c.readable(1500ms)) << c.read_reply(100ms).dump();
  EXPECT_EQ(c.call(request(1, "health"))["ok"], true);
}

TEST_F(ControlServerTest, ReloadAppliesTheIdleTimeoutToConnectedClients) {
  auto c_cfg = config();
  c_cfg.client_idle_timeout_ms = 0;
  start(c_cfg);
  auto old_client = tcp_client();
  ASSERT_EQ(old_client.call(request(1, "health"))["ok"], true); // registered
  // Switched on: the client connected before is closed too.
  c_cfg.client_idle_timeout_ms = 300;
  reload(c_cfg);
  expect_idle_timeout_then_closed(old_client, 300);
  // Switched off again before a connected client's deadline: it stays.
  c_cfg.client_idle_timeout_ms = 2000;
  reload(c_cfg);
  auto kept = tcp_client();
  ASSERT_EQ(kept.call(request(2, "health"))["ok"], true);
  c_cfg.client_idle_timeout_ms = 0;
  reload(c_cfg);
  EXPECT_FALSE(kept.readable(2500ms)) << kept.read_reply(100ms).dump();
  EXPECT_EQ(kept.call(request(3, "health"))["ok"], true);
}

} // namespace
} // namespace tenantrt
