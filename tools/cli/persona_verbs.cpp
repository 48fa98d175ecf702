// The `nca persona ...` verbs: profiles (DESIGN §3) created, read, listed, updated, paused, resumed
// and deleted.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "tools/cli/args.hpp"
#include "tools/cli/verb_support.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {

// The helpers of the persona verbs share names with those of the memory verbs in verbs.cpp
// (build_list, print_delete, ...), and `nca` is a unity build (its files compiled together): they
// live in a namespace of their own.
namespace persona_group {
namespace {

// The profile fields update_persona can replace, as PersonaWriteRequest.fields names them.
const std::set<std::string> kProfileFields = {
    "name",   "role",        "description",   "skills",  "responsibilities",
    "traits", "preferences", "relationships", "capacity"};

// --- the profile options (create and update) -----------------------------------------------------

void declare_profile(po::options_description& options) {
  options.add_options()                                                                 //
      ("name", po::value<std::string>()->value_name("N"), "display name")               //
      ("role", po::value<std::string>()->value_name("R"), "role, e.g. 'support lead'")  //
      ("description", po::value<std::string>()->value_name("D"), "what it is for")      //
      ("skill", po::value<Strings>()->composing()->value_name("S=P"),
       "skill and proficiency 0..1, e.g. billing=0.9 (repeatable)")  //
      ("responsibility", po::value<Strings>()->composing()->value_name("R"),
       "a responsibility (repeatable)")  //
      ("trait", po::value<Strings>()->composing()->value_name("T"),
       "a personality trait (repeatable)")  //
      ("like", po::value<Strings>()->composing()->value_name("L"),
       "a preference: something it likes (repeatable)")  //
      ("dislike", po::value<Strings>()->composing()->value_name("D"),
       "a preference: something it dislikes (repeatable)")  //
      ("relationship", po::value<Strings>()->composing()->value_name("ID=REL[:A]"),
       "relation to a persona or person with affinity -1..1, e.g. grace=manager:0.8 "
       "(repeatable)")  //
      ("capacity", po::value<std::string>()->value_name("N"),
       "events in flight at once (0: the node's default)");
}

void declare_persona_with_profile(po::options_description& options, po::options_description& hidden,
                                  po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  declare_profile(options);
}

Result<std::pair<std::string, double>> parse_skill(const std::string& text) {
  auto pair = parse_key_value(text, "--skill");
  if (!pair.ok()) {
    return make_error(ErrorCode::invalid_argument,
                      "--skill '" + text + "': expected skill=proficiency, e.g. billing=0.9");
  }
  auto proficiency = parse_number(pair->second, "--skill " + pair->first, 0, 1);
  if (!proficiency.ok()) return proficiency.error();
  return std::make_pair(pair->first, *proficiency);
}

// "grace=manager:0.8", "grace=manager" (affinity 0) or "grace=:-0.5" (no relation named).
Result<std::pair<std::string, pb::Relationship>> parse_relationship(const std::string& text) {
  auto pair = parse_key_value(text, "--relationship");
  if (!pair.ok()) {
    return make_error(
        ErrorCode::invalid_argument,
        "--relationship '" + text + "': expected ID=RELATION[:AFFINITY], e.g. grace=manager:0.8");
  }
  pb::Relationship relationship;
  std::string relation = pair->second;
  size_t colon = relation.rfind(':');
  if (colon != std::string::npos) {
    auto affinity = parse_number(relation.substr(colon + 1),
                                 "--relationship " + pair->first + " affinity", -1, 1);
    if (!affinity.ok()) return affinity.error();
    relationship.set_affinity(*affinity);
    relation.resize(colon);
  }
  relationship.set_relation(relation);
  return std::make_pair(pair->first, relationship);
}

// Copies the profile options given on the command line into `persona` and names the fields they
// set in `given` (in kProfileFields' terms).
Status apply_profile(const po::variables_map& values, pb::Persona* persona,
                     std::set<std::string>* given) {
  for (const char* text_field : {"name", "role", "description"}) {
    if (!has(values, text_field)) continue;
    std::string text = text_of(values, text_field);
    if (std::string(text_field) == "name") persona->set_name(text);
    if (std::string(text_field) == "role") persona->set_role(text);
    if (std::string(text_field) == "description") persona->set_description(text);
    given->insert(text_field);
  }
  for (const std::string& text : list_of(values, "skill")) {
    auto skill = parse_skill(text);
    if (!skill.ok()) return skill.error();
    (*persona->mutable_skills())[skill->first] = skill->second;
    given->insert("skills");
  }
  for (const std::string& text : list_of(values, "responsibility")) {
    persona->add_responsibilities(text);
    given->insert("responsibilities");
  }
  for (const std::string& text : list_of(values, "trait")) {
    persona->add_traits(text);
    given->insert("traits");
  }
  for (const std::string& text : list_of(values, "like")) {
    persona->mutable_preferences()->add_likes(text);
    given->insert("preferences");
  }
  for (const std::string& text : list_of(values, "dislike")) {
    persona->mutable_preferences()->add_dislikes(text);
    given->insert("preferences");
  }
  for (const std::string& text : list_of(values, "relationship")) {
    auto relationship = parse_relationship(text);
    if (!relationship.ok()) return relationship.error();
    (*persona->mutable_relationships())[relationship->first] = relationship->second;
    given->insert("relationships");
  }
  if (has(values, "capacity")) {
    auto capacity = count_of(values, "capacity", "--capacity", 0, 100000);
    if (!capacity.ok()) return capacity.error();
    persona->set_capacity(*capacity);
    given->insert("capacity");
  }
  return {};
}

// --- printing
// -------------------------------------------------------------------------------------

std::string status_name(pb::PersonaStatus status) {
  return status == pb::PERSONA_PAUSED ? "paused" : "active";
}

std::string signed_fixed(double value) { return (value >= 0 ? "+" : "") + format_fixed(value, 2); }

std::string list_text(const google::protobuf::RepeatedPtrField<std::string>& words) {
  return join_tags(words);
}

std::string skills_text(const google::protobuf::Map<std::string, double>& skills) {
  if (skills.empty()) return "-";
  std::map<std::string, double> sorted(skills.begin(), skills.end());
  std::string text;
  for (const auto& [skill, proficiency] : sorted) {
    text += (text.empty() ? "" : ", ") + skill + " " + format_fixed(proficiency, 2);
  }
  return text;
}

std::string relationships_text(
    const google::protobuf::Map<std::string, pb::Relationship>& relationships) {
  if (relationships.empty()) return "-";
  std::map<std::string, pb::Relationship> sorted(relationships.begin(), relationships.end());
  std::string text;
  for (const auto& [id, relationship] : sorted) {
    text += (text.empty() ? "" : ", ") + id + ": " +
            (relationship.relation().empty() ? "-" : relationship.relation()) + " (" +
            signed_fixed(relationship.affinity()) + ")";
    if (!relationship.notes().empty()) text += " " + relationship.notes();
  }
  return text;
}

std::string capacity_text(uint32_t capacity) {
  return capacity == 0 ? "default" : std::to_string(capacity);
}

void print_persona(const pb::Persona& persona, Output& out) {
  Fields fields = {{"id", persona.id()}};
  if (!persona.tenant().empty()) fields.emplace_back("tenant", persona.tenant());
  fields.emplace_back("name", persona.name().empty() ? "-" : persona.name());
  fields.emplace_back("role", persona.role().empty() ? "-" : persona.role());
  fields.emplace_back("description", persona.description().empty() ? "-" : persona.description());
  fields.emplace_back("status", status_name(persona.status()));
  fields.emplace_back("capacity", capacity_text(persona.capacity()));
  fields.emplace_back("skills", skills_text(persona.skills()));
  fields.emplace_back("responsibilities", list_text(persona.responsibilities()));
  fields.emplace_back("traits", list_text(persona.traits()));
  fields.emplace_back("likes", list_text(persona.preferences().likes()));
  fields.emplace_back("dislikes", list_text(persona.preferences().dislikes()));
  fields.emplace_back("relationships", relationships_text(persona.relationships()));
  fields.emplace_back("version", std::to_string(persona.version()));
  fields.emplace_back("created", format_time_us(persona.created_at_us()));
  fields.emplace_back("updated", format_time_us(persona.updated_at_us()));
  out.fields(fields);
}

// --- persona create ------------------------------------------------------------------------------

Result<pb::Request> build_create(const po::variables_map& values) {
  auto id = required_id(values, "the new persona's id");
  if (!id.ok()) return id.error();
  pb::Request request;
  pb::Persona* persona = request.mutable_create_persona()->mutable_persona();
  persona->set_id(*id);
  std::set<std::string> given;
  if (Status status = apply_profile(values, persona, &given); !status.ok()) return status.error();
  return request;
}

void print_create(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::Persona& persona = response.create_persona().persona();
  out.line("created persona " + out.bold(persona.id()));
  print_persona(persona, out);
}

// --- persona get
// -----------------------------------------------------------------------------------

Result<pb::Request> build_get(const po::variables_map& values) {
  auto id = required_id(values, "which persona");
  if (!id.ok()) return id.error();
  pb::Request request;
  request.mutable_get_persona()->set_persona_id(*id);
  return request;
}

void print_get(const pb::Request&, const pb::Response& response, Output& out) {
  print_persona(response.get_persona().persona(), out);
}

// --- persona list
// ----------------------------------------------------------------------------------

void declare_list(po::options_description& options, po::options_description&,
                  po::positional_options_description&) {
  options.add_options()  //
      ("page-size", po::value<std::string>()->default_value("50")->value_name("N"),
       "personas per page (1..1000)")  //
      ("page-token", po::value<std::string>()->value_name("T"),
       "continue where the previous page ended");
}

Result<pb::Request> build_list(const po::variables_map& values) {
  pb::Request request;
  pb::ListPersonasRequest* body = request.mutable_list_personas();
  auto size = count_of(values, "page-size", "--page-size", 1, 1000);
  if (!size.ok()) return size.error();
  body->set_page_size(*size);
  body->set_page_token(text_of(values, "page-token"));
  return request;
}

void print_list(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::ListPersonasReply& reply = response.list_personas();
  if (reply.personas().empty()) {
    out.line("no personas");
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const pb::Persona& persona : reply.personas()) {
      rows.push_back({persona.id(), persona.name().empty() ? "-" : persona.name(),
                      persona.role().empty() ? "-" : persona.role(), status_name(persona.status()),
                      capacity_text(persona.capacity()), std::to_string(persona.version()),
                      skills_text(persona.skills())});
    }
    out.table({{"ID"},
               {"NAME"},
               {"ROLE"},
               {"STATUS"},
               {"CAPACITY", true},
               {"VERSION", true},
               {"SKILLS", false, true}},
              rows);
  }
  if (!reply.next_page_token().empty()) {
    out.line(out.dim("more: nca persona list --page-size " +
                     std::to_string(request.list_personas().page_size()) + " --page-token " +
                     reply.next_page_token()));
  }
}

// --- persona update
// --------------------------------------------------------------------------------

void declare_update(po::options_description& options, po::options_description& hidden,
                    po::positional_options_description& positional) {
  declare_persona_with_profile(options, hidden, positional);
  options.add_options()  //
      ("clear", po::value<Strings>()->composing()->value_name("FIELD"),
       "empty this field (name, role, description, skills, responsibilities, traits, "
       "preferences, relationships, capacity; repeatable)")  //
      ("expected-version", po::value<std::string>()->value_name("V"),
       "fail with a conflict unless the stored profile is at this version");
}

Result<pb::Request> build_update(const po::variables_map& values) {
  auto id = required_id(values, "which persona");
  if (!id.ok()) return id.error();
  pb::Request request;
  pb::PersonaWriteRequest* body = request.mutable_update_persona();
  pb::Persona* persona = body->mutable_persona();
  persona->set_id(*id);
  std::set<std::string> given;
  if (Status status = apply_profile(values, persona, &given); !status.ok()) return status.error();
  for (const std::string& field : list_of(values, "clear")) {
    if (kProfileFields.count(field) == 0) {
      return make_error(ErrorCode::invalid_argument,
                        "--clear '" + field +
                            "': expected one of name, role, description, skills, "
                            "responsibilities, traits, preferences, relationships, capacity");
    }
    if (given.count(field) != 0) {
      return make_error(ErrorCode::invalid_argument,
                        "--clear " + field + " and a new value for " + field + " contradict");
    }
    given.insert(field);  // named with nothing set: the node stores it empty
  }
  if (given.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "nothing to update: give a profile option (e.g. --role, --skill) or --clear");
  }
  // Only the fields named change; the node keeps the others.
  for (const std::string& field : given) body->add_fields(field);
  if (has(values, "expected-version")) {
    const std::string text = text_of(values, "expected-version");
    auto version = parse_number(text, "--expected-version", 1, 9e15);
    if (!version.ok() || std::floor(*version) != *version) {
      return make_error(ErrorCode::invalid_argument,
                        "--expected-version '" + text + "': expected a version number (1 or more)");
    }
    body->set_expected_version(static_cast<uint64_t>(*version));
  }
  return request;
}

void print_update(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::Persona& persona = response.update_persona().persona();
  out.line("updated persona " + out.bold(persona.id()) + " (version " +
           std::to_string(persona.version()) + ")");
  print_persona(persona, out);
}

// --- persona pause, resume
// -------------------------------------------------------------------------

template <pb::PersonaIdRequest* (pb::Request::*Body)()>
Result<pb::Request> build_id_verb(const po::variables_map& values) {
  auto id = required_id(values, "which persona");
  if (!id.ok()) return id.error();
  pb::Request request;
  (request.*Body)()->set_persona_id(*id);
  return request;
}

void print_pause(const pb::Request&, const pb::Response& response, Output& out) {
  out.line("paused persona " + out.bold(response.pause_persona().persona().id()) +
           ": it keeps its memories and the events it holds, and gets no new ones");
}

void print_resume(const pb::Request&, const pb::Response& response, Output& out) {
  out.line("resumed persona " + out.bold(response.resume_persona().persona().id()) +
           ": it is assigned events again");
}

// --- persona delete
// --------------------------------------------------------------------------------

void declare_delete(po::options_description& options, po::options_description& hidden,
                    po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  options.add_options()("yes", po::bool_switch(),
                        "confirm: delete the persona with all its memories for good");
}

Result<pb::Request> build_delete(const po::variables_map& values) {
  auto id = required_id(values, "which persona");
  if (!id.ok()) return id.error();
  // The one irreversible verb: without --yes nothing is sent.
  if (!values["yes"].as<bool>()) {
    return make_error(ErrorCode::invalid_argument,
                      "deleting persona " + *id +
                          " removes its profile, memories, history and tubules for good; add "
                          "--yes to confirm");
  }
  pb::Request request;
  request.mutable_delete_persona()->set_persona_id(*id);
  request.mutable_delete_persona()->set_confirm(true);
  return request;
}

void print_delete(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::DeletePersonaReply& reply = response.delete_persona();
  std::string id =
      reply.persona_id().empty() ? request.delete_persona().persona_id() : reply.persona_id();
  out.line("deleted persona " + out.bold(id) + ": " + std::to_string(reply.items_deleted()) +
           " memories deleted, " + std::to_string(reply.events_requeued()) +
           " events back in the queue");
}

const std::vector<VerbSpec>& rows() {
  static const std::vector<VerbSpec> table = {
      {"persona create",
       "persona create ID [--name N] [--role R] [--description D] [--skill S=P]... "
       "[--responsibility R]... [--trait T]... [--like L]... [--dislike D]... "
       "[--relationship ID=REL[:A]]... [--capacity N]",
       "create a persona: an agent identity with skills, traits and relationships",
       "nca persona create ada --name Ada --role 'support engineer' --skill billing=0.9 "
       "--trait patient --relationship grace=manager:0.8 --capacity 4\n"
       "nca persona create bob --skill sql=0.7 --like 'clear specs' --dislike 'late changes'",
       declare_persona_with_profile, build_create, print_create},
      {"persona get", "persona get ID", "show a persona's profile", "nca persona get ada",
       declare_id, build_get, print_get},
      {"persona list", "persona list [--page-size N] [--page-token T]",
       "list the tenant's personas in id order, a page at a time",
       "nca persona list --page-size 20", declare_list, build_list, print_list},
      {"persona update",
       "persona update ID [--expected-version V] [--clear FIELD]... [--name N] [--role R] "
       "[--description D] [--skill S=P]... [--responsibility R]... [--trait T]... [--like L]... "
       "[--dislike D]... [--relationship ID=REL[:A]]... [--capacity N]",
       "replace the profile fields given (a repeated option replaces the whole list)",
       "nca persona update ada --role 'support lead' --expected-version 3\n"
       "nca persona update ada --skill billing=0.9 --skill refunds=0.6 --clear traits",
       declare_update, build_update, print_update},
      {"persona pause", "persona pause ID",
       "stop assigning events to a persona (it keeps its memories and events in flight)",
       "nca persona pause ada", declare_id, build_id_verb<&pb::Request::mutable_pause_persona>,
       print_pause},
      {"persona resume", "persona resume ID", "assign events to a paused persona again",
       "nca persona resume ada", declare_id, build_id_verb<&pb::Request::mutable_resume_persona>,
       print_resume},
      {"persona delete", "persona delete ID --yes",
       "delete a persona with its memories for good (needs --yes)", "nca persona delete ada --yes",
       declare_delete, build_delete, print_delete},
  };
  return table;
}

}  // namespace
}  // namespace persona_group

const std::vector<VerbSpec>& persona_verbs() { return persona_group::rows(); }

}  // namespace nca::cli
