// Test support: an in-process node on an OS-chosen port with its own temp data directory, and a
// bounded wait on a condition (no sleeps as synchronization).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "actors/node.hpp"
#include "config/loader.hpp"
#include "config/schema.hpp"
#include "nca/client.hpp"

namespace nca::testing {

inline std::string make_temp_dir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  return dir ? std::string(dir) : std::string();
}

// Polls `cond` until it holds or `timeout` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // ok-sleep: polling interval
  }
  return cond();
}

inline config::Settings test_settings(const std::string& data_dir) {
  config::Settings s = config::defaults();
  s.node.data_dir = data_dir;
  s.node.listen = "127.0.0.1:0";
  s.memory.dim = 64;
  s.log.level = "warn";
  return s;
}

class NodeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("nca-node");
    ASSERT_FALSE(dir_.empty());
    settings_ = test_settings(dir_);
    customize(settings_);
    start();
  }
  void TearDown() override {
    client_.reset();
    node_.reset();
    std::filesystem::remove_all(dir_);
  }
  virtual void customize(config::Settings&) {}

  void start() {
    auto node = actors::Node::start(settings_, clock_);
    ASSERT_TRUE(node.ok()) << node.error().message;
    node_ = std::move(*node);
    auto client = Client::connect({"127.0.0.1:" + std::to_string(node_->port())}, client_options_);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
  }
  void restart() {
    client_.reset();
    ASSERT_TRUE(node_->stop().ok());
    node_.reset();
    start();
  }

  pb::MemoryInput memory(const std::string& content, std::vector<std::string> tags = {}) {
    pb::MemoryInput in;
    in.set_content(content);
    for (auto& t : tags) in.add_tags(t);
    return in;
  }

  std::string dir_;
  config::Settings settings_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<actors::Node> node_;
  std::unique_ptr<Client> client_;
  ClientOptions client_options_;  // for client_; a fixture may change them before SetUp
};

}  // namespace nca::testing
