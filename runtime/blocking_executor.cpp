#include "runtime/blocking_executor.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>

#include "runtime/logging.hpp"

namespace tenantrt {

struct blocking_executor::shared_state {
  explicit shared_state(size_t max_queue_jobs) : max_queue(max_queue_jobs) {}

  const size_t max_queue;
  mutable std::mutex mutex;
  std::condition_variable job_ready;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  uint64_t running = 0;
  uint64_t completed_total = 0;
  uint64_t rejected_total = 0;
  // Serialises shutdown() callers so the workers are joined exactly once.
  std::mutex join_mutex;
};

namespace {

void run_guarded(std::function<void()>& job) {
  try {
    job();
  } catch (const std::exception& ex) {
    log().error("blocking_executor: job threw: {}", ex.what());
  } catch (...) {
    log().error("blocking_executor: job threw a non-standard exception");
  }
}

} // namespace

blocking_executor::blocking_executor(size_t threads, size_t max_queue)
  : state_(std::make_shared<shared_state>(max_queue)) {
  auto count = std::max<size_t>(threads, 1);
  workers_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    workers_.emplace_back([state = state_] {
      std::unique_lock<std::mutex> guard{state->mutex};
      for (;;) {
        state->job_ready.wait(guard, [&] { return state->stopping || !state->jobs.empty(); });
        if (state->jobs.empty())
          return; // stopping and drained
        auto job = std::move(state->jobs.front());
        state->jobs.pop_front();
        ++state->running;
        guard.unlock();
        run_guarded(job);
        // Destroy the job (and what it captured, e.g. a lease or a pool)
        // before counting it done, outside the lock.
        job = nullptr;
        guard.lock();
        --state->running;
        ++state->completed_total;
      }
    });
    worker_ids_.push_back(workers_.back().get_id());
  }
}

blocking_executor::~blocking_executor() {
  if (on_worker_thread()) {
    // Destroyed from inside a job: joining would wait for ourselves. The
    // workers own the shared state, so they finish the queue and exit alone.
    stop_intake();
    for (auto& worker : workers_)
      worker.detach();
    return;
  }
  shutdown();
}

bool blocking_executor::try_post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> guard{state_->mutex};
    if (state_->stopping || state_->jobs.size() >= state_->max_queue) {
      ++state_->rejected_total;
      return false;
    }
    state_->jobs.push_back(std::move(job));
  }
  state_->job_ready.notify_one();
  return true;
}

void blocking_executor::shutdown() {
  stop_intake();
  // From a job we must not join (the caller is a worker, and another thread
  // may be joining it); the owner's later shutdown() or destructor joins.
  if (on_worker_thread())
    return;
  std::lock_guard<std::mutex> join_guard{state_->join_mutex};
  for (auto& worker : workers_)
    if (worker.joinable())
      worker.join();
}

void blocking_executor::stop_intake() {
  {
    std::lock_guard<std::mutex> guard{state_->mutex};
    state_->stopping = true;
  }
  state_->job_ready.notify_all();
}

bool blocking_executor::on_worker_thread() const {
  auto self = std::this_thread::get_id();
  return std::find(worker_ids_.begin(), worker_ids_.end(), self) != worker_ids_.end();
}

bool blocking_executor::accepting() const {
  std::lock_guard<std::mutex> guard{state_->mutex};
  return !state_->stopping;
}

executor_counters blocking_executor::counters() const {
  std::lock_guard<std::mutex> guard{state_->mutex};
  executor_counters result;
  result.threads = workers_.size();
  result.max_queue = state_->max_queue;
  result.queued = state_->jobs.size();
  result.running = state_->running;
  result.completed_total = state_->completed_total;
  result.rejected_total = state_->rejected_total;
  return result;
}

} // namespace tenantrt
