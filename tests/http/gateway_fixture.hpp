// Test support: an in-process node (port 0, temp data dir) with the HTTP gateway in front of it
// (port 0), and a cpp-httplib client that returns status, headers and parsed JSON.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "http/http_gateway.hpp"
#include "runtime/httplib.hpp"
#include "tests/actors/node_test_util.hpp"

namespace nca::testing {

struct HttpReply {
  int status = 0;  // 0: no reply (connection refused or reset)
  std::string body;
  nlohmann::json json;  // discarded when the body is not JSON
  httplib::Headers headers;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

inline HttpReply http_call(uint16_t port, const std::string& method, const std::string& path,
                           const std::string& body = "", httplib::Headers headers = {}) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(std::chrono::seconds(5));
  cli.set_read_timeout(std::chrono::seconds(30));
  cli.set_write_timeout(std::chrono::seconds(30));
  const std::string type = "application/json";
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    res = cli.Get(path, headers);
  } else if (method == "POST") {
    res = cli.Post(path, headers, body, type);
  } else if (method == "PATCH") {
    res = cli.Patch(path, headers, body, type);
  } else if (method == "PUT") {
    res = cli.Put(path, headers, body, type);
  } else if (method == "DELETE") {
    res = cli.Delete(path, headers, body, type);
  } else if (method == "OPTIONS") {
    res = cli.Options(path, headers);
  } else if (method == "HEAD") {
    res = cli.Head(path, headers);
  }
  HttpReply out;
  if (!res) return out;
  out.status = res->status;
  out.body = res->body;
  out.headers = res->headers;
  out.json = nlohmann::json::parse(out.body, nullptr, false);
  return out;
}

class GatewayFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);  // one line per request is noise in test output
    dir_ = make_temp_dir("nca-http");
    ASSERT_FALSE(dir_.empty());
    settings_ = test_settings(dir_);
    settings_.http.listen = "127.0.0.1:0";
    settings_.http.timeout = 5 * kUsPerSecond;
    settings_.http.max_body = 64 << 10;
    settings_.http.threads = 4;
    customize(settings_);
    auto node = actors::Node::start(settings_);
    ASSERT_TRUE(node.ok()) << node.error().message;
    node_ = std::move(*node);
    auto gateway = http::HttpGateway::start(settings_, *node_, options());
    ASSERT_TRUE(gateway.ok()) << gateway.error().message;
    gateway_ = std::move(*gateway);
  }
  void TearDown() override {
    gateway_.reset();
    node_.reset();
    std::filesystem::remove_all(dir_);
  }
  virtual void customize(config::Settings&) {}
  virtual http::GatewayOptions options() { return {}; }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 httplib::Headers headers = {}) {
    return http_call(gateway_->port(), method, path, body, std::move(headers));
  }

  // A persona without events, for long polls that must wait.
  void create_persona(const std::string& id, const std::string& tenant = "default") {
    auto r =
        call("POST", "/v1/personas", R"({"id": ")" + id + R"("})", {{"X-Neuroca-Tenant", tenant}});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  std::string dir_;
  config::Settings settings_;
  std::unique_ptr<actors::Node> node_;
  std::unique_ptr<http::HttpGateway> gateway_;
};

// "status 404: {...}" for assertion messages.
inline std::string describe(const HttpReply& r) {
  return "status " + std::to_string(r.status) + ": " + r.body.substr(0, 600);
}

}  // namespace nca::testing
