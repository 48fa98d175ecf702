// tests/support/test_certs.hpp: certificates for TLS tests, made by the project's own
// scripts/gen-certs into a directory of the test's (so the script is tested by every TLS test).
#pragma once

#include <string>
#include <vector>

#include "tests/support/shell_command.hpp"

namespace nca::testing {

// A CA in `dir` (dir/ca.pem) and, for each name, dir/NAME.pem and dir/NAME-key.pem. Returns the
// script's output when it fails, empty on success.
inline std::string make_test_certs(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> argv = {"bash", std::string(NCA_SOURCE_DIR) + "/scripts/gen-certs",
                                   "--out", dir, "--days", "2"};
  argv.insert(argv.end(), names.begin(), names.end());
  auto r = run_command(argv);
  return r.exit_code == 0 ? std::string() : "gen-certs failed: " + r.out;
}

}  // namespace nca::testing
