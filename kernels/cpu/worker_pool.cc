#include "kernels/cpu/worker_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NIO_CPU_RELAX() _mm_pause()
#else
#define NIO_CPU_RELAX() std::this_thread::yield()
#endif

namespace nio::kernels {
namespace {

// How long an idle worker spins before it sleeps.
constexpr auto kSpinFor = std::chrono::microseconds(200);

}  // namespace

WorkerPool::WorkerPool(int workers) : workers_(std::max(1, workers)) {
  for (int w = 1; w < workers_; ++w) {
    threads_.emplace_back([this, w] { WorkerLoop(w); });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  wake_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::RunTasks(int worker) {
  if (pinned_) {
    if (worker < tasks_) (*fn_)(worker, worker);
    return;
  }
  for (int task = next_task_.fetch_add(1); task < tasks_;
       task = next_task_.fetch_add(1)) {
    (*fn_)(task, worker);
  }
}

void WorkerPool::ParallelFor(int tasks, const std::function<void(int, int)>& fn) {
  if (tasks <= 0) return;
  if (tasks == 1 || threads_.empty()) {
    for (int t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  Run(tasks, /*pinned=*/false, fn);
}

void WorkerPool::ParallelForPinned(int tasks, const std::function<void(int, int)>& fn) {
  if (tasks <= 0) return;
  if (tasks == 1) {
    fn(0, 0);
    return;
  }
  if (tasks > workers_) {
    ParallelFor(tasks, fn);
    return;
  }
  Run(tasks, /*pinned=*/true, fn);
}

void WorkerPool::Run(int tasks, bool pinned, const std::function<void(int, int)>& fn) {
  fn_ = &fn;
  tasks_ = tasks;
  pinned_ = pinned;
  next_task_.store(0, std::memory_order_relaxed);
  busy_.store(static_cast<int>(threads_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: pairs with sleepers_ (Dekker)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_cv_.notify_all();
  }
  RunTasks(0);
  // Spin (the loop is short), but yield now and then: when the machine is
  // oversubscribed the worker we wait for may need this very core.
  for (int spins = 1; busy_.load(std::memory_order_acquire) > 0; ++spins) {
    NIO_CPU_RELAX();
    if (spins % 1024 == 0) std::this_thread::yield();
  }
  fn_ = nullptr;
}

void WorkerPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  while (true) {
    // Spin briefly for the next loop, then sleep until one is published.
    const auto spin_until = std::chrono::steady_clock::now() + kSpinFor;
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
      NIO_CPU_RELAX();
      if (++spins % 1024 == 0) std::this_thread::yield();
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        wake_cv_.wait(lock, [&] {
          return stop_.load() || generation_.load() != seen;
        });
        sleepers_.fetch_sub(1);
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    RunTasks(worker);
    busy_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace nio::kernels
