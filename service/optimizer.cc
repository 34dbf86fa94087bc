#include "service/optimizer.h"

#include <deque>

#include "kernels/slot_batch.h"
#include "kernels/status_macros.h"

namespace nio::service {

absl::StatusOr<std::unique_ptr<Optimizer>> Optimizer::Create(
    const models::Model& model, const OptimizerOptions& options) {
  kernels::BackendOptions backend_options;
  backend_options.max_rows = options.max_batch;
  backend_options.threads = options.threads;
  NIO_ASSIGN_OR_RETURN(
      kernels::CreatedBackend created,
      kernels::CreateBackend(options.backend, model.mlp,
                             models::MovableColumns(model.spec), backend_options));
  return std::unique_ptr<Optimizer>(
      new Optimizer(model, std::move(created.backend), created.log_line));
}

Optimizer::Optimizer(const models::Model& model,
                     std::unique_ptr<kernels::Backend> backend,
                     std::string log_line)
    : model_(model),
      featurizer_(model.spec),
      backend_(std::move(backend)),
      backend_log_line_(std::move(log_line)) {}

std::vector<TrackOutcome> Optimizer::Optimize(
    const std::vector<TrackRequest>& requests) {
  std::vector<TrackOutcome> outcomes(requests.size());
  std::vector<models::NioProblem> problems(requests.size());
  std::deque<int> queue;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto problem = models::BuildNioProblem(featurizer_, requests[i].track,
                                           requests[i].options);
    if (!problem.ok()) {
      outcomes[i].status = problem.status();
      continue;
    }
    problems[i] = std::move(*problem);
    queue.push_back(static_cast<int>(i));
  }

  const int n_in = featurizer_.InputSize();
  kernels::SlotBatch batch(backend_.get());
  std::vector<kernels::RetiredSlot> retired;
  auto fail_all = [&](const absl::Status& status) {
    for (TrackOutcome& o : outcomes) {
      if (o.status.ok() && o.result.id.empty()) o.status = status;
    }
  };
  while (!queue.empty() || batch.Active() > 0) {
    // Admit at the step boundary, as many as there are free slots.
    const int admit = std::min<int>(batch.Free(), static_cast<int>(queue.size()));
    if (admit > 0) {
      std::vector<float> x0, lo, hi, lr, lambda;
      std::vector<uint8_t> mask;
      std::vector<int64_t> tickets;
      std::vector<int> steps;
      for (int a = 0; a < admit; ++a) {
        const int i = queue.front();
        queue.pop_front();
        const models::NioProblem& p = problems[i];
        x0.insert(x0.end(), p.x0.begin(), p.x0.end());
        mask.insert(mask.end(), p.mask.begin(), p.mask.end());
        lo.insert(lo.end(), p.lo.begin(), p.lo.end());
        hi.insert(hi.end(), p.hi.begin(), p.hi.end());
        lr.push_back(p.lr);
        lambda.push_back(p.lambda);
        tickets.push_back(i);
        steps.push_back(p.steps);
      }
      kernels::NioRows rows{admit, x0.data(), mask.data(), lo.data(),
                            hi.data(), lr.data(), lambda.data()};
      if (absl::Status s = batch.Admit(rows, tickets, steps); !s.ok()) {
        fail_all(s);
        return outcomes;
      }
    }
    if (absl::Status s = batch.Step(); !s.ok()) {
      fail_all(s);
      return outcomes;
    }
    retired.clear();
    if (absl::Status s = batch.Retire(nullptr, &retired); !s.ok()) {
      fail_all(s);
      return outcomes;
    }
    if (retired.empty()) continue;
    // Predictions before / raw / after for every retired track in one pass.
    std::vector<float> inputs;
    inputs.reserve(retired.size() * 3 * n_in);
    for (const kernels::RetiredSlot& r : retired) {
      const auto x = models::ResultInputs(featurizer_, problems[r.info.ticket], r.p);
      inputs.insert(inputs.end(), x.begin(), x.end());
    }
    std::vector<float> predictions(retired.size() * 3);
    if (absl::Status s = backend_->Predict(inputs.data(),
                                           static_cast<int>(predictions.size()),
                                           predictions.data());
        !s.ok()) {
      fail_all(s);
      return outcomes;
    }
    for (size_t j = 0; j < retired.size(); ++j) {
      const int i = static_cast<int>(retired[j].info.ticket);
      const std::vector<float> x(inputs.begin() + j * 3 * n_in,
                                 inputs.begin() + (j + 1) * 3 * n_in);
      outcomes[i].result = models::BuildNioResult(
          featurizer_, problems[i], x, &predictions[3 * j], retired[j].info.steps_done);
    }
  }
  return outcomes;
}

std::vector<absl::StatusOr<double>> Optimizer::Predict(
    const std::vector<models::RawTrack>& tracks) {
  std::vector<absl::StatusOr<double>> out(tracks.size(), 0.0);
  std::vector<float> inputs;
  std::vector<int> index;
  for (size_t i = 0; i < tracks.size(); ++i) {
    auto x = featurizer_.ToScaled(tracks[i]);
    if (!x.ok()) {
      out[i] = x.status();
      continue;
    }
    inputs.insert(inputs.end(), x->begin(), x->end());
    index.push_back(static_cast<int>(i));
  }
  std::vector<float> predictions(index.size());
  absl::Status s = backend_->Predict(inputs.data(), static_cast<int>(index.size()),
                                     predictions.data());
  for (size_t j = 0; j < index.size(); ++j) {
    out[index[j]] = s.ok() ? absl::StatusOr<double>(predictions[j]) : s;
  }
  return out;
}

}  // namespace nio::service
