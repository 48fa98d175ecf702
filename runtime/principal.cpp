#include "runtime/principal.hpp"

namespace nca {

const char* to_string(Role role) {
  switch (role) {
    case Role::reader:
      return "reader";
    case Role::writer:
      return "writer";
    case Role::admin:
      return "admin";
  }
  return "reader";
}

Result<Role> parse_role(std::string_view text) {
  if (text == "reader") return Role::reader;
  if (text == "writer") return Role::writer;
  if (text == "admin") return Role::admin;
  return make_error(ErrorCode::invalid_argument,
                    "unknown role '" + std::string(text) + "': expected reader, writer or admin");
}

bool is_node_wide(const pb::Request& request) {
  using R = pb::Request;
  switch (request.body_case()) {
    case R::kStats:
      return request.stats().persona_id().empty();
    case R::kClusterStatus:
    case R::kClusterAdmin:
    case R::kBackupShard:
    case R::kRestoreShard:
      return true;
    default:
      return false;
  }
}

Status authorize_node_wide(const Principal& who) {
  if (who.role == Role::admin && who.tenant == kAnyTenant) return {};
  return make_error(ErrorCode::permission_denied,
                    "this view covers every tenant: it needs an admin credential for tenant '*', "
                    "not a " +
                        std::string(to_string(who.role)) + " of tenant '" + who.tenant + "'");
}

Role required_role(const pb::Request& request) {
  using R = pb::Request;
  switch (request.body_case()) {
    case R::kPing:
    case R::kRecall:
    case R::kGet:
    case R::kList:
    case R::kHistory:
    case R::kNeighbours:
    case R::kContext:
    case R::kGetPersona:
    case R::kListPersonas:
    case R::kEventStatus:
    case R::kListDeadLetters:
      return Role::reader;
    case R::kStats:
      return request.stats().persona_id().empty() ? Role::admin : Role::reader;
    case R::kClusterStatus:
    case R::kClusterAdmin:
    case R::kBackupShard:
    case R::kRestoreShard:
      return Role::admin;
    default:
      // Everything else changes state (a touch strengthens, a poll leases an event); a method added
      // later needs writer until someone decides otherwise.
      return Role::writer;
  }
}

Status authorize(const Principal& who, pb::Request& request, const std::string& default_tenant) {
  auto* header = request.mutable_header();
  bool any = who.tenant == kAnyTenant;
  if (header->tenant().empty()) header->set_tenant(any ? default_tenant : who.tenant);
  if (!any && header->tenant() != who.tenant) {
    return make_error(ErrorCode::permission_denied,
                      "the credentials are for tenant '" + who.tenant +
                          "'; this request names tenant '" + header->tenant() + "'");
  }
  if (is_node_wide(request)) return authorize_node_wide(who);
  Role needed = required_role(request);
  if (static_cast<int>(who.role) < static_cast<int>(needed)) {
    return make_error(ErrorCode::permission_denied,
                      std::string("role ") + to_string(who.role) + " may not send " +
                          request.GetDescriptor()
                              ->FindFieldByNumber(static_cast<int>(request.body_case()))
                              ->name() +
                          " requests; it needs " + to_string(needed));
  }
  return {};
}

}  // namespace nca
