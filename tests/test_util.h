// Shared test helpers: tolerance checks that report the first failing index,
// random data, paths of the committed fixtures and of ../shared.
#ifndef NIO_TESTS_TEST_UTIL_H_
#define NIO_TESTS_TEST_UTIL_H_

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "gtest/gtest.h"
#include "kernels/mlp_weights.h"

namespace nio::testing {

// |got - ref| <= atol + rtol * |ref| for every element; on failure, the first
// failing index with both values and how many failed.
inline ::testing::AssertionResult AllClose(const std::vector<double>& got,
                                           const std::vector<double>& ref,
                                           double atol, double rtol) {
  if (got.size() != ref.size()) {
    return ::testing::AssertionFailure()
           << "size " << got.size() << " vs reference " << ref.size();
  }
  size_t failures = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = atol + rtol * std::fabs(ref[i]);
    if (!(std::fabs(got[i] - ref[i]) <= tol)) {
      if (failures++ == 0) first = i;
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << failures << " of " << got.size() << " outside atol " << atol
         << " + rtol " << rtol << "; first at index " << first << ": got "
         << got[first] << ", reference " << ref[first];
}

template <class A, class B>
::testing::AssertionResult AllClose(const std::vector<A>& got,
                                    const std::vector<B>& ref, double atol,
                                    double rtol) {
  return AllClose(std::vector<double>(got.begin(), got.end()),
                  std::vector<double>(ref.begin(), ref.end()), atol, rtol);
}

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1,
                                       float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A random MLP with the given sizes (He-like scale), for math tests.
inline kernels::MlpWeights RandomMlp(const std::vector<int>& sizes, uint32_t seed) {
  kernels::MlpWeights mlp;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    kernels::DenseLayer layer;
    layer.in = sizes[l];
    layer.out = sizes[l + 1];
    const float bound = std::sqrt(6.0f / layer.in);
    layer.weight = RandomFloats(static_cast<size_t>(layer.in) * layer.out, seed + 2 * l, -bound, bound);
    layer.bias = RandomFloats(layer.out, seed + 2 * l + 1, -0.1f, 0.1f);
    mlp.layers.push_back(std::move(layer));
  }
  return mlp;
}

// Double-precision forward pass, the reference for predictions and finite
// differences.
inline double ForwardDouble(const kernels::MlpWeights& mlp, const std::vector<double>& x) {
  std::vector<double> h = x;
  for (size_t l = 0; l < mlp.layers.size(); ++l) {
    const kernels::DenseLayer& layer = mlp.layers[l];
    std::vector<double> z(layer.out);
    for (int o = 0; o < layer.out; ++o) {
      double acc = layer.bias[o];
      for (int i = 0; i < layer.in; ++i) acc += double(layer.weight[size_t(o) * layer.in + i]) * h[i];
      z[o] = (l + 1 < mlp.layers.size()) ? std::max(acc, 0.0) : acc;
    }
    h = std::move(z);
  }
  return h[0];
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Source-tree test data (tests/data) and the build's generated fixtures.
inline std::string TestDataDir() { return NIO_TEST_DATA_DIR; }
inline std::string GeneratedDir() { return NIO_TEST_GENERATED_DIR; }

// A fresh, empty scratch directory under the test temp dir, named with the
// process id: ctest runs every test case of a suite as its own process and in
// parallel, so a name shared by those processes lets one's clean-up delete
// another's files mid-run.
inline std::filesystem::path FreshScratchDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    (name + "." + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace nio::testing

#endif  // NIO_TESTS_TEST_UTIL_H_
