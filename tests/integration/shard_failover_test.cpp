// Fault tests of issue #7 with real processes (scripts/local-cluster), while two SDK clients write:
//   (a) SIGKILL of a shard's leader: writes resume on a new leader, and every write acknowledged
//       before, during or after the kill reads back from the survivors;
//   (c) a rolling restart of every node (SIGTERM, then `local-cluster start I`): no client request
//       fails (the SDK resends on transport failures; nodes route requests again while a shard has
//       no serving leader), and every acknowledged write reads back.
//   (b) a partition (the nodes' fault-injection hook, `nca cluster partition`) cuts node 3 off:
//       it refuses writes with `unavailable` and a reason, the majority goes on with every shard
//       (electing leaders for node 3's), and after healing node 3 has caught up on every shard;
//   (d) a fourth node joins under load: the rebalancer moves shards to it (learner, catch-up,
//       promotion, removal of an old replica, leadership) until replicas and leaders per node
//       differ by at most one; no client request fails and every acknowledged write reads back;
//   (e) for all three, the client history (every remember as a put of its memory, a reader's gets
//   of
//       memories being written and just acknowledged, the final read-back) is checked for
//       linearizability with every memory item as a register (cluster/sim/linearizability).
// Bounded: the writers stop by themselves after 90 s at most, every wait has a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/sim/linearizability.hpp"
#include "cluster/sim/set_history.hpp"
#include "nca/client.hpp"
#include "storage/keys.hpp"
#include "tests/integration/local_cluster_util.hpp"

namespace nca {
namespace {

using testing::field;
using testing::Json;
using testing::LocalCluster;
using testing::number;
using testing::poll;
using testing::shard_leaders;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kShards = testing::kFaultTestShards;
constexpr const char* kArgs = testing::kFaultTestArgs;

struct Ack {
  std::string persona, id;
  Clock::time_point sent, at;
};

using raft::sim::KvOperation;

// Two writer threads, each with an SDK client that knows all three nodes (preferring another
// one), remembering memories with client ids over eight personas until stopped; and a reader that
// keeps reading the memory each writer wrote last (often while it is still being written). Every
// call goes into the history, with its times in microseconds since the start.
class Writers {
 public:
  explicit Writers(LocalCluster& c) {
    threads_.emplace_back([this, &c] {
      auto client = Client::connect({c.address(3), c.address(1), c.address(2)});
      if (!client) return;
      for (uint64_t n = 0; !stop_.load() && Clock::now() < give_up_; ++n) {
        std::string id, persona;
        {
          std::lock_guard<std::mutex> lock(mu_);
          const auto& last = last_sent_[n % 2];
          id = last.first;
          persona = last.second;
        }
        if (id.empty()) {
          std::this_thread::yield();
          continue;
        }
        KvOperation op;
        op.client = 100;
        op.kind = KvOperation::Kind::get;
        op.key = id;
        op.call = now_us();
        auto got = (*client)->get(id, persona);
        op.ret = now_us();
        if (got) {
          op.value = got->item().content();
        } else {
          // Not found is an observation (absent); other errors observe nothing.
          op.completed = got.error().code == ErrorCode::not_found;
        }
        std::lock_guard<std::mutex> lock(mu_);
        history_.push_back(op);
      }
    });
    // A reader of whole personas: list, recorded as a read of the persona's set of memories.
    threads_.emplace_back([this, &c] {
      auto client = Client::connect({c.address(2), c.address(3), c.address(1)});
      if (!client) return;
      for (uint64_t n = 0; !stop_.load() && Clock::now() < give_up_; ++n) {
        raft::sim::SetOperation op;
        op.client = 300;
        op.kind = raft::sim::SetOperation::Kind::read;
        op.set = "p" + std::to_string(n % 8);
        pb::ListRequest list;
        list.set_persona_id(op.set);
        list.set_page_size(1000);
        op.call = now_us();
        auto got = (*client)->list(list);
        op.ret = now_us();
        // A persona not created yet reads as empty; a partial page or an error observes nothing.
        op.completed = (got.ok() && got->next_page_token().empty()) ||
                       (!got.ok() && got.error().code == ErrorCode::not_found);
        if (got.ok()) {
          for (const auto& item : got->items()) op.elements.push_back(item.id());
        }
        std::lock_guard<std::mutex> lock(mu_);
        sets_.push_back(std::move(op));
      }
    });
    for (int t = 0; t < 2; ++t) {
      threads_.emplace_back([this, &c, t] {
        std::vector<std::string> addresses = {c.address(1 + t), c.address(1 + (t + 1) % 3),
                                              c.address(1 + (t + 2) % 3)};
        auto client = Client::connect(addresses);
        if (!client) {
          std::lock_guard<std::mutex> lock(mu_);
          errors_.push_back("connect: " + client.error().message);
          return;
        }
        for (int n = 0; !stop_.load() && Clock::now() < give_up_; ++n) {
          const std::string persona = "p" + std::to_string(n % 8);
          pb::MemoryInput m;
          m.set_id("w" + std::to_string(t) + "-" + std::to_string(n));
          m.set_content("writer " + std::to_string(t) + " fact " + std::to_string(n));
          KvOperation op;
          op.client = static_cast<uint64_t>(t);
          op.kind = KvOperation::Kind::put;
          op.key = m.id();
          op.value = m.content();
          {
            std::lock_guard<std::mutex> lock(mu_);
            last_sent_[t] = {m.id(), persona};
          }
          const auto sent = Clock::now();
          op.call = now_us();
          auto r = (*client)->remember(persona, m);
          op.ret = now_us();
          op.completed = r.ok();  // a failed write may or may not have taken effect
          raft::sim::SetOperation add;
          add.client = op.client;
          add.kind = raft::sim::SetOperation::Kind::add;
          add.set = persona;
          add.element = m.id();
          add.call = op.call;
          add.ret = op.ret;
          add.completed = op.completed;
          std::lock_guard<std::mutex> lock(mu_);
          history_.push_back(op);
          sets_.push_back(std::move(add));
          if (r) {
            acked_.push_back({persona, m.id(), sent, Clock::now()});
          } else {
            errors_.push_back(m.id() + ": " + to_string(r.error().code) + ": " + r.error().message);
          }
        }
      });
    }
  }
  ~Writers() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Acknowledged writes sent after `since` (to `shard` only, unless it is kShards).
  size_t acked_since(Clock::time_point since, uint32_t shard = kShards) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& a : acked_) {
      n += a.sent > since &&
           (shard == kShards || storage::shard_of("default", a.persona, kShards) == shard);
    }
    return n;
  }
  std::vector<Ack> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  // Reads every acknowledged memory back through `addresses` (gets in the history); the number
  // that do not read back.
  size_t read_back(const std::vector<std::string>& addresses) {
    auto reader = Client::connect(addresses);
    if (!reader) {
      ADD_FAILURE() << reader.error().message;
      return acked().size();
    }
    size_t missing = 0;
    for (const auto& a : acked()) {
      KvOperation op;
      op.client = 200;
      op.kind = KvOperation::Kind::get;
      op.key = a.id;
      op.call = now_us();
      auto got = (*reader)->get(a.id, a.persona);
      op.ret = now_us();
      if (got) op.value = got->item().content();
      op.completed = got.ok() || got.error().code == ErrorCode::not_found;
      if (!got.ok() && ++missing <= 5) {
        ADD_FAILURE() << a.id << " (" << a.persona << "): " << got.error().message;
      }
      std::lock_guard<std::mutex> lock(mu_);
      history_.push_back(op);
    }
    return missing;
  }
  // (e): the whole history, checked.
  void expect_linearizable() {
    std::vector<KvOperation> h;
    {
      std::lock_guard<std::mutex> lock(mu_);
      h = history_;
    }
    size_t gets = 0;
    for (const auto& op : h) gets += op.kind == KvOperation::Kind::get;
    auto report = raft::sim::check_kv_history(h);
    std::cout << "history: " << h.size() << " operations (" << gets << " reads), "
              << (report.verdict == raft::sim::Linearizability::ok ? "linearizable" : "NOT")
              << "\n";
    EXPECT_EQ(report.verdict, raft::sim::Linearizability::ok) << "memory " << report.key << ":\n"
                                                              << report.explanation;
    EXPECT_GT(gets, h.size() / 10) << "the reader hardly read";
    std::vector<raft::sim::SetOperation> sets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sets = sets_;
    }
    auto personas = raft::sim::check_grow_only_sets(sets);
    std::cout << "persona histories: " << sets.size() << " operations (" << personas.reads
              << " whole-persona reads), " << (personas.ok ? "consistent" : "NOT") << "\n";
    EXPECT_TRUE(personas.ok) << "persona " << personas.set << ": " << personas.explanation;
    EXPECT_GT(personas.reads, 10u) << "the persona reader hardly read";
  }

 private:
  uint64_t now_us() const {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0_).count());
  }

  const Clock::time_point t0_ = Clock::now();
  std::vector<KvOperation> history_;
  std::vector<raft::sim::SetOperation> sets_;  // remembers and lists, per persona
  std::pair<std::string, std::string> last_sent_[2];
  std::mutex mu_;
  std::vector<Ack> acked_;
  std::vector<std::string> errors_;
  std::atomic<bool> stop_{false};
  const Clock::time_point give_up_ = Clock::now() + std::chrono::seconds(90);
  std::vector<std::thread> threads_;
};

void print_errors(const std::vector<std::string>& errors) {
  for (size_t i = 0; i < errors.size() && i < 5; ++i) std::cout << "  error: " << errors[i] << "\n";
}

// Three nodes with a leader for every shard.
void start_three(LocalCluster& c) {
  auto started = c.run("3");
  ASSERT_EQ(started.exit_code, 0) << started.out;
  ASSERT_TRUE(poll([&] { return !shard_leaders(c, 1).empty(); }, std::chrono::seconds(30)))
      << c.status(1).dump();
}

// The writers' first 40 acknowledged writes: the load is on before the fault.
void await_load(Writers& w) {
  const auto start = Clock::now();
  EXPECT_TRUE(poll([&] { return w.acked_since(start) >= 40; }, std::chrono::seconds(30)))
      << "no writes before the fault";
}

TEST(ShardFailover, LeaderKilledWhileClientsWriteEveryAcknowledgedWriteReadsBack) {
  LocalCluster c("shard-failover", kArgs);
  ASSERT_NO_FATAL_FAILURE(start_three(c));
  const std::vector<std::string> leaders = shard_leaders(c, 1);
  ASSERT_FALSE(leaders.empty());
  const uint32_t victim_shard = storage::shard_of("default", "p0", kShards);
  int victim = 0;
  for (int i = 1; i <= 3; ++i) {
    if (number(i) == leaders[victim_shard]) victim = i;
  }
  ASSERT_NE(victim, 0) << "leader " << leaders[victim_shard] << " is none of the three nodes";

  Writers w(c);
  await_load(w);
  const auto killed_at = Clock::now();
  const int victim_pid = c.pid(victim);
  ASSERT_EQ(::kill(victim_pid, SIGKILL), 0);
  ASSERT_TRUE(poll([&] { return ::kill(victim_pid, 0) != 0; }, std::chrono::seconds(10)));
  // Writes resume, to the killed leader's shard too.
  EXPECT_TRUE(
      poll([&] { return w.acked_since(killed_at, victim_shard) >= 10; }, std::chrono::seconds(40)))
      << "writes to shard " << victim_shard << " did not resume";
  w.stop();

  auto acked = w.acked();
  Clock::time_point first_after = Clock::time_point::max();
  for (const auto& a : acked) {
    if (a.sent > killed_at && storage::shard_of("default", a.persona, kShards) == victim_shard) {
      first_after = std::min(first_after, a.at);
    }
  }
  std::cout
      << "acknowledged " << acked.size() << " writes, " << w.errors().size()
      << " failed; the first write sent to the killed leader's shard after the kill was "
      << "acknowledged "
      << std::chrono::duration_cast<std::chrono::milliseconds>(first_after - killed_at).count()
      << " ms after the kill\n";
  print_errors(w.errors());

  std::vector<std::string> survivors;
  for (int i = 1; i <= 3; ++i) {
    if (i != victim) survivors.push_back(c.address(i));
  }
  EXPECT_EQ(w.read_back(survivors), 0u) << "of " << acked.size() << " acknowledged writes";
  w.expect_linearizable();
}

TEST(ShardFailover, RollingRestartUnderLoadFailsNoClientRequest) {
  LocalCluster c("rolling-restart", kArgs);
  ASSERT_NO_FATAL_FAILURE(start_three(c));
  Writers w(c);
  await_load(w);
  for (int i = 1; i <= 3; ++i) {
    const int pid = c.pid(i);
    ASSERT_EQ(::kill(pid, SIGTERM), 0) << "node " << i;
    ASSERT_TRUE(poll([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(30)))
        << "node " << i << " did not stop";
    auto again = c.run("start " + std::to_string(i));
    ASSERT_EQ(again.exit_code, 0) << again.out;
    // Back: it sees a leader for every shard, and writes go on before the next node stops.
    ASSERT_TRUE(poll([&] { return !shard_leaders(c, i).empty(); }, std::chrono::seconds(30)))
        << "node " << i << " did not rejoin: " << c.status(i).dump();
    const auto back = Clock::now();
    EXPECT_TRUE(poll([&] { return w.acked_since(back) >= 20; }, std::chrono::seconds(30)))
        << "writes did not go on after node " << i << " came back";
  }
  w.stop();
  auto acked = w.acked();
  auto errors = w.errors();
  std::cout << "rolling restart: acknowledged " << acked.size() << " writes, " << errors.size()
            << " failed\n";
  print_errors(errors);
  EXPECT_TRUE(errors.empty()) << errors.size() << " client requests failed";
  EXPECT_EQ(w.read_back({c.address(1), c.address(2), c.address(3)}), 0u)
      << "of " << acked.size() << " acknowledged writes";
  w.expect_linearizable();
}

// Node i's view of the shards: every change carried out, node i a caught-up voter of the ones it
// replicates, and `members` nodes holding replicas and leaderships within one of each other.
// `why` says what is still off.
bool settled_and_balanced(LocalCluster& c, int i, size_t members, std::string* why) {
  std::string error;
  Json s = c.status(i, &error);
  if (s.is_null()) {
    *why = "no status from node " + std::to_string(i) + ": " + error;
    return false;
  }
  if (!s.contains("shards") || s["shards"].size() != kShards) {
    *why = "node " + std::to_string(i) + " lists " +
           std::to_string(s.contains("shards") ? s["shards"].size() : 0) + " shards";
    return false;
  }
  std::map<std::string, int> replicas, leaders;
  for (const auto& sh : s["shards"]) {
    const auto shard = field<uint32_t>(sh, "shard", 0);
    if (field<std::string>(sh, "settled_epoch", "0") != field<std::string>(sh, "epoch", "0")) {
      *why = "shard " + std::to_string(shard) + " is moving";
      return false;
    }
    bool here = false;
    for (const auto& r : sh["replicas"]) {
      ++replicas[r.get<std::string>()];
      here = here || r.get<std::string>() == number(i);
    }
    ++leaders[field<std::string>(sh, "leader", "0")];
    if (here && !field<bool>(sh, "caught_up", false)) {
      *why = "shard " + std::to_string(shard) + " is catching up on node " + std::to_string(i);
      return false;
    }
  }
  auto spread = [](const std::map<std::string, int>& m) {
    int lo = 1 << 30, hi = 0;
    for (const auto& [k, v] : m) lo = std::min(lo, v), hi = std::max(hi, v);
    return hi - lo;
  };
  if (replicas.size() != members || leaders.count("0") != 0 ||
      leaders.size() != std::min<size_t>(members, kShards) || spread(replicas) > 1 ||
      spread(leaders) > 1) {
    *why = std::to_string(replicas.size()) + " nodes hold replicas, " +
           std::to_string(leaders.size()) + " lead; not balanced yet";
    return false;
  }
  return true;
}

TEST(ShardFailover, PartitionedMinorityRefusesWritesMajorityGoesOnAndAllConverge) {
  LocalCluster c("shard-partition", std::string(kArgs) + " --cluster.fault-injection true");
  ASSERT_NO_FATAL_FAILURE(start_three(c));
  Writers w(c);
  await_load(w);
  auto cut = [&](bool drop) {
    const std::string verb = drop ? "cluster partition " : "cluster heal ";
    for (int peer : {1, 2}) {
      auto a = c.cli(3, verb + number(peer));
      ASSERT_EQ(a.exit_code, 0) << a.out;
      auto b = c.cli(peer, verb + number(3));
      ASSERT_EQ(b.exit_code, 0) << b.out;
    }
  };
  cut(true);
  const auto cut_at = Clock::now();
  // The majority goes on, on every shard (node 3's shards elect new leaders).
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    EXPECT_TRUE(poll([&] { return w.acked_since(cut_at, shard) >= 5; }, std::chrono::seconds(40)))
        << "shard " << shard << " stopped taking writes on the majority side";
  }
  // The minority refuses, with a reason.
  ClientOptions quick;
  quick.request_timeout = std::chrono::milliseconds(1500);
  quick.max_attempts = 1;
  auto minority = Client::connect({c.address(3)}, quick);
  ASSERT_TRUE(minority.ok()) << minority.error().message;
  pb::MemoryInput m;
  m.set_id("minority-write");
  m.set_content("written while cut off");
  auto refused = (*minority)->remember("p0", m);
  ASSERT_FALSE(refused.ok()) << "the cut-off node took a write";
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable) << refused.error().message;
  std::cout << "minority: " << refused.error().message << "\n";
  cut(false);
  const auto healed_at = Clock::now();
  std::string why;
  EXPECT_TRUE(poll([&] { return settled_and_balanced(c, 3, 3, &why); }, std::chrono::seconds(40)))
      << "node 3 did not catch up: " << why;
  EXPECT_TRUE(poll([&] { return w.acked_since(healed_at) >= 20; }, std::chrono::seconds(30)));
  w.stop();
  auto acked = w.acked();
  std::cout << "partition: acknowledged " << acked.size() << " writes, " << w.errors().size()
            << " failed (through the cut-off node)\n";
  print_errors(w.errors());
  for (const auto& e : w.errors()) {
    EXPECT_NE(e.find("unavailable"), std::string::npos) << "not a clear refusal: " << e;
  }
  EXPECT_EQ(w.read_back({c.address(3), c.address(1), c.address(2)}), 0u)
      << "of " << acked.size() << " acknowledged writes";
  w.expect_linearizable();
}

TEST(ShardFailover, NodeJoiningUnderLoadReceivesShardsAndLosesNothing) {
  LocalCluster c("shard-join", kArgs);
  ASSERT_NO_FATAL_FAILURE(start_three(c));
  Writers w(c);
  await_load(w);
  const auto joined_at = Clock::now();
  auto joined = c.run("add");
  ASSERT_EQ(joined.exit_code, 0) << joined.out;
  std::string why;
  ASSERT_TRUE(poll([&] { return settled_and_balanced(c, 4, 4, &why); }, std::chrono::seconds(60)))
      << why << "\n"
      << c.status(4).dump() << "\nnode 4's log:\n"
      << c.log_tail(4);
  const auto balanced_at = Clock::now();
  // Writes go on after the moves, to every shard.
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    EXPECT_TRUE(
        poll([&] { return w.acked_since(balanced_at, shard) >= 5; }, std::chrono::seconds(30)))
        << "writes to shard " << shard << " did not go on after the rebalance";
  }
  w.stop();
  auto acked = w.acked();
  auto errors = w.errors();
  std::cout
      << "join under load: balanced "
      << std::chrono::duration_cast<std::chrono::milliseconds>(balanced_at - joined_at).count()
      << " ms after node 4 started; acknowledged " << acked.size() << " writes, " << errors.size()
      << " failed\n";
  print_errors(errors);
  EXPECT_TRUE(errors.empty()) << errors.size() << " client requests failed";
  EXPECT_EQ(w.read_back({c.address(4), c.address(1), c.address(2), c.address(3)}), 0u)
      << "of " << acked.size() << " acknowledged writes";
  w.expect_linearizable();
}

}  // namespace
}  // namespace nca
