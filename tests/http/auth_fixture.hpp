// Test support: a node and its HTTP gateway with auth on, and API keys for two tenants:
// a_writer, a_reader (tenant-a), b_writer, b_admin (tenant-b), root (admin of every tenant); JWTs
// are accepted with kJwtSecret. limit() may set limits before the node starts.
#pragma once

#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/api_keys.hpp"
#include "tests/http/gateway_fixture.hpp"

namespace nca::testing {

inline const std::string kJwtSecret = "a-test-jwt-secret-that-is-long-enough-1234";

class AuthFixture : public GatewayFixture {
 protected:
  void customize(config::Settings& s) override {
    keys_file_ = dir_ + "/keys";
    std::ofstream out(keys_file_);
    for (auto& [name, tenant, role] : std::vector<std::tuple<std::string, std::string, Role>>{
             {"a_writer", "tenant-a", Role::writer},
             {"a_reader", "tenant-a", Role::reader},
             {"b_writer", "tenant-b", Role::writer},
             {"b_admin", "tenant-b", Role::admin},
             {"root", "*", Role::admin}}) {
      auto made = ApiKeyStore::generate(tenant, role, name);
      ASSERT_TRUE(made.ok());
      keys_[name] = made->key;
      lines_[name] = made->line;
      out << made->line << "\n";
    }
    s.auth.enabled = true;
    s.auth.api_keys_file = keys_file_;
    s.auth.jwt_secret = kJwtSecret;
    limit(s);
  }
  virtual void limit(config::Settings&) {}

  httplib::Headers as(const std::string& who) {
    return {{"Authorization", "Bearer " + keys_.at(who)}};
  }
  HttpReply call_as(const std::string& who, const std::string& method, const std::string& path,
                    const std::string& body = "") {
    return call(method, path, body, as(who));
  }

  std::string keys_file_;
  std::map<std::string, std::string> keys_;
  std::map<std::string, std::string> lines_;
};

}  // namespace nca::testing
