// GEMM epilogues: what a fused GEMM does to its result before storing it, as
// cuBLASLt's RELU_AUX_BIAS, RELU_AUX and DRELU do on the GPU, and the body
// that does the same after a plain GEMM (the tests' reference, and the
// CUDA backend's path where cuBLASLt has no fused kernel).
//
// The ReLU bit mask: for a column-major (m, n) result D, bit i + j * ld of
// the mask is 1 where the ReLU's input D[i, j] was > 0; ld is a multiple of
// 128 bits (cuBLASLt's rule), so a 32-bit word never straddles two columns.
// Bit b of the mask is bit b % 32 of word b / 32; on a little-endian device
// that is bit b % 8 of byte b / 8, cuBLASLt's byte layout. A forward GEMM
// writes the mask of its layer's ReLU and the backward GEMM that reaches that
// layer reads it, instead of a separate pass over the activations.
#ifndef NIO_KERNELS_GEMM_EPILOGUE_H_
#define NIO_KERNELS_GEMM_EPILOGUE_H_

#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/launch_geometry.h"
#include "kernels/mlp_math.h"

namespace nio::kernels {

enum class GemmEpilogue : uint8_t {
  kNone,         // D = alpha op(A) op(B) + beta C
  kReluAux,      // D = relu(...), mask written
  kReluAuxBias,  // D = relu(... + bias), bias a vector of m; mask written
  kDReluAux,     // D = (...) * mask, the mask of a forward kReluAux*
};

// The mask's leading dimension in bits for a result of m rows.
NIO_HD inline int64_t ReluMaskLd(int m) {
  return (static_cast<int64_t>(m) + 127) / 128 * 128;
}
// 32-bit words of the mask of an (m, n) result.
NIO_HD inline int64_t ReluMaskWords(int m, int n) {
  return ReluMaskLd(m) / 32 * n;
}

// Applies `epilogue` in place to a column-major (m, n) D whose GEMM ran with
// no epilogue. One thread per mask word: 32 consecutive rows of one column,
// so no two threads write the same word.
struct GemmEpilogueBody {
  GemmEpilogue epilogue;
  float* d;
  int ldd;
  int m;
  int n;
  const float* bias;  // (m), kReluAuxBias only
  uint32_t* mask;     // ReluMaskWords(m, n) words, ld ReluMaskLd(m) bits
  int64_t mask_ld;

  NIO_HD int64_t WordsPerColumn() const { return mask_ld / 32; }
  NIO_HD int64_t Size() const { return WordsPerColumn() * n; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t w = t.Global();
    if (w >= Size() || epilogue == GemmEpilogue::kNone) return;
    const int64_t col = w / WordsPerColumn();
    const int64_t row0 = (w - col * WordsPerColumn()) * 32;
    float* dc = d + col * ldd;
    if (epilogue == GemmEpilogue::kDReluAux) {
      const uint32_t bits = mask[w];
      for (int b = 0; b < 32 && row0 + b < m; ++b) {
        if (((bits >> b) & 1u) == 0) dc[row0 + b] = 0.0f;
      }
      return;
    }
    uint32_t bits = 0;
    for (int b = 0; b < 32 && row0 + b < m; ++b) {
      float z = dc[row0 + b];
      if (epilogue == GemmEpilogue::kReluAuxBias) z += bias[row0 + b];
      if (z > 0.0f) bits |= 1u << b;
      dc[row0 + b] = Relu(z);
    }
    mask[w] = bits;
  }
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_GEMM_EPILOGUE_H_
