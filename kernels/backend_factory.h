// Picks and creates the compute backend at start-up.
#ifndef NIO_KERNELS_BACKEND_FACTORY_H_
#define NIO_KERNELS_BACKEND_FACTORY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace nio::kernels {

enum class BackendChoice { kAuto, kCpu, kCuda };

// "auto" | "cpu" | "cuda" -> choice; INVALID_ARGUMENT otherwise.
absl::StatusOr<BackendChoice> ParseBackendChoice(const std::string& text);

// Number of usable CUDA devices (0 without CUDA or without a device), and
// why there are none in *reason when it is not null.
int CudaDeviceCount(std::string* reason = nullptr);

struct CreatedBackend {
  std::unique_ptr<Backend> backend;
  // One line for the start-up log: what was picked and why.
  std::string log_line;
  // Rows per chunk when a long step is cut so other work can run between
  // chunks: the CPU backend's steps cost per row (128 rows: ~2 ms of the
  // bundled model on two cores, GEMMs still tall enough to run at speed);
  // 0 for CUDA, whose steps are short and run as captured graphs.
  int step_chunk_rows = 0;
};

// kAuto: CUDA when a device is usable and its backend starts (out of
// memory, an exclusive-mode device busy, a cuBLAS failure fall back), else
// CPU; the log line says why. kCuda without a usable device:
// FAILED_PRECONDITION; kCuda whose backend fails to start: that error.
absl::StatusOr<CreatedBackend> CreateBackend(BackendChoice choice,
                                             const MlpWeights& mlp,
                                             std::vector<int> movable_columns,
                                             const BackendOptions& options);

// The choice itself, over the two ways to make a backend: what
// CreateBackend does with the real ones. make_cuda is called only when
// `cuda_devices` > 0 and the choice is not kCpu; why_no_device says why
// there are none otherwise.
using BackendMaker = std::function<absl::StatusOr<std::unique_ptr<Backend>>()>;
absl::StatusOr<CreatedBackend> ChooseBackend(BackendChoice choice,
                                             int cuda_devices,
                                             const std::string& why_no_device,
                                             const BackendMaker& make_cuda,
                                             const BackendMaker& make_cpu);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_BACKEND_FACTORY_H_
