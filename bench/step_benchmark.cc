// Google Benchmark: one batched NIO step of the CPU backend on a random MLP of
// the design's shape (128-768-512-256-128-1, 15 movable columns), per batch
// size and thread count. Reports track-steps/s as items/s.
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/backend.h"

namespace nio::kernels {
namespace {

MlpWeights DesignShapedMlp() {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 0.05f);
  MlpWeights mlp;
  const int sizes[] = {128, 768, 512, 256, 128, 1};
  for (int l = 0; l < 5; ++l) {
    DenseLayer layer;
    layer.in = sizes[l];
    layer.out = sizes[l + 1];
    layer.weight.resize(static_cast<size_t>(layer.in) * layer.out);
    for (float& w : layer.weight) w = d(rng);
    layer.bias.assign(layer.out, 0.01f);
    mlp.layers.push_back(std::move(layer));
  }
  return mlp;
}

void BM_CpuStep(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  BackendOptions options;
  options.max_rows = rows;
  options.threads = static_cast<int>(state.range(1));
  std::vector<int> movable;
  for (int c = 0; c < 15; ++c) movable.push_back(c);
  auto backend = CreateCpuBackend(DesignShapedMlp(), movable, options).value();
  std::mt19937 rng(2);
  std::normal_distribution<float> d;
  std::vector<float> x(static_cast<size_t>(rows) * 128);
  for (float& v : x) v = d(rng);
  std::vector<uint8_t> mask(rows * movable.size(), 1);
  std::vector<float> lo(mask.size(), -3), hi(mask.size(), 3), lr(rows, 0.05f),
      lambda(rows, 0.1f);
  if (!backend
           ->LoadRows(0, {rows, x.data(), mask.data(), lo.data(), hi.data(),
                          lr.data(), lambda.data()})
           .ok()) {
    state.SkipWithError("LoadRows failed");
    return;
  }
  for (auto _ : state) {
    if (!backend->Step(0, rows).ok()) state.SkipWithError("Step failed");
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["us_per_step"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CpuStep)
    ->ArgNames({"rows", "threads"})
    ->ArgsProduct({{1, 8, 64, 256, 1024, 4096}, {1, 2}})
    ->UseRealTime();

}  // namespace
}  // namespace nio::kernels

BENCHMARK_MAIN();
