#include "service/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nio::service {
namespace {

// The fields of /proc/self/stat after the command name (which may hold
// spaces), so fields()[0] is field 3 (state).
std::vector<std::string> StatFields() {
  std::ifstream f("/proc/self/stat");
  std::string line;
  if (!std::getline(f, line)) return {};
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double BootTimeSeconds() {
  std::ifstream f("/proc/stat");
  for (std::string key; f >> key;) {
    if (key == "btime") {
      double t = 0;
      f >> t;
      return t;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void WriteProcessMetrics(PrometheusText* out) {
  const std::vector<std::string> stat = StatFields();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // Fields (1-based, as proc(5) numbers them): 14 utime, 15 stime,
  // 20 num_threads, 22 starttime, 23 vsize, 24 rss; stat[i] is field i + 3.
  if (stat.size() >= 22 && ticks > 0) {
    auto field = [&](int n) { return std::stod(stat[n - 3]); };
    out->Family("process_cpu_seconds_total", "counter",
                "Total user and system CPU time spent in seconds.");
    out->Sample("process_cpu_seconds_total", {},
                (field(14) + field(15)) / ticks);
    out->Family("process_virtual_memory_bytes", "gauge",
                "Virtual memory size in bytes.");
    out->Sample("process_virtual_memory_bytes", {}, field(23));
    out->Family("process_resident_memory_bytes", "gauge",
                "Resident memory size in bytes.");
    out->Sample("process_resident_memory_bytes", {}, field(24) * page);
    out->Family("process_threads", "gauge", "Number of OS threads.");
    out->Sample("process_threads", {}, field(20));
    if (const double boot = BootTimeSeconds(); boot > 0) {
      out->Family("process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.");
      out->Sample("process_start_time_seconds", {}, boot + field(22) / ticks);
    }
  }
  std::error_code ec;
  int fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    out->Family("process_open_fds", "gauge",
                "Number of open file descriptors.");
    out->Sample("process_open_fds", {}, fds);
  }
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out->Family("process_max_fds", "gauge",
                "Maximum number of open file descriptors.");
    out->Sample("process_max_fds", {}, static_cast<double>(lim.rlim_cur));
  }
}

}  // namespace nio::service
