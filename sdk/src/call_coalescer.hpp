// sdk/src/call_coalescer.hpp: which calls of one client may travel as one request, how they are
// merged, and how the merged reply is split back into one reply per call.
//
// Concurrent publishes of a client (and concurrent acks) would each cost a round trip, a request
// at the node and, there, a durable write of their own. A Kafka producer batches the records its
// callers send meanwhile; the SDK does the same for these two verbs, since the node already takes
// several events per publish and several acks per ack_batch: calls that wait for their turn are
// sent as one publish or one ack_batch (Client::Impl decides when; this file only says how).
//
// What may join: a publish or an ack / ack_batch whose caller left the header's request id and
// deadline to the SDK (a caller's request id names one request the node must apply once, and a
// caller's deadline is that call's own) and whose events carry no client id (an id the node has
// seen before is answered out of order, from storage). Calls join only calls of the same lane: the
// same verb family, tenant, auth token and route.
//
// What each call gets back is what it would have got alone: its own events, in its order, or its
// own acks' outcomes, with messages that name its own indices. A merged request that the node
// refuses as a whole before changing anything (invalid_argument, resource_exhausted: one event of
// the batch is malformed, or the batch is too big for events.max-batch, or the tenant is full) is
// sent again call by call, so each call gets its own verdict (retry_alone).
//
// Plain functions of protobuf messages: no I/O, no threads; thread-safe as values are.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::sdk {

// The lane `request` may be merged in, or "" when it must go alone. The header's tenant, auth
// token and request id must be final; `caller_chose_id_or_deadline` says whether the caller set
// the request id or the deadline itself. `max_items` bounds the events or acks of one merge.
std::string coalesce_lane(const pb::Request& request, const std::string& route_key,
                          bool caller_chose_id_or_deadline, size_t max_items);

// The events of a publish, or the acks of an ack (1) or ack_batch, that `request` carries.
size_t coalesce_items(const pb::Request& request);

// One publish (for a publish lane) or one ack_batch (for an ack lane) carrying every member's
// events or acks in order, with the first member's header. Members must share one lane; the caller
// sets the merged request's own request id and deadline.
pb::Request merge_requests(const std::vector<const pb::Request*>& members);

// One Response per member, from the reply to merge_requests(members) (status OK). internal when
// the reply does not have one result per event or ack sent.
Result<std::vector<pb::Response>> split_reply(const std::vector<const pb::Request*>& members,
                                              pb::Response merged);

// Whether a merged request that failed with `error` must be sent again call by call: the node
// refused it whole, before any change, for a reason that may concern only some of its calls.
bool retry_alone(const Error& error);

}  // namespace nca::sdk
