// sdk/src/address.hpp: the "host:port" syntax clients use to name a node.
//
// parse_address() is the one place that syntax is checked, so every caller (SDK, CLI through the
// SDK) reports a bad address the same way, before any network activity. Pure functions,
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "nca/result.hpp"

namespace nca::sdk {

// A node address: `host` is a name or an IP literal (IPv6 without brackets), `port` is 1..65535.
struct Endpoint {
  std::string host;
  uint16_t port = 0;

  // The canonical "host:port" ("[::1]:7420" for IPv6) used in messages and Client::address().
  std::string to_string() const;
};

// Accepts "host:port" and "[ipv6]:port"; anything else is invalid_argument with a message that
// shows the expected form.
Result<Endpoint> parse_address(const std::string& text);

}  // namespace nca::sdk
