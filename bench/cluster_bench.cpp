// `nca-bench cluster`: a three-node cluster of real nca-node processes on loopback, clients through
// the SDK, against one standalone node and an etcd 3.4 cluster of three members on the same
// machine, in the same run.
//
// Phases (each with --clients concurrent callers, each caller a thread with its own SDK client
// that knows all three nodes, or its own keep-alive HTTP connection to one etcd member):
//   1. remember: --writes memories of --value-bytes over --personas personas (per-call latency);
//   2. recall: --recalls recalls of those personas;
//   3. the same two phases on a standalone node (no replication): what replication costs; then
//      on a one-node cluster (every shard a Raft group of one replica): what Raft itself costs,
//      the counterpart of etcd's one member below;
//   4. failover, --failovers rounds: SIGKILL the leader of one persona's shard while a caller
//      writes to that persona; the time from the kill to the first acknowledged write sent after
//      it; the killed node is started again on its data and the cluster settles before the next
//      round;
//   5. etcd: three members (Debian's etcd-server), puts of the same value size and concurrency
//      through the v3 JSON gateway; then the same puts on one member, so the run also shows what
//      replication costs a mature system on this machine (etcd_single_put_per_s).
// Targets (issue #7): remember_p99_us <= 2 x etcd_put_p99_us; remember_per_s >= 0.5 x
// single_node_remember_per_s; failover_ms_median <= 3,000.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.hpp"
#include "bench/local_cluster.hpp"
#include "bench/subcommands.hpp"
#include "cluster/membership/node_number.hpp"
#include "nca/client.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "runtime/httplib.hpp"
#include "storage/keys.hpp"
#include "tests/support/loopback_port.hpp"
#include "tests/support/metrics_scrape.hpp"

namespace nca::bench {
namespace cluster_bench {
namespace {

namespace po = boost::program_options;

constexpr double kP99Ratio = 2.0, kThroughputRatio = 0.5, kFailoverMs = 3000;

struct ClusterBenchOptions {
  size_t nodes = 3;
  size_t clients = 16;
  size_t writes = 4000;
  size_t recalls = 2000;
  size_t personas = 64;
  size_t value_bytes = 256;
  size_t failovers = 10;
  uint32_t shards = 8;
  bool route_requests = true;  // ClientOptions::route_requests of the callers' clients
  size_t sdk_clients = 0;      // SDK clients the callers share, round robin; 0: one per caller
  bool json = false;
};

std::optional<ClusterBenchOptions> parse_options(const std::vector<std::string>& args,
                                                 int* exit_code) {
  ClusterBenchOptions o;
  po::options_description desc("nca-bench cluster options");
  desc.add_options()("nodes", po::value<size_t>(&o.nodes)->default_value(o.nodes),
                     "nodes of the cluster (3 or more)")(
      "clients", po::value<size_t>(&o.clients)->default_value(o.clients), "concurrent callers")(
      "writes", po::value<size_t>(&o.writes)->default_value(o.writes), "remembers (and etcd puts)")(
      "recalls", po::value<size_t>(&o.recalls)->default_value(o.recalls), "recalls")(
      "personas", po::value<size_t>(&o.personas)->default_value(o.personas), "personas written")(
      "value-bytes", po::value<size_t>(&o.value_bytes)->default_value(o.value_bytes),
      "bytes of each memory's content and each etcd value")(
      "failovers", po::value<size_t>(&o.failovers)->default_value(o.failovers),
      "leader kills (0: skip)")("shards", po::value<uint32_t>(&o.shards)->default_value(o.shards),
                                "cluster.shards")(
      "route-requests", po::value<bool>(&o.route_requests)->default_value(o.route_requests),
      "SDK route cache of the callers (false: every request through the node each caller is "
      "connected to)")(
      "sdk-clients", po::value<size_t>(&o.sdk_clients)->default_value(o.sdk_clients),
      "SDK clients (each with its own actor system) the callers share; 0: one per caller")(
      "json", po::bool_switch(&o.json), "print one JSON object instead of a table");
  auto vm = parse_subcommand_args("cluster", desc, args, exit_code);
  if (!vm) return std::nullopt;
  if (o.nodes < 3 || o.clients == 0 || o.writes == 0 || o.personas == 0 || o.shards == 0) {
    std::cerr << "nca-bench cluster: --nodes must be at least 3; --clients, --writes, --personas "
                 "and --shards at least 1\n";
    *exit_code = 2;
    return std::nullopt;
  }
  if (o.sdk_clients == 0 || o.sdk_clients > o.clients) o.sdk_clients = o.clients;
  return o;
}

struct Phase {
  double per_s = NAN;
  double cpu_us = NAN;         // CPU per call of every process of the phase, servers and callers
  double server_cpu_us = NAN;  // of that, the servers' (the rest is the callers' and clients')
  // Context switches of the servers' threads per call (bench_util.hpp): how often a call's work
  // was handed to a thread that had to be woken, which is what a node's CPU per call follows on
  // this machine (docs/benchmarks.md, session 32).
  double server_switches_per_call = NAN;
  Latencies latency;
  size_t errors = 0;
  std::string first_error;
  // From the nodes' /metrics before and after the phase, summed over the nodes (NAN when a node
  // did not answer a scrape): what each call cost in synced writes or fsyncs, Raft rounds and
  // frames between nodes, requests a node forwarded to another (the SDK sent them to a node that
  // does not lead the persona's shard), and the leader changes seen during the phase.
  double durable_writes_per_call = NAN;
  double raft_rounds_per_call = NAN;
  double peer_frames_per_call = NAN;
  double forwarded_per_call = NAN;
  double leader_changes = NAN;
};

// What the nodes whose logs are `logs` (each logged its HTTP port) have counted, summed over the
// nodes: the figures a phase reports per call.
struct NodeTotals {
  double durable_writes = 0, raft_rounds = 0, peer_frames = 0, forwarded = 0, leader_changes = 0;
};

// nullopt when a node does not answer its scrape.
std::optional<NodeTotals> node_totals(const std::vector<std::string>& logs) {
  NodeTotals t;
  for (const auto& log : logs) {
    auto port = testing::logged_http_port(log);
    if (!port) return std::nullopt;
    auto m = testing::scrape_metrics(*port);
    if (m.empty()) return std::nullopt;
    t.durable_writes += testing::sample(m, "nca_storage_durable_write_duration_seconds_count", 0);
    t.raft_rounds += testing::sample(m, "nca_raft_rounds_total", 0);
    t.peer_frames += testing::sample(m, "nca_peer_frames_sent_total", 0);
    t.forwarded += testing::sample(m, "nca_requests_forwarded_total", 0);
    t.leader_changes += testing::sample(m, "nca_raft_leader_changes_seen_total", 0);
  }
  return t;
}

void set_counters(const std::optional<NodeTotals>& before, const std::optional<NodeTotals>& after,
                  size_t calls, Phase* p) {
  if (!before || !after || calls == 0) return;
  const double n = static_cast<double>(calls);
  p->durable_writes_per_call = (after->durable_writes - before->durable_writes) / n;
  p->raft_rounds_per_call = (after->raft_rounds - before->raft_rounds) / n;
  p->peer_frames_per_call = (after->peer_frames - before->peer_frames) / n;
  p->forwarded_per_call = (after->forwarded - before->forwarded) / n;
  p->leader_changes = after->leader_changes - before->leader_changes;
}

// What the servers of a phase have used so far, summed over their processes.
struct ServerUse {
  double cpu_seconds = 0;
  double switches = 0;
};

std::function<ServerUse()> use_of(const std::vector<pid_t>& pids) {
  return [pids] {
    ServerUse sum;
    for (pid_t p : pids) {
      sum.cpu_seconds += process_cpu_seconds(p);
      sum.switches += process_context_switches(p);
    }
    return sum;
  };
}

std::vector<pid_t> pids_of(const std::vector<std::unique_ptr<Process>>& processes) {
  std::vector<pid_t> out;
  for (const auto& p : processes) out.push_back(p->pid());
  return out;
}

// Runs `calls` calls of `call(caller, i)` over `callers` threads; each returns the error text or
// "". `servers` (what the phase's servers have used so far) and this process's CPU (the callers
// and their clients) give Phase::cpu_us and the servers' figures.
Phase run_phase(size_t callers, size_t calls,
                const std::function<std::string(size_t caller, size_t i)>& call,
                const std::function<ServerUse()>& servers) {
  Phase out;
  const ServerUse servers_before = servers();
  const double self_before = self_cpu_seconds();
  std::mutex mu;
  std::atomic<size_t> next{0};
  std::vector<Latencies> lat(callers);
  Stopwatch total;
  std::vector<std::thread> threads;
  for (size_t c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      for (size_t i = next++; i < calls; i = next++) {
        Stopwatch one;
        std::string err = call(c, i);
        lat[c].add(one.elapsed_us());
        if (!err.empty()) {
          std::lock_guard<std::mutex> lock(mu);
          if (out.errors++ == 0) out.first_error = err;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  out.per_s = static_cast<double>(calls) / total.elapsed_s();
  const ServerUse servers_after = servers();
  const double server = servers_after.cpu_seconds - servers_before.cpu_seconds;
  out.server_cpu_us = server * 1e6 / static_cast<double>(calls);
  out.server_switches_per_call =
      (servers_after.switches - servers_before.switches) / static_cast<double>(calls);
  out.cpu_us = (server + self_cpu_seconds() - self_before) * 1e6 / static_cast<double>(calls);
  for (auto& l : lat) {
    for (double v : l.samples()) out.latency.add(v);
  }
  return out;
}

struct Results {
  Phase remember, recall, single_remember, single_recall, etcd_put, etcd_single_put;
  Phase one_replica_remember, one_replica_recall;
  std::vector<double> failover_ms;
  size_t failover_errors = 0;
  std::string failover_first_error;
  double load_start = -1, load_end = -1;
  std::string etcd_version;
};

std::string content_of(size_t i, size_t bytes) {
  std::string s = "memory " + std::to_string(i) + " ";
  while (s.size() < bytes) s += "lorem ipsum dolor sit amet ";
  s.resize(bytes);
  return s;
}

// remember then recall against `addresses`, the callers sharing --sdk-clients SDK clients round
// robin (one per caller by default).
Status measure_nca(const ClusterBenchOptions& o, const std::vector<std::string>& addresses,
                   const std::vector<std::string>& logs, const std::function<ServerUse()>& servers,
                   Phase* remember, Phase* recall) {
  std::vector<std::unique_ptr<Client>> clients;
  for (size_t c = 0; c < o.sdk_clients; ++c) {
    std::vector<std::string> mine;
    for (size_t k = 0; k < addresses.size(); ++k)
      mine.push_back(addresses[(c + k) % addresses.size()]);
    ClientOptions options;
    options.route_requests = o.route_requests;
    auto client = Client::connect(mine, options);
    if (!client) return client.error();
    clients.push_back(std::move(*client));
  }
  const auto before = node_totals(logs);
  *remember = run_phase(
      o.clients, o.writes,
      [&](size_t c, size_t i) {
        pb::MemoryInput m;
        m.set_id("bench-" + std::to_string(i));
        m.set_content(content_of(i, o.value_bytes));
        auto r =
            clients[c % o.sdk_clients]->remember("persona-" + std::to_string(i % o.personas), m);
        return r ? std::string() : r.error().message;
      },
      servers);
  set_counters(before, node_totals(logs), o.writes, remember);
  *recall = run_phase(
      o.clients, o.recalls,
      [&](size_t c, size_t i) {
        auto r = clients[c % o.sdk_clients]->recall("persona-" + std::to_string(i % o.personas),
                                                    "memory " + std::to_string(i), 5);
        return r ? std::string() : r.error().message;
      },
      servers);
  return {};
}

// The shard leaders node `via` reports, all of them, or empty. `nodes` > 0: only once the cluster
// has settled on that many nodes: every shard's last move carried out, every node holding
// replicas, and replicas and leaders per node within one of each other (the rebalancer moves
// shards and leaderships after the placement, after a join and after a restart; measuring during
// those moves would measure them).
Status bench_cluster(const ClusterBenchOptions& o, const std::string& dir, Results* r) {
  std::vector<std::string> addresses;
  std::vector<std::unique_ptr<Process>> nodes;
  if (auto s = start_nodes(o.nodes, dir, o.shards, &addresses, &nodes); !s) return s;
  progress("cluster: " + std::to_string(o.nodes) + " nodes starting");
  std::unique_ptr<Client> admin;
  if (auto s = await_nodes(
          [&] {
            if (!admin) {
              auto c = Client::connect(addresses);
              if (c) admin = std::move(*c);
            }
            return admin && !shard_leaders(*admin, o.shards, o.nodes).empty();
          },
          std::chrono::seconds(60), nodes, "the cluster did not place and lead its shards");
      !s) {
    return s;
  }
  progress("cluster: remember and recall");
  std::vector<std::string> logs;
  for (const auto& n : nodes) logs.push_back(n->log());
  if (auto s = measure_nca(o, addresses, logs, use_of(pids_of(nodes)), &r->remember, &r->recall);
      !s)
    return s;

  for (size_t round = 0; round < o.failovers; ++round) {
    const std::string persona = "failover-" + std::to_string(round);
    const uint32_t shard = storage::shard_of("default", persona, o.shards);
    std::vector<uint64_t> leaders;
    if (!await([&] { return !(leaders = shard_leaders(*admin, o.shards, o.nodes)).empty(); },
               std::chrono::seconds(30))) {
      return make_error(ErrorCode::unavailable,
                        "no leader for every shard before round " + std::to_string(round));
    }
    size_t victim = o.nodes;
    for (size_t i = 0; i < o.nodes; ++i) {
      if (membership::node_number("node-" + std::to_string(i + 1)) == leaders[shard]) victim = i;
    }
    if (victim == o.nodes) return make_error(ErrorCode::internal, "unknown shard leader");
    std::vector<std::string> others;
    for (size_t i = 0; i < o.nodes; ++i) {
      if (i != victim) others.push_back(addresses[i]);
    }
    auto writer = Client::connect(others);
    if (!writer) return writer.error();
    const auto killed = Clock::now();
    nodes[victim]->kill();
    double ms = NAN;
    for (int n = 0; std::isnan(ms) && Clock::now() - killed < std::chrono::seconds(30); ++n) {
      pb::MemoryInput m;
      m.set_id(persona + "-" + std::to_string(n));
      m.set_content("written during failover round " + std::to_string(round));
      auto w = (*writer)->remember(persona, m);
      if (w) {
        ms = std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
      } else if (r->failover_errors++ == 0) {
        r->failover_first_error = w.error().to_string();
        progress("failover round " + std::to_string(round + 1) +
                 ": first failed write: " + r->failover_first_error);
      }
    }
    r->failover_ms.push_back(ms);
    progress("failover round " + std::to_string(round + 1) + ": " + std::to_string(ms) + " ms");
    if (auto s = nodes[victim]->restart(); !s) return s;
    // Settled: the restarted node answers and sees a leader for every shard again.
    std::unique_ptr<Client> restarted;
    if (!await(
            [&] {
              if (!restarted) {
                auto c = Client::connect({addresses[victim]});
                if (c) restarted = std::move(*c);
              }
              return restarted && !shard_leaders(*restarted, o.shards, o.nodes).empty();
            },
            std::chrono::seconds(60))) {
      return make_error(ErrorCode::unavailable, "node " + std::to_string(victim + 1) +
                                                    " did not rejoin after round " +
                                                    std::to_string(round));
    }
    admin = std::move(restarted);
  }
  return {};
}

// One node measured alone: standalone (no seeds, `name` "single"), or a cluster of one (its own
// address as seed: every shard a Raft group whose only replica it is, `name` "one-replica").
Status bench_one_node(const ClusterBenchOptions& o, const std::string& dir, const std::string& name,
                      bool replicated, Phase* remember, Phase* recall) {
  std::vector<std::unique_ptr<Process>> nodes;
  nodes.push_back(std::make_unique<Process>());
  Process& node = *nodes.back();
  const std::string address = loopback(testing::unused_loopback_port());
  std::vector<std::string> argv = {self_dir() + "/nca-node",
                                   "--node.id",
                                   name,
                                   "--node.data-dir",
                                   dir + "/" + name,
                                   "--node.listen",
                                   address,
                                   "--http.listen",
                                   "127.0.0.1:0",
                                   "--cluster.shards",
                                   std::to_string(o.shards)};
  if (replicated) {
    argv.insert(argv.end(), {"--cluster.seeds", address, "--cluster.voters", "1",
                             "--cluster.replication-factor", "1"});
  }
  if (auto s = node.start(argv, dir + "/" + name + ".log"); !s) return s;
  std::unique_ptr<Client> admin;
  if (auto s = await_nodes(
          [&] {
            if (!admin) {
              auto c = Client::connect({address});
              if (c) admin = std::move(*c);
            }
            return admin && (!replicated || !shard_leaders(*admin, o.shards, 1).empty());
          },
          std::chrono::seconds(30), nodes, "the " + name + " node did not answer");
      !s) {
    return s;
  }
  progress(name + " node: remember and recall");
  return measure_nca(o, {address}, {node.log()}, use_of({node.pid()}), remember, recall);
}

Status bench_single(const ClusterBenchOptions& o, const std::string& dir, Results* r) {
  if (auto s = bench_one_node(o, dir, "single", false, &r->single_remember, &r->single_recall); !s)
    return s;
  return bench_one_node(o, dir, "one-replica", true, &r->one_replica_remember,
                        &r->one_replica_recall);
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out.push_back(t[(v >> 18) & 63]);
    out.push_back(t[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? t[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// etcd with `size` members (names e<prefix>0...), puts by the callers spread over the members;
// `version` (may be null) gets what the first member reports.
Status bench_etcd_members(const ClusterBenchOptions& o, const std::string& dir, int size,
                          const std::string& prefix, Phase* puts, std::string* version) {
  const std::string etcd = "/usr/bin/etcd";
  if (access(etcd.c_str(), X_OK) != 0) {
    return make_error(ErrorCode::unavailable,
                      "etcd is not installed (Debian package etcd-server; scripts/install-deps)");
  }
  std::vector<uint16_t> client_ports, peer_ports;
  std::string initial;
  for (int i = 0; i < size; ++i) {
    client_ports.push_back(testing::unused_loopback_port());
    peer_ports.push_back(testing::unused_loopback_port());
    initial += std::string(i ? "," : "") + "e" + prefix + std::to_string(i) + "=http://" +
               loopback(peer_ports.back());
  }
  std::vector<std::unique_ptr<Process>> members;
  for (int i = 0; i < size; ++i) {
    members.push_back(std::make_unique<Process>());
    const std::string name = "e" + prefix + std::to_string(i);
    if (auto s = members.back()->start(
            {etcd, "--name", name, "--data-dir", dir + "/" + name, "--listen-client-urls",
             "http://" + loopback(client_ports[i]), "--advertise-client-urls",
             "http://" + loopback(client_ports[i]), "--listen-peer-urls",
             "http://" + loopback(peer_ports[i]), "--initial-advertise-peer-urls",
             "http://" + loopback(peer_ports[i]), "--initial-cluster", initial,
             "--initial-cluster-state", "new", "--initial-cluster-token", "nca-bench"},
            dir + "/" + name + ".log");
        !s) {
      return s;
    }
  }
  const std::string what = "etcd (" + std::to_string(size) + (size == 1 ? " member)" : " members)");
  progress(what + ": starting");
  if (!await(
          [&] {
            httplib::Client c("127.0.0.1", client_ports[0]);
            auto res = c.Get("/health");
            if (res && res->status == 200) {
              auto v = c.Get("/version");
              if (v && version != nullptr) *version = v->body;
            }
            return res && res->status == 200 && res->body.find("true") != std::string::npos;
          },
          std::chrono::seconds(60))) {
    return make_error(ErrorCode::unavailable,
                      what + " did not become healthy within 60 s (logs in " + dir + ")");
  }
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (size_t c = 0; c < o.clients; ++c) {
    clients.push_back(std::make_unique<httplib::Client>("127.0.0.1", client_ports[c % size]));
    clients.back()->set_keep_alive(true);
    clients.back()->set_tcp_nodelay(true);
  }
  progress(what + ": puts");
  *puts = run_phase(
      o.clients, o.writes,
      [&](size_t c, size_t i) {
        nlohmann::json body = {{"key", base64("bench-" + std::to_string(i))},
                               {"value", base64(content_of(i, o.value_bytes))}};
        auto res = clients[c]->Post("/v3/kv/put", body.dump(), "application/json");
        if (!res) return std::string("no reply: ") + httplib::to_string(res.error());
        if (res->status != 200) return "HTTP " + std::to_string(res->status) + ": " + res->body;
        return std::string();
      },
      use_of(pids_of(members)));
  return {};
}

// The baseline of the targets, three members, and the same puts on one member: what replication
// costs etcd on this machine, the context of the remember_per_s ratio (docs/benchmarks.md).
Status bench_etcd(const ClusterBenchOptions& o, const std::string& dir, Results* r) {
  if (auto s = bench_etcd_members(o, dir, 3, "", &r->etcd_put, &r->etcd_version); !s) return s;
  return bench_etcd_members(o, dir, 1, "single", &r->etcd_single_put, nullptr);
}

// Failed remembers of the three neuroca setups (cluster, standalone node, one-node cluster).
size_t nca_remember_errors(const Results& r) {
  return r.remember.errors + r.single_remember.errors + r.one_replica_remember.errors;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// <name>_cpu_us, <name>_server_cpu_us and <name>_server_switches_per_call of a phase.
void cpu_json(const std::string& name, const Phase& p, nlohmann::ordered_json* j) {
  (*j)[name + "_cpu_us"] = json_number(p.cpu_us);
  (*j)[name + "_server_cpu_us"] = json_number(p.server_cpu_us);
  (*j)[name + "_server_switches_per_call"] = json_number(p.server_switches_per_call);
}

// What the nodes counted per call of a phase (Phase's /metrics figures).
void node_counters_json(const std::string& name, const Phase& p, nlohmann::ordered_json* j) {
  (*j)[name + "_durable_writes_per_call"] = json_number(p.durable_writes_per_call);
  (*j)[name + "_raft_rounds_per_call"] = json_number(p.raft_rounds_per_call);
  (*j)[name + "_peer_frames_per_call"] = json_number(p.peer_frames_per_call);
  (*j)[name + "_forwarded_per_call"] = json_number(p.forwarded_per_call);
  (*j)[name + "_leader_changes"] = json_number(p.leader_changes);
}

nlohmann::ordered_json to_json(const ClusterBenchOptions& o, const Results& r) {
  nlohmann::ordered_json j;
  j["benchmark"] = "cluster";
  j["allocator"] = alloc::name();  // see runtime/allocator
  j["nodes"] = o.nodes;
  j["clients"] = o.clients;
  j["sdk_clients"] = o.sdk_clients;
  j["value_bytes"] = o.value_bytes;
  j["shards"] = o.shards;
  j["remember_per_s"] = json_number(r.remember.per_s);
  j["remember_p50_us"] = json_number(r.remember.latency.percentile(50));
  j["remember_p99_us"] = json_number(r.remember.latency.percentile(99));
  j["remember_errors"] = r.remember.errors;
  j["single_node_remember_errors"] = r.single_remember.errors;
  j["one_replica_remember_errors"] = r.one_replica_remember.errors;
  cpu_json("remember", r.remember, &j);
  cpu_json("single_node_remember", r.single_remember, &j);
  node_counters_json("remember", r.remember, &j);
  node_counters_json("single_node_remember", r.single_remember, &j);
  cpu_json("one_replica_remember", r.one_replica_remember, &j);
  node_counters_json("one_replica_remember", r.one_replica_remember, &j);
  j["recall_p50_us"] = json_number(r.recall.latency.percentile(50));
  j["recall_p99_us"] = json_number(r.recall.latency.percentile(99));
  j["single_node_remember_per_s"] = json_number(r.single_remember.per_s);
  j["single_node_remember_p99_us"] = json_number(r.single_remember.latency.percentile(99));
  j["single_node_recall_p50_us"] = json_number(r.single_recall.latency.percentile(50));
  j["single_node_recall_p99_us"] = json_number(r.single_recall.latency.percentile(99));
  j["one_replica_remember_per_s"] = json_number(r.one_replica_remember.per_s);
  j["one_replica_remember_p99_us"] = json_number(r.one_replica_remember.latency.percentile(99));
  j["one_replica_recall_p99_us"] = json_number(r.one_replica_recall.latency.percentile(99));
  j["failover_ms_median"] = json_number(median(r.failover_ms));
  nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
  for (double ms : r.failover_ms) rounds.push_back(json_number(ms));
  j["failover_ms"] = rounds;
  j["failover_write_errors"] = r.failover_errors;
  j["failover_first_error"] = r.failover_first_error;
  j["etcd_put_per_s"] = json_number(r.etcd_put.per_s);
  j["etcd_put_p50_us"] = json_number(r.etcd_put.latency.percentile(50));
  j["etcd_put_p99_us"] = json_number(r.etcd_put.latency.percentile(99));
  j["etcd_put_errors"] = r.etcd_put.errors;
  j["etcd_single_put_per_s"] = json_number(r.etcd_single_put.per_s);
  j["etcd_single_put_p99_us"] = json_number(r.etcd_single_put.latency.percentile(99));
  j["etcd_single_put_errors"] = r.etcd_single_put.errors;
  cpu_json("etcd_put", r.etcd_put, &j);
  cpu_json("etcd_single_put", r.etcd_single_put, &j);
  j["load_average_start"] = r.load_start;
  j["load_average_end"] = r.load_end;
  return j;
}

void print_table(const ClusterBenchOptions& o, const Results& r) {
  std::cout << "nca-bench cluster: " << o.nodes << " nodes on loopback, " << o.clients
            << " SDK callers on " << o.sdk_clients << " SDK clients, " << o.value_bytes
            << "-byte memories, " << o.shards << " shards\n"
            << machine_line(r.load_start, r.load_end) << "\n";
  const double p99 = r.remember.latency.percentile(99);
  const double etcd_p99 = r.etcd_put.latency.percentile(99);
  const double failover = median(r.failover_ms);
  const size_t nca_errors = nca_remember_errors(r);
  auto met = [](bool ok) { return std::string(ok ? "yes" : "NO"); };
  print_rows({
      {"remember_per_s", table_number(r.remember.per_s, 0),
       "single node " + table_number(r.single_remember.per_s, 0), ">= 0.5x",
       met(r.remember.per_s >= kThroughputRatio * r.single_remember.per_s)},
      {"remember_per_s on a one-node cluster (Raft, one replica)",
       table_number(r.one_replica_remember.per_s, 0),
       "three nodes " + table_number(r.remember.per_s / r.one_replica_remember.per_s, 2) + "x", "",
       ""},
      {"remember_p50_us", table_number(r.remember.latency.percentile(50), 0),
       "single node " + table_number(r.single_remember.latency.percentile(50), 0), "", ""},
      {"remember_p99_us", table_number(p99, 0), "etcd put " + table_number(etcd_p99, 0), "<= 2x",
       met(p99 <= kP99Ratio * etcd_p99)},
      {"recall_p50_us", table_number(r.recall.latency.percentile(50), 0),
       "single node " + table_number(r.single_recall.latency.percentile(50), 0), "", ""},
      {"recall_p99_us", table_number(r.recall.latency.percentile(99), 0),
       "single node " + table_number(r.single_recall.latency.percentile(99), 0), "", ""},
      {"failover_ms_median", table_number(failover, 0),
       std::to_string(r.failover_ms.size()) + " kills", "<= 3000", met(failover <= kFailoverMs)},
      {"etcd_put_per_s", table_number(r.etcd_put.per_s, 0),
       "one member " + table_number(r.etcd_single_put.per_s, 0), "", ""},
      {"remember_cpu_us (all processes)", table_number(r.remember.cpu_us, 0),
       "single node " + table_number(r.single_remember.cpu_us, 0), "", ""},
      {"remember_server_cpu_us (nodes)", table_number(r.remember.server_cpu_us, 0),
       "single node " + table_number(r.single_remember.server_cpu_us, 0), "", ""},
      {"context switches per remember (nodes' threads)",
       table_number(r.remember.server_switches_per_call, 1),
       "single node " + table_number(r.single_remember.server_switches_per_call, 1), "", ""},
      {"durable writes per remember (all nodes)",
       table_number(r.remember.durable_writes_per_call, 2),
       "single node " + table_number(r.single_remember.durable_writes_per_call, 2), "", ""},
      {"Raft rounds / frames / forwarded requests per remember (all nodes)",
       table_number(r.remember.raft_rounds_per_call, 2) + " / " +
           table_number(r.remember.peer_frames_per_call, 2) + " / " +
           table_number(r.remember.forwarded_per_call, 2),
       "", "", ""},
      {"etcd_put_cpu_us (all processes)", table_number(r.etcd_put.cpu_us, 0),
       "one member " + table_number(r.etcd_single_put.cpu_us, 0), "", ""},
      {"etcd_put_server_cpu_us (members)", table_number(r.etcd_put.server_cpu_us, 0),
       "one member " + table_number(r.etcd_single_put.server_cpu_us, 0), "", ""},
      {"context switches per etcd put (members' threads)",
       table_number(r.etcd_put.server_switches_per_call, 1),
       "one member " + table_number(r.etcd_single_put.server_switches_per_call, 1), "", ""},
      {"errors (remember, all three setups / etcd / failover)",
       std::to_string(nca_errors) + " / " +
           std::to_string(r.etcd_put.errors + r.etcd_single_put.errors) + " / " +
           std::to_string(r.failover_errors),
       "", "0", met(nca_errors + r.etcd_put.errors + r.etcd_single_put.errors == 0)},
  });
  if (!r.remember.first_error.empty())
    std::cout << "first remember error: " << r.remember.first_error << "\n";
  if (!r.etcd_put.first_error.empty())
    std::cout << "first etcd error: " << r.etcd_put.first_error << "\n";
  if (!r.etcd_single_put.first_error.empty())
    std::cout << "first error of one etcd member: " << r.etcd_single_put.first_error << "\n";
}

int run(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto parsed = parse_options(args, &exit_code);
  if (!parsed) return exit_code;
  const ClusterBenchOptions& o = *parsed;
  TempDir dir("nca-bench-cluster");
  if (dir.path().empty()) {
    std::cerr << "nca-bench cluster: cannot create a temporary directory\n";
    return 1;
  }
  Results r;
  r.load_start = load_average_1m();
  for (auto* step : {&bench_cluster, &bench_single, &bench_etcd}) {
    if (auto s = (*step)(o, dir.path(), &r); !s) {
      std::cerr << "nca-bench cluster: " << s.error().to_string() << "\n";
      return 1;
    }
  }
  r.load_end = load_average_1m();
  if (nca_remember_errors(r) + r.recall.errors + r.failover_errors + r.etcd_put.errors +
          r.etcd_single_put.errors >
      0) {
    keep_node_logs(dir.path(), "cluster");
  }
  return print_result(
      o.json, [&] { return to_json(o, r).dump(); }, [&] { print_table(o, r); });
}

}  // namespace
}  // namespace cluster_bench

int run_cluster(const std::vector<std::string>& args) { return cluster_bench::run(args); }

}  // namespace nca::bench
