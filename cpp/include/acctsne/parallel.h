// A small thread pool owned by one fit, and deterministic parallel loops over blocks.
//
// Determinism: work is split into blocks whose size never depends on the thread count;
// each block writes only its own outputs and its own partial sums, and partial sums are
// reduced serially in block order. The result is therefore bitwise identical for any
// number of threads. Which thread runs a block never matters for the result; for the
// caches it does: thread t starts on the t-th contiguous share of the blocks, and threads
// done with their share take blocks from the others' (dynamic balance). Consecutive
// phases over the same points then mostly find each point's data in the cache of the
// core that wrote it (blocks handed out from one shared counter left half of them to be
// fetched from the other core's cache at every phase).
//
// Exceptions thrown by a block are captured (first one wins), remaining blocks are
// skipped, and the exception is rethrown on the calling thread after all workers are
// idle. The calling thread works too, and polls the interrupt hook between its blocks.
//
// A t-SNE iteration issues dozens of short runs back to back, so waking a sleeping thread
// (a futex syscall, slow on virtual machines) would dominate small phases: workers and the
// caller spin for about kSpinMicros before they block on a condition variable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "acctsne/interrupt.h"

namespace acctsne {

class ThreadPool {
 public:
  using BlockFn = std::function<void(int64_t block)>;

  // n_threads >= 1 counts the calling thread; n_threads - 1 workers are started.
  ThreadPool(int n_threads, InterruptHook* hook);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(b) for every b in [0, n_blocks). Throws Interrupted if a signal arrived.
  void run(int64_t n_blocks, const BlockFn& fn);

  // Polls the interrupt hook (rate-limited) from the calling thread; throws Interrupted.
  void check_interrupt();
  // Forgets an interrupt seen by an earlier call (the bindings call it on entry).
  void clear_interrupt() { poller_.clear(); }

 private:
  static constexpr int kSpinMicros = 200;

  void worker_main(int index);
  void drain_blocks(int index);
  void wait_for_workers();

  std::vector<std::thread> workers_;
  InterruptPoller poller_;

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> shutdown_{false};
  std::atomic<int> busy_workers_{0};
  int sleepers_ = 0;  // workers blocked on work_cv_ (guarded by mutex_)

  // Each thread's share of the current job's blocks: [next, end), next claimed atomically.
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  const BlockFn* job_ = nullptr;
  std::unique_ptr<Share[]> shares_;
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

// Number of fixed-size blocks covering n items.
inline int64_t NumBlocks(int64_t n, int64_t block_size) {
  return (n + block_size - 1) / block_size;
}

// Runs fn(begin, end) over [0, n) in blocks of block_size items.
template <typename Fn>
void ParallelForRange(ThreadPool& pool, int64_t n, int64_t block_size, Fn&& fn) {
  const int64_t n_blocks = NumBlocks(n, block_size);
  pool.run(n_blocks, [&](int64_t b) {
    const int64_t begin = b * block_size;
    const int64_t end = begin + block_size < n ? begin + block_size : n;
    fn(begin, end);
  });
}

// Sum over [0, n) of fn(begin, end) partials, reduced in block order (deterministic).
template <typename Fn>
double ParallelSum(ThreadPool& pool, int64_t n, int64_t block_size, Fn&& fn) {
  const int64_t n_blocks = NumBlocks(n, block_size);
  std::vector<double> partial(static_cast<size_t>(n_blocks), 0.0);
  pool.run(n_blocks, [&](int64_t b) {
    const int64_t begin = b * block_size;
    const int64_t end = begin + block_size < n ? begin + block_size : n;
    partial[static_cast<size_t>(b)] = fn(begin, end);
  });
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace acctsne
