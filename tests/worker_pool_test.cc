// The CPU backend's worker pool: every task runs exactly once, and a pinned
// loop runs each task on the same thread every time (split mode relies on it
// to find a core's weight slice in that core's cache).
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/worker_pool.h"

namespace nio::kernels {
namespace {

TEST(WorkerPoolTest, ParallelForRunsEveryTaskOnce) {
  WorkerPool pool(3);
  for (int tasks : {0, 1, 2, 3, 7, 1000}) {
    std::vector<std::atomic<int>> runs(tasks);
    pool.ParallelFor(tasks, [&](int task, int worker) {
      ASSERT_GE(worker, 0);
      ASSERT_LT(worker, 3);
      runs[task].fetch_add(1);
    });
    for (int t = 0; t < tasks; ++t) EXPECT_EQ(runs[t].load(), 1) << "task " << t << " of " << tasks;
  }
}

TEST(WorkerPoolTest, PinnedTasksRunOnTheSameThreadEveryLoop) {
  constexpr int kWorkers = 4;
  WorkerPool pool(kWorkers);
  std::vector<std::set<std::thread::id>> threads_of_task(kWorkers);
  for (int loop = 0; loop < 2000; ++loop) {
    std::vector<std::thread::id> ran_on(kWorkers);
    pool.ParallelForPinned(kWorkers, [&](int task, int worker) {
      EXPECT_EQ(task, worker);
      ran_on[task] = std::this_thread::get_id();
    });
    for (int t = 0; t < kWorkers; ++t) threads_of_task[t].insert(ran_on[t]);
  }
  std::set<std::thread::id> all;
  for (int t = 0; t < kWorkers; ++t) {
    EXPECT_EQ(threads_of_task[t].size(), 1u) << "task " << t << " moved between threads";
    all.insert(threads_of_task[t].begin(), threads_of_task[t].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kWorkers)) << "two tasks shared a thread";
  EXPECT_EQ(threads_of_task[0].count(std::this_thread::get_id()), 1u)
      << "task 0 runs on the caller (worker 0)";
}

TEST(WorkerPoolTest, PinnedWithFewerOrMoreTasksThanWorkersRunsEachOnce) {
  WorkerPool pool(3);
  for (int tasks : {0, 1, 2, 3, 4, 9}) {
    std::vector<std::atomic<int>> runs(tasks);
    pool.ParallelForPinned(tasks, [&](int task, int) { runs[task].fetch_add(1); });
    for (int t = 0; t < tasks; ++t) EXPECT_EQ(runs[t].load(), 1) << "task " << t << " of " << tasks;
  }
}

}  // namespace
}  // namespace nio::kernels
