// A fixed set of worker threads that run one parallel loop at a time. The
// caller of ParallelFor works too (as worker 0), so a pool of 1 has no threads.
#ifndef NIO_KERNELS_CPU_WORKER_POOL_H_
#define NIO_KERNELS_CPU_WORKER_POOL_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nio::kernels {

class WorkerPool {
 public:
  explicit WorkerPool(int workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int Workers() const { return workers_; }

  // Calls fn(task, worker) for every task in [0, tasks), spread over the
  // workers (worker in [0, Workers())); returns when all are done. Not
  // reentrant: one ParallelFor at a time.
  void ParallelFor(int tasks, const std::function<void(int, int)>& fn);

 private:
  void WorkerLoop(int worker);
  void RunTasks(int worker);

  const int workers_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  // Guarded by mu_.
  long long generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  // The loop being run; valid while busy_ > 0 or the caller runs tasks.
  const std::function<void(int, int)>* fn_ = nullptr;
  int tasks_ = 0;
  std::atomic<int> next_task_{0};
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CPU_WORKER_POOL_H_
