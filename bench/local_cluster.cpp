#include "bench/local_cluster.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "bench/bench_util.hpp"
#include "tests/support/loopback_port.hpp"

extern char** environ;

namespace nca::bench {

std::string self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

Status Process::start(const std::vector<std::string>& argv, const std::string& log) {
  kill();
  argv_ = argv;
  log_ = log;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = 0;
    return make_error(ErrorCode::unavailable, "cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return {};
}
void Process::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
}
std::string Process::ended() {
  if (pid_ <= 0) return {};
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return {};
  pid_ = 0;
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

std::string loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::vector<std::string> node_argv(size_t i, const std::string& dir,
                                   const std::vector<std::string>& addresses, uint32_t shards,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {self_dir() + "/nca-node",
                                   "--node.id",
                                   "node-" + std::to_string(i + 1),
                                   "--node.data-dir",
                                   dir + "/node-" + std::to_string(i + 1),
                                   "--node.listen",
                                   addresses[i],
                                   "--http.listen",
                                   "127.0.0.1:0",
                                   "--cluster.seeds",
                                   addresses[0],
                                   "--cluster.shards",
                                   std::to_string(shards),
                                   "--cluster.dead-after",
                                   "2s",
                                   "--cluster.heartbeat-interval",
                                   "200ms"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

Status start_nodes(size_t n, const std::string& dir, uint32_t shards,
                   std::vector<std::string>* addresses,
                   std::vector<std::unique_ptr<Process>>* nodes,
                   const std::vector<std::string>& extra) {
  for (size_t i = 0; i < n; ++i) addresses->push_back(loopback(testing::unused_loopback_port()));
  for (size_t i = 0; i < n; ++i) {
    nodes->push_back(std::make_unique<Process>());
    auto argv = node_argv(i, dir, *addresses, shards, extra);
    if (auto s = nodes->back()->start(argv, dir + "/node-" + std::to_string(i + 1) + ".log"); !s) {
      return s;
    }
  }
  return {};
}

void keep_node_logs(const std::string& dir, const std::string& name) {
  const std::string keep = std::filesystem::temp_directory_path().string() + "/nca-bench-" + name +
                           "-logs-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::create_directories(keep, ec);
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    if (f.path().extension() == ".log") {
      std::filesystem::copy_file(f.path(), keep + "/" + f.path().filename().string(), ec);
    }
  }
  progress("the nodes' logs are in " + keep);
}

std::vector<uint64_t> count_log_lines(const std::string& dir,
                                      const std::vector<std::string>& needles) {
  std::vector<uint64_t> n(needles.size(), 0);
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    if (f.path().extension() != ".log") continue;
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line)) {  // bounded by the file
      for (size_t i = 0; i < needles.size(); ++i) {
        if (line.find(needles[i]) != std::string::npos) ++n[i];
      }
    }
  }
  return n;
}

bool await(const std::function<bool()>& cond, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {  // bounded by the deadline
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

namespace {

// The last non-empty line of a log file, or empty.
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {  // bounded by the file
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

Status await_nodes(const std::function<bool()>& cond, std::chrono::seconds limit,
                   const std::vector<std::unique_ptr<Process>>& nodes, const std::string& what) {
  std::string dead;
  const bool met = await(
      [&] {
        for (const auto& n : nodes) {
          if (!n->running()) continue;
          if (std::string how = n->ended(); !how.empty()) {
            dead = std::filesystem::path(n->log()).stem().string() + " ended (" + how +
                   "): " + last_line(n->log());
            return true;
          }
        }
        return cond();
      },
      limit);
  if (!dead.empty()) return make_error(ErrorCode::unavailable, dead);
  if (met) return {};
  std::string logs =
      nodes.empty() ? std::string() : std::filesystem::path(nodes[0]->log()).parent_path().string();
  return make_error(ErrorCode::unavailable, what + " within " + std::to_string(limit.count()) +
                                                " s (logs in " + logs + ")");
}

std::vector<uint64_t> shard_leaders(Client& via, uint32_t shards, size_t nodes) {
  auto st = via.cluster_status();
  if (!st || st->shards_size() != static_cast<int>(shards)) return {};
  std::vector<uint64_t> out(shards, 0);
  std::map<uint64_t, int> replicas, leaders;
  for (const auto& s : st->shards()) {
    if (nodes > 0 && s.settled_epoch() < s.epoch()) return {};
    if (s.shard() < shards) out[s.shard()] = s.leader();
    for (uint64_t n : s.replicas()) {
      ++replicas[n];
      leaders.emplace(n, 0);
    }
    ++leaders[s.leader()];
  }
  for (uint64_t l : out) {
    if (l == 0) return {};
  }
  if (nodes > 0) {
    auto spread = [](const std::map<uint64_t, int>& m) {
      int lo = 1 << 30, hi = 0;
      for (const auto& [n, k] : m) lo = std::min(lo, k), hi = std::max(hi, k);
      return hi - lo;
    };
    if (replicas.size() < std::min<size_t>(nodes, size_t{shards} * 3) || spread(replicas) > 1 ||
        spread(leaders) > 1) {
      return {};
    }
  }
  return out;
}

}  // namespace nca::bench
