// NIO_HD marks functions that run on the host and, under nvcc, on the device.
// Per-element math is written once with it and called by the CPU backend, the
// host grid executor in tests and the CUDA kernels alike.
#ifndef NIO_KERNELS_HOST_DEVICE_H_
#define NIO_KERNELS_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define NIO_HD __host__ __device__
#else
#define NIO_HD
#endif

#endif  // NIO_KERNELS_HOST_DEVICE_H_
