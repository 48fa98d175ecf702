// bench/local_cluster.hpp: nca-node processes on loopback for the benchmarks that need a real
// cluster (`nca-bench cluster`, `nca-bench soak`): spawning and SIGKILLing them, and asking a node
// whether every shard has a leader. Not thread-safe: one bench thread drives a Process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nca/client.hpp"
#include "nca/result.hpp"

namespace nca::bench {

// The directory of the running executable (nca-node is built next to nca-bench).
std::string self_dir();

// A child process with its output in a log file; killed (SIGKILL) when the object goes.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { kill(); }

  Status start(const std::vector<std::string>& argv, const std::string& log);
  Status restart() { return start(argv_, log_); }
  void kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // 0 when not running
  const std::string& log() const { return log_; }

  // How the process ended ("exit status 1", "signal 11") once it has ended by itself; empty
  // while it runs or after kill(). Reaps it: a process that ended is no longer running().
  std::string ended();

 private:
  pid_t pid_ = 0;
  std::vector<std::string> argv_;
  std::string log_;
};

std::string loopback(uint16_t port);

// The command line of node i (0-based) of a loopback cluster whose first node is the seed: node id
// node-<i+1>, data in dir/node-<i+1>, quick failure detection (dead after 2 s), then `extra`.
std::vector<std::string> node_argv(size_t i, const std::string& dir,
                                   const std::vector<std::string>& addresses, uint32_t shards,
                                   const std::vector<std::string>& extra = {});

// Starts `n` nodes (node_argv) on OS-chosen loopback ports, logs in dir/node-<i>.log; their
// addresses and processes go to `addresses` and `nodes`.
Status start_nodes(size_t n, const std::string& dir, uint32_t shards,
                   std::vector<std::string>* addresses,
                   std::vector<std::unique_ptr<Process>>* nodes,
                   const std::vector<std::string>& extra = {});

// Copies the nodes' logs (dir/*.log) to <tmp>/nca-bench-<name>-logs-<pid> and says where: a run's
// directory goes with it, and whoever looks at a failure needs them.
void keep_node_logs(const std::string& dir, const std::string& name);

// For each of `needles`, the lines of the nodes' logs (dir/*.log, every incarnation's: they are
// appended) that contain it, in one pass over the logs: what the benchmarks count of events the
// nodes only log.
std::vector<uint64_t> count_log_lines(const std::string& dir,
                                      const std::vector<std::string>& needles);

// Polls `cond` every 50 ms until `limit`.
bool await(const std::function<bool()>& cond, std::chrono::seconds limit);

// await() for a cluster's nodes: gives up as soon as one of `nodes` has ended by itself (a node
// that refused its configuration is otherwise waited for until the limit, silently). The error
// names the node, how it ended and the last line of its log; or, at the limit, `what` and where
// the logs are.
Status await_nodes(const std::function<bool()>& cond, std::chrono::seconds limit,
                   const std::vector<std::unique_ptr<Process>>& nodes, const std::string& what);

// Each shard's leader as `via` sees it; empty unless every shard has one. With `nodes` > 0, also
// empty until the rebalancer has settled: every shard settled, replicas and leaderships spread
// over the nodes within one of each other.
std::vector<uint64_t> shard_leaders(Client& via, uint32_t shards, size_t nodes = 0);

}  // namespace nca::bench
