// DeviceBuffer<T>: RAII ownership of a cudaMalloc'ed array; PinnedBuffer<T>:
// of a page-locked host array (cudaHostAlloc), which a copy on a stream reads
// or writes asynchronously, in one DMA, without a staging copy by the driver.
// Both are zeroed when allocated.
#ifndef NIO_KERNELS_CUDA_DEVICE_BUFFER_CUH_
#define NIO_KERNELS_CUDA_DEVICE_BUFFER_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <utility>

#include "kernels/cuda/cuda_status.h"

namespace nio::kernels {

// Where a CudaArray lives.
struct DeviceMemory {
  static cudaError_t Allocate(void** p, size_t bytes) {
    return cudaMalloc(p, bytes);
  }
  static void Free(void* p) { cudaFree(p); }
  // A slot never loaded is then an idle row (mask 0, Adam, L-BFGS at its
  // start), safe to step in a bucketed step (step_bucket.h).
  static cudaError_t Zero(void* p, size_t bytes) {
    return cudaMemset(p, 0, bytes);
  }
};
struct PinnedMemory {
  static cudaError_t Allocate(void** p, size_t bytes) {
    return cudaHostAlloc(p, bytes, cudaHostAllocDefault);
  }
  static void Free(void* p) { cudaFreeHost(p); }
  static cudaError_t Zero(void* p, size_t bytes) {
    std::memset(p, 0, bytes);
    return cudaSuccess;
  }
};

template <class T, class Memory>
class CudaArray {
 public:
  CudaArray() = default;
  ~CudaArray() {
    if (data_) Memory::Free(data_);
  }
  CudaArray(CudaArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  CudaArray& operator=(CudaArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  CudaArray(const CudaArray&) = delete;
  CudaArray& operator=(const CudaArray&) = delete;

  absl::Status Allocate(size_t n) {
    if (data_) Memory::Free(data_);
    data_ = nullptr;
    size_ = n;
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(
        Memory::Allocate(reinterpret_cast<void**>(&data_), n * sizeof(T)));
    NIO_RETURN_IF_CUDA_ERROR(Memory::Zero(data_, n * sizeof(T)));
    return absl::OkStatus();
  }
  // Allocates and copies n values from host memory.
  absl::Status Upload(const T* host, size_t n) {
    if (absl::Status s = Allocate(n); !s.ok()) return s;
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemcpy(data_, host, n * sizeof(T), cudaMemcpyDefault));
    return absl::OkStatus();
  }

  T* get() const { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

template <class T>
using DeviceBuffer = CudaArray<T, DeviceMemory>;
template <class T>
using PinnedBuffer = CudaArray<T, PinnedMemory>;

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_DEVICE_BUFFER_CUH_
