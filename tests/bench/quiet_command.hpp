// tests/bench/quiet_command.hpp: runs an nca-bench command line with stderr discarded, for the
// bench tests that parse its --json stdout (shared so the bench test files, built as one unity
// translation unit, do not each define their own copy).
#pragma once

#include <string>

#include "tests/support/shell_command.hpp"

namespace nca::testing {

// Runs `cmd` through /bin/sh with stderr sent to /dev/null; returns stdout and stores the exit
// code (-1: could not run, or killed by a signal) in *exit_code.
inline std::string run_quiet(const std::string& cmd, int* exit_code) {
  CommandResult r = run_shell(cmd + " 2>/dev/null");
  *exit_code = r.exit_code;
  return r.out;
}

}  // namespace nca::testing
