// http/request_mapping.hpp: one HTTP request (route, path parameters, query, body) -> pb::Request.
//
// The HTTP API is the SDK's API: every API route becomes exactly one pb::Request body, and the
// reply is that request's pb::Response body in JSON. This file holds the whole mapping, so the HTTP
// shapes can be read (and unit-tested) in one place. Ids in the path win: a body that names another
// id than its path is invalid_argument, never silently redirected. Query parameters are checked
// against the route's list (a typo is a 400). Pure functions; thread-safe. The request header
// (tenant, request id, deadline) is the gateway's business, not this file's.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "http/route_table.hpp"
#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::http {

using QueryParams = std::multimap<std::string, std::string>;

struct HttpInput {
  const Route* route = nullptr;
  std::map<std::string, std::string> params;  // from the path template
  QueryParams query;
  std::string_view body;
};

// Whether the route is answered by the api actor (true) or by the gateway itself.
bool is_api_op(Op op);

// invalid_argument when a query parameter is not one the route accepts or is given twice (only
// `tiers` may repeat). The dashboard's files accept any query (browsers add cache busters).
Status check_query(const Route& route, const QueryParams& query);

// The request for an API route (is_api_op), header left empty.
Result<pb::Request> build_request(const HttpInput& in);

// The HTTP status of a successful reply: 201 when something was created (a persona, a new memory,
// a batch of memories, published events), 200 otherwise.
int success_status(Op op, const pb::Response& response);

}  // namespace nca::http
