// CUDA backend against the CPU backend (the reference), op by op and over
// whole NIO runs, and the server on --backend cuda against --backend cpu.
// Every test skips with "no CUDA device" where there is none.
// Tolerances: single products and gradients 1e-4 (abs) + 1e-4 (rel); final
// features after 300 steps 1e-3 (cuBLAS sums in another order than OpenBLAS,
// and Adam's normalisation amplifies that for ill-conditioned tracks, which
// tests/golden_compare.h explains and the test data avoids).
#include <fstream>
#include <map>
#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/backend_factory.h"
#include "kernels/slot_batch.h"
#include "models/model.h"
#include "models/nio_problem.h"
#include "models/track_json.h"
#include "service/optimizer.h"
#include "tests/test_util.h"

namespace nio::kernels {
namespace {

using nio::testing::AllClose;

// A macro, not a function: GTEST_SKIP returns from the test only when
// written in the test body.
#define NIO_SKIP_WITHOUT_CUDA_DEVICE()                  \
  do {                                                  \
    std::string nio_reason;                             \
    if (CudaDeviceCount(&nio_reason) == 0)              \
      GTEST_SKIP() << "no CUDA device: " << nio_reason; \
  } while (0)

// The seed model when its fixture exists, else the committed tiny model.
std::string ParityModelDir() {
  const std::string seed = nio::testing::GeneratedDir() + "/seed/model";
  if (std::ifstream(seed + "/model.json")) return seed;
  return nio::testing::TestDataDir() + "/tiny_model";
}

std::unique_ptr<Backend> Make(BackendChoice choice, const models::Model& m,
                              int rows) {
  BackendOptions o;
  o.max_rows = rows;
  auto b = CreateBackend(choice, m.mlp, models::MovableColumns(m.spec), o);
  EXPECT_TRUE(b.ok()) << b.status();
  return std::move(b->backend);
}

// df/dx of the movable columns at x (rows, n_in) into grad (rows, K): the
// gradient the first Step records with every column movable, read back with
// GatherRows. Uses the slots [0, rows).
void StepGradient(Backend* backend, const std::vector<float>& x, int rows,
                  std::vector<float>* grad) {
  const size_t k = backend->MovableColumns().size();
  std::vector<uint8_t> mask(rows * k, 1);
  std::vector<float> lo(rows * k, -3.0f), hi(rows * k, 3.0f);
  std::vector<float> lr(rows, 0.05f), lambda(rows, 0.1f);
  const NioRows start{rows,      x.data(),  mask.data(),  lo.data(),
                      hi.data(), lr.data(), lambda.data()};
  ASSERT_TRUE(backend->LoadRows(0, start).ok());
  ASSERT_TRUE(backend->Step(0, rows).ok());
  std::vector<int> slots(rows);
  std::iota(slots.begin(), slots.end(), 0);
  grad->assign(rows * k, 0.0f);
  ASSERT_TRUE(backend->GatherRows(slots, {.df_dp = grad->data()}).ok());
}

TEST(CudaBackendTest, PredictAndGradientMatchCpu) {
  NIO_SKIP_WITHOUT_CUDA_DEVICE();
  auto model = models::LoadModel(ParityModelDir()).value();
  const int n_in = model.mlp.InputSize();
  for (int rows : {1, 255, 257, 1000}) {
    auto cpu = Make(BackendChoice::kCpu, model, rows);
    auto gpu = Make(BackendChoice::kCuda, model, rows);
    const auto x = nio::testing::RandomFloats(static_cast<size_t>(rows) * n_in,
                                              rows, -2, 2);
    std::vector<float> a(rows), b(rows);
    ASSERT_TRUE(cpu->Predict(x.data(), rows, a.data()).ok());
    ASSERT_TRUE(gpu->Predict(x.data(), rows, b.data()).ok());
    EXPECT_TRUE(AllClose(b, a, 1e-4, 1e-4)) << rows << " rows";
    std::vector<float> ga, gb;
    ASSERT_NO_FATAL_FAILURE(StepGradient(cpu.get(), x, rows, &ga));
    ASSERT_NO_FATAL_FAILURE(StepGradient(gpu.get(), x, rows, &gb));
    EXPECT_TRUE(AllClose(gb, ga, 1e-4, 1e-4)) << rows << " rows";
  }
}

TEST(CudaBackendTest, NioRunsMatchCpu) {
  NIO_SKIP_WITHOUT_CUDA_DEVICE();
  auto model = models::LoadModel(ParityModelDir()).value();
  service::SchedulerOptions o;
  o.max_batch = 64;
  o.backend = BackendChoice::kCpu;
  auto cpu = service::Optimizer::Create(model, o).value();
  o.backend = BackendChoice::kCuda;
  auto gpu = service::Optimizer::Create(model, o).value();
  std::vector<models::TrackRequest> requests;
  for (const auto& genre : model.spec.categorical.values) {
    requests.push_back({{genre, {}, genre}, {}});
  }
  const auto a = cpu->Optimize(requests);
  const auto b = gpu->Optimize(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(a[i].status.ok() && b[i].status.ok());
    EXPECT_NEAR(b[i].result.prediction_after, a[i].result.prediction_after,
                1e-2)
        << requests[i].track.id;
    for (size_t c = 0; c < a[i].result.changes.size(); ++c) {
      const auto& ca = a[i].result.changes[c];
      const auto& cb = b[i].result.changes[c];
      EXPECT_NEAR(cb.optimized, ca.optimized,
                  1e-3 * std::max(1.0, std::fabs(ca.optimized)))
          << requests[i].track.id << " " << ca.name;
    }
  }
}

TEST(CudaBackendTest, ContinuousBatchWithCompactionMatchesCpu) {
  // Tracks with different step counts admitted as slots free: rows leave from
  // the middle of the block, MoveRows compacts it (kernels on the device) and
  // GatherRows reads the leaving rows. The CUDA graph is re-captured whenever
  // the row count changes.
  NIO_SKIP_WITHOUT_CUDA_DEVICE();
  auto model = models::LoadModel(ParityModelDir()).value();
  const int n_in = model.mlp.InputSize();
  const int tracks = 300, slots = 96;
  auto run = [&](BackendChoice choice) {
    auto backend = Make(choice, model, slots);
    const int k = static_cast<int>(backend->MovableColumns().size());
    SlotBatch batch(backend.get());
    std::map<int64_t, RetiredSlot> done;
    const auto x = nio::testing::RandomFloats(
        static_cast<size_t>(tracks) * n_in, 5, -1.5f, 1.5f);
    std::vector<uint8_t> mask(k, 1);
    std::vector<float> lo(k, -3.0f), hi(k, 3.0f);
    const float lr = 0.02f, lambda = 0.1f;
    int next = 0;
    while (next < tracks || batch.Active() > 0) {
      while (next < tracks && batch.Free() > 0) {
        NioRows row{1,           x.data() + static_cast<size_t>(next) * n_in,
                    mask.data(), lo.data(),
                    hi.data(),   &lr,
                    &lambda};
        EXPECT_TRUE(batch.Admit(row, {next}, {20 + (next * 37) % 90}).ok());
        ++next;
      }
      EXPECT_TRUE(batch.Step().ok());
      std::vector<RetiredSlot> retired;
      EXPECT_TRUE(batch.Retire(nullptr, &retired).ok());
      for (auto& r : retired) done[r.info.ticket] = std::move(r);
    }
    return done;
  };
  const auto cpu = run(BackendChoice::kCpu);
  const auto gpu = run(BackendChoice::kCuda);
  ASSERT_EQ(gpu.size(), static_cast<size_t>(tracks));
  for (int t = 0; t < tracks; ++t) {
    EXPECT_EQ(gpu.at(t).info.steps_done, cpu.at(t).info.steps_done);
    EXPECT_NEAR(gpu.at(t).info.prediction, cpu.at(t).info.prediction, 1e-2)
        << "track " << t;
    EXPECT_TRUE(AllClose(gpu.at(t).p, cpu.at(t).p, 1e-3, 1e-3))
        << "track " << t;
  }
}

TEST(CudaBackendTest, FactoryPrefersCudaWhenPresent) {
  NIO_SKIP_WITHOUT_CUDA_DEVICE();
  auto model =
      models::LoadModel(nio::testing::TestDataDir() + "/tiny_model").value();
  BackendOptions o;
  auto b = CreateBackend(BackendChoice::kAuto, model.mlp,
                         models::MovableColumns(model.spec), o);
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(b->backend->Describe(), ::testing::StartsWith("cuda"));
  EXPECT_NE(b->log_line.find("cuda"), std::string::npos);
}

TEST(CudaBackendTest, WithoutADeviceCudaIsFailedPrecondition) {
  std::string reason;
  if (CudaDeviceCount(&reason) > 0) GTEST_SKIP() << "a CUDA device is present";
  auto model =
      models::LoadModel(nio::testing::TestDataDir() + "/tiny_model").value();
  auto b = CreateBackend(BackendChoice::kCuda, model.mlp,
                         models::MovableColumns(model.spec), {});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(reason.empty());
}

}  // namespace
}  // namespace nio::kernels
