// A fixed set of worker threads that run one parallel loop at a time. The
// caller of ParallelFor works too (as worker 0), so a pool of 1 has no threads.
//
// Workers spin for a short while after each loop before they sleep: the NIO
// step issues several short loops back to back (one per layer when a single
// track is split across cores), and a condition-variable wake-up per loop
// would cost more than the loop itself.
#ifndef NIO_KERNELS_CPU_WORKER_POOL_H_
#define NIO_KERNELS_CPU_WORKER_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
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

  // Calls fn(w, w) on every worker w in [0, tasks): task w always runs on
  // worker w, so a task that reads the same data every time finds it in that
  // worker's core cache (split mode's weight slices). With more tasks than
  // workers it is ParallelFor.
  void ParallelForPinned(int tasks, const std::function<void(int, int)>& fn);

 private:
  void WorkerLoop(int worker);
  void RunTasks(int worker);
  void Run(int tasks, bool pinned, const std::function<void(int, int)>& fn);

  const int workers_;
  std::vector<std::thread> threads_;

  // A new loop is published by bumping generation_; workers that see it run
  // tasks and decrement busy_.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> busy_{0};
  std::atomic<int> next_task_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int, int)>* fn_ = nullptr;  // valid during a loop
  int tasks_ = 0;
  bool pinned_ = false;  // task w on worker w only

  // Sleeping workers wait here; sleepers_ counts them so the caller only
  // takes the mutex when someone needs waking.
  std::mutex mu_;
  std::condition_variable wake_cv_;
  std::atomic<int> sleepers_{0};
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CPU_WORKER_POOL_H_
