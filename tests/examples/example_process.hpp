// Test support for the example smoke tests: a node started as a child process whose stdout lines
// can be waited for, and a command run to completion under a time limit with its output captured.
// (A trimmed copy of tests/integration/process.hpp, plus the time limit and lines kept for
// searching in any order.) Each object is used from one test thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace nca::examples_test {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

inline int ms_left(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

// Forks and execs `argv` (argv[0] looked up in PATH when it has no '/') in `cwd`, with stdout, and
// stderr unless `stderr_path` names a file, on a pipe. Returns the pid, or -1; `out_fd` gets the
// pipe's read end.
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& cwd,
                   const std::string& stderr_path, int& out_fd) {
  int out[2];
  out_fd = -1;
  if (pipe(out) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    dup2(out[1], 1);
    int err = stderr_path.empty() ? out[1]
                                  : open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err >= 0) dup2(err, 2);
    close(out[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  if (pid < 0) {
    close(out[0]);
    return -1;
  }
  out_fd = out[0];
  return pid;
}

// Reads what is available on `fd` into `buffer`, waiting at most until `deadline`; false at EOF or
// on a read error.
inline bool read_some(int fd, std::string& buffer, SteadyClock::time_point deadline) {
  pollfd p{fd, POLLIN, 0};
  int ready = poll(&p, 1, std::max(1, ms_left(deadline)));
  if (ready <= 0) return true;  // nothing yet: the caller checks its deadline
  char chunk[4096];
  ssize_t n = read(fd, chunk, sizeof(chunk));
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<size_t>(n));
  return true;
}

// A long-running child (the node). The destructor kills it with SIGKILL if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& cwd,
               const std::string& stderr_path) {
    pid_ = spawn(argv, cwd, stderr_path, out_fd_);
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }

  // The first stdout line (seen so far or arriving before the timeout) that `pattern` matches;
  // returns its group 1 (or the line). Lines are kept, so patterns may be asked for in any order.
  std::optional<std::string> wait_for_line(const std::regex& pattern, milliseconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    size_t next = 0;
    for (;;) {
      for (; next < lines_.size(); ++next) {
        std::smatch m;
        if (std::regex_search(lines_[next], m, pattern)) {
          return m.size() > 1 ? m[1].str() : lines_[next];
        }
      }
      if (SteadyClock::now() >= deadline || out_fd_ < 0 || eof_) return std::nullopt;
      eof_ = !read_some(out_fd_, partial_, deadline);
      size_t nl;
      while ((nl = partial_.find('\n')) != std::string::npos) {
        lines_.push_back(partial_.substr(0, nl));
        partial_.erase(0, nl + 1);
      }
    }
  }

  std::string output() const {
    std::string all;
    for (const std::string& line : lines_) all += line + "\n";
    return all + partial_;
  }

  // Sends `sig` and waits (bounded) for the exit; the wait status, or nothing on timeout.
  std::optional<int> signal_and_wait(int sig, milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    kill(pid_, sig);
    auto deadline = SteadyClock::now() + timeout;
    int status = 0;
    while (SteadyClock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return status;
      }
      usleep(2000);  // ok-sleep: polling a child's exit
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  bool eof_ = false;
  std::vector<std::string> lines_;
  std::string partial_;
};

struct RunResult {
  int exit_code = -1;  // -1: killed (time limit) or did not start
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` to completion with stdout and stderr captured; after `limit` the child is killed
// with SIGKILL and the result says timed_out.
inline RunResult run_with_limit(const std::vector<std::string>& argv, milliseconds limit) {
  RunResult result;
  int fd = -1;
  pid_t pid = spawn(argv, "", "", fd);
  if (pid < 0) return result;
  auto deadline = SteadyClock::now() + limit;
  while (SteadyClock::now() < deadline && read_some(fd, result.output, deadline)) {
  }
  close(fd);
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) {
    // Output closed before the deadline but the process has not ended yet, or time ran out.
    while (SteadyClock::now() < deadline) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return result;
      }
      usleep(2000);  // ok-sleep: polling a child's exit
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.timed_out = true;
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace nca::examples_test
