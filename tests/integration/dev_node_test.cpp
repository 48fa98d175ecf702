// The real binaries: `nca-node --dev` started as a user would, driven by the `nca` CLI and the SDK,
// stopped with SIGTERM (indices saved) and killed with SIGKILL (nothing acknowledged lost).
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>

#include "nca/client.hpp"
#include "tests/integration/dev_node.hpp"

namespace nca {
namespace {

using testing::run_command;

const std::string kBin = NCA_BIN_DIR;

class DevNodeTest : public testing::DevNodeFixture {
 protected:
  void start_node() { DevNodeFixture::start_node({"--memory.dim", "64"}); }

  testing::CommandResult nca(std::vector<std::string> args) {
    args.insert(args.begin(), {kBin + "/nca", "--addr", addr_});
    return run_command(args);
  }
};

TEST_F(DevNodeTest, CliRememberRecallAndCleanShutdown) {
  start_node();
  auto added = nca({"remember", "--persona", "ada", "--importance", "0.8", "--tag", "health",
                    "Ada is allergic to peanuts"});
  ASSERT_EQ(added.exit_code, 0) << added.out;
  ASSERT_EQ(nca({"remember", "--persona", "ada", "Ada's favourite colour is green"}).exit_code, 0);
  auto recalled =
      nca({"--json", "recall", "--persona", "ada", "-k", "1", "what is Ada allergic to"});
  ASSERT_EQ(recalled.exit_code, 0) << recalled.out;
  EXPECT_NE(recalled.out.find("peanuts"), std::string::npos) << recalled.out;
  EXPECT_EQ(recalled.out.find("green"), std::string::npos) << "k=1 returns only the best hit";
  auto tick = nca({"--json", "consolidate", "--persona", "ada"});
  ASSERT_EQ(tick.exit_code, 0) << tick.out;
  EXPECT_NE(tick.out.find("\"ticks\""), std::string::npos) << tick.out;
  auto context = nca({"context", "--persona", "ada", "-n", "2"});
  ASSERT_EQ(context.exit_code, 0) << context.out;
  EXPECT_NE(context.out.find("peanuts"), std::string::npos) << context.out;
  auto missing = nca({"get", "no-such-memory"});
  EXPECT_EQ(missing.exit_code, 3) << "not found has its own exit code: " << missing.out;

  auto status = node_->signal_and_wait(SIGTERM, std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "nca-node did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/data/db")) << "dev mode keeps its data in ./data";
  bool saved = false;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/data/index")) {
    saved = saved || e.path().filename() == "stm.hnsw";
  }
  EXPECT_TRUE(saved) << "a clean shutdown saves the indices";
  auto unavailable = nca({"--timeout", "2s", "ping"});
  EXPECT_EQ(unavailable.exit_code, 4) << unavailable.out;

  start_node();
  auto again = nca({"--json", "recall", "--persona", "ada", "-k", "1", "peanut allergy"});
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("peanuts"), std::string::npos) << "full reload on restart";
}

// SIGKILL at a random moment while a client writes: every acknowledged memory is there after
// restart.
TEST_F(DevNodeTest, KillDashNineLosesNothingAcknowledged) {
  constexpr int kSeeds = 5;
  std::set<std::string> acked;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::cout << "[ seed ] " << seed << std::endl;
    std::mt19937 rng(static_cast<unsigned>(seed));
    start_node();
    auto client = Client::connect({addr_});
    ASSERT_TRUE(client.ok()) << client.error().message;
    // Everything acknowledged before this crash must still be there.
    for (const auto& id : acked) {
      auto got = (*client)->get(id);
      ASSERT_TRUE(got.ok()) << "acknowledged memory " << id << " lost: " << got.error().message;
    }
    int writes = std::uniform_int_distribution<int>(10, 120)(rng);
    for (int i = 0; i < writes; ++i) {
      pb::MemoryInput in;
      in.set_id("s" + std::to_string(seed) + "-" + std::to_string(i));
      in.set_content("memory " + std::to_string(i) + " written before crash " +
                     std::to_string(seed));
      if (auto r = (*client)->remember("ada", in); r.ok()) acked.insert(in.id());
    }
    // Kill while more writes are in flight from another connection.
    std::thread writer([&, seed] {
      auto c2 = Client::connect({addr_});
      if (!c2.ok()) return;
      for (int i = 0; i < 200; ++i) {
        pb::MemoryInput in;
        in.set_content("in flight " + std::to_string(seed) + "/" + std::to_string(i));
        if (!(*c2)->remember("ada", in).ok()) return;
      }
    });
    auto status = node_->signal_and_wait(SIGKILL, std::chrono::seconds(10));
    writer.join();
    ASSERT_TRUE(status.has_value());
    client->reset();
  }
  start_node();
  auto client = Client::connect({addr_});
  ASSERT_TRUE(client.ok());
  for (const auto& id : acked) {
    EXPECT_TRUE((*client)->get(id).ok()) << "acknowledged memory " << id << " lost";
  }
  std::cout << acked.size() << " acknowledged memories survived " << kSeeds << " SIGKILLs\n";
}

// One client, many concurrent publishes and acks: the SDK merges them (ClientOptions::
// coalesce_event_calls), and each call must still get exactly its own events, its own outcome and
// its own error from the real node, a malformed event included.
TEST_F(DevNodeTest, ConcurrentEventCallsOfOneClientEachGetTheirOwnReply) {
  start_node();
  auto client = Client::connect({addr_});
  ASSERT_TRUE(client.ok()) << client.error().message;
  pb::Persona worker;
  worker.set_id("worker");
  (*worker.mutable_skills())["triage"] = 0.9;
  worker.set_capacity(200);
  ASSERT_TRUE((*client)->create_persona(worker).ok());

  constexpr int kCalls = 120;
  constexpr int kBad = 37;  // its payload is not JSON
  std::vector<Client::Future<pb::PublishReply>> published;
  for (int i = 0; i < kCalls; ++i) {
    pb::EventInput e;
    e.set_topic("support.ticket_created");
    e.add_required_skills("triage");
    e.set_payload(i == kBad ? "{not json" : "{\"n\":" + std::to_string(i) + "}");
    published.push_back((*client)->publish_async(e));
  }
  std::set<std::string> ids;
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(i);
    auto r = published[static_cast<size_t>(i)].get();
    if (i == kBad) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
      EXPECT_NE(r.error().message.find("event 0: payload is not valid JSON"), std::string::npos)
          << "named as it would be alone: " << r.error().message;
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    ASSERT_EQ(r->events_size(), 1);
    EXPECT_EQ(r->events(0).payload(), "{\"n\":" + std::to_string(i) + "}");
    ids.insert(r->events(0).id());
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(kCalls - 1)) << "every event has an id of its own";

  auto next = (*client)->next_events("worker", std::chrono::milliseconds(2000), kCalls);
  ASSERT_TRUE(next.ok()) << next.error().message;
  ASSERT_EQ(next->events_size(), kCalls - 1);
  // First an ack naming a delivery that never was, then the real ones: all may share a request.
  auto stale = (*client)->ack_async(next->events(0).id(), next->events(0).attempts() + 1);
  std::vector<Client::Future<pb::EventReply>> acks;
  for (const auto& e : next->events()) acks.push_back((*client)->ack_async(e.id(), e.attempts()));
  for (size_t i = 0; i < acks.size(); ++i) {
    auto r = acks[i].get();
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().to_string();
    EXPECT_EQ(r->event().id(), next->events(static_cast<int>(i)).id());
    EXPECT_EQ(r->event().state(), pb::EVENT_ACKED);
  }
  auto refused = stale.get();
  ASSERT_FALSE(refused.ok()) << "an ack of a delivery that is not current is refused alone";
  EXPECT_EQ(refused.error().message.rfind("acks[", 0), std::string::npos)
      << "no index of a batch the caller never sent: " << refused.error().message;
}

// The STM index files under the dev node's data directory.
size_t stm_index_files(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir + "/data/index", ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() == "stm.hnsw") ++n;
  }
  return n;
}

uint64_t index_rebuilds(Client& client) {
  auto st = client.stats();
  if (!st.ok()) return ~uint64_t{0};
  auto it = st->counters().find("index_rebuilds");
  return it == st->counters().end() ? ~uint64_t{0} : it->second;
}

// An active persona saves its index while it runs (index.save-interval), not only when it stops:
// after a SIGKILL its next activation reads the saved index instead of rebuilding it from RocksDB.
// The same run with the periodic save off rebuilds it, so the counter this test reads does count.
TEST_F(DevNodeTest, AfterASigkillAnActivePersonaReadsTheIndexItSavedWhileRunning) {
  for (const std::string interval : {"200ms", "0s"}) {
    SCOPED_TRACE("index.save-interval " + interval);
    std::filesystem::remove_all(dir_ + "/data");
    DevNodeFixture::start_node({"--memory.dim", "64", "--index.save-interval", interval});
    auto client = Client::connect({addr_});
    ASSERT_TRUE(client.ok()) << client.error().message;
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(
          (*client)->remember("ada", "fact " + std::to_string(i) + " about the garden").ok());
    }
    auto before = (*client)->recall("ada", "fact 7 about the garden", 3);
    ASSERT_TRUE(before.ok());
    ASSERT_EQ(before->hits_size(), 3);
    if (interval != "0s") {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (stm_index_files(dir_) == 0 && std::chrono::steady_clock::now() < until) {
        usleep(50'000);  // ok-sleep: polling interval while the file is awaited
      }
      ASSERT_EQ(stm_index_files(dir_), 1u) << "the running persona never saved its index";
    } else {
      EXPECT_EQ(stm_index_files(dir_), 0u);
    }
    client->reset();
    ASSERT_TRUE(node_->signal_and_wait(SIGKILL, std::chrono::seconds(10)).has_value());

    DevNodeFixture::start_node({"--memory.dim", "64", "--index.save-interval", interval});
    client = Client::connect({addr_});
    ASSERT_TRUE(client.ok()) << client.error().message;
    auto after = (*client)->recall("ada", "fact 7 about the garden", 3);
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->hits_size(), 3);
    EXPECT_EQ(after->hits(0).item().id(), before->hits(0).item().id());
    EXPECT_EQ(index_rebuilds(**client), interval != "0s" ? 0u : 1u);
    client->reset();
    node_.reset();
  }
}

}  // namespace
}  // namespace nca
