// Thread pool implementation: see acctsne/parallel.h for the contract.
#include "acctsne/parallel.h"

#include <chrono>
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "acctsne/common.h"

namespace acctsne {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins while pred() is false for up to `micros`; returns pred()'s last value.
template <typename Pred>
bool SpinUntil(Pred&& pred, int micros) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 0;; ++i) {
    if (pred()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, InterruptHook* hook)
    : poller_(hook), shares_(new Share[static_cast<size_t>(n_threads)]) {
  ACCTSNE_CHECK(n_threads >= 1, "n_threads must be >= 1, got ", n_threads);
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown_.store(true);
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::check_interrupt() {
  if (poller_.poll_if_due()) throw Interrupted();
}

void ThreadPool::drain_blocks(int index) {
  const int n = n_threads();
  const bool is_caller = index == 0;
  for (int r = 0; r < n; ++r) {  // own share first, then the others'
    Share& share = shares_[static_cast<size_t>((index + r) % n)];
    while (!stop_.load(std::memory_order_relaxed)) {
      const int64_t b = share.next.fetch_add(1, std::memory_order_relaxed);
      if (b >= share.end) break;
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
}

void ThreadPool::worker_main(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto has_work = [&] { return shutdown_.load() || generation_.load() != seen; };
    if (!SpinUntil(has_work, kSpinMicros)) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleepers_;
      work_cv_.wait(lock, has_work);
      --sleepers_;
    }
    if (shutdown_.load()) return;
    seen = generation_.load();
    drain_blocks(index);
    if (busy_workers_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's wait
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::wait_for_workers() {
  auto done = [&] { return busy_workers_.load() == 0; };
  while (!SpinUntil(done, kSpinMicros)) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait_for(lock, InterruptPoller::kPollInterval, done);
    }
    // Keep Ctrl-C responsive while the workers finish long blocks.
    if (!done() && !stop_.load() && poller_.poll_if_due()) stop_.store(true);
  }
}

void ThreadPool::run(int64_t n_blocks, const BlockFn& fn) {
  if (n_blocks <= 0) return;
  job_ = &fn;
  const int n = n_threads();
  for (int t = 0; t < n; ++t) {
    shares_[static_cast<size_t>(t)].next.store(n_blocks * t / n, std::memory_order_relaxed);
    shares_[static_cast<size_t>(t)].end = n_blocks * (t + 1) / n;
  }
  stop_.store(false);
  error_ = nullptr;
  const bool use_workers = !workers_.empty() && n_blocks > 1;
  if (use_workers) {
    busy_workers_.store(static_cast<int>(workers_.size()));
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1);
    if (sleepers_ > 0) work_cv_.notify_all();
  }
  drain_blocks(/*index=*/0);
  if (use_workers) wait_for_workers();
  job_ = nullptr;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  if (poller_.interrupted()) throw Interrupted();
}

}  // namespace acctsne
