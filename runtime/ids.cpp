#include "runtime/ids.hpp"


namespace nca {

IdGenerator::IdGenerator(const Clock& clock, uint64_t seed) : clock_(clock), uuid_(seed) {}

std::string IdGenerator::uuid_v7() {
  std::lock_guard<std::mutex> lock(mu_);
  return uuid_.next(clock_.now_us() / 1000);
}

Status validate_id(std::string_view id, std::string_view what) {
  if (id.empty()) return make_error(ErrorCode::invalid_argument, std::string(what) + " must not be empty");
  if (id.size() > 128) {
    return make_error(ErrorCode::invalid_argument,
                      std::string(what) + " is " + std::to_string(id.size()) +
                          " bytes; at most 128 are allowed");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) {
      return make_error(ErrorCode::invalid_argument,
                        std::string(what) + " '" + std::string(id) +
                            "' has a character outside [A-Za-z0-9._:@-]");
    }
  }
  return {};
}

}  // namespace nca
