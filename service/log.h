// A small logging shim (Debian 12's Abseil has no absl/log): NIO_LOG(INFO) <<
// ... writes one timestamped line to stderr when the statement ends.
#ifndef NIO_SERVICE_LOG_H_
#define NIO_SERVICE_LOG_H_

#include <sstream>
#include <string>

namespace nio::service {

class LogLine {
 public:
  LogLine(const char* level, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <class T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace nio::service

#define NIO_LOG(level) ::nio::service::LogLine(#level, __FILE__, __LINE__)

#endif  // NIO_SERVICE_LOG_H_
