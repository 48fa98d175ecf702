// actors/reply.hpp: building wire replies. Every reply is (method, serialized pb::Response), so
// errors reach the client as a status it can act on, never as a transport failure.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::actors {

// Starts the message of an unavailable reply a persona actor gives when its node lost the shard's
// leadership under a request: the api actor that sent the request routes it again to the new
// leader instead of passing the error on (actors/api_actor.cpp).
constexpr const char* kLeadershipMoved = "the shard's leadership moved";

inline void set_error(pb::Response& resp, const Error& e) {
  resp.clear_body();
  resp.mutable_status()->set_code(static_cast<pb::StatusCode>(e.code));
  resp.mutable_status()->set_message(e.message);
}

inline pb::Response error_response(const Error& e) {
  pb::Response resp;
  set_error(resp, e);
  return resp;
}

inline caf::result<uint32_t, std::string> reply_bytes(uint32_t method, const pb::Response& resp) {
  return caf::result<uint32_t, std::string>(method, resp.SerializeAsString());
}

inline caf::result<uint32_t, std::string> reply_error(uint32_t method, const Error& e) {
  return reply_bytes(method, error_response(e));
}

inline void deliver(caf::response_promise& rp, uint32_t method, const pb::Response& resp) {
  rp.deliver(method, resp.SerializeAsString());
}

}  // namespace nca::actors
