// nca-bench: neuroca's benchmarks. `nca-bench <subcommand> [options]`.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "bench/subcommands.hpp"

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"recall",
     "ingest and vector recall of one node (SDK and in-process) vs raw hnswlib, FAISS HNSW and a "
     "raw CAF round trip",
     nca::bench::run_recall},
    {"locomo", "turn-level evidence recall on LoCoMo per retrieval mode vs plain BM25",
     nca::bench::run_locomo},
    {"events",
     "publish -> assign -> deliver -> ack with concurrent workers (in-process and SDK) vs raw "
     "RocksDB synced writes",
     nca::bench::run_events},
    {"http",
     "recall and remember over the HTTP gateway with keep-alive at several concurrencies vs the "
     "SDK",
     nca::bench::run_http},
    {"raft",
     "commits/s and commit latency of a three-node Raft group (in-process, RocksDB log, synced) "
     "with 1 and 64 proposers vs raw RocksDB synced writes",
     nca::bench::run_raft},
    {"cluster",
     "three nca-node processes through the SDK: remember/recall latency and throughput, leader "
     "failover time; vs one standalone node and a three-member etcd cluster",
     nca::bench::run_cluster},
    {"soak",
     "mixed load on a local cluster with a SIGKILL and restart every --kill-every s for --minutes; "
     "verifies that no acknowledged write was lost",
     nca::bench::run_soak},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::cout << "usage: nca-bench <subcommand> [options]\nsubcommands:\n";
    for (const auto& s : kSubcommands) std::cout << "  " << s.name << "  " << s.summary << "\n";
    return argc < 2 ? 2 : 0;
  }
  for (const auto& s : kSubcommands) {
    if (std::strcmp(argv[1], s.name) == 0)
      return s.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::cerr << "nca-bench: unknown subcommand '" << argv[1] << "'\n";
  return 2;
}
