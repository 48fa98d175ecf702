#include "http/node_calls.hpp"

#include "actors/api_actor.hpp"
#include "actors/persona_directory.hpp"
#include "proto/wire.hpp"

namespace nca::http {
namespace {

// CAF's own timeout on a request: a little after the HTTP wait ends, so the HTTP side decides and
// the bridge still forgets the request in bounded time.
caf::timespan actor_timeout(SteadyTime deadline) {
  auto left = deadline - std::chrono::steady_clock::now();
  if (left < std::chrono::steady_clock::duration::zero()) left = {};
  return std::chrono::duration_cast<caf::timespan>(left) + std::chrono::seconds(1);
}

pb::Response error_response(const Error& e) {
  pb::Response resp;
  resp.mutable_status()->set_code(static_cast<pb::StatusCode>(e.code));
  resp.mutable_status()->set_message(e.message);
  return resp;
}

Error transport_error(const caf::error& e, const std::string& what) {
  if (e == caf::sec::request_timeout) {
    return make_error(ErrorCode::deadline_exceeded, what + " did not answer in time");
  }
  return make_error(ErrorCode::unavailable, what + " failed: " + caf::to_string(e));
}

class ApiCallJob : public BridgeJob {
 public:
  ApiCallJob(caf::actor api, uint32_t method, std::string bytes, caf::timespan timeout,
             bool as_node)
      : api_(std::move(api)),
        method_(method),
        bytes_(std::move(bytes)),
        timeout_(timeout),
        as_node_(as_node) {}

  void start(caf::event_based_actor* self) override {
    auto keep = shared_from_this();
    auto sent = as_node_ ? self->request(api_, timeout_, actors::local_request_atom::value, method_,
                                         std::move(bytes_))
                         : self->request(api_, timeout_, wire::envelope_atom::value, method_,
                                         std::move(bytes_));
    std::move(sent).then(
        [this, keep](uint32_t, const std::string& reply) {
          if (!response.ParseFromString(reply)) {
            response =
                error_response(make_error(ErrorCode::internal, "the node's reply does not parse"));
          }
          finish();
        },
        [this, keep](caf::error& e) {
          response = error_response(transport_error(e, "the node"));
          finish();
        });
  }

  pb::Response response;

 private:
  caf::actor api_;
  uint32_t method_;
  std::string bytes_;
  caf::timespan timeout_;
  bool as_node_;
};

class EventStatsJob : public BridgeJob {
 public:
  EventStatsJob(caf::actor router, caf::timespan timeout)
      : router_(std::move(router)), timeout_(timeout) {}

  void start(caf::event_based_actor* self) override {
    auto keep = shared_from_this();
    self->request(router_, timeout_, actors::estats_atom::value)
        .then(
            [this, keep](const actors::EventStatsPtr& stats) {
              result = stats;
              finish();
            },
            [this, keep](caf::error& e) {
              result = transport_error(e, "the event router");
              finish();
            });
  }

  Result<actors::EventStatsPtr> result = make_error(ErrorCode::internal, "no reply");

 private:
  caf::actor router_;
  caf::timespan timeout_;
};

class PersonaStatsJob : public BridgeJob {
 public:
  PersonaStatsJob(std::vector<caf::actor> personas, caf::timespan timeout)
      : personas_(std::move(personas)), timeout_(timeout) {}

  void start(caf::event_based_actor* self) override {
    pending_ = personas_.size();
    if (pending_ == 0) {
      finish();
      return;
    }
    auto keep = shared_from_this();
    auto req = std::make_shared<pb::Request>();
    req->mutable_stats();
    actors::RequestPtr shared = req;
    for (const auto& persona : personas_) {
      self->request(persona, timeout_, actors::handle_atom::value, shared)
          .then(
              [this, keep](uint32_t, const std::string& reply) {
                pb::Response resp;
                if (resp.ParseFromString(reply) && resp.status().code() == pb::OK &&
                    resp.stats().persona_size() > 0) {
                  figures.personas.push_back(resp.stats().persona(0));
                } else {
                  figures.unanswered++;
                }
                one_done();
              },
              [this, keep](caf::error&) {
                figures.unanswered++;
                one_done();
              });
    }
  }

  NodeCalls::PersonaFigures figures;

 private:
  void one_done() {
    if (--pending_ == 0) finish();
  }
  std::vector<caf::actor> personas_;
  caf::timespan timeout_;
  size_t pending_ = 0;  // touched only on the bridge actor
};

}  // namespace

Error wait_error(ActorBridge::Outcome outcome, const std::string& what) {
  if (outcome == ActorBridge::Outcome::draining) {
    return make_error(ErrorCode::unavailable, "the node is shutting down; " + what +
                                                  " was cut short, retry on another node");
  }
  return make_error(ErrorCode::deadline_exceeded,
                    what + " did not finish within its deadline (http.timeout or X-Timeout-Ms)");
}

pb::Response NodeCalls::call(const pb::Request& request, SteadyTime deadline, Caller caller) {
  caf::actor api = api_ ? api_ : node_.api();
  if (!api) {
    return error_response(make_error(ErrorCode::unavailable, "the node is not serving requests"));
  }
  auto job = std::make_shared<ApiCallJob>(
      std::move(api), static_cast<uint32_t>(request.body_case()), request.SerializeAsString(),
      actor_timeout(deadline), caller == Caller::node);
  auto outcome = bridge_.run(job, deadline);
  if (outcome != ActorBridge::Outcome::done) {
    return error_response(wait_error(outcome, "the request"));
  }
  return std::move(job->response);
}

Result<actors::EventStatsPtr> NodeCalls::event_stats(SteadyTime deadline) {
  caf::actor router = node_.context().router;
  if (!router) return make_error(ErrorCode::unavailable, "the event router is not running");
  auto job = std::make_shared<EventStatsJob>(std::move(router), actor_timeout(deadline));
  auto outcome = bridge_.run(job, deadline);
  if (outcome != ActorBridge::Outcome::done) return wait_error(outcome, "the event statistics");
  return job->result;
}

Result<NodeCalls::PersonaFigures> NodeCalls::persona_stats(SteadyTime deadline) {
  auto* directory = node_.context().directory;
  if (directory == nullptr) return make_error(ErrorCode::unavailable, "the node is stopping");
  auto job = std::make_shared<PersonaStatsJob>(directory->all(), actor_timeout(deadline));
  auto outcome = bridge_.run(job, deadline);
  if (outcome != ActorBridge::Outcome::done) return wait_error(outcome, "the persona statistics");
  return std::move(job->figures);
}

}  // namespace nca::http
