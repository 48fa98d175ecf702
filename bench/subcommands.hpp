// bench/subcommands.hpp: the entry points of nca-bench's subcommands. Each takes the arguments
// after its name, prints its result on stdout (a table, or one JSON object with --json) and
// progress on stderr, and returns the process exit code: 0 on success, 1 when the benchmark could
// not run, 2 for bad arguments.
//
// nca-bench is a unity build (its files are compiled together), so each subcommand's file keeps
// its helpers in a namespace named for the file, around an anonymous one (nca::bench::raft_bench),
// and its entry point below calls that namespace's run().
#pragma once

#include <string>
#include <vector>

namespace nca::bench {

// Vector recall and ingest of one node against raw hnswlib, FAISS and raw CAF messaging.
int run_recall(const std::vector<std::string>& args);

// Turn-level evidence recall on LoCoMo conversations, per retrieval mode, against a plain BM25.
int run_locomo(const std::vector<std::string>& args);

// The event life cycle (publish, assign, deliver, ack) under concurrent workers, in-process and
// through the SDK, against raw RocksDB synced single-key writes with the same concurrency.
int run_events(const std::vector<std::string>& args);

// Recall and remember over the HTTP/JSON gateway (keep-alive, several client concurrencies) against
// the same calls through the SDK in the same run.
int run_http(const std::vector<std::string>& args);

// Commits of a three-node Raft group in-process (in-memory transport, RocksDB log, synced) with 1
// and many concurrent proposers, against raw RocksDB synced writes with as many threads.
int run_raft(const std::vector<std::string>& args);

// A cluster of nca-node processes on loopback through the SDK (remember, recall, leader failover)
// against one standalone node and a three-member etcd cluster in the same run.
int run_cluster(const std::vector<std::string>& args);

// Mixed load on a local cluster with periodic SIGKILLs and restarts; at the end every acknowledged
// write must read back (exit 1 if one is lost or differs).
int run_soak(const std::vector<std::string>& args);

}  // namespace nca::bench
