// Fault test (a) of issue #7 with real processes: while clients write through the SDK, SIGKILL the
// leader of a shard they write to. Writes resume on a new leader, and every write acknowledged
// before, during or after the kill reads back from the survivors. Bounded: the writers stop by
// themselves after 60 s at most.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
using Clock = std::chrono::steady_clock;

constexpr uint32_t kShards = 4;

// The leader of every shard as node i reports it ("" while one has none).
std::vector<std::string> shard_leaders(LocalCluster& c, int i) {
  Json s = c.status(i);
  std::vector<std::string> out(kShards);
  if (!s.is_object() || !s.contains("shards")) return {};
  for (const auto& sh : s["shards"]) {
    auto shard = field<uint32_t>(sh, "shard", 0);
    std::string leader = field<std::string>(sh, "leader", "");
    if (shard < kShards && leader != "0") out[shard] = leader;
  }
  for (const auto& l : out) {
    if (l.empty()) return {};
  }
  return out;
}

struct Ack {
  std::string persona, id;
  Clock::time_point sent, at;
};

TEST(ShardFailover, LeaderKilledWhileClientsWriteEveryAcknowledgedWriteReadsBack) {
  LocalCluster c("shard-failover",
                 "--cluster.shards 4 --raft.tick 20ms --cluster.dead-after 2s "
                 "--cluster.heartbeat-interval 200ms");
  auto started = c.run("3");
  ASSERT_EQ(started.exit_code, 0) << started.out;
  std::vector<std::string> leaders;
  ASSERT_TRUE(
      poll([&] { return !(leaders = shard_leaders(c, 1)).empty(); }, std::chrono::seconds(30)))
      << c.status(1).dump();
  const uint32_t victim_shard = storage::shard_of("default", "p0", kShards);
  int victim = 0;
  for (int i = 1; i <= 3; ++i) {
    if (number(i) == leaders[victim_shard]) victim = i;
  }
  ASSERT_NE(victim, 0) << "leader " << leaders[victim_shard] << " is none of the three nodes";

  std::mutex mu;
  std::vector<Ack> acked;
  std::vector<std::string> errors;
  std::atomic<bool> stop{false};
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      // Each writer prefers another node; all know all three.
      std::vector<std::string> addresses = {c.address(1 + t), c.address(1 + (t + 1) % 3),
                                            c.address(1 + (t + 2) % 3)};
      auto client = Client::connect(addresses);
      if (!client) {
        std::lock_guard<std::mutex> lock(mu);
        errors.push_back("connect: " + client.error().message);
        return;
      }
      for (int n = 0; !stop.load() && Clock::now() < give_up; ++n) {
        const std::string persona = "p" + std::to_string(n % 8);
        pb::MemoryInput m;
        m.set_id("w" + std::to_string(t) + "-" + std::to_string(n));
        m.set_content("writer " + std::to_string(t) + " fact " + std::to_string(n));
        const auto sent = Clock::now();
        auto r = (*client)->remember(persona, m);
        std::lock_guard<std::mutex> lock(mu);
        if (r) {
          acked.push_back({persona, m.id(), sent, Clock::now()});
        } else {
          errors.push_back(m.id() + ": " + r.error().message);
        }
      }
    });
  }
  auto acks = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size();
  };
  EXPECT_TRUE(poll([&] { return acks() >= 40; }, std::chrono::seconds(30))) << "no writes before";
  const size_t before = acks();
  const auto killed_at = Clock::now();
  const int victim_pid = c.pid(victim);
  ASSERT_EQ(::kill(victim_pid, SIGKILL), 0);
  ASSERT_TRUE(poll([&] { return ::kill(victim_pid, 0) != 0; }, std::chrono::seconds(10)));
  // Writes resume, to the killed leader's shard too.
  auto acked_on_victim_shard_after_kill = [&] {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& a : acked) {
      n += a.sent > killed_at && storage::shard_of("default", a.persona, kShards) == victim_shard;
    }
    return n;
  };
  EXPECT_TRUE(
      poll([&] { return acked_on_victim_shard_after_kill() >= 10; }, std::chrono::seconds(40)))
      << "writes to shard " << victim_shard << " did not resume";
  stop = true;
  for (auto& w : writers) w.join();

  Clock::time_point first_after = give_up;
  for (const auto& a : acked) {
    if (a.sent > killed_at && storage::shard_of("default", a.persona, kShards) == victim_shard) {
      first_after = std::min(first_after, a.at);
    }
  }
  std::cout
      << "acknowledged " << acked.size() << " writes (" << before << " before the kill), "
      << errors.size() << " failed; the first write sent to the killed leader's shard after "
      << "the kill was acknowledged "
      << std::chrono::duration_cast<std::chrono::milliseconds>(first_after - killed_at).count()
      << " ms after the kill\n";
  for (size_t i = 0; i < errors.size() && i < 5; ++i) std::cout << "  error: " << errors[i] << "\n";

  // Every acknowledged write reads back from the survivors.
  std::vector<std::string> survivors;
  for (int i = 1; i <= 3; ++i) {
    if (i != victim) survivors.push_back(c.address(i));
  }
  auto reader = Client::connect(survivors);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  size_t missing = 0;
  for (const auto& a : acked) {
    auto got = (*reader)->get(a.id, a.persona);
    if (!got.ok()) {
      if (++missing <= 5)
        ADD_FAILURE() << a.id << " (" << a.persona << "): " << got.error().message;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  EXPECT_GT(acked.size(), before);
}

}  // namespace
}  // namespace nca
