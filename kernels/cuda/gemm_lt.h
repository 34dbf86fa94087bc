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

  // OK when cuBLASLt has a kernel for g with every matrix only 4-byte
  // aligned (then it has one for any pointers Run gets); UNIMPLEMENTED
  // naming the epilogue when it has none.
  absl::Status Supports(const GemmArgs& g);

  // D = epilogue(alpha op(A) op(B) + beta C) on the stream; c may be null
  // when beta is 0. bias and mask as g.epilogue needs them.
  absl::Status Run(const GemmArgs& g, const float* a, const float* b,
                   const float* c, float* d, const float* bias, uint32_t* mask);

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool found = false;
  };
  // The plan of g for operands with these alignments (bytes), made and
  // cached on first use.
  absl::Status PlanFor(const GemmArgs& g, const uint32_t align[4], Plan** plan);
  static void Destroy(Plan& plan);

  cublasLtHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool allow_tf32_ = false;
  std::unordered_map<std::string, Plan> plans_;
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_GEMM_LT_H_
