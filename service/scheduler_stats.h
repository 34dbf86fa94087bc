// What the scheduler reports about itself, per priority class and in total:
// for tests, logs and (next) the metrics endpoint.
#ifndef NIO_SERVICE_SCHEDULER_STATS_H_
#define NIO_SERVICE_SCHEDULER_STATS_H_

#include <array>
#include <cstdint>

#include "service/job.h"

namespace nio::service {

// Upper bounds of the formed-batch-size histogram buckets (rows per step);
// the last bucket counts everything larger.
inline constexpr std::array<int, 13> kFormedBatchBounds = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

// Upper bounds of the step-time histogram buckets, in seconds of backend time
// per whole step (a batch step's chunks added up); the last bucket counts
// everything longer.
inline constexpr std::array<double, 14> kStepSecondsBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

struct ClassStats {
  int queued = 0;  // tracks waiting for a slot now
  int active = 0;  // slots (rows) in use in the class's block now
  int64_t submitted = 0;
  int64_t completed = 0;
  // Steps the block ran (a batch step may run as several chunks) and the
  // tracks they advanced.
  int64_t steps = 0;
  int64_t track_steps = 0;
  // Over the last second or so (0 after two idle seconds).
  double track_steps_per_s = 0;
  // Time the class's block had the backend, in seconds.
  double busy_s = 0;
  // Rows per step, by kFormedBatchBounds (one more bucket: larger).
  std::array<int64_t, kFormedBatchBounds.size() + 1> formed_batch{};
  // Backend time per step, by kStepSecondsBounds (one more bucket: longer),
  // and its sum.
  std::array<int64_t, kStepSecondsBounds.size() + 1> step_seconds{};
  double step_seconds_sum = 0;
};

struct SchedulerStats {
  int64_t submitted = 0;
  int64_t completed = 0;
  int64_t cancelled = 0;          // retired because the caller cancelled
  int64_t deadline_exceeded = 0;  // retired because the deadline passed
  int64_t failed = 0;             // backend failures (INTERNAL)
  int64_t shut_down = 0;          // ended UNAVAILABLE: the server stopped first
  int64_t backend_broken = 0;     // ended UNAVAILABLE: the backend broke
  int64_t rejected_queue_full = 0;
  int64_t steps = 0;        // steps run, both classes
  int64_t track_steps = 0;  // tracks advanced, both classes
  // Steps the backend captured as graphs (Backend::GraphCaptures).
  int64_t graph_captures = 0;
  int active = 0;  // slots (rows) in use now
  int queued = 0;  // tracks waiting now
  std::array<ClassStats, kJobClasses> by_class;

  const ClassStats& Of(JobClass c) const {
    return by_class[static_cast<int>(c)];
  }
};

}  // namespace nio::service

#endif  // NIO_SERVICE_SCHEDULER_STATS_H_
