// http/route_table.hpp: the HTTP gateway's routes and the matching of a request line to one of
// them.
//
// The table is the one list of what the gateway serves: dispatch, the 404/405 decision, the query
// parameters each route accepts, the metric label of a request (its route template) and the OpenAPI
// test all read it. Matching is pure: no I/O, no state; every function is safe to call from any
// thread. Templates are '/'-separated segments; "{name}" matches one non-empty segment. When
// several templates match a path, the most specific wins (at the first segment where they differ, a
// literal beats a parameter), so GET /v1/events/dead is the dead-letter list, not an event named
// "dead". The method is checked only against that template: a known path with another method is
// 405.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nca::http {

// What a route does. API operations become one pb::Request for the api actor; the others are
// answered by the gateway itself (operations endpoints, OpenAPI, dashboard).
enum class Op {
  create_persona,
  list_personas,
  get_persona,
  update_persona,
  delete_persona,
  pause_persona,
  resume_persona,
  persona_stats,
  persona_context,
  remember,
  list_memories,
  search_memories,
  consolidate,
  get_memory,
  update_memory,
  delete_memory,
  restore_memory,
  touch_memory,
  memory_history,
  memory_neighbours,
  create_link,
  delete_link,
  publish_events,
  get_event,
  next_event,
  ack_event,
  ack_events,
  nack_event,
  list_dead_letters,
  requeue_events,
  event_stats,
  node_stats,
  cluster,
  health,
  ready,
  metrics,
  openapi,
  dashboard_index,
  dashboard_asset,
};

struct Route {
  const char* method;  // GET, POST, PATCH, DELETE
  const char* path;    // template, e.g. "/v1/personas/{id}"
  Op op;
  std::vector<std::string> query;  // accepted query parameters; any other is invalid_argument
};

// Every route, in documentation order.
const std::vector<Route>& routes();

struct RouteMatch {
  enum class Kind { found, no_route, wrong_method };
  Kind kind = Kind::no_route;
  const Route* route = nullptr;               // found
  std::map<std::string, std::string> params;  // found: the template's {names} -> segments
  std::vector<std::string> allowed;           // wrong_method: the methods the path accepts
  std::string template_path;                  // found, wrong_method: the matched template
};

// `method` is upper case; HEAD matches as GET. `path` is the decoded path without the query.
RouteMatch match_route(std::string_view method, std::string_view path);

// The name of `op` as used in logs and OpenAPI operation ids ("create_persona").
const char* op_name(Op op);

}  // namespace nca::http
