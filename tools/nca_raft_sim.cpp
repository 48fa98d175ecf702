// nca-raft-sim: runs the deterministic Raft simulation over many seeds.
//
//   nca-raft-sim --seeds N --seed-base S [--nodes K] [--steps T] [--jobs J] [--trace]
//
// Seeds S, S+1, ..., S+N-1 run in turn (J at a time). On the first failing seed it replays that
// seed with tracing on, prints the trace's tail, the violated property and the command that
// replays it, and exits 1. Exit 0 when every seed passed, 2 on bad arguments.
#include <boost/program_options.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cluster/sim/raft_simulator.hpp"

namespace po = boost::program_options;
using nca::raft::sim::SimOptions;
using nca::raft::sim::SimResult;

int main(int argc, char** argv) {
  uint64_t seeds = 1000;
  uint64_t seed_base = 1;
  size_t nodes = 3;
  uint64_t steps = 3000;
  unsigned jobs = 1;
  size_t trace_lines = 400;
  po::options_description desc("nca-raft-sim: deterministic Raft simulation over many seeds");
  desc.add_options()("help,h", "show this help")("seeds", po::value(&seeds)->default_value(seeds),
                                                 "number of seeds to run")(
      "seed-base", po::value(&seed_base)->default_value(seed_base), "first seed")(
      "nodes", po::value(&nodes)->default_value(nodes), "cluster size (3, 5, 7, ...; 1 to 15)")(
      "steps", po::value(&steps)->default_value(steps), "simulated time units before healing")(
      "jobs", po::value(&jobs)->default_value(jobs), "seeds run in parallel")(
      "trace", "print the full trace of every seed (use with --seeds 1)")(
      "trace-lines", po::value(&trace_lines)->default_value(trace_lines),
      "trace lines printed for a failing seed")("quiet,q", "print only failures and the summary")(
      "sabotage", "corrupt one applied entry on node 1 (checks that violations are caught)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "nca-raft-sim: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\nExample: nca-raft-sim --seeds 1000 --seed-base 1 --nodes 5 --jobs 2\n";
    return 0;
  }
  if (nodes == 0 || nodes > 15 || seeds == 0 || jobs == 0 || jobs > 64 || steps == 0) {
    std::cerr << "nca-raft-sim: --nodes must be 1..15, --seeds, --steps and --jobs (<= 64) "
                 "positive\n";
    return 2;
  }
  SimOptions options;
  options.nodes = nodes;
  options.steps = steps;
  options.trace = vm.count("trace") > 0;
  options.sabotage_apply = vm.count("sabotage") > 0;
  bool quiet = vm.count("quiet") > 0;

  auto start = std::chrono::steady_clock::now();
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<SimResult> first_failure;
  uint64_t passed = 0;
  auto worker = [&] {
    for (;;) {
      uint64_t i = next.fetch_add(1);
      if (i >= seeds || stop.load()) return;
      SimResult r = nca::raft::sim::run_simulation(seed_base + i, options);
      std::lock_guard<std::mutex> lock(mu);
      if (options.trace) {
        for (const std::string& line : r.trace) std::cout << line << "\n";
      }
      if (!r.ok) {
        if (!first_failure || r.seed < first_failure->seed) first_failure = r;
        stop = true;
        return;
      }
      ++passed;
      if (!quiet) std::cout << nca::raft::sim::describe(r) << "\n";
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (first_failure) {
    SimOptions replay = options;
    replay.trace = true;
    SimResult traced = nca::raft::sim::run_simulation(first_failure->seed, replay);
    size_t from = traced.trace.size() > trace_lines ? traced.trace.size() - trace_lines : 0;
    std::cout << "--- trace of seed " << first_failure->seed << " (last "
              << traced.trace.size() - from << " of " << traced.trace.size() << " lines) ---\n";
    for (size_t i = from; i < traced.trace.size(); ++i) std::cout << traced.trace[i] << "\n";
    std::cout << nca::raft::sim::describe(*first_failure) << "\n"
              << "replay: nca-raft-sim --seeds 1 --seed-base " << first_failure->seed << " --nodes "
              << nodes << " --steps " << steps << (options.sabotage_apply ? " --sabotage" : "")
              << " --trace\n";
    if (traced.ok || traced.failure != first_failure->failure) {
      std::cout << "warning: the replay did not fail the same way; the run is not deterministic\n";
    }
    return 1;
  }
  std::cout << passed << " seeds passed (" << seed_base << ".." << seed_base + seeds - 1 << ", "
            << nodes << " nodes) in " << secs << " s\n";
  return 0;
}
