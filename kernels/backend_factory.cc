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

absl::StatusOr<CreatedBackend> ChooseBackend(BackendChoice choice,
                                             int cuda_devices,
                                             const std::string& why_no_device,
                                             const BackendMaker& make_cuda,
                                             const BackendMaker& make_cpu) {
  CreatedBackend created;
  std::string why_not_cuda = why_no_device;
  if (choice == BackendChoice::kCuda && cuda_devices <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--backend cuda: no usable CUDA device: ", why_not_cuda));
  }
  if (choice != BackendChoice::kCpu && cuda_devices > 0) {
    absl::StatusOr<std::unique_ptr<Backend>> cuda = make_cuda();
    if (cuda.ok()) {
      created.backend = std::move(*cuda);
      created.log_line = absl::StrCat("backend: ", created.backend->Describe());
      return created;
    }
    if (choice == BackendChoice::kCuda) {
      return absl::Status(cuda.status().code(),
                          absl::StrCat("--backend cuda: the CUDA backend "
                                       "failed to start: ",
                                       cuda.status().message()));
    }
    why_not_cuda = absl::StrCat("the CUDA backend failed to start: ",
                                cuda.status().message());
  }
  NIO_ASSIGN_OR_RETURN(created.backend, make_cpu());
  created.step_chunk_rows = 128;
  created.log_line = absl::StrCat("backend: ", created.backend->Describe());
  if (choice == BackendChoice::kAuto) {
    absl::StrAppend(&created.log_line, " (CUDA not used: ", why_not_cuda, ")");
  }
  return created;
}

absl::StatusOr<CreatedBackend> CreateBackend(BackendChoice choice,
                                             const MlpWeights& mlp,
                                             std::vector<int> movable_columns,
                                             const BackendOptions& options) {
  std::string why_no_device;
  const int devices =
      choice == BackendChoice::kCpu ? 0 : CudaDeviceCount(&why_no_device);
  auto make_cuda = [&]() -> absl::StatusOr<std::unique_ptr<Backend>> {
#if defined(NIO_ENABLE_CUDA)
    return CreateCudaBackend(mlp, movable_columns, options);
#else
    return absl::UnimplementedError("this build has no CUDA backend");
#endif
  };
  auto make_cpu = [&]() {
    return CreateCpuBackend(mlp, movable_columns, options);
  };
  return ChooseBackend(choice, devices, why_no_device, make_cuda, make_cpu);
}

}  // namespace nio::kernels
