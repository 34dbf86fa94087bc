// Picks and creates the compute backend at start-up.
#ifndef NIO_KERNELS_BACKEND_FACTORY_H_
#define NIO_KERNELS_BACKEND_FACTORY_H_

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

// kAuto: CUDA when a device is usable, else CPU (the log line says why).
// kCuda without a usable device: FAILED_PRECONDITION.
absl::StatusOr<CreatedBackend> CreateBackend(BackendChoice choice,
                                             const MlpWeights& mlp,
                                             std::vector<int> movable_columns,
                                             const BackendOptions& options);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_BACKEND_FACTORY_H_
