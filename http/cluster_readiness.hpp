// http/cluster_readiness.hpp: whether a node has joined its cluster, for /ready.
//
// "ok" once the node is in the cluster map it has applied, the metadata group has a known leader,
// and every shard this node replicates has a known leader; otherwise the first thing it still
// waits for, in words an operator can act on. Pure: a function of the node's cluster status.
#pragma once

#include <string>

#include "proto/neuroca.pb.h"

namespace nca::http {

std::string cluster_readiness(const pb::ClusterStatusReply& status);

}  // namespace nca::http
