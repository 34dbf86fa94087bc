#include "kernels/backend_factory.h"

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"

#if defined(NIO_ENABLE_CUDA)
#include "kernels/cuda/cuda_backend.h"
#endif

namespace nio::kernels {

absl::StatusOr<BackendChoice> ParseBackendChoice(const std::string& text) {
  if (text == "auto") return BackendChoice::kAuto;
  if (text == "cpu") return BackendChoice::kCpu;
  if (text == "cuda") return BackendChoice::kCuda;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backend '", text, "' (auto, cpu or cuda)"));
}

int CudaDeviceCount(std::string* reason) {
#if defined(NIO_ENABLE_CUDA)
  return CudaUsableDeviceCount(reason);
#else
  if (reason) *reason = "this build has no CUDA backend (NIO_ENABLE_CUDA=OFF)";
  return 0;
#endif
}

absl::StatusOr<CreatedBackend> CreateBackend(BackendChoice choice,
                                             const MlpWeights& mlp,
                                             std::vector<int> movable_columns,
                                             const BackendOptions& options) {
  CreatedBackend created;
  std::string why_not_cuda;
  const bool cuda_usable =
      choice != BackendChoice::kCpu && CudaDeviceCount(&why_not_cuda) > 0;
  if (choice == BackendChoice::kCuda && !cuda_usable) {
    return absl::FailedPreconditionError(
        absl::StrCat("--backend cuda: no usable CUDA device: ", why_not_cuda));
  }
#if defined(NIO_ENABLE_CUDA)
  if (cuda_usable) {
    NIO_ASSIGN_OR_RETURN(
        created.backend,
        CreateCudaBackend(mlp, std::move(movable_columns), options));
    created.log_line = absl::StrCat("backend: ", created.backend->Describe());
    return created;
  }
#endif
  NIO_ASSIGN_OR_RETURN(
      created.backend,
      CreateCpuBackend(mlp, std::move(movable_columns), options));
  created.step_chunk_rows = 128;
  created.log_line = absl::StrCat("backend: ", created.backend->Describe());
  if (choice == BackendChoice::kAuto) {
    absl::StrAppend(&created.log_line, " (CUDA not used: ", why_not_cuda, ")");
  }
  return created;
}

}  // namespace nio::kernels
