// http/cluster_readiness.hpp: whether a node has joined its cluster, for /ready.
//
// "ok" once the node is in the cluster map it has applied, the metadata group has a known leader,
// and every shard this node replicates has a known leader and is caught up here (a voter whose
// applied index is close to the commit index: a node that just received a shard is not ready
// until it has its data); otherwise the first thing it still
// waits for, in words an operator can act on. Pure: a function of the node's cluster status.
#pragma once

#include <string>

#include "proto/neuroca.pb.h"

namespace nca::http {

std::string cluster_readiness(const pb::ClusterStatusReply& status);

}  // namespace nca::http
