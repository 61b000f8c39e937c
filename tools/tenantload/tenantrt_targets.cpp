// The two modes through tenantrt: the embedded facade (runtime) and the
// tenantrtd daemon's control socket (daemon), started here unless the user
// names a running one.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "config/config_loader.hpp"
#include "runtime/errc.hpp"
#include "runtime/runtime.hpp"
#include "tools/tenantload/load_target.hpp"

namespace tenantrt::load {

namespace {

uint32_t pool_cap(const runtime_config& cfg, bool& bounded) {
  uint32_t total = 0;
  bounded = true;
  for (auto& [name, cluster] : cfg.clusters) {
    if (cluster.pool_per_tenant)
      bounded = false;
    total += cluster.pool.max_pool_size;
  }
  return total;
}

uint32_t pool_floor(const runtime_config& cfg) {
  uint32_t total = 0;
  for (auto& [name, cluster] : cfg.clusters)
    if (!cluster.pool_per_tenant)
      total += cluster.pool.min_pool_size;
  return total;
}

// -- runtime ------------------------------------------------------------------------

class runtime_target final : public load_target {
public:
  runtime_target(runtime_config config, bool async)
    : config_(config), rt_(std::move(config)), async_(async) {}

  std::unique_ptr<target_session> open_session() override {
    return std::make_unique<session>(rt_, async_);
  }
  bool counts_tenants() const override { return true; }
  int64_t active_tenants() override {
    try {
      return static_cast<int64_t>(rt_.stats(std::chrono::seconds{2}).registry.active_tenants);
    } catch (const std::exception&) {
      return -1;
    }
  }
  std::optional<uint32_t> connection_cap() const override {
    bool bounded = false;
    auto cap = pool_cap(config_, bounded);
    return bounded ? std::optional<uint32_t>{cap} : std::nullopt;
  }
  uint32_t connection_floor() const override { return pool_floor(config_); }
  void stop() override { rt_.shutdown(std::chrono::seconds{10}); }

private:
  class session final : public target_session {
  public:
    session(runtime& rt, bool async) : rt_(rt), async_(async) {}
    std::string run(const std::string& tenant_id, const nlohmann::ordered_json& command) override {
      auto r = async_ ? rt_.run_command(tenant_id, command).get() : rt_.execute(tenant_id, command);
      return r.ok() ? std::string{} : std::string{to_string(r.code)};
    }

  private:
    runtime& rt_;
    bool async_;
  };

  runtime_config config_;
  runtime rt_;
  bool async_;
};

// -- daemon: control socket client ------------------------------------------------------

/// One connection to a control socket, newline-delimited JSON.
class control_connection {
public:
  explicit control_connection(const std::string& address) {
    constexpr std::string_view unix_prefix = "unix:";
    if (address.compare(0, unix_prefix.size(), unix_prefix) == 0) {
      std::string path = address.substr(unix_prefix.size());
      sockaddr_un sa{};
      sa.sun_family = AF_UNIX;
      if (path.size() >= sizeof sa.sun_path)
        throw std::runtime_error("control socket path too long: " + path);
      std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        fail("connect to " + address);
    } else {
      auto colon = address.rfind(':');
      if (colon == std::string::npos)
        throw std::runtime_error("control address \"" + address
                                 + "\" is not HOST:PORT or unix:/path");
      std::string host = address.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      if (getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &found) != 0
          || found == nullptr)
        throw std::runtime_error("cannot resolve control address " + address);
      fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int rc = fd_ < 0 ? -1 : ::connect(fd_, found->ai_addr, found->ai_addrlen);
      freeaddrinfo(found);
      if (rc != 0)
        fail("connect to " + address);
    }
    timeval timeout{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  }
  ~control_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  control_connection(const control_connection&) = delete;
  control_connection& operator=(const control_connection&) = delete;

  /// Sends one request, returns the reply; throws std::runtime_error on I/O
  /// failure or a reply that is not JSON.
  nlohmann::json request(const nlohmann::ordered_json& req) {
    std::string line = req.dump() + "\n";
    size_t sent = 0;
    while (sent < line.size()) {
      ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        fail("send");
      sent += static_cast<size_t>(n);
    }
    for (;;) {
      auto newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string reply = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return nlohmann::json::parse(reply);
      }
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0)
        throw std::runtime_error("the daemon closed the connection");
      if (n < 0)
        fail("recv");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

private:
  [[noreturn]] void fail(const std::string& what) {
    int err = errno;
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(what + ": " + std::strerror(err));
  }

  int fd_ = -1;
  std::string buffer_;
};

/// Writes every byte of text to path (mode 0600: the file may hold a password).
void write_private_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string file_tail(const std::string& path, size_t max_bytes) {
  std::ifstream in{path};
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto text = buffer.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

class daemon_target final : public load_target {
public:
  explicit daemon_target(daemon_options options) : options_(std::move(options)) {
    address_ = options_.control_address;
    if (address_.empty())
      start_daemon();
    // The first answer also proves a user-given daemon is reachable.
    status_ = std::make_unique<control_connection>(address_);
  }

  ~daemon_target() override { stop(); }

  std::unique_ptr<target_session> open_session() override {
    return std::make_unique<session>(address_, options_.token);
  }

  bool counts_tenants() const override { return true; }
  int64_t active_tenants() override {
    std::lock_guard<std::mutex> guard{status_mutex_};
    if (!status_)
      return -1;
    try {
      nlohmann::ordered_json req{{"cmd", "stats"}};
      if (!options_.token.empty())
        req["token"] = options_.token;
      auto reply = status_->request(req);
      auto& n = reply.at("stats").at("tenantDbs").at("activeConnections");
      return n.get<int64_t>();
    } catch (const std::exception&) {
      return -1;
    }
  }

  std::optional<pid_t> worker_process() const override {
    return pid_ > 0 ? std::optional<pid_t>{pid_} : std::nullopt;
  }
  std::optional<uint32_t> connection_cap() const override {
    bool bounded = false;
    auto cap = pool_cap(options_.config, bounded);
    return bounded ? std::optional<uint32_t>{cap} : std::nullopt;
  }
  uint32_t connection_floor() const override { return pool_floor(options_.config); }

  void stop() override {
    {
      std::lock_guard<std::mutex> guard{status_mutex_};
      status_.reset();
    }
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    // The daemon drains (shutdown.drain_timeout_ms) and exits; give it that
    // plus a margin before SIGKILL.
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{options_.config.shutdown.drain_timeout_ms}
                    + std::chrono::seconds{10};
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{20}); // polling a child's exit
    }
    pid_ = -1;
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

private:
  void start_daemon() {
    if (options_.tenantrtd_path.empty() || ::access(options_.tenantrtd_path.c_str(), X_OK) != 0)
      throw std::runtime_error("tenantrtd not found at \"" + options_.tenantrtd_path
                               + "\" (build it, or pass --tenantrtd PATH or --control ADDR)");
    char dir_template[] = "/tmp/tenantload-daemon.XXXXXX";
    if (::mkdtemp(dir_template) == nullptr)
      throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
    dir_ = dir_template;
    auto cfg = options_.config;
    cfg.control.listen = {"unix:" + dir_ + "/control.sock"};
    cfg.control.token = options_.token;
    cfg.metrics.http_listen.clear();
    std::string config_path = dir_ + "/tenantrtd.json";
    write_private_file(config_path, to_json(cfg, redaction::reveal_secrets).dump(2));
    std::string log_path = dir_ + "/tenantrtd.log";
    address_ = "unix:" + dir_ + "/control.sock";

    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
    if (pid_ == 0) {
      // The daemon must not outlive tenantload (a crash, a Ctrl-C).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent)
        ::_exit(127);
      int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (log >= 0) {
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
      }
      // The file is the whole configuration: no environment override.
      ::unsetenv("MONGODB_URI");
      ::unsetenv("TENANTRT_CONTROL_TOKEN");
      ::unsetenv("TENANTRT_LOG_LEVEL");
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      const char* argv[] = {options_.tenantrtd_path.c_str(), "--config", config_path.c_str(),
                            "--log-level", options_.log_level.c_str(), nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    // Ready when the control socket answers; give up after 30 s.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("tenantrtd exited during start (status "
                                 + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1)
                                 + "); its log:\n" + file_tail(log_path, 3000));
      }
      try {
        control_connection probe{address_};
        auto reply = probe.request(nlohmann::ordered_json{{"cmd", "health"}});
        if (reply.contains("status"))
          return;
      } catch (const std::exception&) {
        // not listening yet
      }
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("tenantrtd did not answer on " + address_ + " within 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50}); // polling an external start
    }
  }

  class session final : public target_session {
  public:
    session(const std::string& address, std::string token) :
      connection_(address),
      token_(std::move(token)) {}
    std::string run(const std::string& tenant_id, const nlohmann::ordered_json& command) override {
      nlohmann::ordered_json req{{"cmd", "exec"}, {"tenant", tenant_id}, {"command", command}};
      if (!token_.empty())
        req["token"] = token_;
      try {
        auto reply = connection_.request(req);
        if (reply.value("ok", false))
          return {};
        return reply.at("error").at("code").get<std::string>();
      } catch (const std::exception&) {
        return "control_io";
      }
    }

  private:
    control_connection connection_;
    std::string token_;
  };

  daemon_options options_;
  std::string address_;
  std::string dir_;
  pid_t pid_ = -1;
  std::mutex status_mutex_;
  std::unique_ptr<control_connection> status_;
};

} // namespace

std::unique_ptr<load_target> make_runtime_target(runtime_config config, bool async) {
  return std::make_unique<runtime_target>(std::move(config), async);
}

std::unique_ptr<load_target> make_daemon_target(daemon_options options) {
  return std::make_unique<daemon_target>(std::move(options));
}

const std::vector<std::string>& all_modes() {
  static const std::vector<std::string> modes{"runtime", "runtime-async", "daemon", "naive",
                                              "pool-per-tenant", "direct"};
  return modes;
}

std::unique_ptr<load_target> make_target(const std::string& mode, const runtime_config& config,
                                         const std::string& uri, const daemon_options& daemon) {
  driver_timeouts timeouts;
  if (mode == "runtime")
    return make_runtime_target(config, false);
  if (mode == "runtime-async")
    return make_runtime_target(config, true);
  if (mode == "daemon")
    return make_daemon_target(daemon);
  if (mode == "naive")
    return make_naive_target(uri, timeouts);
  if (mode == "pool-per-tenant")
    return make_pool_per_tenant_target(uri, timeouts);
  if (mode == "direct")
    return make_direct_target(uri, timeouts);
  throw std::invalid_argument("unknown mode \"" + mode
                              + "\" (expected runtime, runtime-async, daemon, naive, "
                                "pool-per-tenant, direct or all)");
}

} // namespace tenantrt::load
