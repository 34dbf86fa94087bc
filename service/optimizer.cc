#include "service/optimizer.h"

#include <climits>
#include <condition_variable>
#include <mutex>

#include "kernels/status_macros.h"
#include "service/track_predictor.h"

namespace nio::service {
namespace {

// Counts down to zero; Wait blocks until then.
class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return count_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> Optimizer::Create(
    const models::Model& model, const SchedulerOptions& options) {
  SchedulerOptions s = options;
  s.max_queue = INT_MAX;
  NIO_ASSIGN_OR_RETURN(auto scheduler, Scheduler::Create(model, s));
  return std::unique_ptr<Optimizer>(new Optimizer(std::move(scheduler)));
}

std::vector<TrackOutcome> Optimizer::Optimize(
    const std::vector<TrackRequest>& requests) {
  std::vector<TrackOutcome> outcomes(requests.size());
  std::vector<models::NioProblem> problems;
  std::vector<int> index;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto problem = models::BuildNioProblem(featurizer(), requests[i].track,
                                           requests[i].options);
    if (!problem.ok()) {
      outcomes[i].status = problem.status();
      continue;
    }
    problems.push_back(std::move(*problem));
    index.push_back(static_cast<int>(i));
  }
  if (problems.empty()) return outcomes;
  // The interactive block when every start fits in it at once.
  int rows = 0;
  for (const models::NioProblem& p : problems) rows += p.starts;
  JobTraits traits;
  traits.job_class = rows <= scheduler_->InteractiveSlots()
                         ? JobClass::kInteractive
                         : JobClass::kBatch;
  Latch latch(static_cast<int>(problems.size()));
  std::vector<Job> jobs;
  for (size_t j = 0; j < problems.size(); ++j) {
    TrackOutcome* out = &outcomes[index[j]];
    jobs.push_back(MakeJob(std::move(problems[j]), traits,
                           [out, &latch](TrackOutcome outcome) {
                             *out = std::move(outcome);
                             latch.CountDown();
                           }));
  }
  if (absl::Status s = scheduler_->Submit(std::move(jobs)); !s.ok()) {
    for (int i : index) outcomes[i].status = s;
    return outcomes;
  }
  latch.Wait();
  return outcomes;
}

std::vector<absl::StatusOr<double>> Optimizer::Predict(
    const std::vector<models::RawTrack>& tracks) {
  TrackPredictions out;
  Latch latch(1);
  PredictTracks(*scheduler_, tracks, [&](TrackPredictions predictions) {
    out = std::move(predictions);
    latch.CountDown();
  });
  latch.Wait();
  return out;
}

}  // namespace nio::service
