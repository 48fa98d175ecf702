#include "runtime/event_input.hpp"

#include <nlohmann/json.hpp>

#include "runtime/ids.hpp"
#include "runtime/input_validation.hpp"
#include "runtime/persona_profile.hpp"

namespace nca {

namespace {

Status invalid(std::string msg) { return make_error(ErrorCode::invalid_argument, std::move(msg)); }

bool topic_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

Status validate_event_input(const pb::EventInput& in, const EventPolicy& policy) {
  if (!in.id().empty()) {
    if (auto s = validate_id(in.id(), "event id"); !s) return s;
  }
  const std::string& t = in.topic();
  if (t.empty())
    return invalid("an event needs a topic (dot notation, e.g. support.ticket_created)");
  if (t.size() > kMaxTopicBytes) {
    return invalid("topic is " + std::to_string(t.size()) + " bytes; at most " +
                   std::to_string(kMaxTopicBytes));
  }
  bool segment_start = true;
  for (char c : t) {
    if (c == '.') {
      if (segment_start) return invalid("topic '" + t + "' has an empty segment");
      segment_start = true;
    } else if (!topic_char(c)) {
      return invalid("topic '" + t + "' has a character outside [A-Za-z0-9_-.]");
    } else {
      segment_start = false;
    }
  }
  if (segment_start) return invalid("topic '" + t + "' ends with '.'");
  if (!pb::EventPriority_IsValid(in.priority())) {
    return invalid("priority " + std::to_string(in.priority()) +
                   " is not one of LOW, NORMAL, HIGH, CRITICAL");
  }
  if (in.payload().size() > policy.max_payload_bytes) {
    return invalid("payload is " + std::to_string(in.payload().size()) + " bytes; at most " +
                   std::to_string(policy.max_payload_bytes) + " are allowed");
  }
  if (!in.payload().empty() && !nlohmann::json::accept(in.payload())) {
    return invalid("payload is not valid JSON text");
  }
  if (static_cast<size_t>(in.metadata().size()) > kMaxEventMetadata) {
    return invalid("metadata has " + std::to_string(in.metadata().size()) + " entries; at most " +
                   std::to_string(kMaxEventMetadata));
  }
  for (const auto& [k, v] : in.metadata()) {
    if (auto s = validate_id(k, "metadata key"); !s) return s;
    if (v.size() > 4096 || !is_valid_utf8(v)) {
      return invalid("metadata '" + k + "' must be UTF-8 of at most 4096 bytes");
    }
  }
  if (static_cast<size_t>(in.required_skills().size()) > kMaxRequiredSkills) {
    return invalid("an event may require at most " + std::to_string(kMaxRequiredSkills) +
                   " skills");
  }
  for (const auto& s : in.required_skills()) {
    if (auto st = validate_id(s, "required skill"); !st) return st;
  }
  if (!in.from().empty()) {
    if (auto s = validate_id(in.from(), "from"); !s) return s;
  }
  if (!in.target_persona().empty()) {
    if (auto s = validate_persona_id(in.target_persona()); !s) return s;
  }
  if (!in.thread_id().empty()) {
    if (auto s = validate_id(in.thread_id(), "thread_id"); !s) return s;
  }
  return {};
}

pb::Event event_from_input(const pb::EventInput& in, const std::string& tenant,
                           const std::string& id, TimeUs now) {
  pb::Event e;
  e.set_schema_version(1);
  e.set_id(id);
  e.set_tenant(tenant);
  e.set_topic(in.topic());
  e.set_priority(in.priority() == pb::PRIORITY_UNSPECIFIED ? pb::NORMAL : in.priority());
  e.set_payload(in.payload());
  *e.mutable_metadata() = in.metadata();
  *e.mutable_required_skills() = in.required_skills();
  e.set_from(in.from());
  e.set_target_persona(in.target_persona());
  e.set_thread_id(in.thread_id());
  e.set_state(pb::EVENT_PENDING);
  e.set_published_at_us(now);
  return e;
}

}  // namespace nca
