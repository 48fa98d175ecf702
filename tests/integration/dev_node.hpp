// Test support: a fixture that runs the real `nca-node --dev` in a fresh temporary directory (its
// data is ./data there) on an OS-chosen port, and restarts it on the same data.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/process.hpp"

namespace nca::testing {

class DevNodeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nca-dev-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    node_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Starts the node with `extra` options after the dev-mode ones; sets addr_.
  void start_node(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{std::string(NCA_BIN_DIR) + "/nca-node", "--dev", "--node.listen",
                                  "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    node_ = std::make_unique<ChildProcess>(argv, dir_, dir_ + "/node.log");
    auto port = node_->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(30));
    ASSERT_TRUE(port.has_value()) << "nca-node did not start; see " << dir_ << "/node.log";
    addr_ = "127.0.0.1:" + *port;
  }

  std::string dir_;
  std::string addr_;
  std::unique_ptr<ChildProcess> node_;
};

}  // namespace nca::testing
