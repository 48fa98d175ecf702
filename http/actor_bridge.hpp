// http/actor_bridge.hpp: how HTTP worker threads wait for actors without blocking any actor.
//
// An HTTP thread hands a BridgeJob to the bridge (one event-based actor of the node's system); the
// job sends its request(s) from there with `request(...).then(...)` and calls finish() when its
// replies are in. The HTTP thread waits on the job's condition variable until it finished, its
// deadline passed, or the bridge is draining and the drain deadline passed, whichever is first, so
// no request waits longer than it may and shutdown can cut waits short. A job the waiter gave up on
// still completes (or times out in CAF) later and is then freed; its results are never read.
//
// Thread-safety: run() and drain_until() may be called from any thread. start() of a job runs on
// the bridge actor only. Ownership: the bridge owns its actor and ends it in the destructor; it
// must be destroyed before the actor system.
#pragma once

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>

namespace nca::http {

using SteadyTime = std::chrono::steady_clock::time_point;

class BridgeJob : public std::enable_shared_from_this<BridgeJob> {
 public:
  virtual ~BridgeJob() = default;
  // Runs inside the bridge actor: send requests with self->request(...).then(...), never block, and
  // call finish() exactly once when the outcome is known (results written before it). Handlers
  // keep the job alive by capturing shared_from_this().
  virtual void start(caf::event_based_actor* self) = 0;

 protected:
  void finish();

 private:
  friend class ActorBridge;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

using BridgeJobPtr = std::shared_ptr<BridgeJob>;

class ActorBridge {
 public:
  enum class Outcome { done, deadline, draining };

  explicit ActorBridge(caf::actor_system& sys);
  ~ActorBridge();
  ActorBridge(const ActorBridge&) = delete;
  ActorBridge& operator=(const ActorBridge&) = delete;

  // Starts `job` and waits as described above. Results of the job may be read only after `done`.
  Outcome run(const BridgeJobPtr& job, SteadyTime deadline);

  // From now on every wait ends at `deadline` at the latest (with `draining`), also waits already
  // under way.
  void drain_until(SteadyTime deadline);
  bool draining() const { return drain_deadline_ns_.load() != 0; }

 private:
  caf::actor actor_;
  std::atomic<int64_t> drain_deadline_ns_{0};  // steady-clock ns since epoch; 0: not draining
  std::mutex mu_;                              // guards waiting_
  std::set<BridgeJob*> waiting_;
};

}  // namespace nca::http
