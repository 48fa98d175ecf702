// SIGKILL of a real `nca-node --dev` while events are in every state (pending, assigned, delivered,
// acked, dead): after each restart no acknowledged event is lost, none acked is handed out again,
// only events delivered but never acked are delivered again, and leases resume where they were.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "nca/client.hpp"
#include "tests/integration/dev_node.hpp"

namespace nca {
namespace {

const std::vector<std::string> kPersonas = {"ada", "bob"};

// What clients were told. Only acknowledged outcomes count; an operation cut off by the kill is
// "uncertain" and excluded from the checks it could affect.
struct Model {
  std::mutex mu;
  std::set<std::string> published;
  std::set<std::string> acked;
  std::map<std::string, pb::Event> delivered;  // delivered, not acked (last delivery seen)
  std::set<std::string> ever_delivered;
  std::set<std::string> uncertain_ack;
};

class EventKillTest : public testing::DevNodeFixture {
 protected:
  void start_node() {
    DevNodeFixture::start_node(
        {"--memory.dim", "32", "--events.max-attempts", "2", "--lymphatic.enabled", "false"});
  }
};

Result<pb::Response> publish(Client& c, const std::string& id, std::mt19937& rng) {
  pb::Request req;
  auto* e = req.mutable_publish()->add_events();
  e->set_id(id);
  e->set_topic("ops.task");
  e->set_priority(static_cast<pb::EventPriority>(std::uniform_int_distribution<int>(1, 4)(rng)));
  e->set_payload("{}");
  return c.call(req);
}

Result<pb::Response> next(Client& c, const std::string& persona) {
  pb::Request req;
  req.mutable_next_event()->set_persona_id(persona);
  return c.call(req);
}

Result<pb::Response> finish(Client& c, const pb::Event& e, bool ack) {
  pb::Request req;
  if (ack) {
    req.mutable_ack()->set_event_id(e.id());
    req.mutable_ack()->set_attempt(e.attempts());
  } else {
    req.mutable_nack()->set_event_id(e.id());
    req.mutable_nack()->set_attempt(e.attempts());
  }
  return c.call(req);
}

// One random operation; records what the node acknowledged. False when the node is gone.
bool step(Client& c, Model& m, std::mt19937& rng, const std::string& id_prefix, int i) {
  int op = std::uniform_int_distribution<int>(0, 9)(rng);
  if (op < 4) {
    std::string id = id_prefix + std::to_string(i);
    auto r = publish(c, id, rng);
    if (!r) return false;
    std::lock_guard<std::mutex> lock(m.mu);
    m.published.insert(id);
    return true;
  }
  if (op < 7) {
    auto r = next(c, kPersonas[op % 2]);
    if (!r) return false;
    if (!r->next_event().has_event()) return true;
    const pb::Event& e = r->next_event().event();
    std::lock_guard<std::mutex> lock(m.mu);
    EXPECT_EQ(m.acked.count(e.id()), 0u) << "acked event " << e.id() << " handed out again";
    if (e.attempts() > 1) {
      EXPECT_EQ(m.ever_delivered.count(e.id()), 1u)
          << "event " << e.id() << " delivery " << e.attempts() << " without an earlier one";
    }
    m.delivered[e.id()] = e;
    m.ever_delivered.insert(e.id());
    return true;
  }
  pb::Event target;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.delivered.empty()) return true;
    auto it = m.delivered.begin();
    std::advance(it, std::uniform_int_distribution<size_t>(0, m.delivered.size() - 1)(rng));
    target = it->second;
    m.delivered.erase(it);
    m.uncertain_ack.insert(target.id());
  }
  bool ack = op < 9;
  auto r = finish(c, target, ack);
  std::lock_guard<std::mutex> lock(m.mu);
  if (!r) {
    if (r.code() == ErrorCode::conflict) {
      m.uncertain_ack.erase(target.id());
      return true;
    }
    return false;
  }
  m.uncertain_ack.erase(target.id());
  if (ack) m.acked.insert(target.id());
  return true;
}

// Every acked event is a memory of the persona that handled it, also when the kill came while the
// memory waited (events.memory-delay) or was being written: the restart stores the memories of
// the events acked just before the kill again. Written after the restart, so waited for (bounded).
void expect_memory(Client& c, const pb::Event& e, std::chrono::steady_clock::time_point deadline) {
  Result<pb::ItemReply> got = c.get(e.memory_id(), e.persona_id());
  while (!got && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // ok-sleep: polling interval
    got = c.get(e.memory_id(), e.persona_id());
  }
  EXPECT_TRUE(got) << "acked event " << e.id() << " has no memory " << e.memory_id() << ": "
                   << got.error().message;
}

void check_after_restart(Client& c, Model& m) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (const auto& id : m.published) {
    pb::Request req;
    req.mutable_event_status()->set_event_id(id);
    auto r = c.call(req);
    ASSERT_TRUE(r) << "acknowledged event " << id << " lost: " << r.error().message;
    const auto& e = r->event_status().event();
    if (m.acked.count(id)) {
      EXPECT_EQ(e.state(), pb::EVENT_ACKED) << id;
      expect_memory(c, e, deadline);
    }
    auto d = m.delivered.find(id);
    if (d != m.delivered.end() && !m.uncertain_ack.count(id)) {
      EXPECT_EQ(e.state(), pb::EVENT_DELIVERED) << id;
      EXPECT_EQ(e.attempts(), d->second.attempts()) << id;
      EXPECT_EQ(e.lease_expires_at_us(), d->second.lease_expires_at_us()) << id << ": lease moved";
    }
  }
}

TEST_F(EventKillTest, SigkillWhileEventsAreInEveryState) {
  constexpr int kSeeds = 20;
  Model m;
  std::map<pb::EventState, int> states_seen;
  start_node();
  {
    auto c = Client::connect({addr_});
    ASSERT_TRUE(c.ok()) << c.error().message;
    for (const auto& p : kPersonas) {
      pb::Request req;
      req.mutable_create_persona()->mutable_persona()->set_id(p);
      req.mutable_create_persona()->mutable_persona()->set_capacity(3);
      ASSERT_TRUE((*c)->call(req)) << p;
    }
  }
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::cout << "[ seed ] " << seed << std::endl;
    std::mt19937 rng(static_cast<unsigned>(seed));
    auto c = Client::connect({addr_});
    ASSERT_TRUE(c.ok()) << c.error().message;
    check_after_restart(**c, m);
    const std::string prefix = "s" + std::to_string(seed) + "-";
    int steps = std::uniform_int_distribution<int>(10, 40)(rng);
    for (int i = 0; i < steps; ++i) ASSERT_TRUE(step(**c, m, rng, prefix, i));
    for (const auto& id : m.published) {
      pb::Request req;
      req.mutable_event_status()->set_event_id(id);
      if (auto r = (*c)->call(req)) states_seen[r->event_status().event().state()]++;
    }
    // Kill after a random number of operations of a second client, with more in flight.
    int kill_after = std::uniform_int_distribution<int>(1, 30)(rng);
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    bool stopped = false;
    std::thread worker([&, seed] {
      std::mt19937 wrng(static_cast<unsigned>(seed) * 7919u);
      auto c2 = Client::connect({addr_});
      for (int i = 0; c2.ok() && i < 500; ++i) {
        bool ok = step(**c2, m, wrng, "w" + std::to_string(seed) + "-", i);
        std::lock_guard<std::mutex> lock(mu);
        ++done;
        cv.notify_all();
        if (!ok) break;
      }
      std::lock_guard<std::mutex> lock(mu);
      stopped = true;
      cv.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::seconds(30), [&] { return done >= kill_after || stopped; });
    }
    auto status = node_->signal_and_wait(SIGKILL, std::chrono::seconds(10));
    worker.join();
    ASSERT_TRUE(status.has_value());
    c->reset();
    start_node();
  }
  auto c = Client::connect({addr_});
  ASSERT_TRUE(c.ok());
  check_after_restart(**c, m);
  // Everything still waiting is handed out exactly as the rules say (checked in step()).
  std::mt19937 rng(0);
  for (int i = 0; i < 2000; ++i) {
    auto r = next(**c, kPersonas[i % 2]);
    ASSERT_TRUE(r);
    if (!r->next_event().has_event()) {
      if (i > 1) break;
      continue;
    }
    const pb::Event& e = r->next_event().event();
    EXPECT_EQ(m.acked.count(e.id()), 0u) << "acked event " << e.id() << " handed out again";
    ASSERT_TRUE(finish(**c, e, true));
  }
  std::cout << m.published.size() << " events published, " << m.acked.size() << " acked, "
            << m.delivered.size() << " delivered and unacked across " << kSeeds
            << " SIGKILLs; states seen before kills:";
  for (auto& [s, n] : states_seen) std::cout << " " << pb::EventState_Name(s) << "=" << n;
  std::cout << std::endl;
  for (auto s : {pb::EVENT_PENDING, pb::EVENT_ASSIGNED, pb::EVENT_DELIVERED, pb::EVENT_ACKED,
                 pb::EVENT_DEAD}) {
    EXPECT_GT(states_seen[s], 0) << "no event was ever " << pb::EventState_Name(s);
  }
}

}  // namespace
}  // namespace nca
