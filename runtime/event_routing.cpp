#include "runtime/event_routing.hpp"

namespace nca {

namespace {

double skill_sum(const google::protobuf::RepeatedPtrField<std::string>& required,
                 const google::protobuf::Map<std::string, double>& skills) {
  double sum = 0;
  for (const auto& s : required) {
    auto it = skills.find(s);
    if (it != skills.end()) sum += it->second;
  }
  return sum;
}

}  // namespace

double skill_match(const google::protobuf::RepeatedPtrField<std::string>& required,
                   const google::protobuf::Map<std::string, double>& skills) {
  if (required.empty()) return 0;
  return skill_sum(required, skills) / static_cast<double>(required.size());
}

double affinity(const pb::Persona& persona, const std::string& from) {
  if (from.empty()) return 0;
  auto it = persona.relationships().find(from);
  return it == persona.relationships().end() ? 0 : it->second.affinity();
}

double routing_score_of(double skill_sum, size_t required, double aff, size_t in_flight,
                        size_t capacity) {
  double load =
      capacity == 0 ? 1.0 : static_cast<double>(in_flight) / static_cast<double>(capacity);
  double match = required == 0 ? 0 : skill_sum / static_cast<double>(required);
  return match + kAffinityWeight * aff - kLoadWeight * load;
}

double routing_score(const pb::Event& event, const pb::Persona& persona, size_t in_flight,
                     size_t capacity) {
  return routing_score_of(skill_sum(event.required_skills(), persona.skills()),
                          static_cast<size_t>(event.required_skills_size()),
                          affinity(persona, event.from()), in_flight, capacity);
}

int priority_level(pb::EventPriority p) {
  switch (p) {
    case pb::LOW:
      return 0;
    case pb::HIGH:
      return 2;
    case pb::CRITICAL:
      return 3;
    default:
      return 1;
  }
}

}  // namespace nca
