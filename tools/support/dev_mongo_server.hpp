#pragma once
// A dev-mongo server (tools/dev-mongo/dev_mongo.py: MockupDB + mongomock) run
// as a child process for integration tests: it picks a free port, gives the
// URI, and can be killed and restarted on the same port to play a server
// crash. The child dies with its parent (PR_SET_PDEATHSIG). Used by the
// integration tests, tests/reliability and tenantload --dev-server.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

namespace tenantrt::devtools {

/// One dev-mongo child process. Not thread-safe: drive it from one thread,
/// and keep that thread alive while the server runs (the kernel's parent-death
/// signal follows the thread that forked it).
class dev_mongo_server {
 public:
  struct options {
    /// --max-connections: beyond this many open connections the server
    /// accepts and closes at once, like mongod at its limit (0 = unlimited).
    int max_connections = 0;
    /// Port to listen on; 0 = a free port chosen at the first start.
    uint16_t port = 0;
  };

  /// Starts a server with default options (free port, no limit).
  dev_mongo_server();

  /// Starts /usr/bin/python3 TENANTRT_SOURCE_DIR/tools/dev-mongo/dev_mongo.py
  /// and waits (up to 20 s) for its "listening on" line; throws
  /// std::runtime_error with the server's log on failure.
  explicit dev_mongo_server(options opts);

  /// SIGTERM and wait; SIGKILL after 5 s. Removes the log unless the server
  /// failed or died on its own.
  ~dev_mongo_server();

  dev_mongo_server(const dev_mongo_server&) = delete;
  dev_mongo_server& operator=(const dev_mongo_server&) = delete;

  /// The listening port (kept across stop()/start()).
  uint16_t port() const;

  /// "mongodb://127.0.0.1:PORT/".
  std::string uri() const;

  /// Kills the server with SIGKILL (a crash: no goodbye to clients) and waits
  /// for it; no-op if it is not running. The port stays known.
  void stop();

  /// Starts the server again on the same port; no-op if it is running.
  /// Throws std::runtime_error as the constructor does.
  void start();

  /// True while the child process is alive.
  bool running() const;

  /// File that receives the server's stderr (its log; --verbose is off).
  const std::string& log_path() const;

  /// The last max_bytes of the log, for failure messages.
  std::string log_tail(size_t max_bytes = 4000) const;

 private:
  // One attempt to fork/exec and read the port; false if the child exited
  // before listening (e.g. the port is still taken), throws on timeout.
  bool spawn_once(std::string& failure);
  // Sends sig, waits up to grace_ms (-1 = for ever), then SIGKILL; reaps
  // the child and joins the drain thread.
  void terminate(int sig, int grace_ms);

  options opts_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  // Reads the child's stdout after the first line so it never blocks.
  std::thread drain_;
  std::string log_path_;
  bool keep_log_ = false;
};

} // namespace tenantrt::devtools
