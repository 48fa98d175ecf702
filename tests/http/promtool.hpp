// Test support: runs the real `promtool check metrics` (Debian package prometheus) on a text.
#pragma once

#include "tests/support/shell_command.hpp"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace nca::testing {

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

inline std::string promtool_path() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return {};
}

// `promtool check metrics < text`; exit_code -1 when it could not run.
inline PromtoolResult promtool_check(const std::string& text) {
  PromtoolResult out;
  const std::string tool = promtool_path();
  if (tool.empty()) return out;
  char tmpl[] = "/tmp/nca-metrics-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return out;
  close(fd);
  {
    std::ofstream f(tmpl, std::ios::binary);
    f << text;
  }
  std::string cmd = tool + " check metrics < " + tmpl + " 2>&1";
  CommandResult run = run_shell(cmd);
  out.exit_code = run.exit_code;
  out.output = std::move(run.out);
  std::filesystem::remove(tmpl);
  return out;
}

}  // namespace nca::testing
