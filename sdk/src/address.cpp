#include "sdk/src/address.hpp"

#include <cctype>

namespace nca::sdk {

std::string Endpoint::to_string() const {
  std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

namespace {

Error bad_address(const std::string& text, const std::string& why) {
  return make_error(ErrorCode::invalid_argument,
                    "bad node address '" + text + "': " + why +
                        "; expected HOST:PORT, e.g. 127.0.0.1:7420 or [::1]:7420");
}

}  // namespace

Result<Endpoint> parse_address(const std::string& text) {
  if (text.empty()) return bad_address(text, "it is empty");
  for (unsigned char c : text) {
    if (std::isspace(c) || !std::isprint(c)) {
      return bad_address(text, "it contains whitespace or a control character");
    }
  }
  Endpoint endpoint;
  std::string port_text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return bad_address(text, "'[' without a closing ']'");
    endpoint.host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return bad_address(text, "no ':PORT' after the bracketed host");
    }
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return bad_address(text, "no port");
    endpoint.host = text.substr(0, colon);
    if (endpoint.host.find(':') != std::string::npos) {
      return bad_address(text, "an IPv6 host must be written in brackets");
    }
    port_text = text.substr(colon + 1);
  }
  if (endpoint.host.empty()) return bad_address(text, "no host");
  if (port_text.empty()) return bad_address(text, "no port");
  if (port_text.size() > 5) return bad_address(text, "port out of range 1..65535");
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return bad_address(text, "port '" + port_text + "' is not a number");
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return bad_address(text, "port out of range 1..65535");
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

}  // namespace nca::sdk
