// absl's --help lists only flags of files named like the program; our mains
// are thin and their flags live in *_main.cc, so say so explicitly.
#ifndef NIO_SERVICE_USAGE_H_
#define NIO_SERVICE_USAGE_H_

#include <string>

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace nio {

// Makes --help list the flags defined in files whose path contains
// `main_file` (e.g. "server_main.cc"), and --version print `version_line`
// when given. One call sets both: absl resets what a later call leaves out.
inline void SetHelpToListFlagsOf(const char* main_file,
                                 std::string version_line = "") {
  static std::string file;
  file = main_file;
  absl::FlagsUsageConfig config;
  if (!version_line.empty()) {
    config.version_string = [version_line] { return version_line + "\n"; };
  }
  config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  // "Flags from server_main.cc:", not the path it was built from.
  config.normalize_filename = [](absl::string_view path) {
    const size_t slash = path.rfind('/');
    return std::string(
        slash == absl::string_view::npos ? path : path.substr(slash + 1));
  };
  absl::SetFlagsUsageConfig(config);
}

}  // namespace nio

#endif  // NIO_SERVICE_USAGE_H_
