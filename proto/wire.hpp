// proto/wire.hpp: the CAF envelope that carries neuroca's protobuf messages between SDK and node.
//
// One message shape for every verb, so CAF never serializes our types (no add_message_type to forget, no
// float corruption): the client sends (envelope_atom, method, bytes of nca.pb.Request) and the api actor
// replies (method, bytes of nca.pb.Response). `method` is the field number of the Request's body. Errors
// travel inside Response.status; a caf::error reply means the transport failed, not the request.
#pragma once

#include <caf/atom.hpp>

#include <cstdint>

namespace nca::wire {

using envelope_atom = caf::atom_constant<caf::atom("envelope")>;

// The current schema version stamped into every request, reply and stored record.
constexpr uint32_t kSchemaVersion = 1;

}  // namespace nca::wire
