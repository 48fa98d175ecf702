// http/cluster_metrics.hpp: the cluster's figures for /metrics, made from the status that
// `nca cluster status` shows (pb::ClusterStatusReply), so what an operator alerts on and what they
// read when the alert fires are the same figures.
//
// cluster_families() is pure: the members by state as this node's copy of the cluster map has them,
// whether a metadata leader is known, the peers by the failure detector's state and how many are
// linked, what the peer transport carried (counters), and the shards this node replicates: hosted,
// led here, without a known leader (etcd's has_leader, per shard), catching up (as /ready counts
// them), and per shard the replication lag on its leader and the apply lag on every replica. Every
// series that can be zero is written even when it is (alerts compare against 0, and an absent
// series is not 0 to Prometheus), except the shard figures when the status says this node's view
// of its shards is unavailable: then they are left out rather than reported as zeros.
//
// Thread-safety: a pure function of its argument.
#pragma once

#include <vector>

#include "http/metrics.hpp"
#include "proto/neuroca.pb.h"

namespace nca::http {

std::vector<MetricFamily> cluster_families(const pb::ClusterStatusReply& status);

}  // namespace nca::http
