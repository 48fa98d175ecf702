// tests/support/shell_command.hpp: runs a shell command line from a test and captures its output.
//
// Header-only test support shared by the test executables (tests/support has no .cpp, so it builds
// no executable of its own). The command runs to completion: callers bound it with the command's
// own limits (sizes, --seconds, timeouts). Not thread-safe beyond popen's own guarantees.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

namespace nca::testing {

struct CommandResult {
  int exit_code = -1;  // -1: could not run, or killed by a signal
  std::string out;
};

// `command_line` goes to /bin/sh as is; stderr is kept only when the line redirects it.
inline CommandResult run_shell(const std::string& command_line) {
  CommandResult r;
  FILE* f = popen(command_line.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) r.out.append(buf, n);
  int status = pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs argv (each argument shell-quoted) with stderr merged into the captured output.
inline CommandResult run_command(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) {
    std::string q = "'";
    for (char c : a) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    cmd += q + "' ";
  }
  return run_shell(cmd + "2>&1");
}

}  // namespace nca::testing
