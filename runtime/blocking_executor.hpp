#pragma once
// A bounded thread pool for blocking driver calls. CAF's scheduler threads
// must never wait on the network, so every driver call (commands, pool
// maintenance, closing a tenant's pool) runs here: mongo_backend posts the
// jobs, tenant actors and the pool maintainer get the results back as
// messages. The queue is bounded so that overload shows up at once as
// errc::overloaded (try_post returns false) instead of as an ever-growing
// backlog with ever-growing latency.
//
//   running --shutdown()--> draining (refuses jobs, runs what is queued)
//                              --queue empty--> stopped (threads joined)

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace tenantrt {

/// A snapshot of the executor's counters.
struct executor_counters {
  /// Worker threads.
  size_t threads = 0;
  /// Bound on jobs waiting for a thread.
  size_t max_queue = 0;
  /// Jobs accepted and waiting for a thread.
  uint64_t queued = 0;
  /// Jobs running now.
  uint64_t running = 0;
  /// Jobs finished (returned or threw).
  uint64_t completed_total = 0;
  /// try_post calls refused (queue full or shut down).
  uint64_t rejected_total = 0;
};

/// Fixed-size thread pool with a bounded FIFO queue.
class blocking_executor {
public:
  /// Starts `threads` workers (at least one); at most `max_queue` jobs wait
  /// for a thread at any time.
  blocking_executor(size_t threads, size_t max_queue);

  /// Calls shutdown(); destroyed from inside a job, it detaches the workers
  /// instead, which then finish the queue on their own.
  ~blocking_executor();

  blocking_executor(const blocking_executor&) = delete;
  blocking_executor& operator=(const blocking_executor&) = delete;

  /// Queues job; false (job dropped, not run) when max_queue jobs are already
  /// waiting or after shutdown(). An exception escaping job is logged and
  /// swallowed: it never kills a worker.
  bool try_post(std::function<void()> job);

  /// Stops taking jobs, runs every job already queued, joins the workers.
  /// Idempotent. Called from inside a job it only stops intake (a worker
  /// cannot join itself); the owner's shutdown() or destructor joins.
  void shutdown();

  /// True until shutdown() starts.
  bool accepting() const;

  /// A consistent snapshot of the counters.
  executor_counters counters() const;

private:
  struct shared_state;
  void stop_intake();
  bool on_worker_thread() const;

  // Workers hold the state too, so one that outlives shutdown() (called
  // from inside a job) never touches freed memory.
  std::shared_ptr<shared_state> state_;
  std::vector<std::thread> workers_;
  // Fixed at construction; read without a lock by on_worker_thread().
  std::vector<std::thread::id> worker_ids_;
};

} // namespace tenantrt
