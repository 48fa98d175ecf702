// sdk/src/request_id.hpp: request ids for the RequestHeader.
//
// RequestIdGenerator makes UUIDv7-shaped strings (48-bit Unix milliseconds, a 12-bit
// per-millisecond counter, 62 random bits), so ids are unique across clients and sort by time in
// server logs. The node has its own generator (runtime/ids.hpp); the SDK keeps this small copy so
// nca_client does not link the runtime. Thread-safe: one mutex around the state. Each Client owns
// one.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "nca/uuid_v7.hpp"

namespace nca::sdk {

class RequestIdGenerator {
 public:
  RequestIdGenerator();
  std::string next();

 private:
  std::mutex mu_;
  UuidV7 uuid_;
};

}  // namespace nca::sdk
