// The CUDA backend. Same state and the same math as the CPU backend
// (cpu/cpu_backend.cc), on device:
//   w_[l] (H_l+1, H_l), b_[l]        the layers, row-major as torch
//   w1_movable_ (H1, K)              W1[:, movable]
//   fixed_ (max_rows, H1)            x0[movable := 0] W1^T + b1
//   act_[l] (max_rows, H_l)          hidden layers' ReLU activations
//   relu_mask_[l]                    their ReLU bit masks (gemm_epilogue.h)
//   grad_a_/grad_b_ (max_rows, maxH) input gradients, ping-pong
//   p_, p0_, m_, v_, lo_, hi_, df_dp_ (max_rows, K); mask_ (max_rows, K) bytes
//   lr_, lambda_ (max_rows) floats; k_, step_ (max_rows) ints
//   optimizer_ (max_rows) bytes; lbfgs_ (max_rows, LbfgsStateWidth(K))
//   the row watch (row_watch.h): best_p_ (max_rows, K); best_objective_,
//   best_prediction_, target_, tolerance_ (max_rows) floats; stall_,
//   window_ (max_rows) ints; flags_ (max_rows) bytes
//   index_ (2 max_rows) ints          MoveRows / GatherRows slot lists
//   load_stage_, gather_stage_       LoadRows inputs and GatherRows outputs
//                                    as one block of sections each, crossing
//                                    in one copy from or to pinned memory
// The forward and backward passes are mlp_pass.h's sequence, which the tests
// run on the host: GEMMs with fused bias/ReLU epilogues through cuBLASLt
// (gemm_lt.h) where it has kernels for them, else cuBLAS plus the bias/ReLU
// bodies; the top layer is one TopLayerBody pass. Elementwise work is the
// kernel bodies of elementwise.h via RunBody. Admit, compaction and readout
// are one copy and one CopyRowsBody launch each.
//
// One stream; a step's row count is rounded up to a bucket (step_bucket.h),
// and each bucket's step is captured as a CUDA graph once it has run twice
// and replayed from then on (GraphCaptures counts them); at most
// kStepsInFlight steps are queued.
//
// The interactive lane on the GPU: the scheduler picks which block steps
// next (lane_arbiter.h) and this backend runs the blocks' steps in that
// order on its one stream. Because Step waits for the step kStepsInFlight
// before it, an interactive admit, step, deadline or cancel is queued behind
// at most kStepsInFlight batch steps, not behind a backlog of hundreds (the
// goal for 131k rows at TF32 on an H100 is ~3 ms a step, 300 steps in under
// a second; not yet measured on a GPU). A second, high-priority
// stream would let the small block's kernels overtake a batch step's
// between kernel boundaries, but needs its own scratch and events to order
// it against the admits and compactions of the batch block on the first;
// the bound above keeps it within a few steps without that.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/cuda/gemm_cublas.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/elementwise.h"
#include "kernels/gemm_args.h"
#include "kernels/mlp_pass.h"
#include "kernels/row_optimizer.h"
#include "kernels/row_watch.h"
#include "kernels/slot_state.h"
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
// LoadRows stages at most this many rows at a time (its pinned block).
constexpr int kLoadChunkRows = 4096;

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
    for (cudaEvent_t e : {load_staged_, index_staged_}) {
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
    // cuBLAS and cuBLASLt calls are ordered on the one stream, so they can
    // share the workspace.
    NIO_RETURN_IF_ERROR(lt_.Init(stream_, workspace_.get(),
                                 kCublasWorkspaceBytes, allow_tf32_));

    const DenseLayer& first = mlp_.layers.front();
    h1_ = first.out;
    n_in_ = first.in;
    int max_width = n_in_;
    const size_t num_layers = mlp_.layers.size();
    w_.resize(num_layers);
    b_.resize(num_layers);
    act_.resize(num_layers - 1);
    relu_mask_.resize(num_layers - 1);
    for (size_t l = 0; l < num_layers; ++l) {
      const DenseLayer& layer = mlp_.layers[l];
      NIO_RETURN_IF_ERROR(
          w_[l].Upload(layer.weight.data(), layer.weight.size()));
      NIO_RETURN_IF_ERROR(b_[l].Upload(layer.bias.data(), layer.bias.size()));
      if (l + 1 < num_layers) {
        NIO_RETURN_IF_ERROR(act_[l].Allocate(Rows() * layer.out));
        NIO_RETURN_IF_ERROR(relu_mask_[l].Allocate(
            static_cast<size_t>(ReluMaskWords(layer.out, max_rows_))));
      }
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
    for (DeviceBuffer<float>* buf :
         {&p_, &p0_, &m_, &v_, &lo_, &hi_, &df_dp_, &zero_k_}) {
      NIO_RETURN_IF_ERROR(buf->Allocate(Rows() * k_cols_));
    }
    NIO_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(
        zero_k_.get(), 0, zero_k_.size() * sizeof(float), stream_));
    NIO_RETURN_IF_ERROR(best_p_.Allocate(Rows() * k_cols_));
    for (DeviceBuffer<float>* buf :
         {&best_objective_, &best_prediction_, &target_, &tolerance_}) {
      NIO_RETURN_IF_ERROR(buf->Allocate(Rows()));
    }
    NIO_RETURN_IF_ERROR(stall_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(window_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(flags_.Allocate(Rows()));
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
    NIO_RETURN_IF_ERROR(index_pinned_.Allocate(2 * Rows()));
    load_chunk_rows_ = std::min(max_rows_, kLoadChunkRows);
    const size_t load_bytes = LoadSections(load_chunk_rows_, true).bytes;
    NIO_RETURN_IF_ERROR(load_stage_.Allocate(load_bytes));
    NIO_RETURN_IF_ERROR(load_pinned_.Allocate(load_bytes));
    const size_t gather_bytes = GatherSections(max_rows_, kAllReadouts).bytes;
    NIO_RETURN_IF_ERROR(gather_stage_.Allocate(gather_bytes));
    NIO_RETURN_IF_ERROR(gather_pinned_.Allocate(gather_bytes));
    for (cudaEvent_t* e : {&load_staged_, &index_staged_}) {
      NIO_RETURN_IF_CUDA_ERROR(
          cudaEventCreateWithFlags(e, cudaEventDisableTiming));
    }
    NIO_RETURN_IF_ERROR(predict_out_.Allocate(Rows()));
    NIO_RETURN_IF_ERROR(InitMlpPass());
    NIO_RETURN_IF_ERROR(InitSlotTable());
    // The uploads above ran on the legacy default stream, which a
    // non-blocking stream_ does not wait for: finish them before any work.
    NIO_RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat("cuda (", device_name_, ", ", sm_count_, " SMs, ",
                        allow_tf32_ ? "TF32" : "fp32", " GEMMs, ",
                        pass_.fused ? "fused epilogues"
                                    : "unfused epilogues: " + unfused_reason_,
                        ", ", max_rows_, " slots)");
  }
  int MaxRows() const override { return max_rows_; }
  // Graphs per bucket, not per row count (step_bucket.h).
  int StepRowsFor(int rows, int limit) const override {
    return StepBucket(rows, limit);
  }
  int64_t GraphCaptures() const override { return graph_captures_; }
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
    for (int done = 0; done < rows.count; done += load_chunk_rows_) {
      const int n = std::min(load_chunk_rows_, rows.count - done);
      NIO_RETURN_IF_ERROR(LoadChunk(first_row + done, RowsFrom(rows, done, n)));
    }
    return absl::OkStatus();
  }

  absl::Status MoveRows(const std::vector<RowMove>& moves) override {
    NIO_RETURN_IF_ERROR(CheckRowMoves(moves, max_rows_));
    if (moves.empty()) return absl::OkStatus();
    const int n = static_cast<int>(moves.size());
    NIO_RETURN_IF_ERROR(StageIndex(n, 2, [&](int* from, int* to) {
      for (int i = 0; i < n; ++i) {
        from[i] = moves[i].from;
        to[i] = moves[i].to;
      }
    }));
    // Every state array of a slot in one launch, whatever the moves.
    return Launch(MoveSlotRowsBody(slot_bases_, slot_shapes_, index_.get(),
                                   index_.get() + n, n),
                  stream_);
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
    if (g.uses < kStableStepsBeforeGraph || g.eager) {
      ++g.uses;
      NIO_RETURN_IF_ERROR(EnqueueStep(first_row, rows));
    } else {
      if (!g.exec) {
        if (const absl::Status s = CaptureStep(g); !s.ok()) {
          // Not worth failing tracks for: this range steps without a
          // graph from now on (slower, same results).
          std::fprintf(stderr,
                       "nio cuda backend: capturing the step of rows [%d, "
                       "%d) failed, running it without a graph: %s\n",
                       first_row, first_row + rows,
                       std::string(s.message()).c_str());
          g.eager = true;
        }
      }
      if (g.exec) {
        NIO_RETURN_IF_CUDA_ERROR(cudaGraphLaunch(g.exec, stream_));
      } else {
        NIO_RETURN_IF_ERROR(EnqueueStep(first_row, rows));
      }
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
    NIO_RETURN_IF_ERROR(StageIndex(n, 1, [&](int* from, int*) {
      std::copy(rows.begin(), rows.end(), from);
    }));
    // One gather of every requested output into its section of the
    // staging, one copy to pinned memory, then out of it on the host.
    const Readouts wanted = WantedReadouts(out);
    const Sections sections = GatherSections(n, wanted);
    CopyRowsBody body{};
    struct Out {
      void* host;
      size_t offset;
      size_t bytes;
    };
    std::vector<Out> outs;
    int section = 0;
    auto add = [&](auto* host, auto& state, int units) {
      using T = std::remove_pointer_t<decltype(host)>;
      if (host == nullptr) return;
      const size_t offset = sections.offset[section++];
      AddCopyArray(body, {reinterpret_cast<const unsigned char*>(state.get()),
                          gather_stage_.get() + offset,
                          static_cast<int>(sizeof(T)), units});
      outs.push_back(
          {host, offset, static_cast<size_t>(n) * units * sizeof(T)});
    };
    add(out.p, p_, k_cols_);
    add(out.prediction, prediction_, 1);
    add(out.df_dp, df_dp_, k_cols_);
    add(out.best_p, best_p_, k_cols_);
    add(out.best_objective, best_objective_, 1);
    add(out.best_prediction, best_prediction_, 1);
    add(out.flags, flags_, 1);
    if (outs.empty()) return absl::OkStatus();
    body.from = index_.get();
    body.count = n;
    NIO_RETURN_IF_ERROR(Launch(body, stream_));
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemcpyAsync(gather_pinned_.get(), gather_stage_.get(),
                        sections.bytes, cudaMemcpyDeviceToHost, stream_));
    NIO_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
    for (const Out& o : outs) {
      std::memcpy(o.host, gather_pinned_.get() + o.offset, o.bytes);
    }
    return absl::OkStatus();
  }

  absl::Status Predict(const float* x, int rows, float* out) override {
    for (int first = 0; first < rows; first += max_rows_) {
      const int n = std::min(max_rows_, rows - first);
      NIO_RETURN_IF_ERROR(Copy(x_stage_.get(),
                               x + static_cast<size_t>(first) * n_in_,
                               static_cast<size_t>(n) * n_in_));
      Exec exec{this};
      NIO_RETURN_IF_ERROR(
          RunMlpForward(exec, pass_, x_stage_.get(), n, predict_out_.get()));
      NIO_RETURN_IF_CUDA_ERROR(
          cudaMemcpyAsync(out + first, predict_out_.get(), n * sizeof(float),
                          cudaMemcpyDeviceToHost, stream_));
      NIO_RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
    }
    return absl::OkStatus();
  }

 private:
  size_t Rows() const { return static_cast<size_t>(max_rows_); }
  int LbfgsWidth() const { return LbfgsStateWidth(k_cols_); }

  // The slot state by SlotArray (slot_state.h), checked against its shapes:
  // a buffer of the wrong size or type fails the start-up, not a move.
  absl::Status InitSlotTable() {
    slot_shapes_ = SlotArrayShapes(h1_, k_cols_);
    SlotBytes bytes{};
    auto put = [&](SlotArray a, auto& buf) {
      slot_bases_[a] = reinterpret_cast<unsigned char*>(buf.get());
      bytes[a] = buf.size() * sizeof(*buf.get());
    };
#define NIO_PUT_SLOT_ARRAY(array, member) put(array, member);
    NIO_SLOT_ARRAYS(NIO_PUT_SLOT_ARRAY)
#undef NIO_PUT_SLOT_ARRAY
    return CheckSlotArrays(slot_bases_, bytes, slot_shapes_, max_rows_);
  }

  // Byte offsets of the sections of a staging block, each 256-byte aligned.
  struct Sections {
    std::vector<size_t> offset;
    size_t bytes = 0;
    size_t Add(size_t section_bytes) {
      offset.push_back(bytes);
      bytes += (section_bytes + 255) / 256 * 256;
      return offset.back();
    }
  };

  // LoadRows' inputs for n rows, in this order: x0, mask, lo, hi, lr,
  // lambda, k, target, tolerance, window, optimizer, start (with_start).
  Sections LoadSections(int n, bool with_start) const {
    Sections s;
    const size_t rows = n, k = k_cols_;
    s.Add(rows * n_in_ * sizeof(float));
    s.Add(rows * k);
    s.Add(rows * k * sizeof(float));
    s.Add(rows * k * sizeof(float));
    for (int i = 0; i < 6; ++i) s.Add(rows * 4);  // lr .. window
    s.Add(rows);
    if (with_start) s.Add(rows * k * sizeof(float));
    return s;
  }

  // GatherRows' outputs for n rows, those of `wanted` in RowReadout order.
  using Readouts = std::array<bool, 7>;
  static constexpr Readouts kAllReadouts = {true, true, true, true,
                                            true, true, true};
  static Readouts WantedReadouts(const RowReadout& out) {
    return {out.p != nullptr,
            out.prediction != nullptr,
            out.df_dp != nullptr,
            out.best_p != nullptr,
            out.best_objective != nullptr,
            out.best_prediction != nullptr,
            out.flags != nullptr};
  }
  Sections GatherSections(int n, const Readouts& wanted) const {
    const size_t rows = n, k = k_cols_;
    const size_t bytes[7] = {rows * k * 4, rows * 4, rows * k * 4, rows * k * 4,
                             rows * 4,     rows * 4, rows};
    Sections s;
    for (int i = 0; i < 7; ++i) {
      if (wanted[i]) s.Add(bytes[i]);
    }
    return s;
  }

  // kMaxCopyArrays is above the 24 state arrays of a slot; adding one
  // more than it holds is a programming error, caught on the first call.
  static void AddCopyArray(CopyRowsBody& body, const RowCopyArray& array) {
    if (body.num_arrays == kMaxCopyArrays) std::abort();
    body.arrays[body.num_arrays++] = array;
    body.record_units += array.units;
  }

  // Rows [first, first + n) of `rows`.
  NioRows RowsFrom(const NioRows& rows, int first, int n) const {
    const size_t k = k_cols_, at = first;
    NioRows r = rows;
    r.count = n;
    r.x0 += at * n_in_;
    r.mask += at * k;
    r.lo += at * k;
    r.hi += at * k;
    r.lr += at;
    r.lambda += at;
    if (r.start) r.start += at * k;
    if (r.target) r.target += at;
    if (r.tolerance) r.tolerance += at;
    if (r.window) r.window += at;
    if (r.optimizer) r.optimizer += at;
    return r;
  }

  // Writes `lists` slot lists of n into pinned memory (fill(from, to), to =
  // from + n, unused with one list) and copies them to index_. The pinned
  // lists are rewritten only once the previous ones' copy has run.
  template <class Fill>
  absl::Status StageIndex(int n, int lists, Fill fill) {
    NIO_RETURN_IF_CUDA_ERROR(cudaEventSynchronize(index_staged_));
    int* host = index_pinned_.get();
    fill(host, host + n);
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(
        index_.get(), host, static_cast<size_t>(lists) * n * sizeof(int),
        cudaMemcpyHostToDevice, stream_));
    NIO_RETURN_IF_CUDA_ERROR(cudaEventRecord(index_staged_, stream_));
    return absl::OkStatus();
  }

  // LoadRows for at most load_chunk_rows_ rows: every input packed into
  // pinned memory, one copy, one launch that writes them into the slots,
  // then the derived state (p0, p, the watch reset, the fixed part). Does
  // not wait for the device: the next chunk waits for this one's copy
  // before it rewrites the pinned block.
  absl::Status LoadChunk(int first_row, const NioRows& rows) {
    const int n = rows.count;
    if (n == 0) return absl::OkStatus();
    const size_t k = k_cols_;
    const Sections sec = LoadSections(n, rows.start != nullptr);
    NIO_RETURN_IF_CUDA_ERROR(cudaEventSynchronize(load_staged_));
    unsigned char* host = load_pinned_.get();
    auto put = [&](int section, const auto* src, size_t count) {
      std::memcpy(host + sec.offset[section], src, count * sizeof(*src));
    };
    put(0, rows.x0, static_cast<size_t>(n) * n_in_);
    put(1, rows.mask, n * k);
    put(2, rows.lo, n * k);
    put(3, rows.hi, n * k);
    put(4, rows.lr, n);
    put(5, rows.lambda, n);
    int* k_per_row = reinterpret_cast<int*>(host + sec.offset[6]);
    float* target = reinterpret_cast<float*>(host + sec.offset[7]);
    float* tolerance = reinterpret_cast<float*>(host + sec.offset[8]);
    int* window = reinterpret_cast<int*>(host + sec.offset[9]);
    uint8_t* optimizer = host + sec.offset[10];
    for (int r = 0; r < n; ++r) {
      int count = 0;
      for (size_t c = 0; c < k; ++c) count += rows.mask[r * k + c] ? 1 : 0;
      k_per_row[r] = count;
      // The watch's stop rules and the optimizer: defaults where the
      // caller gave none.
      target[r] = rows.target ? rows.target[r] : INFINITY;
      tolerance[r] = rows.tolerance ? rows.tolerance[r] : 0.0f;
      window[r] = rows.window ? rows.window[r] : 0;
      optimizer[r] = rows.optimizer ? rows.optimizer[r] : kOptimizerAdam;
    }
    if (rows.start) put(11, rows.start, n * k);
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(load_stage_.get(), host, sec.bytes,
                                             cudaMemcpyHostToDevice, stream_));
    NIO_RETURN_IF_CUDA_ERROR(cudaEventRecord(load_staged_, stream_));

    unsigned char* stage = load_stage_.get();
    CopyRowsBody body{};
    auto add = [&](int section, auto& state, int units) {
      using T = std::remove_pointer_t<decltype(state.get())>;
      AddCopyArray(body, {stage + sec.offset[section],
                          reinterpret_cast<unsigned char*>(state.get()),
                          static_cast<int>(sizeof(T)), units});
    };
    add(1, mask_, k_cols_);
    add(2, lo_, k_cols_);
    add(3, hi_, k_cols_);
    add(4, lr_, 1);
    add(5, lambda_, 1);
    add(6, k_, 1);
    add(7, target_, 1);
    add(8, tolerance_, 1);
    add(9, window_, 1);
    add(10, optimizer_, 1);
    if (rows.start) add(11, p_, k_cols_);
    body.to_first = first_row;
    body.count = n;
    NIO_RETURN_IF_ERROR(Launch(body, stream_));

    // p0 = x0[movable], p = start (default p0); then x0[movable] := 0 for
    // the fixed part.
    float* x0 = reinterpret_cast<float*>(stage + sec.offset[0]);
    const size_t off_k = static_cast<size_t>(first_row) * k;
    NIO_RETURN_IF_ERROR(
        Launch(GatherColumnsBody{p0_.get() + off_k, x0, columns_.get(), n,
                                 k_cols_, n_in_},
               stream_));
    if (!rows.start) {
      NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(
          p_.get() + off_k, p0_.get() + off_k, n * k * sizeof(float),
          cudaMemcpyDeviceToDevice, stream_));
    }
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(
        best_p_.get() + off_k, p_.get() + off_k, n * k * sizeof(float),
        cudaMemcpyDeviceToDevice, stream_));
    NIO_RETURN_IF_ERROR(Launch(
        FillBody{best_objective_.get() + first_row, INFINITY, n}, stream_));
    // Zeros: the watch, the moments and step count, every L-BFGS row at
    // phase kLbfgsStart (lbfgs.h), and (as the CPU backend) no stale
    // prediction from the slot's last track.
    auto zero = [&](auto& buf, size_t width) -> absl::Status {
      using T = std::remove_pointer_t<decltype(buf.get())>;
      NIO_RETURN_IF_CUDA_ERROR(
          cudaMemsetAsync(buf.get() + static_cast<size_t>(first_row) * width, 0,
                          static_cast<size_t>(n) * width * sizeof(T), stream_));
      return absl::OkStatus();
    };
    NIO_RETURN_IF_ERROR(zero(best_prediction_, 1));
    NIO_RETURN_IF_ERROR(zero(prediction_, 1));
    NIO_RETURN_IF_ERROR(zero(stall_, 1));
    NIO_RETURN_IF_ERROR(zero(flags_, 1));
    NIO_RETURN_IF_ERROR(zero(m_, k));
    NIO_RETURN_IF_ERROR(zero(v_, k));
    NIO_RETURN_IF_ERROR(zero(step_, 1));
    NIO_RETURN_IF_ERROR(zero(lbfgs_, LbfgsWidth()));
    NIO_RETURN_IF_ERROR(
        Launch(ScatterColumnsBody{x0, zero_k_.get(), columns_.get(), n, k_cols_,
                                  n_in_},
               stream_));
    float* fixed = fixed_.get() + static_cast<size_t>(first_row) * h1_;
    NIO_RETURN_IF_ERROR(GemmCublas(cublas_, LayerForward(n, n_in_, h1_),
                                   w_[0].get(), x0, fixed));
    return Launch(BiasActivationBody{fixed, b_[0].get(), n, h1_, 0, false},
                  stream_);
  }

  template <class T>
  absl::Status Copy(T* device, const T* host, size_t n) {
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(device, host, n * sizeof(T),
                                             cudaMemcpyHostToDevice, stream_));
    return absl::OkStatus();
  }

  // GEMMs with an epilogue or a separate C go through cuBLASLt, the others
  // through cuBLAS.
  static bool NeedsLt(const GemmArgs& g, const float* c, const float* d) {
    return g.epilogue != GemmEpilogue::kNone || (c != nullptr && c != d);
  }

  // mlp_pass.h's executor on this backend's stream.
  struct Exec {
    CudaBackend* backend;
    absl::Status Gemm(const GemmArgs& g, const float* a, const float* b,
                      const float* c, float* d, const float* bias,
                      uint32_t* mask) {
      if (!NeedsLt(g, c, d)) {
        return GemmCublas(backend->cublas_, g, a, b, d);
      }
      return backend->lt_.Run(g, a, b, c, d, bias, mask);
    }
    template <class Body>
    absl::Status Run(const Body& body) {
      return Launch(body, backend->stream_);
    }
  };

  // The passes' weights and scratch; fused epilogues when cuBLASLt has a
  // kernel for every fused GEMM of a step at a few row counts (pointers
  // only 4-byte aligned: then at any).
  absl::Status InitMlpPass() {
    const size_t num_layers = mlp_.layers.size();
    for (size_t l = 0; l < num_layers; ++l) {
      const DenseLayer& layer = mlp_.layers[l];
      pass_.layers.push_back({w_[l].get(), b_[l].get(), layer.in, layer.out});
      if (l + 1 < num_layers) {
        pass_.act.push_back(act_[l].get());
        pass_.relu_mask.push_back(relu_mask_[l].get());
      }
    }
    pass_.w1_movable = w1_movable_.get();
    pass_.k_cols = k_cols_;
    pass_.grad_a = grad_a_.get();
    pass_.grad_b = grad_b_.get();
    pass_.fused = num_layers > 1;
    if (const char* off = std::getenv("NIO_CUDA_UNFUSED"); off && *off) {
      // For the parity runs of bench/gpu.sh: the fallback on a device
      // whose cuBLASLt has every kernel.
      pass_.fused = false;
      unfused_reason_ = "NIO_CUDA_UNFUSED is set";
    }
    // The step's operands: cudaMalloc'ed buffers at row offsets whose byte
    // widths are multiples of 256, except the movable features p (K floats
    // a row, so any slot's row is only 4-byte aligned).
    const GemmLt::Alignments aligned;
    GemmLt::Alignments p_as_b;
    p_as_b.b = 4;
    for (int rows : {1, 8, 256, max_rows_}) {
      std::vector<std::pair<GemmArgs, GemmLt::Alignments>> fused = {
          {FirstLayerForwardRelu(rows, k_cols_, h1_), p_as_b}};
      for (size_t l = 1; l + 1 < num_layers; ++l) {
        const DenseLayer& layer = mlp_.layers[l];
        fused.push_back({LayerForwardRelu(rows, layer.in, layer.out), aligned});
        fused.push_back(
            {LayerInputGradDRelu(rows, layer.in, layer.out), aligned});
      }
      for (const auto& [g, alignments] : fused) {
        if (!pass_.fused) break;
        const absl::Status s = lt_.Supports(g, alignments);
        if (absl::IsUnimplemented(s)) {
          pass_.fused = false;
          unfused_reason_ = std::string(s.message());
        } else {
          NIO_RETURN_IF_ERROR(s);
        }
      }
    }
    return absl::OkStatus();
  }

  // Forward from p and fixed_, prediction recorded, backward to df_dp_, for
  // slots [first, first + rows) (activations in scratch rows [0, rows)),
  // through `exec` (Exec enqueues it, PlanExec makes its plans).
  template <class E>
  absl::Status ForwardBackward(E& exec, int first, int rows) {
    const size_t k = k_cols_;
    return RunMlpStep(exec, pass_, p_.get() + first * k,
                      fixed_.get() + static_cast<size_t>(first) * h1_, rows,
                      prediction_.get() + first, df_dp_.get() + first * k);
  }

  absl::Status EnqueueStep(int first, int rows) {
    Exec exec{this};
    NIO_RETURN_IF_ERROR(ForwardBackward(exec, first, rows));
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
    // Its capture failed once: the range runs without a graph.
    bool eager = false;
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

  // mlp_pass.h's executor that only makes the cuBLASLt plans a step will
  // use, so that no heuristic query runs while the stream is captured.
  struct PlanExec {
    CudaBackend* backend;
    absl::Status Gemm(const GemmArgs& g, const float* a, const float* b,
                      const float* c, float* d, const float*, uint32_t*) {
      if (!NeedsLt(g, c, d)) return absl::OkStatus();
      return backend->lt_.Prepare(g, a, b, c, d);
    }
    template <class Body>
    absl::Status Run(const Body&) {
      return absl::OkStatus();
    }
  };

  absl::Status CaptureStep(StepGraph& g) {
    PlanExec plans{this};
    NIO_RETURN_IF_ERROR(ForwardBackward(plans, g.first, g.rows));
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
    ++graph_captures_;
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
  GemmLt lt_;
  MlpPass pass_;
  SlotShapes slot_shapes_{};
  SlotBases slot_bases_{};
  std::string unfused_reason_ = "one layer";
  DeviceBuffer<char> workspace_;
  std::vector<StepGraph> graphs_;  // at most kStepGraphs
  cudaEvent_t step_done_[kStepsInFlight] = {};
  uint64_t steps_enqueued_ = 0;
  uint64_t graph_clock_ = 0;
  int64_t graph_captures_ = 0;

  std::vector<DeviceBuffer<float>> w_, b_, act_;
  std::vector<DeviceBuffer<uint32_t>> relu_mask_;
  DeviceBuffer<float> w1_movable_, fixed_, grad_a_, grad_b_, zero_k_, x_stage_,
      predict_out_;
  DeviceBuffer<float> p_, p0_, m_, v_, lo_, hi_, df_dp_, lr_, lambda_,
      prediction_;
  DeviceBuffer<uint8_t> mask_;
  DeviceBuffer<int> k_, step_, columns_;
  DeviceBuffer<uint8_t> optimizer_;
  DeviceBuffer<float> lbfgs_;
  // MoveRows / GatherRows: slot lists (at most 2 per slot), staged in
  // pinned memory; index_staged_ is recorded when the last list's copy ran.
  DeviceBuffer<int> index_;
  PinnedBuffer<int> index_pinned_;
  cudaEvent_t index_staged_ = nullptr;
  // LoadRows' inputs and GatherRows' outputs, one block of sections each
  // (LoadSections, GatherSections), on the device and in pinned memory.
  int load_chunk_rows_ = 0;
  DeviceBuffer<unsigned char> load_stage_, gather_stage_;
  PinnedBuffer<unsigned char> load_pinned_, gather_pinned_;
  cudaEvent_t load_staged_ = nullptr;
  // The row watch (row_watch.h).
  DeviceBuffer<float> best_p_, best_objective_, best_prediction_, target_,
      tolerance_;
  DeviceBuffer<int> stall_, window_;
  DeviceBuffer<uint8_t> flags_;
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
