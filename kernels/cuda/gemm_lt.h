// Executes a GemmArgs with its epilogue (gemm_epilogue.h) through cuBLASLt:
// the bias, the ReLU and its bit mask, or the ReLU derivative from that mask,
// fused into the GEMM instead of a separate pass over the result. The tests
// run the same descriptors with cblas and GemmEpilogueBody.
#ifndef NIO_KERNELS_CUDA_GEMM_LT_H_
#define NIO_KERNELS_CUDA_GEMM_LT_H_

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "kernels/gemm_args.h"

namespace nio::kernels {

class GemmLt {
 public:
  GemmLt() = default;
  GemmLt(const GemmLt&) = delete;
  GemmLt& operator=(const GemmLt&) = delete;
  ~GemmLt();

  // workspace: device memory of workspace_bytes, used by every call on
  // `stream` (a captured graph needs a fixed one).
  absl::Status Init(cudaStream_t stream, void* workspace,
                    size_t workspace_bytes, bool allow_tf32);

  // Alignments in bytes of A, B, C and D: what Supports asks for.
  struct Alignments {
    uint32_t a = 256, b = 256, c = 256, d = 256;
  };
  // OK when cuBLASLt has a kernel for g with matrices at least this
  // aligned (then it has one for any pointers Run gets that are);
  // UNIMPLEMENTED naming the epilogue when it has none.
  absl::Status Supports(const GemmArgs& g, const Alignments& at_least);

  // Makes Run's plan for these operands now, without running it: so that
  // no heuristic query happens while a stream is being captured.
  absl::Status Prepare(const GemmArgs& g, const float* a, const float* b,
                       const float* c, const float* d);

  // D = epilogue(alpha op(A) op(B) + beta C) on the stream; c may be null
  // when beta is 0. bias and mask as g.epilogue needs them.
  absl::Status Run(const GemmArgs& g, const float* a, const float* b,
                   const float* c, float* d, const float* bias, uint32_t* mask);

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    uint64_t last_used = 0;
  };
  // The plan of g for operands with these alignments, made and cached on
  // first use (a failed one is not kept); the least recently used plan
  // goes when the cache is full.
  absl::Status PlanFor(const GemmArgs& g, const Alignments& align, Plan** plan);
  absl::Status MakePlan(const GemmArgs& g, const Alignments& align, Plan& plan);
  static Alignments AlignmentsOf(const float* a, const float* b, const float* c,
                                 const float* d);
  static void Destroy(Plan& plan);

  cublasLtHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool allow_tf32_ = false;
  std::unordered_map<std::string, Plan> plans_;
  uint64_t clock_ = 0;
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_GEMM_LT_H_
