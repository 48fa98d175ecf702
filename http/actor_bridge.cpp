#include "http/actor_bridge.hpp"

namespace nca::http {
namespace {

using job_atom = caf::atom_constant<caf::atom("httpjob")>;

}  // namespace
}  // namespace nca::http

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::http::BridgeJobPtr)

namespace nca::http {
namespace {

caf::behavior bridge_actor(caf::event_based_actor* self) {
  return {
      [=](job_atom, const BridgeJobPtr& job) { job->start(self); },
  };
}

}  // namespace

void BridgeJob::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

ActorBridge::ActorBridge(caf::actor_system& sys) : actor_(sys.spawn(bridge_actor)) {}

ActorBridge::~ActorBridge() { caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown); }

ActorBridge::Outcome ActorBridge::run(const BridgeJobPtr& job, SteadyTime deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_.insert(job.get());
  }
  caf::anon_send(actor_, job_atom::value, job);
  Outcome outcome = Outcome::done;
  {
    std::unique_lock<std::mutex> lock(job->mu_);
    while (!job->done_) {
      // Read under the job's mutex: drain_until stores first, then takes this mutex to notify.
      int64_t drain_ns = drain_deadline_ns_.load();
      SteadyTime limit = deadline;
      bool drain_first = false;
      if (drain_ns != 0) {
        SteadyTime drain{std::chrono::nanoseconds(drain_ns)};
        if (drain < limit) {
          limit = drain;
          drain_first = true;
        }
      }
      if (std::chrono::steady_clock::now() >= limit) {
        outcome = drain_first ? Outcome::draining : Outcome::deadline;
        break;
      }
      job->cv_.wait_until(lock, limit);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  waiting_.erase(job.get());
  return outcome;
}

void ActorBridge::drain_until(SteadyTime deadline) {
  int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  drain_deadline_ns_.store(ns == 0 ? 1 : ns);
  std::lock_guard<std::mutex> lock(mu_);
  for (BridgeJob* job : waiting_) {
    { std::lock_guard<std::mutex> job_lock(job->mu_); }
    job->cv_.notify_all();
  }
}

}  // namespace nca::http
