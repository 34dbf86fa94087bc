// Starting the project's real binaries from tests: spawn with captured
// output, wait for a line, signal, collect the exit code.
#ifndef NIO_TESTS_PROCESS_UTIL_H_
#define NIO_TESTS_PROCESS_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

extern char** environ;

namespace nio::testing {

// A child process whose stdout+stderr go to a pipe we read.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) !=
        0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    fd_ = fds[0];
    fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Reads output until it contains `needle` or the timeout passes.
  bool WaitForOutput(const std::string& needle,
                     std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (output_.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > end) return false;
      Drain(50);
    }
    return true;
  }
  const std::string& output() {
    Drain(0);
    return output_;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // Waits for exit; returns the exit code, 128+signal, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        Drain(0);
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return -1;
      }
      Drain(20);
    }
    return -1;
  }

 private:
  void Drain(int wait_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd_, buf, sizeof(buf))) > 0) output_.append(buf, n);
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string output_;
};

// How a program run to its end went: its exit code and what it printed
// (stdout and stderr together).
struct RunResult {
  int code;
  std::string output;
};

// Runs argv (argv[0] a path) and waits for it to exit.
inline RunResult RunProgram(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) {
  ChildProcess p(argv);
  const int code = p.Wait(timeout);
  return {code, p.output()};
}

}  // namespace nio::testing

#endif  // NIO_TESTS_PROCESS_UTIL_H_
