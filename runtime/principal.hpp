// runtime/principal.hpp: who a request comes from and what it may do (DESIGN §8).
//
// A Principal is what a credential (API key or JWT) proves: a tenant and a role. Roles are ordered:
// a reader may read its tenant's personas, memories and events; a writer may also change them and
// consume events; an admin may also run cluster operations. An admin credential may be issued for
// every tenant ("*"); readers and writers are always bound to one. Plain values, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca {

enum class Role { reader = 0, writer = 1, admin = 2 };

const char* to_string(Role role);
// "reader", "writer", "admin"; invalid_argument for anything else.
Result<Role> parse_role(std::string_view text);

// A credential's tenant that matches every tenant; only admin credentials may carry it.
inline constexpr char kAnyTenant[] = "*";

struct Principal {
  std::string tenant;  // one tenant, or kAnyTenant
  Role role = Role::reader;
  std::string name;  // the API key's id or the JWT's subject: for logs, never a secret
};

// The least role a request needs. Node-wide views (node stats, cluster status) need admin: their
// counts cover every tenant, so a tenant could watch another's activity through them.
Role required_role(const pb::Request& request);

// Requests whose data or counts span every tenant: node stats, cluster status and operations,
// shard backups and restores. They need an admin of every tenant (kAnyTenant): an admin of one
// tenant must not read the others' memories through a shard checkpoint.
bool is_node_wide(const pb::Request& request);
// permission_denied unless `who` is an admin of every tenant.
Status authorize_node_wide(const Principal& who);

// Decides whether `who` may send `request`, and settles the request's tenant: an empty header
// tenant becomes the principal's (or `default_tenant` for an any-tenant principal). A request for
// another tenant, or one that needs a higher role, is permission_denied with a message that says
// which. Never reveals whether the other tenant or anything in it exists.
Status authorize(const Principal& who, pb::Request& request, const std::string& default_tenant);

}  // namespace nca
