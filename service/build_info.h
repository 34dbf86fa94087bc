// What a binary was built as, for `--version`: the project version, the
// CMake build type it was really built with, and the compute backends
// compiled in (a backend compiled in may still find no device at run time).
#ifndef NIO_SERVICE_BUILD_INFO_H_
#define NIO_SERVICE_BUILD_INFO_H_

#include <string>

namespace nio::service {

struct BuildInfo {
  std::string version;     // "0.1.0"
  std::string build_type;  // "RelWithDebInfo"
  std::string backends;    // "cpu, cuda"
};
BuildInfo GetBuildInfo();

// "<program> 0.1.0 (RelWithDebInfo build; backends: cpu)".
std::string VersionLine(const std::string& program);

}  // namespace nio::service

#endif  // NIO_SERVICE_BUILD_INFO_H_
