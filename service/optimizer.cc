#include "service/optimizer.h"

#include <climits>
#include <condition_variable>
#include <mutex>

#include "kernels/status_macros.h"

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
    const models::Model& model, const OptimizerOptions& options) {
  SchedulerOptions s;
  s.backend = options.backend;
  s.max_batch = options.max_batch;
  s.max_queue = INT_MAX;  // in-process: the caller's memory is the limit
  s.threads = options.threads;
  s.allow_tf32 = options.allow_tf32;
  NIO_ASSIGN_OR_RETURN(auto scheduler, Scheduler::Create(model, s));
  return std::unique_ptr<Optimizer>(new Optimizer(std::move(scheduler)));
}

std::vector<TrackOutcome> Optimizer::Optimize(const std::vector<TrackRequest>& requests) {
  std::vector<TrackOutcome> outcomes(requests.size());
  std::vector<Job> jobs;
  std::vector<int> index;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto problem = models::BuildNioProblem(featurizer(), requests[i].track, requests[i].options);
    if (!problem.ok()) {
      outcomes[i].status = problem.status();
      continue;
    }
    Job job;
    job.problem = std::move(*problem);
    jobs.push_back(std::move(job));
    index.push_back(static_cast<int>(i));
  }
  Latch latch(static_cast<int>(jobs.size()));
  for (size_t j = 0; j < jobs.size(); ++j) {
    TrackOutcome* out = &outcomes[index[j]];
    jobs[j].on_done = [out, &latch](TrackOutcome outcome) {
      *out = std::move(outcome);
      latch.CountDown();
    };
  }
  if (jobs.empty()) return outcomes;
  if (absl::Status s = scheduler_->Submit(std::move(jobs)); !s.ok()) {
    for (int i : index) outcomes[i].status = s;
    return outcomes;
  }
  latch.Wait();
  return outcomes;
}

std::vector<absl::StatusOr<double>> Optimizer::Predict(
    const std::vector<models::RawTrack>& tracks) {
  std::vector<absl::StatusOr<double>> out(tracks.size(), 0.0);
  std::vector<float> inputs;
  std::vector<int> index;
  for (size_t i = 0; i < tracks.size(); ++i) {
    auto x = featurizer().ToScaled(tracks[i]);
    if (!x.ok()) {
      out[i] = x.status();
      continue;
    }
    inputs.insert(inputs.end(), x->begin(), x->end());
    index.push_back(static_cast<int>(i));
  }
  if (index.empty()) return out;
  Latch latch(1);
  scheduler_->Predict(std::move(inputs), static_cast<int>(index.size()),
                      [&](absl::StatusOr<std::vector<float>> predictions) {
                        for (size_t j = 0; j < index.size(); ++j) {
                          out[index[j]] = predictions.ok()
                                              ? absl::StatusOr<double>((*predictions)[j])
                                              : absl::StatusOr<double>(predictions.status());
                        }
                        latch.CountDown();
                      });
  latch.Wait();
  return out;
}

}  // namespace nio::service
