#include "http/request_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include <nlohmann/json.hpp>

#include "http/json_mapping.hpp"

namespace nca::http {
namespace {

constexpr std::string_view kBody = "request body";

Error invalid(std::string message) {
  return make_error(ErrorCode::invalid_argument, std::move(message));
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

// The body as a JSON object (syntax checked by nlohmann, so the message is the parser's).
Result<nlohmann::json> json_object(std::string_view body) {
  if (blank(body)) return invalid("this route needs a JSON object as its request body");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return invalid(std::string("malformed JSON in the request body: ") + e.what());
  }
  if (!j.is_object()) return invalid("the request body must be a JSON object");
  return j;
}

// Routes without a body accept none, whitespace or {}.
Status no_body(std::string_view body) {
  if (blank(body)) return {};
  auto j = json_object(body);
  if (!j) return j.error();
  if (!j->empty()) return invalid("this route takes no request body (or {})");
  return {};
}

// A body that is optional: blank parses as the empty message.
Status optional_body(std::string_view body, google::protobuf::Message* msg) {
  if (blank(body)) {
    msg->Clear();
    return {};
  }
  return from_json(body, msg, kBody);
}

const std::string* query_value(const QueryParams& q, const std::string& name) {
  auto it = q.find(name);
  return it == q.end() ? nullptr : &it->second;
}

Result<uint32_t> query_u32(const QueryParams& q, const std::string& name, uint32_t fallback) {
  const std::string* v = query_value(q, name);
  if (v == nullptr) return fallback;
  if (v->empty() || v->size() > 10 ||
      !std::all_of(v->begin(), v->end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return invalid("query parameter '" + name + "' must be a non-negative integer, not '" + *v +
                   "'");
  }
  uint64_t n = std::stoull(*v);
  if (n > std::numeric_limits<uint32_t>::max()) {
    return invalid("query parameter '" + name + "' is too large: " + *v);
  }
  return static_cast<uint32_t>(n);
}

Result<bool> query_bool(const QueryParams& q, const std::string& name) {
  const std::string* v = query_value(q, name);
  if (v == nullptr) return false;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  return invalid("query parameter '" + name + "' must be true or false, not '" + *v + "'");
}

std::string query_string(const QueryParams& q, const std::string& name) {
  const std::string* v = query_value(q, name);
  return v == nullptr ? std::string() : *v;
}

Result<pb::Tier> tier_named(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (name == "STM") return pb::STM;
  if (name == "MTM") return pb::MTM;
  if (name == "LTM") return pb::LTM;
  return invalid("unknown tier '" + name + "' (STM, MTM or LTM)");
}

// `tiers` may repeat and each value may be a comma-separated list.
Status add_tiers(const QueryParams& q, pb::ListRequest* out) {
  auto range = q.equal_range("tiers");
  for (auto it = range.first; it != range.second; ++it) {
    size_t start = 0;
    const std::string& v = it->second;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      std::string part =
          v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      auto t = tier_named(part);
      if (!t) return t.error();
      out->add_tiers(*t);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return {};
}

// A body that names an id must name the path's.
Status same_id(const std::string& in_body, const std::string& in_path, const char* field) {
  if (!in_body.empty() && in_body != in_path) {
    return invalid(std::string("the body's ") + field + " '" + in_body +
                   "' differs from the path's '" + in_path + "'; leave it out or make them equal");
  }
  return {};
}

const std::string& path_param(const HttpInput& in, const char* name) {
  static const std::string kEmpty;
  auto it = in.params.find(name);
  return it == in.params.end() ? kEmpty : it->second;
}

Status fill(const HttpInput& in, pb::Request& req) {
  const Op op = in.route->op;
  const std::string& id = path_param(in, "id");
  const QueryParams& q = in.query;
  switch (op) {
    case Op::create_persona: {
      auto* body = req.mutable_create_persona();
      if (blank(in.body)) return invalid("POST /v1/personas needs a Persona object as its body");
      return from_json(in.body, body->mutable_persona(), kBody);
    }
    case Op::list_personas: {
      auto size = query_u32(q, "page_size", 0);
      if (!size) return size.error();
      req.mutable_list_personas()->set_page_size(*size);
      req.mutable_list_personas()->set_page_token(query_string(q, "page_token"));
      return {};
    }
    case Op::get_persona:
      req.mutable_get_persona()->set_persona_id(id);
      return no_body(in.body);
    case Op::update_persona: {
      auto j = json_object(in.body);
      if (!j) return j.error();
      auto* body = req.mutable_update_persona();
      // {"persona": {...}, "expected_version": n, "fields": [...]} or a bare Persona (all fields).
      if (j->contains("persona")) {
        if (auto s = from_json(in.body, body, kBody); !s) return s;
      } else if (auto s = from_json(in.body, body->mutable_persona(), kBody); !s) {
        return s;
      }
      if (auto s = same_id(body->persona().id(), id, "persona id"); !s) return s;
      body->mutable_persona()->set_id(id);
      return {};
    }
    case Op::delete_persona: {
      auto confirm = query_bool(q, "confirm");
      if (!confirm) return confirm.error();
      req.mutable_delete_persona()->set_persona_id(id);
      req.mutable_delete_persona()->set_confirm(*confirm);
      return no_body(in.body);
    }
    case Op::pause_persona:
      req.mutable_pause_persona()->set_persona_id(id);
      return no_body(in.body);
    case Op::resume_persona:
      req.mutable_resume_persona()->set_persona_id(id);
      return no_body(in.body);
    case Op::persona_stats:
      req.mutable_stats()->set_persona_id(id);
      return no_body(in.body);
    case Op::persona_context: {
      auto n = query_u32(q, "n", 0);
      if (!n) return n.error();
      req.mutable_context()->set_persona_id(id);
      req.mutable_context()->set_n(*n);
      return no_body(in.body);
    }
    case Op::remember: {
      auto j = json_object(in.body);
      if (!j) return j.error();
      if (j->contains("memories")) {
        auto* body = req.mutable_remember_batch();
        if (auto s = from_json(in.body, body, kBody); !s) return s;
        if (auto s = same_id(body->persona_id(), id, "persona_id"); !s) return s;
        body->set_persona_id(id);
        return {};
      }
      auto* body = req.mutable_remember();
      body->set_persona_id(id);
      return from_json(in.body, body->mutable_memory(), kBody);
    }
    case Op::list_memories: {
      auto* body = req.mutable_list();
      body->set_persona_id(id);
      auto size = query_u32(q, "page_size", 0);
      if (!size) return size.error();
      body->set_page_size(*size);
      body->set_page_token(query_string(q, "page_token"));
      auto archived = query_bool(q, "archived");
      if (!archived) return archived.error();
      body->set_archived(*archived);
      if (auto s = add_tiers(q, body); !s) return s;
      return no_body(in.body);
    }
    case Op::search_memories: {
      auto* body = req.mutable_recall();
      if (blank(in.body))
        return invalid("search needs a body such as {\"query\": \"...\", \"k\": 5}");
      if (auto s = from_json(in.body, body, kBody); !s) return s;
      if (auto s = same_id(body->persona_id(), id, "persona_id"); !s) return s;
      body->set_persona_id(id);
      return {};
    }
    case Op::consolidate:
      req.mutable_consolidate()->set_persona_id(id);
      return no_body(in.body);
    case Op::get_memory: {
      auto emb = query_bool(q, "include_embedding");
      if (!emb) return emb.error();
      auto* body = req.mutable_get();
      body->set_id(id);
      body->set_include_embedding(*emb);
      body->set_persona_id(query_string(q, "persona_id"));
      return no_body(in.body);
    }
    case Op::update_memory: {
      auto* body = req.mutable_update();
      if (blank(in.body)) return invalid("PATCH of a memory needs an UpdateRequest object as body");
      if (auto s = from_json(in.body, body, kBody); !s) return s;
      if (auto s = same_id(body->id(), id, "id"); !s) return s;
      body->set_id(id);
      return {};
    }
    case Op::delete_memory: {
      auto hard = query_bool(q, "hard");
      if (!hard) return hard.error();
      auto* body = *hard ? req.mutable_delete_() : req.mutable_forget();
      body->set_id(id);
      body->set_reason(query_string(q, "reason"));
      body->set_persona_id(query_string(q, "persona_id"));
      return no_body(in.body);
    }
    case Op::restore_memory:
    case Op::touch_memory:
    case Op::memory_history:
    case Op::memory_neighbours: {
      pb::ItemRequest* body = op == Op::restore_memory   ? req.mutable_restore()
                              : op == Op::touch_memory   ? req.mutable_touch()
                              : op == Op::memory_history ? req.mutable_history()
                                                         : req.mutable_neighbours();
      body->set_id(id);
      body->set_persona_id(query_string(q, "persona_id"));
      return no_body(in.body);
    }
    case Op::create_link: {
      if (blank(in.body)) return invalid("POST /v1/links needs {\"a\": ..., \"b\": ...}");
      return from_json(in.body, req.mutable_link(), kBody);
    }
    case Op::delete_link: {
      auto* body = req.mutable_unlink();
      body->set_a(query_string(q, "a"));
      body->set_b(query_string(q, "b"));
      body->set_persona_id(query_string(q, "persona_id"));
      if (body->a().empty() || body->b().empty()) {
        return invalid("DELETE /v1/links needs the query parameters a and b (the two memory ids)");
      }
      return no_body(in.body);
    }
    case Op::publish_events: {
      auto j = json_object(in.body);
      if (!j) return j.error();
      auto* body = req.mutable_publish();
      if (j->contains("events")) return from_json(in.body, body, kBody);
      return from_json(in.body, body->add_events(), kBody);
    }
    case Op::get_event:
      req.mutable_event_status()->set_event_id(id);
      return no_body(in.body);
    case Op::next_event: {
      auto* body = req.mutable_next_event();
      if (auto s = optional_body(in.body, body); !s) return s;
      if (auto s = same_id(body->persona_id(), id, "persona_id"); !s) return s;
      body->set_persona_id(id);
      return {};
    }
    case Op::ack_event: {
      auto* body = req.mutable_ack();
      if (auto s = optional_body(in.body, body); !s) return s;
      if (auto s = same_id(body->event_id(), id, "event_id"); !s) return s;
      body->set_event_id(id);
      return {};
    }
    case Op::ack_events: {
      if (blank(in.body))
        return invalid("ack needs {\"acks\": [{\"event_id\": ..., \"attempt\": ...}]}");
      return from_json(in.body, req.mutable_ack_batch(), kBody);
    }
    case Op::nack_event: {
      auto* body = req.mutable_nack();
      if (auto s = optional_body(in.body, body); !s) return s;
      if (auto s = same_id(body->event_id(), id, "event_id"); !s) return s;
      body->set_event_id(id);
      return {};
    }
    case Op::list_dead_letters: {
      auto size = query_u32(q, "page_size", 0);
      if (!size) return size.error();
      req.mutable_list_dead_letters()->set_page_size(*size);
      req.mutable_list_dead_letters()->set_page_token(query_string(q, "page_token"));
      return no_body(in.body);
    }
    case Op::requeue_events: {
      if (blank(in.body)) return invalid("requeue needs {\"event_ids\": [...]}");
      return from_json(in.body, req.mutable_requeue(), kBody);
    }
    case Op::node_stats:
      req.mutable_stats();
      return no_body(in.body);
    default:
      return make_error(ErrorCode::internal,
                        std::string("route ") + op_name(op) + " is not an API operation");
  }
}

}  // namespace

bool is_api_op(Op op) {
  switch (op) {
    case Op::event_stats:
    case Op::cluster:
    case Op::health:
    case Op::ready:
    case Op::metrics:
    case Op::openapi:
    case Op::dashboard_index:
    case Op::dashboard_asset:
      return false;
    default:
      return true;
  }
}

Status check_query(const Route& route, const QueryParams& query) {
  if (route.op == Op::dashboard_index || route.op == Op::dashboard_asset) return {};
  for (auto it = query.begin(); it != query.end(); it = query.upper_bound(it->first)) {
    const std::string& name = it->first;
    if (std::find(route.query.begin(), route.query.end(), name) == route.query.end()) {
      std::string accepted;
      for (const auto& a : route.query) accepted += (accepted.empty() ? "" : ", ") + a;
      return invalid("unknown query parameter '" + name + "' for " + route.method + " " +
                     route.path +
                     (accepted.empty() ? " (it takes none)" : " (accepted: " + accepted + ")"));
    }
    if (name != "tiers" && query.count(name) > 1) {
      return invalid("query parameter '" + name + "' is given more than once");
    }
  }
  return {};
}

Result<pb::Request> build_request(const HttpInput& in) {
  if (in.route == nullptr) return make_error(ErrorCode::internal, "no route");
  pb::Request req;
  if (auto s = fill(in, req); !s) return s.error();
  return req;
}

int success_status(Op op, const pb::Response& response) {
  switch (op) {
    case Op::create_persona:
    case Op::publish_events:
      return 201;
    case Op::remember:
      if (response.has_remember_batch()) return 201;
      return response.remember().created() ? 201 : 200;
    default:
      return 200;
  }
}

}  // namespace nca::http
