// tests/cli/run_nca.hpp: runs the `nca` binary as a subprocess for the CLI tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sdk/fake_node.hpp"

namespace nca::test_support {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Which of the child's outputs is a terminal (a pseudo-terminal we read) instead of a pipe. The
// terminal turns "\n" into "\r\n".
enum class Terminal { none, stdout_only, stderr_only };

// Opens a pseudo-terminal: the master in fds[0], the slave in fds[1]; false on failure.
inline bool open_terminal(int fds[2]) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) return false;
  if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname(master) == nullptr) {
    close(master);
    return false;
  }
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  if (slave < 0) {
    close(master);
    return false;
  }
  fds[0] = master;
  fds[1] = slave;
  return true;
}

// Runs build/bin/nca with `args` (and `env` entries added), feeding `input` to its stdin, with
// stdout or stderr on a terminal if asked. Kills it if it runs longer than 20 s, which fails the
// calling test through exit_code -1.
inline RunResult run_nca(const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {}, const std::string& input = "",
                         Terminal terminal = Terminal::none) {
  RunResult result;
  int out_pipe[2], err_pipe[2], in_pipe[2];
  bool opened = terminal == Terminal::stdout_only ? open_terminal(out_pipe) : pipe(out_pipe) == 0;
  opened =
      opened && (terminal == Terminal::stderr_only ? open_terminal(err_pipe) : pipe(err_pipe) == 0);
  if (!opened || pipe(in_pipe) != 0) {
    ADD_FAILURE() << "pipe or terminal: " << std::strerror(errno);
    return result;
  }
  std::string binary = std::string(NCA_BIN_DIR) + "/nca";
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // The child sees a clean environment: no NCA_* from the developer's shell, no terminal.
  std::vector<std::string> env_storage = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  env_storage.insert(env_storage.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      close(fd);
    }
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!input.empty() && write(in_pipe[1], input.data(), input.size()) < 0) {
    ADD_FAILURE() << "write to child stdin failed";
  }
  close(in_pipe[1]);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  bool timed_out = false;
  while (open_pipes > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[4096];
      // A terminal's master reads EIO once the child has closed its side: that is its end.
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) {
    ADD_FAILURE() << "nca did not finish within 20 s";
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

inline std::string addr(const FakeNode& node) { return "--addr=" + node.address(); }

}  // namespace nca::test_support
