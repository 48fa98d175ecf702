#include "runtime/persona_profile.hpp"

#include <cmath>

#include "runtime/ids.hpp"
#include "runtime/input_validation.hpp"

namespace nca {

namespace {

constexpr const char* kFields[] = {
    "name",   "role",        "description",   "skills",  "responsibilities",
    "traits", "preferences", "relationships", "capacity"};

Status text(const std::string& s, std::string_view what) {
  if (s.size() > kMaxProfileText) {
    return make_error(ErrorCode::invalid_argument,
                      std::string(what) + " is " + std::to_string(s.size()) + " bytes; at most " +
                          std::to_string(kMaxProfileText) + " are allowed");
  }
  if (!is_valid_utf8(s)) {
    return make_error(ErrorCode::invalid_argument, std::string(what) + " is not valid UTF-8");
  }
  return {};
}

Status list(const google::protobuf::RepeatedPtrField<std::string>& items, std::string_view what) {
  if (static_cast<size_t>(items.size()) > kMaxProfileEntries) {
    return make_error(ErrorCode::invalid_argument,
                      std::string(what) + " has " + std::to_string(items.size()) +
                          " entries; at most " + std::to_string(kMaxProfileEntries));
  }
  for (const auto& s : items) {
    if (s.empty())
      return make_error(ErrorCode::invalid_argument, std::string(what) + " has an empty entry");
    if (auto st = text(s, what); !st) return st;
  }
  return {};
}

}  // namespace

Status validate_persona_id(std::string_view id) {
  if (auto s = validate_id(id, "persona_id"); !s) return s;
  if (id.front() == '_' && id != kSharedPersona) {
    return make_error(ErrorCode::invalid_argument,
                      "persona_id '" + std::string(id) +
                          "' starts with '_', which is reserved (only '" + kSharedPersona +
                          "' is allowed)");
  }
  return {};
}

Status validate_profile(const pb::Persona& p) {
  if (auto s = validate_persona_id(p.id()); !s) return s;
  if (auto s = text(p.name(), "name"); !s) return s;
  if (auto s = text(p.role(), "role"); !s) return s;
  if (auto s = text(p.description(), "description"); !s) return s;
  if (static_cast<size_t>(p.skills().size()) > kMaxProfileEntries) {
    return make_error(ErrorCode::invalid_argument,
                      "too many skills (at most " + std::to_string(kMaxProfileEntries) + ")");
  }
  for (const auto& [skill, prof] : p.skills()) {
    if (auto s = validate_id(skill, "skill name"); !s) return s;
    if (!std::isfinite(prof) || prof < 0 || prof > 1) {
      return make_error(ErrorCode::invalid_argument, "skill '" + skill + "' has proficiency " +
                                                         std::to_string(prof) +
                                                         "; it must be in [0, 1]");
    }
  }
  if (auto s = list(p.responsibilities(), "responsibilities"); !s) return s;
  if (auto s = list(p.traits(), "traits"); !s) return s;
  if (auto s = list(p.preferences().likes(), "preferences.likes"); !s) return s;
  if (auto s = list(p.preferences().dislikes(), "preferences.dislikes"); !s) return s;
  if (static_cast<size_t>(p.relationships().size()) > kMaxProfileEntries) {
    return make_error(ErrorCode::invalid_argument, "too many relationships (at most " +
                                                       std::to_string(kMaxProfileEntries) + ")");
  }
  for (const auto& [other, rel] : p.relationships()) {
    if (auto s = validate_id(other, "relationship id"); !s) return s;
    if (!std::isfinite(rel.affinity()) || rel.affinity() < -1 || rel.affinity() > 1) {
      return make_error(ErrorCode::invalid_argument,
                        "relationship with '" + other + "' has affinity " +
                            std::to_string(rel.affinity()) + "; it must be in [-1, 1]");
    }
    if (auto s = text(rel.relation(), "relationship relation"); !s) return s;
    if (auto s = text(rel.notes(), "relationship notes"); !s) return s;
  }
  if (p.capacity() > kMaxCapacity) {
    return make_error(ErrorCode::invalid_argument, "capacity " + std::to_string(p.capacity()) +
                                                       " is above the limit of " +
                                                       std::to_string(kMaxCapacity));
  }
  if (!pb::PersonaStatus_IsValid(p.status())) {
    return make_error(ErrorCode::invalid_argument,
                      "status " + std::to_string(p.status()) + " is not a persona status");
  }
  return {};
}

Status copy_profile_fields(const pb::Persona& from,
                           const google::protobuf::RepeatedPtrField<std::string>& fields,
                           pb::Persona* base) {
  auto wanted = [&](const char* f) {
    if (fields.empty()) return true;
    for (const auto& x : fields) {
      if (x == f) return true;
    }
    return false;
  };
  for (const auto& f : fields) {
    bool known = false;
    for (const char* k : kFields) known = known || f == k;
    if (!known) {
      return make_error(ErrorCode::invalid_argument,
                        "'" + f +
                            "' is not an updatable profile field (name, role, description, "
                            "skills, responsibilities, traits, preferences, relationships, "
                            "capacity)");
    }
  }
  if (wanted("name")) base->set_name(from.name());
  if (wanted("role")) base->set_role(from.role());
  if (wanted("description")) base->set_description(from.description());
  if (wanted("skills")) *base->mutable_skills() = from.skills();
  if (wanted("responsibilities")) *base->mutable_responsibilities() = from.responsibilities();
  if (wanted("traits")) *base->mutable_traits() = from.traits();
  if (wanted("preferences")) *base->mutable_preferences() = from.preferences();
  if (wanted("relationships")) *base->mutable_relationships() = from.relationships();
  if (wanted("capacity")) base->set_capacity(from.capacity());
  return {};
}

Result<pb::Persona> apply_profile_update(const pb::Persona& current,
                                         const pb::PersonaWriteRequest& req, TimeUs now) {
  if (req.expected_version() != 0 && req.expected_version() != current.version()) {
    return make_error(ErrorCode::conflict,
                      "persona '" + current.id() + "' is at version " +
                          std::to_string(current.version()) + ", not the expected " +
                          std::to_string(req.expected_version()) + "; read it again and retry");
  }
  pb::Persona next = current;
  if (auto s = copy_profile_fields(req.persona(), req.fields(), &next); !s) return s.error();
  if (auto s = validate_profile(next); !s) return s.error();
  next.set_version(current.version() + 1);
  next.set_updated_at_us(now);
  return next;
}

}  // namespace nca
