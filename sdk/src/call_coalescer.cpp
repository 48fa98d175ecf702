#include "sdk/src/call_coalescer.hpp"

#include <utility>

namespace nca::sdk {

namespace {

bool is_ack(const pb::Request& r) {
  return r.body_case() == pb::Request::kAck || r.body_case() == pb::Request::kAckBatch;
}

// The node names a refused ack of a batch by its index ("acks[7]: ..."): a call gets the name it
// would have got alone, its own index, or none for a single ack.
std::string own_message(const std::string& message, size_t merged_index, bool single,
                        size_t own_index) {
  const std::string prefix = "acks[" + std::to_string(merged_index) + "]: ";
  if (message.compare(0, prefix.size(), prefix) != 0) return message;
  std::string rest = message.substr(prefix.size());
  return single ? rest : "acks[" + std::to_string(own_index) + "]: " + rest;
}

pb::Response reply_like(const pb::Response& merged) {
  pb::Response out;
  *out.mutable_status() = merged.status();
  out.set_served_by(merged.served_by());
  out.set_route_shard(merged.route_shard());
  out.set_shard_count(merged.shard_count());
  out.set_route_tenant(merged.route_tenant());
  return out;
}

}  // namespace

std::string coalesce_lane(const pb::Request& request, const std::string& route_key,
                          bool caller_chose_id_or_deadline, size_t max_items) {
  if (caller_chose_id_or_deadline) return {};
  const size_t items = coalesce_items(request);
  if (items == 0 || items > max_items) return {};
  char family = 0;
  switch (request.body_case()) {
    case pb::Request::kPublish:
      for (const auto& e : request.publish().events()) {
        if (!e.id().empty()) return {};
      }
      family = 'p';
      break;
    case pb::Request::kAck:
    case pb::Request::kAckBatch:
      family = 'a';
      break;
    default:
      return {};
  }
  const pb::RequestHeader& h = request.header();
  // Lengths first, so no two different (tenant, token, route) triples give one key.
  std::string lane(1, family);
  for (const std::string* part : {&h.tenant(), &h.auth_token(), &route_key}) {
    lane += std::to_string(part->size()) + ':' + *part;
  }
  lane += std::to_string(h.schema_version());
  return lane;
}

size_t coalesce_items(const pb::Request& request) {
  switch (request.body_case()) {
    case pb::Request::kPublish:
      return static_cast<size_t>(request.publish().events_size());
    case pb::Request::kAck:
      return 1;
    case pb::Request::kAckBatch:
      return static_cast<size_t>(request.ack_batch().acks_size());
    default:
      return 0;
  }
}

pb::Request merge_requests(const std::vector<const pb::Request*>& members) {
  pb::Request merged;
  if (members.empty()) return merged;
  *merged.mutable_header() = members.front()->header();
  if (is_ack(*members.front())) {
    auto* acks = merged.mutable_ack_batch()->mutable_acks();
    for (const pb::Request* m : members) {
      if (m->body_case() == pb::Request::kAck) {
        *acks->Add() = m->ack();
      } else {
        for (const auto& a : m->ack_batch().acks()) *acks->Add() = a;
      }
    }
  } else {
    auto* events = merged.mutable_publish()->mutable_events();
    for (const pb::Request* m : members) {
      for (const auto& e : m->publish().events()) *events->Add() = e;
    }
  }
  return merged;
}

Result<std::vector<pb::Response>> split_reply(const std::vector<const pb::Request*>& members,
                                              pb::Response merged) {
  size_t sent = 0;
  for (const pb::Request* m : members) sent += coalesce_items(*m);
  const bool acks = !members.empty() && is_ack(*members.front());
  const size_t got = acks ? static_cast<size_t>(merged.ack_batch().results_size())
                          : static_cast<size_t>(merged.publish().events_size());
  const bool shape_ok = acks ? merged.has_ack_batch() : merged.has_publish();
  if (!shape_ok || got != sent) {
    return make_error(ErrorCode::internal, "malformed reply to " + std::to_string(members.size()) +
                                               " calls sent as one " +
                                               (acks ? "ack_batch" : "publish") + ": " +
                                               std::to_string(got) + " results for " +
                                               std::to_string(sent) + (acks ? " acks" : " events"));
  }
  std::vector<pb::Response> out;
  out.reserve(members.size());
  size_t at = 0;
  for (const pb::Request* m : members) {
    pb::Response r = reply_like(merged);
    const size_t n = coalesce_items(*m);
    if (!acks) {
      auto* events = r.mutable_publish()->mutable_events();
      for (size_t i = 0; i < n; ++i) {
        events->Add()->Swap(merged.mutable_publish()->mutable_events(static_cast<int>(at + i)));
      }
    } else if (m->body_case() == pb::Request::kAck) {
      pb::AckOutcome* outcome = merged.mutable_ack_batch()->mutable_results(static_cast<int>(at));
      if (outcome->status().code() == pb::OK) {
        r.mutable_ack()->mutable_event()->Swap(outcome->mutable_event());
      } else {
        // Alone, a refused ack is the call's status, with no body.
        r.mutable_status()->set_code(outcome->status().code());
        r.mutable_status()->set_message(own_message(outcome->status().message(), at, true, 0));
      }
    } else {
      auto* results = r.mutable_ack_batch()->mutable_results();
      for (size_t i = 0; i < n; ++i) {
        pb::AckOutcome* outcome =
            merged.mutable_ack_batch()->mutable_results(static_cast<int>(at + i));
        outcome->mutable_status()->set_message(
            own_message(outcome->status().message(), at + i, false, i));
        results->Add()->Swap(outcome);
      }
    }
    at += n;
    out.push_back(std::move(r));
  }
  return out;
}

bool retry_alone(const Error& error) {
  return error.code == ErrorCode::invalid_argument || error.code == ErrorCode::resource_exhausted;
}

}  // namespace nca::sdk
