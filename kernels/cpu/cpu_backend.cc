// The CPU backend: the reference implementation of Backend.
//
// Shapes (rows = slots in a chunk, n_in inputs, K movable columns, H_l the
// width of layer l, L layers, H_L = 1):
//   W1[:, movable]  (H1, K)              packed twice: forward and input grad
//   fixed_          (max_rows, H1)       x0[movable := 0] W1^T + b1
//   act[l]          (chunk, H_l), l < L  relu activations, kept for backward
//   grad_a/b        (chunk, max H)       ping-pong input gradients
//
// Every product is a RowGemm (row_gemm.h): a row's bits never depend on the
// other rows, the chunking or the thread count, so a track's answer is the
// same whatever else is in the batch (the README's batch invariance).
//
// Rows are split into chunks of at most kMaxChunkRows so a chunk's activations
// stay in cache; chunks run on the worker pool. A single row (one track)
// cannot be split that way: it runs in "split mode", every product cut along
// its output features into one part per worker (see ForEachChunk and
// ForParts), which changes no bit either.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/backend.h"
#include "kernels/cpu/row_gemm.h"
#include "kernels/cpu/worker_pool.h"
#include "kernels/elementwise.h"
#include "kernels/host_grid.h"
#include "kernels/mlp_math.h"
#include "kernels/row_optimizer.h"
#include "kernels/row_watch.h"
#include "kernels/slot_state.h"
#include "kernels/status_macros.h"

namespace nio::kernels {
namespace {

constexpr int kMaxChunkRows = 256;

// Per-worker scratch for one chunk.
struct ChunkScratch {
  std::vector<std::vector<float>> act;  // act[l]: (chunk, H_{l+1})
  std::vector<float> grad_a;
  std::vector<float> grad_b;
  std::vector<float> ones;  // df/df of the output layer, one per row
};

// One dense layer's weights packed for both directions: forward z = x W^T
// (W seen as (out, in)) and input gradient dx = dz W (W^T seen as (in, out)).
struct PackedLayer {
  PackedWeights forward;
  PackedWeights input_grad;
};

PackedLayer PackLayer(const float* w, int out, int in) {
  return {PackedWeights(w, out, in, in, 1), PackedWeights(w, in, out, 1, in)};
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(const MlpWeights& mlp, std::vector<int> movable,
             const BackendOptions& options)
      : mlp_(mlp),
        movable_(std::move(movable)),
        max_rows_(options.max_rows),
        k_cols_(static_cast<int>(movable_.size())),
        pool_(options.threads > 0
                  ? options.threads
                  : std::max(1u, std::thread::hardware_concurrency())) {
    const DenseLayer& first = mlp_.layers.front();
    h1_ = first.out;
    std::vector<float> w1_movable(static_cast<size_t>(h1_) * k_cols_);
    for (int o = 0; o < h1_; ++o) {
      for (int c = 0; c < k_cols_; ++c) {
        w1_movable[static_cast<size_t>(o) * k_cols_ + c] =
            first.weight[static_cast<size_t>(o) * first.in + movable_[c]];
      }
    }
    w1_movable_ = PackLayer(w1_movable.data(), h1_, k_cols_);
    for (const DenseLayer& l : mlp_.layers) {
      packed_.push_back(PackLayer(l.weight.data(), l.out, l.in));
    }
    const size_t rows = max_rows_;
    const size_t k = k_cols_;
    fixed_.assign(rows * h1_, 0.0f);
    p_.assign(rows * k, 0.0f);
    p0_.assign(rows * k, 0.0f);
    m_.assign(rows * k, 0.0f);
    v_.assign(rows * k, 0.0f);
    lo_.assign(rows * k, 0.0f);
    hi_.assign(rows * k, 0.0f);
    df_dp_.assign(rows * k, 0.0f);
    mask_.assign(rows * k, 0);
    lr_.assign(rows, 0.0f);
    lambda_.assign(rows, 0.0f);
    k_.assign(rows, 0);
    step_.assign(rows, 0);
    prediction_.assign(rows, 0.0f);
    best_p_.assign(rows * k, 0.0f);
    best_objective_.assign(rows, INFINITY);
    best_prediction_.assign(rows, 0.0f);
    target_.assign(rows, INFINITY);
    tolerance_.assign(rows, 0.0f);
    stall_.assign(rows, 0);
    window_.assign(rows, 0);
    flags_.assign(rows, 0);
    optimizer_.assign(rows, kOptimizerAdam);
    lbfgs_width_ = LbfgsStateWidth(k_cols_);
    lbfgs_.assign(rows * lbfgs_width_, 0.0f);

    int max_width = mlp_.InputSize();
    for (const DenseLayer& l : mlp_.layers)
      max_width = std::max(max_width, l.out);
    scratch_.resize(pool_.Workers());
    for (ChunkScratch& s : scratch_) {
      s.act.resize(mlp_.layers.size());
      for (size_t l = 0; l < mlp_.layers.size(); ++l) {
        s.act[l].resize(static_cast<size_t>(kMaxChunkRows) *
                        mlp_.layers[l].out);
      }
      s.grad_a.resize(static_cast<size_t>(kMaxChunkRows) * max_width);
      s.grad_b.resize(static_cast<size_t>(kMaxChunkRows) * max_width);
      s.ones.assign(kMaxChunkRows, 1.0f);
    }
  }

  std::string Describe() const override {
    return absl::StrCat("cpu (batch-invariant FMA GEMM, ", pool_.Workers(),
                        " threads, ", max_rows_, " slots)");
  }
  int MaxRows() const override { return max_rows_; }
  int InputSize() const override { return mlp_.InputSize(); }
  const std::vector<int>& MovableColumns() const override { return movable_; }

  absl::Status LoadRows(int first_row, const NioRows& rows) override {
    if (first_row < 0 || rows.count < 0 || first_row + rows.count > max_rows_) {
      return absl::OutOfRangeError(absl::StrCat(
          "LoadRows: rows [", first_row, ", ", first_row + rows.count,
          ") outside the ", max_rows_, " slots"));
    }
    const int n_in = mlp_.InputSize();
    const DenseLayer& first = mlp_.layers.front();
    std::vector<float> x_fixed(static_cast<size_t>(rows.count) * n_in);
    std::memcpy(x_fixed.data(), rows.x0, x_fixed.size() * sizeof(float));
    for (int r = 0; r < rows.count; ++r) {
      for (int c = 0; c < k_cols_; ++c) {
        const size_t src = static_cast<size_t>(r) * n_in + movable_[c];
        const size_t dst = static_cast<size_t>(first_row + r) * k_cols_ + c;
        p0_[dst] = rows.x0[src];
        p_[dst] = rows.start ? rows.start[static_cast<size_t>(r) * k_cols_ + c]
                             : p0_[dst];
        best_p_[dst] = p_[dst];
        x_fixed[src] = 0.0f;
        m_[dst] = v_[dst] = 0.0f;
        const size_t in = static_cast<size_t>(r) * k_cols_ + c;
        mask_[dst] = rows.mask[in] ? 1 : 0;
        lo_[dst] = rows.lo[in];
        hi_[dst] = rows.hi[in];
      }
      const int row = first_row + r;
      lr_[row] = rows.lr[r];
      lambda_[row] = rows.lambda[r];
      int k = 0;
      for (int c = 0; c < k_cols_; ++c)
        k += mask_[static_cast<size_t>(row) * k_cols_ + c];
      k_[row] = k;
      step_[row] = 0;
      prediction_[row] = 0.0f;
      best_objective_[row] = INFINITY;
      best_prediction_[row] = 0.0f;
      target_[row] = rows.target ? rows.target[r] : INFINITY;
      tolerance_[row] = rows.tolerance ? rows.tolerance[r] : 0.0f;
      window_[row] = rows.window ? rows.window[r] : 0;
      stall_[row] = 0;
      flags_[row] = 0;
      optimizer_[row] = rows.optimizer ? rows.optimizer[r] : kOptimizerAdam;
      // Zeros: phase kLbfgsStart, as the CUDA backend's memset.
      std::fill_n(lbfgs_.begin() + static_cast<size_t>(row) * lbfgs_width_,
                  lbfgs_width_, 0.0f);
    }
    float* fixed = fixed_.data() + static_cast<size_t>(first_row) * h1_;
    RowGemm(packed_.front().forward, x_fixed.data(), n_in, rows.count, fixed,
            h1_, 0, h1_);
    for (int r = 0; r < rows.count; ++r) {
      float* z = fixed + static_cast<size_t>(r) * h1_;
      for (int o = 0; o < h1_; ++o) z[o] += first.bias[o];
    }
    return absl::OkStatus();
  }

  absl::Status MoveRows(const std::vector<RowMove>& moves) override {
    NIO_RETURN_IF_ERROR(CheckRowMoves(moves, max_rows_));
    if (moves.empty()) return absl::OkStatus();
    move_from_.clear();
    move_to_.clear();
    for (const RowMove& m : moves) {
      move_from_.push_back(m.from);
      move_to_.push_back(m.to);
    }
    // The same body over the same table the CUDA backend launches, run on
    // the host grid.
    RunElementwiseOnHost(MoveSlotRowsBody(bases_, shapes_, move_from_.data(),
                                          move_to_.data(),
                                          static_cast<int>(moves.size())));
    return absl::OkStatus();
  }

  // The slot state by SlotArray (slot_state.h), checked against its shapes.
  absl::Status InitSlotTable() {
    shapes_ = SlotArrayShapes(h1_, k_cols_);
    SlotBytes bytes{};
    auto put = [&](SlotArray a, auto& vec) {
      bases_[a] = reinterpret_cast<unsigned char*>(vec.data());
      bytes[a] = vec.size() * sizeof(vec[0]);
    };
#define NIO_PUT_SLOT_ARRAY(array, member) put(array, member);
    NIO_SLOT_ARRAYS(NIO_PUT_SLOT_ARRAY)
#undef NIO_PUT_SLOT_ARRAY
    return CheckSlotArrays(bases_, bytes, shapes_, max_rows_);
  }

  absl::Status Step(int first_row, int rows) override {
    if (first_row < 0 || rows < 0 || first_row + rows > max_rows_) {
      return absl::OutOfRangeError(
          absl::StrCat("Step: rows [", first_row, ", ", first_row + rows,
                       ") outside the ", max_rows_, " slots"));
    }
    ForEachChunk(rows, [&](int first, int n, int parts, ChunkScratch& s) {
      ForwardBackwardChunk(first_row + first, n, parts, s);
      WatchRows(first_row + first, n);
      UpdateRows(first_row + first, n);
    });
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
    const int n = static_cast<int>(rows.size());
    auto gather = [&](auto* dst, const auto& src, int width) {
      using T = typename std::decay_t<decltype(src)>::value_type;
      if (dst == nullptr) return;
      RunElementwiseOnHost(
          GatherRowsBody<T>{dst, src.data(), rows.data(), n, width});
    };
    gather(out.p, p_, k_cols_);
    gather(out.prediction, prediction_, 1);
    gather(out.df_dp, df_dp_, k_cols_);
    gather(out.best_p, best_p_, k_cols_);
    gather(out.best_objective, best_objective_, 1);
    gather(out.best_prediction, best_prediction_, 1);
    gather(out.flags, flags_, 1);
    return absl::OkStatus();
  }

  absl::Status Predict(const float* x, int rows, float* out) override {
    if (rows <= 0) return absl::OkStatus();
    ForEachChunk(rows, [&](int first, int n, int parts, ChunkScratch& s) {
      const DenseLayer& l0 = mlp_.layers.front();
      ForParts(parts, [&](int part) {
        LayerForwardPart(0, packed_.front().forward,
                         x + static_cast<size_t>(first) * l0.in, l0.in,
                         l0.bias.data(), 0, n, s, part, parts);
      });
      const float* f = ForwardFromLayer(1, n, parts, s);
      std::copy_n(f, n, out + first);
    });
    return absl::OkStatus();
  }

 private:
  // Splits rows into chunks that run in parallel, one per worker task. When
  // the rows make a single chunk (one track, say) and there are several
  // workers, the chunk instead runs with every product split into `parts`
  // slices of its feature dimension, one per worker.
  // fn(first_row, rows, parts, scratch).
  template <class Fn>
  void ForEachChunk(int rows, Fn fn) {
    const int workers = pool_.Workers();
    const int chunk =
        std::clamp((rows + workers - 1) / workers, 1, kMaxChunkRows);
    const int chunks = (rows + chunk - 1) / chunk;
    if (chunks == 1) {
      fn(0, rows, workers, scratch_[0]);
      return;
    }
    pool_.ParallelFor(chunks, [&](int task, int worker) {
      const int first = task * chunk;
      fn(first, std::min(chunk, rows - first), 1, scratch_[worker]);
    });
  }

  // Runs fn(part) for every part, on the pool when there is more than one.
  template <class Fn>
  void ForParts(int parts, Fn fn) {
    if (parts == 1) {
      fn(0);
      return;
    }
    pool_.ParallelForPinned(parts, [&](int part, int) { fn(part); });
  }

  // The [begin, end) share of `width` features for one part, on RowGemm's
  // output block boundaries.
  static std::pair<int, int> PartRange(int width, int part, int parts) {
    constexpr int kB = kRowGemmOutBlock;
    const int per = ((width + parts - 1) / parts + kB - 1) / kB * kB;
    const int begin = std::min(width, part * per);
    return {begin, std::min(width, begin + per)};
  }

  // One part of layer l's forward for `rows` rows: z = act(x w^T + bias) on
  // the part's output columns. x: (rows, in); z = s.act[l]: (rows, out);
  // bias: a row (stride 0) or (rows, out) (stride out).
  void LayerForwardPart(size_t l, const PackedWeights& w, const float* x,
                        int in, const float* bias, int bias_row_stride,
                        int rows, ChunkScratch& s, int part, int parts) {
    const int out = mlp_.layers[l].out;
    const auto [begin, end] = PartRange(out, part, parts);
    if (begin >= end) return;
    float* z = s.act[l].data();
    RowGemm(w, x, in, rows, z, out, begin, end);
    const bool relu = l + 1 < mlp_.layers.size();
    for (int r = 0; r < rows; ++r) {
      float* zr = z + static_cast<size_t>(r) * out;
      const float* br = bias + static_cast<size_t>(r) * bias_row_stride;
      if (relu) {
        for (int c = begin; c < end; ++c) zr[c] = Relu(zr[c] + br[c]);
      } else {
        for (int c = begin; c < end; ++c) zr[c] = zr[c] + br[c];
      }
    }
  }

  // Runs layers [first_layer, L) on s.act[first_layer - 1]; returns the
  // output (rows) column.
  const float* ForwardFromLayer(size_t first_layer, int rows, int parts,
                                ChunkScratch& s) {
    for (size_t l = first_layer; l < mlp_.layers.size(); ++l) {
      const DenseLayer& layer = mlp_.layers[l];
      ForParts(l + 1 < mlp_.layers.size() ? parts : 1, [&](int part) {
        LayerForwardPart(l, packed_[l].forward, s.act[l - 1].data(), layer.in,
                         layer.bias.data(), 0, rows, s, part, parts);
      });
    }
    return s.act.back().data();
  }

  // Forward and backward of slots [first, first + rows): records each row's
  // prediction and writes df/dp of the movable columns into df_dp_. With
  // parts > 1 every layer's product is cut into output slices, one per worker.
  void ForwardBackwardChunk(int first, int rows, int parts, ChunkScratch& s) {
    const size_t num_layers = mlp_.layers.size();
    const float* p = p_.data() + static_cast<size_t>(first) * k_cols_;
    // Forward: Z1 = P W1[:, movable]^T + fixed, then the remaining layers.
    ForParts(parts, [&](int part) {
      LayerForwardPart(0, w1_movable_.forward, p, k_cols_,
                       fixed_.data() + static_cast<size_t>(first) * h1_, h1_,
                       rows, s, part, parts);
    });
    const float* f = ForwardFromLayer(1, rows, parts, s);
    std::copy_n(f, rows, prediction_.begin() + first);

    // Backward from df/df = 1 through the layers to the movable inputs: the
    // input gradient of layer l, masked by the ReLU that produced its input.
    float* grad = s.grad_a.data();
    float* next = s.grad_b.data();
    for (size_t l = num_layers; l-- > 1;) {
      const DenseLayer& layer = mlp_.layers[l];
      const float* upstream = (l == num_layers - 1) ? s.ones.data() : grad;
      const float* h = s.act[l - 1].data();
      ForParts(parts, [&](int part) {
        const auto [begin, end] = PartRange(layer.in, part, parts);
        if (begin >= end) return;
        RowGemm(packed_[l].input_grad, upstream, layer.out, rows, next,
                layer.in, begin, end);
        for (int r = 0; r < rows; ++r) {
          const size_t base = static_cast<size_t>(r) * layer.in;
          for (int c = begin; c < end; ++c) {
            next[base + c] = ReluBackward(next[base + c], h[base + c]);
          }
        }
      });
      std::swap(grad, next);
    }
    float* df_dp = df_dp_.data() + static_cast<size_t>(first) * k_cols_;
    RowGemm(w1_movable_.input_grad, num_layers == 1 ? s.ones.data() : grad, h1_,
            rows, df_dp, k_cols_, 0, k_cols_);
  }

  // The row watch of rows [first, first + rows) at the point just evaluated:
  // the body the CUDA backend launches, on the host grid.
  void WatchRows(int first, int rows) {
    const size_t f = first;
    const size_t fk = f * k_cols_;
    RunElementwiseOnHost(RowWatchBody{
        p_.data() + fk, p0_.data() + fk, mask_.data() + fk, lambda_.data() + f,
        k_.data() + f, prediction_.data() + f, target_.data() + f,
        tolerance_.data() + f, window_.data() + f, best_p_.data() + fk,
        best_objective_.data() + f, best_prediction_.data() + f,
        stall_.data() + f, flags_.data() + f, rows, k_cols_});
  }

  // Each row's optimizer observes the evaluation and proposes its next
  // point: the body the CUDA backend launches, on the host grid.
  void UpdateRows(int first, int rows) {
    const size_t f = first;
    const size_t fk = f * k_cols_;
    RunElementwiseOnHost(RowOptimizerBody{p_.data() + fk,
                                          p0_.data() + fk,
                                          df_dp_.data() + fk,
                                          m_.data() + fk,
                                          v_.data() + fk,
                                          mask_.data() + fk,
                                          lo_.data() + fk,
                                          hi_.data() + fk,
                                          lr_.data() + f,
                                          lambda_.data() + f,
                                          k_.data() + f,
                                          step_.data() + f,
                                          prediction_.data() + f,
                                          tolerance_.data() + f,
                                          window_.data() + f,
                                          optimizer_.data() + f,
                                          lbfgs_.data() + f * lbfgs_width_,
                                          flags_.data() + f,
                                          rows,
                                          k_cols_});
  }

  const MlpWeights mlp_;
  const std::vector<int> movable_;
  const int max_rows_;
  const int k_cols_;
  int h1_ = 0;
  PackedLayer w1_movable_;           // W1[:, movable]
  std::vector<PackedLayer> packed_;  // every layer, whole
  WorkerPool pool_;
  std::vector<ChunkScratch> scratch_;  // one per worker

  // Slot state, see the top of the file.
  std::vector<float> fixed_, p_, p0_, m_, v_, lo_, hi_, df_dp_, lr_, lambda_,
      prediction_;
  std::vector<uint8_t> mask_;
  std::vector<int> k_, step_;
  std::vector<float> best_p_, best_objective_, best_prediction_, target_,
      tolerance_;
  std::vector<int> stall_, window_;
  std::vector<uint8_t> flags_;
  std::vector<uint8_t> optimizer_;
  int lbfgs_width_ = 0;
  std::vector<float> lbfgs_;              // (max_rows, lbfgs_width_)
  std::vector<int> move_from_, move_to_;  // MoveRows' index lists
  SlotShapes shapes_{};
  SlotBases bases_{};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
    const MlpWeights& mlp, std::vector<int> movable_columns,
    const BackendOptions& options) {
  if (absl::Status s = ValidateMlp(mlp); !s.ok()) return s;
  if (options.max_rows <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_rows must be positive, got ", options.max_rows));
  }
  for (int c : movable_columns) {
    if (c < 0 || c >= mlp.InputSize()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "movable column ", c, " outside the ", mlp.InputSize(), " inputs"));
    }
  }
  auto backend =
      std::make_unique<CpuBackend>(mlp, std::move(movable_columns), options);
  if (absl::Status s = backend->InitSlotTable(); !s.ok()) return s;
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace nio::kernels
