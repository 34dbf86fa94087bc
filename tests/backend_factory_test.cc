// The start-up choice of backend (kernels/backend_factory.h), with stand-ins
// for the two ways to make one: `auto` falls back to the CPU when the CUDA
// backend fails to start and says why; a forced `cuda` fails with the reason.
#include "kernels/backend_factory.h"

#include <memory>

#include "gtest/gtest.h"
#include "tests/fake_backend.h"

namespace nio::kernels {
namespace {

BackendMaker Fake() {
  return []() -> absl::StatusOr<std::unique_ptr<Backend>> {
    return std::unique_ptr<Backend>(
        new testing::FakeBackend(4, 3, {0}, nullptr, {}));
  };
}

BackendMaker Failing(int* calls) {
  return [calls]() -> absl::StatusOr<std::unique_ptr<Backend>> {
    ++*calls;
    return absl::ResourceExhaustedError("cudaMalloc: out of memory");
  };
}

TEST(BackendFactoryTest, AutoFallsBackToTheCpuWhenTheCudaBackendFailsToStart) {
  int calls = 0;
  auto b = ChooseBackend(BackendChoice::kAuto, 1, "", Failing(&calls), Fake());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(b->step_chunk_rows, 128);  // the CPU's
  EXPECT_NE(b->log_line.find("CUDA not used: the CUDA backend failed to start: "
                             "cudaMalloc: out of memory"),
            std::string::npos)
      << b->log_line;
}

TEST(BackendFactoryTest, ForcedCudaFailsWithTheReason) {
  int calls = 0;
  auto b = ChooseBackend(BackendChoice::kCuda, 1, "", Failing(&calls), Fake());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(b.status().message().find("out of memory"), std::string::npos);
  auto none = ChooseBackend(BackendChoice::kCuda, 0, "no device",
                            Failing(&calls), Fake());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("no device"), std::string::npos);
  EXPECT_EQ(calls, 1) << "no device: the CUDA backend is never tried";
}

TEST(BackendFactoryTest, CudaIsUsedWhenItStartsAndNeverForCpu) {
  auto cuda = ChooseBackend(BackendChoice::kAuto, 1, "", Fake(), Fake());
  ASSERT_TRUE(cuda.ok());
  EXPECT_EQ(cuda->step_chunk_rows, 0);
  int calls = 0;
  auto cpu = ChooseBackend(BackendChoice::kCpu, 1, "", Failing(&calls), Fake());
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(cpu->log_line.find("CUDA"), std::string::npos) << cpu->log_line;
}

}  // namespace
}  // namespace nio::kernels
