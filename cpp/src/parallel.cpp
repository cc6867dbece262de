// Thread pool implementation: see acctsne/parallel.h for the contract.
#include "acctsne/parallel.h"

#include <chrono>

#include "acctsne/common.h"

namespace acctsne {

ThreadPool::ThreadPool(int n_threads, InterruptHook* hook) : poller_(hook) {
  ACCTSNE_CHECK(n_threads >= 1, "n_threads must be >= 1, got ", n_threads);
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this] { worker_main(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::check_interrupt() {
  if (poller_.poll_if_due()) throw Interrupted();
}

void ThreadPool::drain_blocks(bool is_caller) {
  while (!stop_.load(std::memory_order_relaxed)) {
    const int64_t b = next_block_.fetch_add(1, std::memory_order_relaxed);
    if (b >= job_blocks_) break;
    try {
      (*job_)(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      stop_.store(true);
    }
    if (is_caller && poller_.poll_if_due()) stop_.store(true);
  }
}

void ThreadPool::worker_main() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] { return shutdown_ || generation_ != seen; });
      if (shutdown_) return;
      seen = generation_;
    }
    drain_blocks(/*is_caller=*/false);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_workers_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n_blocks, const BlockFn& fn) {
  if (n_blocks <= 0) return;
  job_ = &fn;
  job_blocks_ = n_blocks;
  next_block_.store(0);
  stop_.store(false);
  error_ = nullptr;
  const bool use_workers = !workers_.empty() && n_blocks > 1;
  if (use_workers) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_workers_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    work_cv_.notify_all();
  }
  drain_blocks(/*is_caller=*/true);
  if (use_workers) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (busy_workers_ > 0) {
      done_cv_.wait_for(lock, InterruptPoller::kPollInterval);
      if (busy_workers_ > 0 && !stop_.load()) {
        // Keep Ctrl-C responsive while the workers finish long blocks.
        lock.unlock();
        if (poller_.poll_if_due()) stop_.store(true);
        lock.lock();
      }
    }
  }
  job_ = nullptr;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  if (poller_.interrupted()) throw Interrupted();
}

}  // namespace acctsne
