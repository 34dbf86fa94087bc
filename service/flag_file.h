// Reading a file a command-line flag names (certificates, keys, token
// files), for the server and the client alike.
#ifndef NIO_SERVICE_FLAG_FILE_H_
#define NIO_SERVICE_FLAG_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace nio::service {

// The whole file at `path`; INVALID_ARGUMENT "FLAG: cannot read 'PATH'" when
// it cannot be read, so the user sees which flag to fix.
absl::StatusOr<std::string> ReadFlagFile(const std::string& path,
                                         const char* flag);

}  // namespace nio::service

#endif  // NIO_SERVICE_FLAG_FILE_H_
