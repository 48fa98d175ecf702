// tests/sdk/test_client.hpp: the client options and connect helper shared by the SDK tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nca/client.hpp"

namespace nca::test_support {

inline int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

// Tenant and token set so tests can see them stamped; a 5 s request timeout.
inline ClientOptions fast_options() {
  ClientOptions options;
  options.tenant = "acme";
  options.auth_token = "secret-token";
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.request_timeout = std::chrono::milliseconds(5000);
  return options;
}

// The connected client, or null after recording a test failure.
inline std::unique_ptr<Client> connect_or_die(const std::vector<std::string>& addresses,
                                              ClientOptions options = fast_options()) {
  auto client = Client::connect(addresses, options);
  if (!client.ok()) {
    ADD_FAILURE() << "connect failed: " << client.error().to_string();
    return nullptr;
  }
  return std::move(client).value();
}

}  // namespace nca::test_support
