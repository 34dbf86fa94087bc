// The CUDA backend. Same state and the same math as the CPU backend
// (cpu/cpu_backend.cc), on device:
//   w_[l] (H_l+1, H_l), b_[l]        the layers, row-major as torch
//   w1_movable_ (H1, K)              W1[:, movable]
//   fixed_ (max_rows, H1)            x0[movable := 0] W1^T + b1
//   act_[l] (max_rows, H_l+1)        ReLU activations (the last: the output)
//   grad_a_/grad_b_ (max_rows, maxH) input gradients, ping-pong
//   p_, p0_, m_, v_, lo_, hi_, df_dp_ (max_rows, K); mask_ (max_rows, K) bytes
//   lr_, lambda_ (max_rows) floats; k_, step_ (max_rows) ints
//   optimizer_ (max_rows) bytes; lbfgs_ (max_rows, LbfgsStateWidth(K))
//   the row watch (row_watch.h): best_p_ (max_rows, K); best_objective_,
//   best_prediction_, target_, tolerance_ (max_rows) floats; stall_,
//   window_ (max_rows) ints; flags_ (max_rows) bytes
//   index_ (2 max_rows) ints; gather_p_, gather_df_dp_ (max_rows, K),
//   gather_prediction_ (max_rows)    MoveRows / GatherRows staging
// Products go through GemmCublas with the same GemmArgs builders the CPU uses;
// elementwise work is the kernel bodies of elementwise.h via RunBody. One
// stream; a step's row count is rounded up to a bucket (step_bucket.h), and
// each bucket's step is captured as a CUDA graph once it has run twice and
// replayed from then on; at most kStepsInFlight steps are queued.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/cuda/gemm_cublas.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/elementwise.h"
#include "kernels/gemm_args.h"
#include "kernels/row_optimizer.h"
#include "kernels/row_watch.h"
#include "kernels/status_macros.h"
#include "kernels/step_bucket.h"

namespace nio::kernels {
namespace {

// cuBLAS needs its own workspace to be capturable in a CUDA graph.
constexpr size_t kCublasWorkspaceBytes = 32u << 20;
// Steps queued on the device at most: Step waits for the step this many
// before it, so an admit, a deadline or a cancel (which sync the stream)
// waits behind at most this many steps, not hundreds.
constexpr int kStepsInFlight = 2;
// Steps of the same row range before that step is captured as a graph.
constexpr int kStableStepsBeforeGraph = 2;
// Row ranges whose graphs are kept (the scheduler's blocks step different
// ranges in turn: the interactive block and the batch block's chunks).
constexpr size_t kStepGraphs = 8;

class CudaBackend final : public Backend {
 public:
  CudaBackend(const MlpWeights& mlp, std::vector<int> movable,
              const BackendOptions& options)
      : mlp_(mlp),
        movable_(std::move(movable)),
        max_rows_(options.max_rows),
        k_cols_(static_cast<int>(movable_.size())),
        allow_tf32_(options.allow_tf32) {}

  ~CudaBackend() override {
    for (StepGraph& g : graphs_) {
      if (g.exec) cudaGraphExecDestroy(g.exec);
    }
    for (cudaEvent_t e : step_done_) {
      if (e) cudaEventDestroy(e);
    }
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  absl::Status Init() {
    NIO_RETURN_IF_CUDA_ERROR(cudaSetDevice(0));
    cudaDeviceProp prop{};
    NIO_RETURN_IF_CUDA_ERROR(cudaGetDeviceProperties(&prop, 0));
    device_name_ = prop.name;
    sm_count_ = prop.multiProcessorCount;
    NIO_RETURN_IF_CUDA_ERROR(
        cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    for (cudaEvent_t& e : step_done_) {
      NIO_RETURN_IF_CUDA_ERROR(
          cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    }
    NIO_RETURN_IF_CUBLAS_ERROR(cublasCreate(&cublas_));
    NIO_RETURN_IF_CUBLAS_ERROR(cublasSetStream(cublas_, stream_));
    NIO_RETURN_IF_ERROR(workspace_.Allocate(kCublasWorkspaceBytes));
    NIO_RETURN_IF_CUBLAS_ERROR(
        cublasSetWorkspace(cublas_, workspace_.get(), kCublasWorkspaceBytes));
    NIO_RETURN_IF_CUBLAS_ERROR(
        cublasSetMathMode(cublas_, allow_tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH
                                               : CUBLAS_PEDANTIC_MATH));

    const DenseLayer& first = mlp_.layers.front();
    h1_ = first.out;
    n_in_ = first.in;
    int max_width = n_in_;
    w_.resize(mlp_.layers.size());
    b_.resize(mlp_.layers.size());
    act_.resize(mlp_.layers.size());
    for (size_t l = 0; l < mlp_.layers.size(); ++l) {
      const DenseLayer& layer = mlp_.layers[l];
      NIO_RETURN_IF_ERROR(
          w_[l].Upload(layer.weight.data(), layer.weight.size()));
      NIO_RETURN_IF_ERROR(b_[l].Upload(layer.bias.data(), layer.bias.size()));
      NIO_RETURN_IF_ERROR(act_[l].Allocate(Rows() * layer.out));
      max_width = std::max(max_width, layer.out);
    }
    std::vector<float> w1m(static_cast<size_t>(h1_) * k_cols_);
    for (int o = 0; o < h1_; ++o) {
      for (int c = 0; c < k_cols_; ++c) {
        w1m[static_cast<size_t>(o) * k_cols_ + c] =
            first.weight[static_cast<size_t>(o) * first.in + movable_[c]];
      }
    }
    NIO_RETURN_IF_ERROR(w1_movable_.Upload(w1m.data(), w1m.size()));
    NIO_RETURN_IF_ERROR(columns_.Upload(movable_.data(), movable_.size()));
    NIO_RETURN_IF_ERROR(fixed_.Allocate(Rows() * h1_));
    NIO_RETURN_IF_ERROR(grad_a_.Allocate(Rows() * max_width));
    NIO_RETURN_IF_ERROR(grad_b_.Allocate(Rows() * max_width));
    const std::vector<float> ones(Rows(), 1.0f);
    NIO_RETURN_IF_ERROR(ones_.Upload(ones.data(), ones.size()));
    for (DeviceBuffer<float>* buf :
         {&p_, &p0_, &m_, &v_, &lo_, &hi_, &df_dp_, &zero_k_}) {
      NIO_RETURN_IF_ERROR(buf->Allocate(Rows() * k_cols_));
    }
    NIO_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(
        zero_k_.get(), 0, zero_k_.size() * sizeof(float), stream_));
    NIO_RETURN_IF_ERROR(best_p_.Allocate(Rows() * k_cols_));
    NIO_RETURN_IF_ERROR(gather_best_p_.Allocate(Rows() * k_cols_));
    for (DeviceBuffer<float>* buf :
         {&best_objective_, &best_prediction_, &target_, &tolerance_,
          &gather_best_objective_, &gather_best_prediction_}) {
      NIO_RETURN_IF_ERROR(buf->Allocate(Rows()));
    }
    NIO_RETURN_IF_ERROR(stall_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(window_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(flags_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(gather_flags_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(mask_.Allocate(Rows() * k_cols_));
    NIO_RETURN_IF_ERROR(lr_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(lambda_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(prediction_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(k_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(step_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(optimizer_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(lbfgs_.Allocate(Rows() * LbfgsWidth()));
    NIO_RETURN_IF_ERROR(x_stage_.Allocate(Rows() * n_in_));
    NIO_RETURN_IF_ERROR(index_.Allocate(2 * Rows()));
    NIO_RETURN_IF_ERROR(gather_p_.Allocate(Rows() * k_cols_));
    NIO_RETURN_IF_ERROR(gather_df_dp_.Allocate(Rows() * k_cols_));
    NIO_RETURN_IF_ERROR(gather_prediction_.Allocate(Rows()));
    // The uploads above ran on the legacy default stream, which a
    // non-blocking stream_ does not wait for: finish them before any work.
    NIO_RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat("cuda (", device_name_, ", ", sm_count_, " SMs, ",
                        allow_tf32_ ? "TF32" : "fp32", " GEMMs, ", max_rows_,
                        " slots)");
  }
  int MaxRows() const override { return max_rows_; }
  // Graphs per bucket, not per row count (step_bucket.h).
  int StepRowsFor(int rows, int limit) const override {
    return StepBucket(rows, limit);
  }
  absl::Status Health() const override {
    const cudaError_t e = cudaPeekAtLastError();
    if (!IsStickyCudaError(e)) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("CUDA context lost: ", cudaGetErrorName(e), ": ",
                     cudaGetErrorString(e)));
  }
  int InputSize() const override { return n_in_; }
  const std::vector<int>& MovableColumns() const override { return movable_; }

  absl::Status LoadRows(int first_row, const NioRows& rows) override {
    if (first_row < 0 || rows.count < 0 || first_row + rows.count > max_rows_) {
      return absl::OutOfRangeError(absl::StrCat(
          "LoadRows: rows [", first_row, ", ", first_row + rows.count,
          ") outside the ", max_rows_, " slots"));
    }
    const int n = rows.count;
    if (n == 0) return absl::OkStatus();
    const size_t k = k_cols_;
    std::vector<int> k_per_row(n);
    for (int r = 0; r < n; ++r) {
      int count = 0;
      for (size_t c = 0; c < k; ++c) count += rows.mask[r * k + c] ? 1 : 0;
      k_per_row[r] = count;
    }
    const size_t off_k = static_cast<size_t>(first_row) * k;
    NIO_RETURN_IF_ERROR(
        Copy(x_stage_.get(), rows.x0, static_cast<size_t>(n) * n_in_));
    NIO_RETURN_IF_ERROR(Copy(mask_.get() + off_k, rows.mask, n * k));
    NIO_RETURN_IF_ERROR(Copy(lo_.get() + off_k, rows.lo, n * k));
    NIO_RETURN_IF_ERROR(Copy(hi_.get() + off_k, rows.hi, n * k));
    NIO_RETURN_IF_ERROR(Copy(lr_.get() + first_row, rows.lr, n));
    NIO_RETURN_IF_ERROR(Copy(lambda_.get() + first_row, rows.lambda, n));
    NIO_RETURN_IF_ERROR(Copy(k_.get() + first_row, k_per_row.data(), n));
    // The watch's stop rules (defaults where the caller gave none).
    watch_target_host_.assign(n, INFINITY);
    watch_tolerance_host_.assign(n, 0.0f);
    watch_window_host_.assign(n, 0);
    if (rows.target) std::copy_n(rows.target, n, watch_target_host_.begin());
    if (rows.tolerance)
      std::copy_n(rows.tolerance, n, watch_tolerance_host_.begin());
    if (rows.window) std::copy_n(rows.window, n, watch_window_host_.begin());
    NIO_RETURN_IF_ERROR(
        Copy(target_.get() + first_row, watch_target_host_.data(), n));
    NIO_RETURN_IF_ERROR(
        Copy(tolerance_.get() + first_row, watch_tolerance_host_.data(), n));
    NIO_RETURN_IF_ERROR(
        Copy(window_.get() + first_row, watch_window_host_.data(), n));
    optimizer_host_.assign(n, kOptimizerAdam);
    if (rows.optimizer) std::copy_n(rows.optimizer, n, optimizer_host_.begin());
    NIO_RETURN_IF_ERROR(
        Copy(optimizer_.get() + first_row, optimizer_host_.data(), n));
    // Zeros: every L-BFGS row at phase kLbfgsStart (lbfgs.h).
    NIO_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(
        lbfgs_.get() + static_cast<size_t>(first_row) * LbfgsWidth(), 0,
        static_cast<size_t>(n) * LbfgsWidth() * sizeof(float), stream_));
    // p0 = x0[movable], p = start (default p0); then x0[movable] := 0 for the
    // fixed part.
    NIO_RETURN_IF_ERROR(
        Launch(GatherColumnsBody{p0_.get() + off_k, x_stage_.get(),
                                 columns_.get(), n, k_cols_, n_in_},
               stream_));
    if (rows.start) {
      NIO_RETURN_IF_ERROR(Copy(p_.get() + off_k, rows.start, n * k));
    } else {
      NIO_RETURN_IF_ERROR(
          Launch(GatherColumnsBody{p_.get() + off_k, x_stage_.get(),
                                   columns_.get(), n, k_cols_, n_in_},
                 stream_));
    }
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(
        best_p_.get() + off_k, p_.get() + off_k, n * k * sizeof(float),
        cudaMemcpyDeviceToDevice, stream_));
    NIO_RETURN_IF_ERROR(Launch(
        FillBody{best_objective_.get() + first_row, INFINITY, n}, stream_));
    NIO_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(best_prediction_.get() + first_row,
                                             0, n * sizeof(float), stream_));
    // As the CPU backend: no stale prediction from the slot's last track.
    NIO_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(prediction_.get() + first_row, 0,
                                             n * sizeof(float), stream_));
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemsetAsync(stall_.get() + first_row, 0, n * sizeof(int), stream_));
    NIO_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(flags_.get() + first_row, 0,
                                             n * sizeof(uint8_t), stream_));
    NIO_RETURN_IF_ERROR(
        Launch(ScatterColumnsBody{x_stage_.get(), zero_k_.get(), columns_.get(),
                                  n, k_cols_, n_in_},
               stream_));
    float* fixed = fixed_.get() + static_cast<size_t>(first_row) * h1_;
    NIO_RETURN_IF_ERROR(GemmCublas(cublas_, LayerForward(n, n_in_, h1_),
                                   w_[0].get(), x_stage_.get(), fixed));
    NIO_RETURN_IF_ERROR(Launch(
        BiasActivationBody{fixed, b_[0].get(), n, h1_, 0, false}, stream_));
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemsetAsync(m_.get() + off_k, 0, n * k * sizeof(float), stream_));
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemsetAsync(v_.get() + off_k, 0, n * k * sizeof(float), stream_));
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemsetAsync(step_.get() + first_row, 0, n * sizeof(int), stream_));
    NIO_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }

  absl::Status MoveRows(const std::vector<RowMove>& moves) override {
    NIO_RETURN_IF_ERROR(CheckRowMoves(moves, max_rows_));
    if (moves.empty()) return absl::OkStatus();
    const int n = static_cast<int>(moves.size());
    move_index_host_.resize(2 * moves.size());
    for (int i = 0; i < n; ++i) {
      move_index_host_[i] = moves[i].from;
      move_index_host_[n + i] = moves[i].to;
    }
    NIO_RETURN_IF_ERROR(
        Copy(index_.get(), move_index_host_.data(), move_index_host_.size()));
    const int* from = index_.get();
    const int* to = index_.get() + n;
    // One launch per state array, whatever the number of moves.
    NIO_RETURN_IF_ERROR(
        Launch(MoveRowsBody<float>{fixed_.get(), from, to, n, h1_}, stream_));
    for (DeviceBuffer<float>* buf :
         {&p_, &p0_, &m_, &v_, &lo_, &hi_, &df_dp_, &best_p_}) {
      NIO_RETURN_IF_ERROR(Launch(
          MoveRowsBody<float>{buf->get(), from, to, n, k_cols_}, stream_));
    }
    NIO_RETURN_IF_ERROR(Launch(
        MoveRowsBody<uint8_t>{mask_.get(), from, to, n, k_cols_}, stream_));
    NIO_RETURN_IF_ERROR(
        Launch(MoveRowsBody<uint8_t>{flags_.get(), from, to, n, 1}, stream_));
    NIO_RETURN_IF_ERROR(Launch(
        MoveRowsBody<uint8_t>{optimizer_.get(), from, to, n, 1}, stream_));
    NIO_RETURN_IF_ERROR(Launch(
        MoveRowsBody<float>{lbfgs_.get(), from, to, n, LbfgsWidth()}, stream_));
    for (DeviceBuffer<float>* buf :
         {&lr_, &lambda_, &prediction_, &best_objective_, &best_prediction_,
          &target_, &tolerance_}) {
      NIO_RETURN_IF_ERROR(
          Launch(MoveRowsBody<float>{buf->get(), from, to, n, 1}, stream_));
    }
    for (DeviceBuffer<int>* buf : {&k_, &step_, &stall_, &window_}) {
      NIO_RETURN_IF_ERROR(
          Launch(MoveRowsBody<int>{buf->get(), from, to, n, 1}, stream_));
    }
    // move_index_host_ may be rewritten by the next call: the copy above was
    // staged at once (pageable memory), and the kernels only read index_.
    return absl::OkStatus();
  }

  absl::Status Step(int first_row, int rows) override {
    if (first_row < 0 || rows < 0 || first_row + rows > max_rows_) {
      return absl::OutOfRangeError(
          absl::StrCat("Step: rows [", first_row, ", ", first_row + rows,
                       ") outside the ", max_rows_, " slots"));
    }
    if (rows == 0) return absl::OkStatus();
    // Bounded run-ahead: wait for the step kStepsInFlight before this one.
    cudaEvent_t& done = step_done_[steps_enqueued_ % kStepsInFlight];
    if (steps_enqueued_ >= kStepsInFlight)
      NIO_RETURN_IF_CUDA_ERROR(cudaEventSynchronize(done));
    StepGraph& g = GraphFor(first_row, rows);
    if (g.uses < kStableStepsBeforeGraph) {
      ++g.uses;
      NIO_RETURN_IF_ERROR(EnqueueStep(first_row, rows));
    } else {
      if (!g.exec) NIO_RETURN_IF_ERROR(CaptureStep(g));
      NIO_RETURN_IF_CUDA_ERROR(cudaGraphLaunch(g.exec, stream_));
    }
    NIO_RETURN_IF_CUDA_ERROR(cudaEventRecord(done, stream_));
    ++steps_enqueued_;
    return absl::OkStatus();
  }

  absl::Status GatherRows(const std::vector<int>& rows,
                          const RowReadout& out) override {
    for (int row : rows) {
      if (row < 0 || row >= max_rows_) {
        return absl::OutOfRangeError(absl::StrCat(
            "GatherRows: row ", row, " outside the ", max_rows_, " slots"));
      }
    }
    if (rows.empty()) return absl::OkStatus();
    // The staging buffers hold max_rows rows.
    if (rows.size() > static_cast<size_t>(max_rows_)) {
      return absl::OutOfRangeError(absl::StrCat("GatherRows: ", rows.size(),
                                                " rows, more than the ",
                                                max_rows_, " slots"));
    }
    const int n = static_cast<int>(rows.size());
    NIO_RETURN_IF_ERROR(Copy(index_.get(), rows.data(), rows.size()));
    // One gather into staging and one copy to the host per requested output.
    auto gather = [&](auto* host, auto& staging, const auto& state,
                      int width) -> absl::Status {
      using T = std::remove_pointer_t<decltype(host)>;
      if (host == nullptr) return absl::OkStatus();
      NIO_RETURN_IF_ERROR(Launch(
          GatherRowsBody<T>{staging.get(), state.get(), index_.get(), n, width},
          stream_));
      NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(
          host, staging.get(), static_cast<size_t>(n) * width * sizeof(T),
          cudaMemcpyDeviceToHost, stream_));
      return absl::OkStatus();
    };
    NIO_RETURN_IF_ERROR(gather(out.p, gather_p_, p_, k_cols_));
    NIO_RETURN_IF_ERROR(
        gather(out.prediction, gather_prediction_, prediction_, 1));
    NIO_RETURN_IF_ERROR(gather(out.df_dp, gather_df_dp_, df_dp_, k_cols_));
    NIO_RETURN_IF_ERROR(gather(out.best_p, gather_best_p_, best_p_, k_cols_));
    NIO_RETURN_IF_ERROR(
        gather(out.best_objective, gather_best_objective_, best_objective_, 1));
    NIO_RETURN_IF_ERROR(gather(out.best_prediction, gather_best_prediction_,
                               best_prediction_, 1));
    NIO_RETURN_IF_ERROR(gather(out.flags, gather_flags_, flags_, 1));
    NIO_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }

  absl::Status Predict(const float* x, int rows, float* out) override {
    for (int first = 0; first < rows; first += max_rows_) {
      const int n = std::min(max_rows_, rows - first);
      NIO_RETURN_IF_ERROR(Copy(x_stage_.get(),
                               x + static_cast<size_t>(first) * n_in_,
                               static_cast<size_t>(n) * n_in_));
      const DenseLayer& l0 = mlp_.layers.front();
      NIO_RETURN_IF_ERROR(GemmCublas(cublas_, LayerForward(n, l0.in, l0.out),
                                     w_[0].get(), x_stage_.get(),
                                     act_[0].get()));
      NIO_RETURN_IF_ERROR(
          Launch(BiasActivationBody{act_[0].get(), b_[0].get(), n, l0.out, 0,
                                    mlp_.layers.size() > 1},
                 stream_));
      NIO_RETURN_IF_ERROR(EnqueueForwardFrom(1, n));
      NIO_RETURN_IF_CUDA_ERROR(
          cudaMemcpyAsync(out + first, act_.back().get(), n * sizeof(float),
                          cudaMemcpyDeviceToHost, stream_));
      NIO_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
    }
    return absl::OkStatus();
  }

 private:
  size_t Rows() const { return static_cast<size_t>(max_rows_); }
  int LbfgsWidth() const { return LbfgsStateWidth(k_cols_); }

  template <class T>
  absl::Status Copy(T* device, const T* host, size_t n) {
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(device, host, n * sizeof(T),
                                             cudaMemcpyHostToDevice, stream_));
    return absl::OkStatus();
  }

  // Layers [first_layer, L) on act_[first_layer - 1] for `rows` rows.
  absl::Status EnqueueForwardFrom(size_t first_layer, int rows) {
    for (size_t l = first_layer; l < mlp_.layers.size(); ++l) {
      const DenseLayer& layer = mlp_.layers[l];
      NIO_RETURN_IF_ERROR(
          GemmCublas(cublas_, LayerForward(rows, layer.in, layer.out),
                     w_[l].get(), act_[l - 1].get(), act_[l].get()));
      NIO_RETURN_IF_ERROR(
          Launch(BiasActivationBody{act_[l].get(), b_[l].get(), rows, layer.out,
                                    0, l + 1 < mlp_.layers.size()},
                 stream_));
    }
    return absl::OkStatus();
  }

  // Forward from p and fixed_, prediction recorded, backward to df_dp_, for
  // slots [first, first + rows) (activations in scratch rows [0, rows)).
  absl::Status EnqueueForwardBackward(int first, int rows) {
    const size_t num_layers = mlp_.layers.size();
    const size_t k = k_cols_;
    NIO_RETURN_IF_ERROR(GemmCublas(cublas_, LayerForward(rows, k_cols_, h1_),
                                   w1_movable_.get(), p_.get() + first * k,
                                   act_[0].get()));
    NIO_RETURN_IF_ERROR(Launch(
        BiasActivationBody{act_[0].get(),
                           fixed_.get() + static_cast<size_t>(first) * h1_,
                           rows, h1_, h1_, num_layers > 1},
        stream_));
    NIO_RETURN_IF_ERROR(EnqueueForwardFrom(1, rows));
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(
        prediction_.get() + first, act_.back().get(), rows * sizeof(float),
        cudaMemcpyDeviceToDevice, stream_));
    float* grad = grad_a_.get();
    float* next = grad_b_.get();
    for (size_t l = num_layers; l-- > 1;) {
      const DenseLayer& layer = mlp_.layers[l];
      const float* upstream = (l == num_layers - 1) ? ones_.get() : grad;
      NIO_RETURN_IF_ERROR(GemmCublas(cublas_,
                                     LayerInputGrad(rows, layer.in, layer.out),
                                     w_[l].get(), upstream, next));
      NIO_RETURN_IF_ERROR(
          Launch(ReluBackwardBody{next, act_[l - 1].get(),
                                  static_cast<int64_t>(rows) * layer.in},
                 stream_));
      std::swap(grad, next);
    }
    NIO_RETURN_IF_ERROR(GemmCublas(
        cublas_, LayerInputGrad(rows, k_cols_, h1_), w1_movable_.get(),
        num_layers == 1 ? ones_.get() : grad, df_dp_.get() + first * k));
    return absl::OkStatus();
  }

  absl::Status EnqueueStep(int first, int rows) {
    NIO_RETURN_IF_ERROR(EnqueueForwardBackward(first, rows));
    const size_t k = k_cols_;
    NIO_RETURN_IF_ERROR(Launch(
        RowWatchBody{p_.get() + first * k, p0_.get() + first * k,
                     mask_.get() + first * k, lambda_.get() + first,
                     k_.get() + first, prediction_.get() + first,
                     target_.get() + first, tolerance_.get() + first,
                     window_.get() + first, best_p_.get() + first * k,
                     best_objective_.get() + first,
                     best_prediction_.get() + first, stall_.get() + first,
                     flags_.get() + first, rows, k_cols_},
        stream_));
    NIO_RETURN_IF_ERROR(Launch(
        RowOptimizerBody{
            p_.get() + first * k,
            p0_.get() + first * k,
            df_dp_.get() + first * k,
            m_.get() + first * k,
            v_.get() + first * k,
            mask_.get() + first * k,
            lo_.get() + first * k,
            hi_.get() + first * k,
            lr_.get() + first,
            lambda_.get() + first,
            k_.get() + first,
            step_.get() + first,
            prediction_.get() + first,
            tolerance_.get() + first,
            window_.get() + first,
            optimizer_.get() + first,
            lbfgs_.get() + first * static_cast<size_t>(LbfgsWidth()),
            flags_.get() + first,
            rows,
            k_cols_},
        stream_));
    return absl::OkStatus();
  }

  // A step's row range, how often it ran, and its graph once captured.
  struct StepGraph {
    int first = -1;
    int rows = 0;
    int uses = 0;
    uint64_t last_used = 0;
    cudaGraphExec_t exec = nullptr;
  };

  // The entry of a row range, replacing the least recently used one.
  StepGraph& GraphFor(int first, int rows) {
    ++graph_clock_;
    StepGraph* oldest = nullptr;
    for (StepGraph& g : graphs_) {
      if (g.first == first && g.rows == rows) {
        g.last_used = graph_clock_;
        return g;
      }
      if (!oldest || g.last_used < oldest->last_used) oldest = &g;
    }
    if (graphs_.size() < kStepGraphs) {
      graphs_.emplace_back();
      oldest = &graphs_.back();
    } else if (oldest->exec) {
      cudaGraphExecDestroy(oldest->exec);
    }
    *oldest = StepGraph{first, rows, 0, graph_clock_, nullptr};
    return *oldest;
  }

  absl::Status CaptureStep(StepGraph& g) {
    NIO_RETURN_IF_CUDA_ERROR(
        cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    const absl::Status enqueued = EnqueueStep(g.first, g.rows);
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (!enqueued.ok() || ended != cudaSuccess) {
      if (graph) cudaGraphDestroy(graph);
      NIO_RETURN_IF_ERROR(enqueued);
      NIO_RETURN_IF_CUDA_ERROR(ended);
    }
    const cudaError_t made = cudaGraphInstantiate(&g.exec, graph, 0);
    cudaGraphDestroy(graph);
    if (made != cudaSuccess) g.exec = nullptr;
    NIO_RETURN_IF_CUDA_ERROR(made);
    return absl::OkStatus();
  }

  const MlpWeights mlp_;
  const std::vector<int> movable_;
  const int max_rows_;
  const int k_cols_;
  const bool allow_tf32_;
  int h1_ = 0;
  int n_in_ = 0;
  std::string device_name_;
  int sm_count_ = 0;

  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceBuffer<char> workspace_;
  std::vector<StepGraph> graphs_;  // at most kStepGraphs
  cudaEvent_t step_done_[kStepsInFlight] = {};
  uint64_t steps_enqueued_ = 0;
  uint64_t graph_clock_ = 0;

  std::vector<DeviceBuffer<float>> w_, b_, act_;
  DeviceBuffer<float> w1_movable_, fixed_, grad_a_, grad_b_, ones_, zero_k_,
      x_stage_;
  DeviceBuffer<float> p_, p0_, m_, v_, lo_, hi_, df_dp_, lr_, lambda_,
      prediction_;
  DeviceBuffer<uint8_t> mask_;
  DeviceBuffer<int> k_, step_, columns_;
  DeviceBuffer<uint8_t> optimizer_;
  DeviceBuffer<float> lbfgs_;
  // MoveRows / GatherRows: slot indices (at most 2 per slot) and the
  // gathered rows before they cross to the host.
  DeviceBuffer<int> index_;
  DeviceBuffer<float> gather_p_, gather_df_dp_, gather_prediction_;
  // The row watch (row_watch.h) and its gather staging.
  DeviceBuffer<float> best_p_, best_objective_, best_prediction_, target_,
      tolerance_, gather_best_p_, gather_best_objective_,
      gather_best_prediction_;
  DeviceBuffer<int> stall_, window_;
  DeviceBuffer<uint8_t> flags_, gather_flags_;
  std::vector<int> move_index_host_;
  std::vector<float> watch_target_host_, watch_tolerance_host_;
  std::vector<int> watch_window_host_;
  std::vector<uint8_t> optimizer_host_;
};

}  // namespace

int CudaUsableDeviceCount(std::string* reason) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (reason)
      *reason = absl::StrCat("no CUDA device (", cudaGetErrorString(e), ")");
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  if (count == 0 && reason) *reason = "no CUDA device";
  return count;
}

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(
    const MlpWeights& mlp, std::vector<int> movable_columns,
    const BackendOptions& options) {
  NIO_RETURN_IF_ERROR(ValidateMlp(mlp));
  if (options.max_rows <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_rows must be positive, got ", options.max_rows));
  }
  for (int c : movable_columns) {
    if (c < 0 || c >= mlp.InputSize()) {
      return absl::InvalidArgumentError(
          absl::StrCat("movable column ", c, " outside the inputs"));
    }
  }
  std::string reason;
  if (CudaUsableDeviceCount(&reason) == 0)
    return absl::FailedPreconditionError(reason);
  auto backend =
      std::make_unique<CudaBackend>(mlp, std::move(movable_columns), options);
  NIO_RETURN_IF_ERROR(backend->Init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace nio::kernels
