// The event life cycle through the real binaries: `nca-node --dev` on an OS-chosen port, driven by
// `nca persona ...` and `nca event ...` as a user would, and by an SDK subscription.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "nca/client.hpp"
#include "tests/cli/run_nca.hpp"
#include "tests/integration/process.hpp"

namespace nca {
namespace {

using test_support::run_nca;
using test_support::RunResult;

class DevNodeEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nca-cli-events-XXXXXX";
    const char* made = mkdtemp(pattern);
    ASSERT_NE(made, nullptr);
    dir_ = made;
    node_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{std::string(NCA_BIN_DIR) + "/nca-node", "--dev", "--node.listen",
                                 "127.0.0.1:0", "--memory.dim", "64"},
        dir_, dir_ + "/node.log");
    auto port = node_->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(30));
    ASSERT_TRUE(port.has_value()) << "nca-node did not start; see " << dir_ << "/node.log";
    address_ = "127.0.0.1:" + *port;
  }

  void TearDown() override {
    node_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  RunResult nca(std::vector<std::string> args) {
    args.insert(args.begin(), "--addr=" + address_);
    return run_nca(args);
  }

  // Runs a --json verb and parses its output; a failure is recorded and gives null.
  nlohmann::json nca_json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    RunResult result = nca(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    if (result.exit_code != 0) return nullptr;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  std::string dir_;
  std::string address_;
  std::unique_ptr<testing::ChildProcess> node_;
};

TEST_F(DevNodeEventsTest, PublishTakeAckAndStatusThroughTheCli) {
  RunResult created = nca({"persona", "create", "ada", "--name", "Ada", "--skill", "billing=0.9",
                           "--relationship", "grace=manager:0.8", "--capacity", "2"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("created persona ada"), std::string::npos) << created.out;
  EXPECT_NE(created.out.find("billing 0.90"), std::string::npos) << created.out;

  nlohmann::json published = nca_json(
      {"event", "publish", "--topic", "support.ticket_created", "--payload", R"({"ticket": 42})",
       "--priority", "high", "--skill", "billing", "--from", "grace", "--thread", "t-42"});
  ASSERT_TRUE(published.is_object());
  ASSERT_EQ(published["events"].size(), 1u) << published.dump();
  std::string id = published["events"][0]["id"];
  ASSERT_FALSE(id.empty());

  nlohmann::json taken = nca_json({"event", "next", "ada", "--wait", "5s"});
  ASSERT_TRUE(taken.is_object());
  ASSERT_TRUE(taken.contains("event")) << taken.dump();
  EXPECT_EQ(taken["event"]["id"], id);
  EXPECT_EQ(taken["event"]["state"], "EVENT_DELIVERED");
  EXPECT_EQ(taken["event"]["payload"], R"({"ticket": 42})");
  int attempt = taken["event"]["attempts"];
  EXPECT_EQ(attempt, 1);

  RunResult stale = nca({"event", "ack", id, "--attempt", std::to_string(attempt + 1)});
  EXPECT_EQ(stale.exit_code, 1) << "a delivery that is not the current one is a conflict: "
                                << stale.err;
  RunResult acked =
      nca({"event", "ack", id, "--attempt", std::to_string(attempt), "--result", "refund issued"});
  ASSERT_EQ(acked.exit_code, 0) << acked.err;
  EXPECT_EQ(acked.out.rfind("acked " + id, 0), 0u) << acked.out;

  RunResult status = nca({"event", "status", id});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("acked"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("refund issued"), std::string::npos) << status.out;
  nlohmann::json status_json = nca_json({"event", "status", id});
  ASSERT_TRUE(status_json.is_object());
  EXPECT_EQ(status_json["event"]["state"], "EVENT_ACKED");
  EXPECT_EQ(status_json["event"]["persona_id"], "ada");

  RunResult none = nca({"event", "next", "ada", "--wait", "0"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "no event for ada within 0 ms\n");
  EXPECT_EQ(nca({"event", "status", "no-such-event"}).exit_code, 3);
  RunResult guarded = nca({"persona", "delete", "ada"});
  EXPECT_EQ(guarded.exit_code, 2);
  EXPECT_EQ(nca({"persona", "get", "ada"}).exit_code, 0) << "still there without --yes";
}

// A subscription takes what is published, acks it with the delivery's attempt, and the node
// records the result.
TEST_F(DevNodeEventsTest, SubscriptionAcksThroughTheRealNode) {
  auto client = Client::connect({address_});
  ASSERT_TRUE(client.ok()) << client.error().to_string();
  pb::Persona bob;
  bob.set_id("bob");
  (*bob.mutable_skills())["sql"] = 0.8;
  ASSERT_TRUE((*client)->create_persona(bob).ok());

  std::mutex mu;
  std::condition_variable handled;
  std::vector<std::string> seen;
  SubscriptionOptions options;
  options.wait = std::chrono::milliseconds(500);
  auto subscription = (*client)->subscribe(
      "bob",
      [&](const pb::Event& event) {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(event.id());
        handled.notify_all();
        return EventDecision::ack("answered " + event.topic());
      },
      options);
  ASSERT_TRUE(subscription.ok()) << subscription.error().to_string();

  std::vector<pb::EventInput> batch(3);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].set_id("q-" + std::to_string(i));
    batch[i].set_topic("db.question");
    batch[i].set_target_persona("bob");
  }
  auto published = (*client)->publish(batch);
  ASSERT_TRUE(published.ok()) << published.error().to_string();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(handled.wait_for(lock, std::chrono::seconds(20), [&] { return seen.size() >= 3; }));
  }
  subscription->stop();
  EXPECT_EQ(subscription->counters().errors, 0u);
  EXPECT_EQ(subscription->counters().acked, 3u);
  for (const pb::EventInput& input : batch) {
    auto status = (*client)->event_status(input.id());
    ASSERT_TRUE(status.ok()) << status.error().to_string();
    // The ack is sent after the handler returns; stop() waited for it.
    EXPECT_EQ(status->event().state(), pb::EVENT_ACKED) << input.id();
    EXPECT_EQ(status->event().result(), "answered db.question");
  }
}

}  // namespace
}  // namespace nca
