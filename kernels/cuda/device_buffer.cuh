// DeviceBuffer<T>: RAII ownership of a cudaMalloc'ed array; PinnedBuffer<T>:
// of a page-locked host array (cudaHostAlloc), which a copy on a stream reads
// or writes asynchronously, in one DMA, without a staging copy by the driver.
#ifndef NIO_KERNELS_CUDA_DEVICE_BUFFER_CUH_
#define NIO_KERNELS_CUDA_DEVICE_BUFFER_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "kernels/cuda/cuda_status.h"

namespace nio::kernels {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  absl::Status Allocate(size_t n) {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    size_ = n;
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMalloc(reinterpret_cast<void**>(&data_), n * sizeof(T)));
    // Zeroed: a slot never loaded is an idle row (mask 0, Adam, L-BFGS at
    // its start), safe to step in a bucketed step (step_bucket.h).
    NIO_RETURN_IF_CUDA_ERROR(cudaMemset(data_, 0, n * sizeof(T)));
    return absl::OkStatus();
  }
  // Allocates and copies n values from host memory.
  absl::Status Upload(const T* host, size_t n) {
    if (absl::Status s = Allocate(n); !s.ok()) return s;
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(
        cudaMemcpy(data_, host, n * sizeof(T), cudaMemcpyHostToDevice));
    return absl::OkStatus();
  }

  T* get() const { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  absl::Status Allocate(size_t n) {
    if (data_) cudaFreeHost(data_);
    data_ = nullptr;
    size_ = n;
    if (n == 0) return absl::OkStatus();
    NIO_RETURN_IF_CUDA_ERROR(cudaHostAlloc(
        reinterpret_cast<void**>(&data_), n * sizeof(T), cudaHostAllocDefault));
    return absl::OkStatus();
  }

  T* get() const { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_DEVICE_BUFFER_CUH_
