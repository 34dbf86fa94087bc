#include "kernels/cpu/worker_pool.h"

#include <algorithm>

namespace nio::kernels {

WorkerPool::WorkerPool(int workers) : workers_(std::max(1, workers)) {
  for (int w = 1; w < workers_; ++w) {
    threads_.emplace_back([this, w] { WorkerLoop(w); });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::RunTasks(int worker) {
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    tasks_ = tasks;
    next_task_.store(0);
    busy_ = static_cast<int>(threads_.size());
    ++generation_;
  }
  start_cv_.notify_all();
  RunTasks(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return busy_ == 0; });
  fn_ = nullptr;
}

void WorkerPool::WorkerLoop(int worker) {
  long long seen = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    RunTasks(worker);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--busy_ == 0) done_cv_.notify_one();
    }
  }
}

}  // namespace nio::kernels
