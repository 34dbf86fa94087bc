#include "service/job.h"

namespace nio::service {

const char* JobClassName(JobClass job_class) {
  return job_class == JobClass::kInteractive ? "interactive" : "batch";
}

Job MakeJob(models::NioProblem problem, const JobTraits& traits,
            std::function<void(TrackOutcome)> on_done,
            std::function<void(int, double)> on_progress) {
  Job job;
  job.problem = std::move(problem);
  job.traits = traits;
  job.on_done = std::move(on_done);
  if (traits.progress_every > 0) job.on_progress = std::move(on_progress);
  return job;
}

}  // namespace nio::service
