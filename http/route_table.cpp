#include "http/route_table.hpp"

namespace nca::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Whether `tmpl` matches `segments`; fills `params` when it does.
bool template_matches(const std::vector<std::string_view>& tmpl,
                      const std::vector<std::string_view>& segments,
                      std::map<std::string, std::string>* params) {
  if (tmpl.size() != segments.size()) return false;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (is_param(tmpl[i])) {
      if (segments[i].empty()) return false;
    } else if (tmpl[i] != segments[i]) {
      return false;
    }
  }
  if (params != nullptr) {
    for (size_t i = 0; i < tmpl.size(); ++i) {
      if (is_param(tmpl[i])) {
        (*params)[std::string(tmpl[i].substr(1, tmpl[i].size() - 2))] = std::string(segments[i]);
      }
    }
  }
  return true;
}

// True when template `a` is more specific than `b` (same length): at the first segment where one
// is a literal and the other a parameter, the literal wins.
bool more_specific(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool pa = is_param(a[i]);
    bool pb = is_param(b[i]);
    if (pa != pb) return !pa;
  }
  return false;
}

}  // namespace

const std::vector<Route>& routes() {
  static const std::vector<Route> kRoutes = {
      // personas
      {"POST", "/v1/personas", Op::create_persona, {}},
      {"GET", "/v1/personas", Op::list_personas, {"page_size", "page_token"}},
      {"GET", "/v1/personas/{id}", Op::get_persona, {}},
      {"PATCH", "/v1/personas/{id}", Op::update_persona, {}},
      {"DELETE", "/v1/personas/{id}", Op::delete_persona, {"confirm"}},
      {"POST", "/v1/personas/{id}/pause", Op::pause_persona, {}},
      {"POST", "/v1/personas/{id}/resume", Op::resume_persona, {}},
      {"GET", "/v1/personas/{id}/stats", Op::persona_stats, {}},
      {"GET", "/v1/personas/{id}/context", Op::persona_context, {"n"}},
      // memories of a persona
      {"POST", "/v1/personas/{id}/memories", Op::remember, {}},
      {"GET",
       "/v1/personas/{id}/memories",
       Op::list_memories,
       {"page_size", "page_token", "tiers", "archived"}},
      {"POST", "/v1/personas/{id}/memories/search", Op::search_memories, {}},
      {"POST", "/v1/personas/{id}/consolidate", Op::consolidate, {}},
      // one memory
      {"GET", "/v1/memories/{id}", Op::get_memory, {"include_embedding", "persona_id"}},
      {"PATCH", "/v1/memories/{id}", Op::update_memory, {}},
      {"DELETE", "/v1/memories/{id}", Op::delete_memory, {"hard", "reason", "persona_id"}},
      {"POST", "/v1/memories/{id}/restore", Op::restore_memory, {"persona_id"}},
      {"POST", "/v1/memories/{id}/touch", Op::touch_memory, {"persona_id"}},
      {"GET", "/v1/memories/{id}/history", Op::memory_history, {"persona_id"}},
      {"GET", "/v1/memories/{id}/neighbours", Op::memory_neighbours, {"persona_id"}},
      {"POST", "/v1/links", Op::create_link, {}},
      {"DELETE", "/v1/links", Op::delete_link, {"a", "b", "persona_id"}},
      // events
      {"POST", "/v1/events", Op::publish_events, {}},
      {"GET", "/v1/events/{id}", Op::get_event, {}},
      {"POST", "/v1/personas/{id}/events/next", Op::next_event, {}},
      {"POST", "/v1/events/{id}/ack", Op::ack_event, {}},
      {"POST", "/v1/events/ack", Op::ack_events, {}},
      {"POST", "/v1/events/{id}/nack", Op::nack_event, {}},
      {"GET", "/v1/events/dead", Op::list_dead_letters, {"page_size", "page_token"}},
      {"POST", "/v1/events/requeue", Op::requeue_events, {}},
      {"GET", "/v1/events/stats", Op::event_stats, {}},
      // node and operations
      {"GET", "/v1/stats", Op::node_stats, {}},
      {"GET", "/v1/cluster", Op::cluster, {}},
      {"GET", "/health", Op::health, {}},
      {"GET", "/ready", Op::ready, {}},
      {"GET", "/metrics", Op::metrics, {}},
      {"GET", "/v1/openapi.json", Op::openapi, {}},
      // dashboard (static files compiled into the binary)
      {"GET", "/", Op::dashboard_index, {}},
      {"GET", "/{asset}", Op::dashboard_asset, {}},
  };
  return kRoutes;
}

RouteMatch match_route(std::string_view method, std::string_view path) {
  RouteMatch out;
  if (method == "HEAD") method = "GET";
  auto segments = split_path(path);
  if (segments.empty()) return out;
  // The most specific template that matches the path, then the route of that template with the
  // method.
  std::vector<std::string_view> best;
  const char* best_path = nullptr;
  for (const auto& r : routes()) {
    auto tmpl = split_path(r.path);
    if (!template_matches(tmpl, segments, nullptr)) continue;
    if (best_path == nullptr || more_specific(tmpl, best)) {
      best = std::move(tmpl);
      best_path = r.path;
    }
  }
  if (best_path == nullptr) return out;
  out.template_path = best_path;
  for (const auto& r : routes()) {
    if (std::string_view(r.path) != best_path) continue;
    if (method == r.method) {
      out.kind = RouteMatch::Kind::found;
      out.route = &r;
      template_matches(best, segments, &out.params);
      return out;
    }
    out.allowed.push_back(r.method);
  }
  out.kind = RouteMatch::Kind::wrong_method;
  return out;
}

const char* op_name(Op op) {
  switch (op) {
    case Op::create_persona:
      return "create_persona";
    case Op::list_personas:
      return "list_personas";
    case Op::get_persona:
      return "get_persona";
    case Op::update_persona:
      return "update_persona";
    case Op::delete_persona:
      return "delete_persona";
    case Op::pause_persona:
      return "pause_persona";
    case Op::resume_persona:
      return "resume_persona";
    case Op::persona_stats:
      return "persona_stats";
    case Op::persona_context:
      return "persona_context";
    case Op::remember:
      return "remember";
    case Op::list_memories:
      return "list_memories";
    case Op::search_memories:
      return "search_memories";
    case Op::consolidate:
      return "consolidate";
    case Op::get_memory:
      return "get_memory";
    case Op::update_memory:
      return "update_memory";
    case Op::delete_memory:
      return "delete_memory";
    case Op::restore_memory:
      return "restore_memory";
    case Op::touch_memory:
      return "touch_memory";
    case Op::memory_history:
      return "memory_history";
    case Op::memory_neighbours:
      return "memory_neighbours";
    case Op::create_link:
      return "create_link";
    case Op::delete_link:
      return "delete_link";
    case Op::publish_events:
      return "publish_events";
    case Op::get_event:
      return "get_event";
    case Op::next_event:
      return "next_event";
    case Op::ack_event:
      return "ack_event";
    case Op::ack_events:
      return "ack_events";
    case Op::nack_event:
      return "nack_event";
    case Op::list_dead_letters:
      return "list_dead_letters";
    case Op::requeue_events:
      return "requeue_events";
    case Op::event_stats:
      return "event_stats";
    case Op::node_stats:
      return "node_stats";
    case Op::cluster:
      return "cluster";
    case Op::health:
      return "health";
    case Op::ready:
      return "ready";
    case Op::metrics:
      return "metrics";
    case Op::openapi:
      return "openapi";
    case Op::dashboard_index:
      return "dashboard_index";
    case Op::dashboard_asset:
      return "dashboard_asset";
  }
  return "unknown";
}

}  // namespace nca::http
