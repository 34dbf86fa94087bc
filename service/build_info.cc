#include "service/build_info.h"

#include "absl/strings/str_cat.h"

// Set by service/CMakeLists.txt from project(VERSION), CMAKE_BUILD_TYPE
// and NIO_ENABLE_CUDA, so --version cannot drift from the build.
#ifndef NIO_VERSION
#define NIO_VERSION "unknown"
#endif
#ifndef NIO_BUILD_TYPE
#define NIO_BUILD_TYPE "unknown"
#endif

namespace nio::service {

BuildInfo GetBuildInfo() {
#if defined(NIO_ENABLE_CUDA)
  constexpr char kBackends[] = "cpu, cuda";
#else
  constexpr char kBackends[] = "cpu";
#endif
  return BuildInfo{
      NIO_VERSION,
      sizeof(NIO_BUILD_TYPE) > 1 ? NIO_BUILD_TYPE : "no CMAKE_BUILD_TYPE",
      kBackends};
}

std::string VersionLine(const std::string& program) {
  const BuildInfo b = GetBuildInfo();
  return absl::StrCat(program, " ", b.version, " (", b.build_type,
                      " build; backends: ", b.backends, ")");
}

}  // namespace nio::service
