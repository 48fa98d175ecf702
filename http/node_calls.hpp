// http/node_calls.hpp: the gateway's questions to the node's actors, each bounded by a deadline.
//
// call() sends one pb::Request to the api actor in the same wire envelope the SDK uses
// (proto/wire.hpp), so HTTP and SDK requests take the same path through the node. event_stats()
// asks the event router for its counts; persona_stats() asks every active persona for its stats
// (one fan-out, replies gathered in the bridge actor). A transport failure, the deadline or a drain
// becomes an error (unavailable, deadline_exceeded), never a hang. Thread-safe: every method may be
// called from any thread; the Node and the bridge must outlive this object.
#pragma once

#include <vector>

#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "http/actor_bridge.hpp"
#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::http {

class NodeCalls {
 public:
  // `api`: where call() sends requests; null: node.api().
  NodeCalls(actors::Node& node, ActorBridge& bridge, caf::actor api = {})
      : node_(node), bridge_(bridge), api_(std::move(api)) {}

  // Who a call is from: a client (its request carries the client's credential, which the api actor
  // checks) or the gateway itself (readiness, metrics, and views it has already authorized).
  enum class Caller { client, node };

  // The node's reply; an error status when the call itself failed.
  pb::Response call(const pb::Request& request, SteadyTime deadline,
                    Caller caller = Caller::client);

  Result<actors::EventStatsPtr> event_stats(SteadyTime deadline);

  struct PersonaFigures {
    std::vector<pb::PersonaStats> personas;
    size_t unanswered = 0;  // personas that failed or did not answer in time
  };
  // Stats of every persona active on this node (activated since start).
  Result<PersonaFigures> persona_stats(SteadyTime deadline);

 private:
  actors::Node& node_;
  ActorBridge& bridge_;
  caf::actor api_;
};

// The error for an abandoned wait: deadline_exceeded, or unavailable while draining.
Error wait_error(ActorBridge::Outcome outcome, const std::string& what);

}  // namespace nca::http
