#include "tools/support/dev_mongo_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

#ifndef TENANTRT_SOURCE_DIR
#error "TENANTRT_SOURCE_DIR must name the repository (set by CMakeLists.txt)"
#endif

namespace tenantrt::devtools {
namespace {

constexpr const char* python_path = "/usr/bin/python3"; // Debian's, with mockupdb
constexpr const char* ready_prefix = "dev-mongo listening on ";
constexpr auto start_timeout = std::chrono::seconds(20);
constexpr auto port_retry_window = std::chrono::seconds(5);

std::string script_path() {
  return std::string(TENANTRT_SOURCE_DIR) + "/tools/dev-mongo/dev_mongo.py";
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::string make_log_file() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/dev-mongo-XXXXXX.log";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = ::mkstemps(buf.data(), 4);
  if (fd < 0)
    throw std::runtime_error(errno_text("dev_mongo_server: mkstemps"));
  ::close(fd);
  return std::string(buf.data());
}

// Closes every descriptor from 3 up in the child, so the server never holds
// a copy of the test's client sockets (a leaked copy keeps a connection open
// after the client closes it, and the census would count it).
void close_inherited_fds() {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
    return;
#endif
  long max_fd = ::sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536)
    max_fd = 65536;
  for (int fd = 3; fd < max_fd; ++fd)
    ::close(fd);
}

// Runs in the forked child: only async-signal-safe calls until execv.
[[noreturn]] void exec_child(pid_t parent, int stdin_fd, int stdout_fd, int stderr_fd,
                             char* const* argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) // the test died before prctl took effect
    ::_exit(127);
  ::dup2(stdin_fd, 0);
  ::dup2(stdout_fd, 1);
  ::dup2(stderr_fd, 2);
  close_inherited_fds();
  // The test process may block or ignore signals; the server must see SIGTERM.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGTERM, &dfl, nullptr);
  ::sigaction(SIGINT, &dfl, nullptr);
  ::execv(argv[0], argv);
  ::_exit(127);
}

// True once pid has exited (without reaping it).
bool has_exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return true; // no such child
  return info.si_pid != 0;
}

// Reaps pid, waiting at most timeout_ms (-1 = forever); true if reaped.
bool reap(pid_t pid, int timeout_ms, int* status) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pid_t r = ::waitpid(pid, status, timeout_ms < 0 ? 0 : WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD))
      return true;
    if (r < 0 && errno == EINTR)
      continue;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string describe_status(int status) {
  std::ostringstream out;
  if (WIFEXITED(status))
    out << "exit status " << WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    out << "signal " << WTERMSIG(status);
  else
    out << "status " << status;
  return out.str();
}

} // namespace

dev_mongo_server::dev_mongo_server() : dev_mongo_server(options{}) {}

dev_mongo_server::dev_mongo_server(options opts)
    : opts_(opts), port_(opts.port), log_path_(make_log_file()) {
  start();
}

dev_mongo_server::~dev_mongo_server() {
  terminate(SIGTERM, 5000);
  if (keep_log_ || std::getenv("TENANTRT_KEEP_DEV_MONGO_LOG"))
    std::cerr << "dev_mongo_server: log kept at " << log_path_ << "\n";
  else
    ::unlink(log_path_.c_str());
}

uint16_t dev_mongo_server::port() const {
  return port_;
}

std::string dev_mongo_server::uri() const {
  return "mongodb://127.0.0.1:" + std::to_string(port_) + "/";
}

const std::string& dev_mongo_server::log_path() const {
  return log_path_;
}

bool dev_mongo_server::running() const {
  return pid_ > 0 && !has_exited(pid_);
}

void dev_mongo_server::stop() {
  terminate(SIGKILL, -1);
}

void dev_mongo_server::start() {
  if (pid_ > 0) {
    if (running())
      return;
    terminate(SIGKILL, -1); // died on its own: reap before starting again
  }
  // After a crash the old port can be briefly unavailable; a fixed port is
  // retried for a few seconds, a free one is chosen anew by the server.
  auto deadline = std::chrono::steady_clock::now() + port_retry_window;
  std::string failure;
  while (!spawn_once(failure)) {
    if (port_ == 0 || std::chrono::steady_clock::now() >= deadline) {
      keep_log_ = true;
      throw std::runtime_error("dev_mongo_server: " + failure + "\n" + log_tail() +
                               "\n(needs Debian's python3-mockupdb and python3-mongomock "
                               "for /usr/bin/python3; log: " +
                               log_path_ + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool dev_mongo_server::spawn_once(std::string& failure) {
  std::vector<std::string> args = {python_path, script_path(), "--port", std::to_string(port_)};
  if (opts_.max_connections > 0) {
    args.emplace_back("--max-connections");
    args.emplace_back(std::to_string(opts_.max_connections));
  }
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("dev_mongo_server: pipe2"));
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    auto text = errno_text("dev_mongo_server: open");
    for (int fd : {out[0], out[1], log_fd, null_fd})
      if (fd >= 0)
        ::close(fd);
    throw std::runtime_error(text);
  }

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0)
    exec_child(parent, null_fd, out[1], log_fd, argv.data());
  int fork_errno = errno;
  ::close(out[1]);
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    ::close(out[0]);
    errno = fork_errno;
    throw std::runtime_error(errno_text("dev_mongo_server: fork"));
  }

  // Read the first line: "dev-mongo listening on 127.0.0.1:PORT".
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + start_timeout;
  bool eof = false;
  while (line.find('\n') == std::string::npos && !eof) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd pfd{out[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      break;
    char buf[256];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      eof = true;
    else
      line.append(buf, static_cast<size_t>(n));
  }

  auto newline = line.find('\n');
  auto colon = line.rfind(':', newline);
  bool ok = newline != std::string::npos && line.rfind(ready_prefix, 0) == 0 &&
            colon != std::string::npos;
  unsigned long port = 0;
  if (ok) {
    try {
      port = std::stoul(line.substr(colon + 1, newline - colon - 1));
    } catch (const std::exception&) {
      ok = false;
    }
    ok = ok && port > 0 && port <= 65535 && (port_ == 0 || port == port_);
  }
  if (!ok) {
    ::kill(pid, SIGKILL);
    int status = 0;
    reap(pid, -1, &status);
    ::close(out[0]);
    if (eof) {
      failure = "server exited before listening (" + describe_status(status) + ")";
      return false;
    }
    keep_log_ = true;
    throw std::runtime_error("dev_mongo_server: no \"listening on\" line within 20 s (got \"" +
                             line + "\")\n" + log_tail() + "\n(log: " + log_path_ + ")");
  }

  port_ = static_cast<uint16_t>(port);
  pid_ = pid;
  stdout_fd_ = out[0];
  // The server prints nothing more on stdout, but never let it block on a
  // full pipe: keep reading until the child exits (EOF).
  drain_ = std::thread([fd = stdout_fd_] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      return;
    }
  });
  return true;
}

void dev_mongo_server::terminate(int sig, int grace_ms) {
  if (pid_ <= 0)
    return;
  int status = 0;
  bool died_alone = has_exited(pid_);
  if (!died_alone)
    ::kill(pid_, sig);
  if (!reap(pid_, grace_ms, &status)) {
    ::kill(pid_, SIGKILL);
    reap(pid_, -1, &status);
    keep_log_ = true;
    std::cerr << "dev_mongo_server: pid " << pid_ << " ignored signal " << sig
              << " for " << grace_ms << " ms; killed\n";
  } else if (died_alone || (sig == SIGTERM && status != 0)) {
    keep_log_ = true;
    std::cerr << "dev_mongo_server: pid " << pid_ << " ended with " << describe_status(status)
              << (died_alone ? " on its own" : "") << "; log: " << log_path_ << "\n";
  }
  pid_ = -1;
  // EOF reaches the drain thread once the child is gone.
  if (drain_.joinable())
    drain_.join();
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

std::string dev_mongo_server::log_tail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in)
    return {};
  std::ostringstream all;
  all << in.rdbuf();
  auto text = all.str();
  if (text.size() > max_bytes)
    text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

} // namespace tenantrt::devtools
