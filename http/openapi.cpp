#include "http/openapi.hpp"

#include <google/protobuf/descriptor.h>

#include <map>
#include <set>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/route_table.hpp"
#include "proto/neuroca.pb.h"

namespace nca::http {
namespace {

using nlohmann::json;
namespace gp = google::protobuf;

// One documented operation. Message names are nca.pb messages; several names mean "one of".
struct OperationDoc {
  const char* method;
  const char* path;
  const char* tag;
  const char* summary;
  std::vector<const char*> request;  // empty: no body
  bool request_optional;
  int status;                         // the success status
  std::vector<const char*> response;  // empty: see `content`
  const char* content;                // non-JSON reply type, or null
};

const std::vector<OperationDoc>& operation_docs() {
  static const std::vector<OperationDoc> kDocs = {
      {"POST",
       "/v1/personas",
       "personas",
       "Create a persona with a profile (ALREADY_EXISTS if it has one).",
       {"Persona"},
       false,
       201,
       {"PersonaReply"},
       nullptr},
      {"GET",
       "/v1/personas",
       "personas",
       "List personas in id order, paged.",
       {},
       false,
       200,
       {"ListPersonasReply"},
       nullptr},
      {"GET",
       "/v1/personas/{id}",
       "personas",
       "Get a persona's profile.",
       {},
       false,
       200,
       {"PersonaReply"},
       nullptr},
      {"PATCH",
       "/v1/personas/{id}",
       "personas",
       "Update a profile: {persona, expected_version, fields} replaces the named fields; a bare "
       "Persona replaces all profile fields. A stale expected_version is CONFLICT (409).",
       {"PersonaWriteRequest", "Persona"},
       false,
       200,
       {"PersonaReply"},
       nullptr},
      {"DELETE",
       "/v1/personas/{id}",
       "personas",
       "Delete a persona with its memories, history and tubules (needs confirm=true); its "
       "unfinished events go back to the queue.",
       {},
       false,
       200,
       {"DeletePersonaReply"},
       nullptr},
      {"POST",
       "/v1/personas/{id}/pause",
       "personas",
       "Pause: the persona keeps its memories and events in flight, gets no new events.",
       {},
       false,
       200,
       {"PersonaReply"},
       nullptr},
      {"POST",
       "/v1/personas/{id}/resume",
       "personas",
       "Resume a paused persona.",
       {},
       false,
       200,
       {"PersonaReply"},
       nullptr},
      {"GET",
       "/v1/personas/{id}/stats",
       "personas",
       "A persona's tiers (items, index sizes), archive, tubules and consolidation counters.",
       {},
       false,
       200,
       {"StatsReply"},
       nullptr},
      {"GET",
       "/v1/personas/{id}/context",
       "personas",
       "Working memory: the n most active memories (health x recency), for prompt assembly.",
       {},
       false,
       200,
       {"ContextReply"},
       nullptr},
      {"POST",
       "/v1/personas/{id}/memories",
       "memories",
       "Remember one memory (MemoryInput) or several ({\"memories\": [...]}, all or nothing). "
       "201 when stored; 200 when a client id already existed (nothing changed).",
       {"MemoryInput", "RememberBatchRequest"},
       false,
       201,
       {"RememberReply", "RememberBatchReply"},
       nullptr},
      {"GET",
       "/v1/personas/{id}/memories",
       "memories",
       "List a persona's memories in creation order, paged; archived=true lists the archive.",
       {},
       false,
       200,
       {"ListReply"},
       nullptr},
      {"POST",
       "/v1/personas/{id}/memories/search",
       "memories",
       "Recall: hybrid vector and lexical search with filters; returned memories are reinforced "
       "unless no_reinforce.",
       {"RecallRequest"},
       false,
       200,
       {"RecallReply"},
       nullptr},
      {"POST",
       "/v1/personas/{id}/consolidate",
       "memories",
       "Run one consolidation (lymphatic) tick now.",
       {},
       false,
       200,
       {"ConsolidateReply"},
       nullptr},
      {"GET",
       "/v1/memories/{id}",
       "memories",
       "Get one memory.",
       {},
       false,
       200,
       {"ItemReply"},
       nullptr},
      {"PATCH",
       "/v1/memories/{id}",
       "memories",
       "Update content, metadata, tags or importance (new content is re-embedded).",
       {"UpdateRequest"},
       false,
       200,
       {"ItemReply"},
       nullptr},
      {"DELETE",
       "/v1/memories/{id}",
       "memories",
       "Forget (to the archive, restorable), or delete for good with hard=true.",
       {},
       false,
       200,
       {"ItemReply", "DeleteReply"},
       nullptr},
      {"POST",
       "/v1/memories/{id}/restore",
       "memories",
       "Bring an archived memory back into the tier it left.",
       {},
       false,
       200,
       {"ItemReply"},
       nullptr},
      {"POST",
       "/v1/memories/{id}/touch",
       "memories",
       "An access: reinforces the memory's health.",
       {},
       false,
       200,
       {"ItemReply"},
       nullptr},
      {"GET",
       "/v1/memories/{id}/history",
       "memories",
       "Every change of a memory (ADD, UPDATE, PROMOTE, DEMOTE, MERGE, FORGET, RESTORE, DELETE).",
       {},
       false,
       200,
       {"HistoryReply"},
       nullptr},
      {"GET",
       "/v1/memories/{id}/neighbours",
       "memories",
       "The memory's tubules: linked memories with strengths.",
       {},
       false,
       200,
       {"NeighboursReply"},
       nullptr},
      {"POST",
       "/v1/links",
       "memories",
       "Link two memories of one persona with a tubule.",
       {"LinkRequest"},
       false,
       200,
       {"LinkReply"},
       nullptr},
      {"DELETE",
       "/v1/links",
       "memories",
       "Remove the tubule between memories a and b.",
       {},
       false,
       200,
       {"LinkReply"},
       nullptr},
      {"POST",
       "/v1/events",
       "events",
       "Publish one event (EventInput) or several ({\"events\": [...]}, all or nothing).",
       {"EventInput", "PublishRequest"},
       false,
       201,
       {"PublishReply"},
       nullptr},
      {"GET",
       "/v1/events/{id}",
       "events",
       "An event's state, persona, attempts, lease, result and last error.",
       {},
       false,
       200,
       {"EventReply"},
       nullptr},
      {"POST",
       "/v1/personas/{id}/events/next",
       "events",
       "Long poll: the persona's next event (in event), or with max_events up to that many handed "
       "out together (in events), waiting up to wait_ms. No event and an empty events mean none "
       "arrived. The request's deadline is wait_ms plus http.timeout.",
       {"NextEventRequest"},
       true,
       200,
       {"NextEventReply"},
       nullptr},
      {"POST",
       "/v1/events/{id}/ack",
       "events",
       "Acknowledge a delivery (attempt = Event.attempts; 0 skips the check); a result becomes a "
       "memory of the persona.",
       {"AckRequest"},
       true,
       200,
       {"EventReply"},
       nullptr},
      {"POST",
       "/v1/events/ack",
       "events",
       "Acknowledge several deliveries in one call and one durable write. Each ack is judged on "
       "its own: results (in the order of acks) carry each one's status and event.",
       {"AckBatchRequest"},
       false,
       200,
       {"AckBatchReply"},
       nullptr},
      {"POST",
       "/v1/events/{id}/nack",
       "events",
       "Give a delivery back to the queue, or to the dead letters with dead_letter.",
       {"NackRequest"},
       true,
       200,
       {"EventReply"},
       nullptr},
      {"GET",
       "/v1/events/dead",
       "events",
       "The dead-letter list, paged.",
       {},
       false,
       200,
       {"ListEventsReply"},
       nullptr},
      {"POST",
       "/v1/events/requeue",
       "events",
       "Put dead letters back in the queue with attempts reset.",
       {"RequeueRequest"},
       false,
       200,
       {"RequeueReply"},
       nullptr},
      {"GET",
       "/v1/events/stats",
       "events",
       "Events the router holds by tenant, state and priority (every tenant of the node).",
       {},
       false,
       200,
       {"EventStats"},
       nullptr},
      {"GET",
       "/v1/stats",
       "node",
       "Node statistics: personas, stored memories, live actors, counters.",
       {},
       false,
       200,
       {"StatsReply"},
       nullptr},
      {"GET",
       "/v1/cluster",
       "node",
       "The cluster's members (for now: this node).",
       {},
       false,
       200,
       {"ClusterStatus"},
       nullptr},
      {"GET",
       "/health",
       "operations",
       "Liveness: 200 while the process serves HTTP.",
       {},
       false,
       200,
       {"HealthStatus"},
       nullptr},
      {"GET",
       "/ready",
       "operations",
       "Readiness: 200 when storage is open and the node answers; 503 with the reasons otherwise "
       "(also while shutting down).",
       {},
       false,
       200,
       {"ReadyStatus"},
       nullptr},
      {"GET",
       "/metrics",
       "operations",
       "Prometheus metrics (text format 0.0.4).",
       {},
       false,
       200,
       {},
       "text/plain; version=0.0.4"},
      {"GET",
       "/v1/openapi.json",
       "operations",
       "This document.",
       {},
       false,
       200,
       {},
       "application/json"},
      {"GET", "/", "dashboard", "The dashboard (index.html).", {}, false, 200, {}, "text/html"},
      {"GET",
       "/{asset}",
       "dashboard",
       "A file of the dashboard (html, js, css, svg, png).",
       {},
       false,
       200,
       {},
       "application/octet-stream"},
  };
  return kDocs;
}

const std::map<std::string, std::string>& query_descriptions() {
  static const std::map<std::string, std::string> kDescriptions = {
      {"page_size", "Entries per page (0: 100; at most 1000)."},
      {"page_token", "next_page_token of the previous page; empty for the first."},
      {"confirm", "Must be true: deleting a persona cannot be undone."},
      {"n", "How many memories (0: memory.working-size)."},
      {"tiers", "Only these tiers (STM, MTM, LTM); repeat or separate with commas."},
      {"archived", "List the archive (forgotten and merged memories) instead."},
      {"include_embedding", "Also return the memory's embedding."},
      {"persona_id", "The persona the memory belongs to (saves a lookup)."},
      {"hard", "Delete for good instead of forgetting (history stays readable)."},
      {"reason", "Why, recorded in the history."},
      {"a", "One memory of the tubule."},
      {"b", "The other memory of the tubule."},
  };
  return kDescriptions;
}

json scalar_schema(const gp::FieldDescriptor* f) {
  switch (f->type()) {
    case gp::FieldDescriptor::TYPE_STRING:
      return {{"type", "string"}};
    case gp::FieldDescriptor::TYPE_BYTES:
      return {{"type", "string"}, {"format", "byte"}};
    case gp::FieldDescriptor::TYPE_BOOL:
      return {{"type", "boolean"}};
    case gp::FieldDescriptor::TYPE_FLOAT:
      return {{"type", "number"}, {"format", "float"}};
    case gp::FieldDescriptor::TYPE_DOUBLE:
      return {{"type", "number"}, {"format", "double"}};
    case gp::FieldDescriptor::TYPE_INT32:
    case gp::FieldDescriptor::TYPE_SINT32:
    case gp::FieldDescriptor::TYPE_SFIXED32:
      return {{"type", "integer"}, {"format", "int32"}};
    case gp::FieldDescriptor::TYPE_UINT32:
    case gp::FieldDescriptor::TYPE_FIXED32:
      return {{"type", "integer"}, {"format", "int32"}, {"minimum", 0}};
    case gp::FieldDescriptor::TYPE_INT64:
    case gp::FieldDescriptor::TYPE_SINT64:
    case gp::FieldDescriptor::TYPE_SFIXED64:
      // The JSON mapping prints 64-bit integers as strings (JavaScript numbers lose precision) and
      // accepts both forms.
      return {{"type", "string"}, {"format", "int64"}};
    case gp::FieldDescriptor::TYPE_UINT64:
    case gp::FieldDescriptor::TYPE_FIXED64:
      return {{"type", "string"}, {"format", "uint64"}};
    case gp::FieldDescriptor::TYPE_ENUM: {
      json values = json::array();
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        values.push_back(f->enum_type()->value(i)->name());
      }
      return {{"type", "string"}, {"enum", values}};
    }
    case gp::FieldDescriptor::TYPE_MESSAGE:
    case gp::FieldDescriptor::TYPE_GROUP:
      return {{"$ref", "#/components/schemas/" + f->message_type()->name()}};
  }
  return json::object();
}

// Adds `d` and every message it reaches to `schemas`.
void add_message_schema(const gp::Descriptor* d, json& schemas) {
  if (schemas.contains(d->name())) return;
  json props = json::object();
  schemas[d->name()] = json::object();  // reserve: recursive messages stop here
  std::vector<const gp::Descriptor*> reached;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    json s;
    if (f->is_map()) {
      const auto* value = f->message_type()->map_value();
      s = {{"type", "object"}, {"additionalProperties", scalar_schema(value)}};
      if (value->type() == gp::FieldDescriptor::TYPE_MESSAGE) {
        reached.push_back(value->message_type());
      }
    } else if (f->is_repeated()) {
      s = {{"type", "array"}, {"items", scalar_schema(f)}};
      if (f->type() == gp::FieldDescriptor::TYPE_MESSAGE) reached.push_back(f->message_type());
    } else {
      s = scalar_schema(f);
      if (f->type() == gp::FieldDescriptor::TYPE_MESSAGE) reached.push_back(f->message_type());
    }
    props[f->name()] = std::move(s);
  }
  schemas[d->name()] = {{"type", "object"},
                        {"properties", props},
                        {"description", "nca.pb." + d->name() + " (proto/neuroca.proto)"}};
  for (const auto* m : reached) add_message_schema(m, schemas);
}

// Schemas of the gateway's own replies (not protobuf messages).
void add_gateway_schemas(json& schemas) {
  schemas["Error"] = {
      {"type", "object"},
      {"required", {"code", "message", "details"}},
      {"properties",
       {{"code",
         {{"type", "string"},
          {"description",
           "A StatusCode name (NOT_FOUND, CONFLICT, ...), or METHOD_NOT_ALLOWED / "
           "PAYLOAD_TOO_LARGE for HTTP-level errors."}}},
        {"message", {{"type", "string"}}},
        {"details", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}}};
  schemas["HealthStatus"] = {{"type", "object"},
                             {"properties", {{"status", {{"type", "string"}}}}}};
  schemas["ReadyStatus"] = {
      {"type", "object"},
      {"properties",
       {{"status", {{"type", "string"}}},
        {"checks", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}}};
  json member = {{"type", "object"},
                 {"properties",
                  {{"id", {{"type", "string"}}},
                   {"incarnation", {{"type", "integer"}}},
                   {"address", {{"type", "string"}}},
                   {"http_address", {{"type", "string"}}},
                   {"version", {{"type", "string"}}},
                   {"state", {{"type", "string"}}}}}};
  schemas["ClusterMember"] = member;
  schemas["ClusterStatus"] = {
      {"type", "object"},
      {"properties",
       {{"node", {{"$ref", "#/components/schemas/ClusterMember"}}},
        {"members",
         {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/ClusterMember"}}}}}}}};
  schemas["EventStats"] = {
      {"type", "object"},
      {"properties",
       {{"counts",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"tenant", {{"type", "string"}}},
              {"state", {{"$ref", "#/components/schemas/EventStateName"}}},
              {"priority", {{"$ref", "#/components/schemas/EventPriorityName"}}},
              {"count", {{"type", "integer"}}}}}}}}},
        {"acked_retained", {{"type", "integer"}}}}}};
  json states = json::array();
  for (int i = 0; i < pb::EventState_descriptor()->value_count(); ++i) {
    states.push_back(pb::EventState_descriptor()->value(i)->name());
  }
  json priorities = json::array();
  for (int i = 0; i < pb::EventPriority_descriptor()->value_count(); ++i) {
    priorities.push_back(pb::EventPriority_descriptor()->value(i)->name());
  }
  schemas["EventStateName"] = {{"type", "string"}, {"enum", states}};
  schemas["EventPriorityName"] = {{"type", "string"}, {"enum", priorities}};
}

json schema_ref(const std::vector<const char*>& names, json& schemas) {
  json refs = json::array();
  for (const char* name : names) {
    const auto* d = pb::Request::descriptor()->file()->FindMessageTypeByName(name);
    if (d != nullptr) add_message_schema(d, schemas);
    // A name that is no protobuf message is one of the gateway's schemas (added up front); the
    // OpenAPI test checks every $ref resolves.
    refs.push_back({{"$ref", std::string("#/components/schemas/") + name}});
  }
  if (refs.size() == 1) return refs[0];
  return {{"oneOf", refs}};
}

const Route* route_of(const OperationDoc& doc) {
  for (const auto& r : routes()) {
    if (std::string_view(r.method) == doc.method && std::string_view(r.path) == doc.path) return &r;
  }
  return nullptr;
}

std::vector<std::string> path_params(std::string_view path) {
  std::vector<std::string> out;
  size_t open = path.find('{');
  while (open != std::string_view::npos) {
    size_t close = path.find('}', open);
    if (close == std::string_view::npos) break;
    out.emplace_back(path.substr(open + 1, close - open - 1));
    open = path.find('{', close);
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json build_document() {
  json schemas = json::object();
  add_gateway_schemas(schemas);
  json paths = json::object();
  const auto& descriptions = query_descriptions();
  for (const auto& doc : operation_docs()) {
    const Route* route = route_of(doc);
    json op;
    op["operationId"] = route != nullptr ? op_name(route->op) : "undocumented";
    op["summary"] = doc.summary;
    op["tags"] = {doc.tag};
    json params = json::array();
    for (const auto& p : path_params(doc.path)) {
      params.push_back(
          {{"name", p},
           {"in", "path"},
           {"required", true},
           {"schema", {{"type", "string"}, {"pattern", "^[A-Za-z0-9._:@-]{1,128}$"}}}});
    }
    if (route != nullptr) {
      for (const auto& q : route->query) {
        auto it = descriptions.find(q);
        json schema = {{"type", "string"}};
        if (q == "page_size" || q == "n") schema = {{"type", "integer"}, {"minimum", 0}};
        if (q == "confirm" || q == "archived" || q == "include_embedding" || q == "hard") {
          schema = {{"type", "boolean"}};
        }
        params.push_back({{"name", q},
                          {"in", "query"},
                          {"required", q == "a" || q == "b"},
                          {"description", it != descriptions.end() ? it->second : q},
                          {"schema", schema}});
      }
    }
    if (std::string_view(doc.path).rfind("/v1/", 0) == 0) {
      for (const char* h : {"Tenant", "RequestId", "TimeoutMs"}) {
        params.push_back({{"$ref", std::string("#/components/parameters/") + h}});
      }
    }
    if (!params.empty()) op["parameters"] = params;
    if (!doc.request.empty()) {
      op["requestBody"] = {
          {"required", !doc.request_optional},
          {"content", {{"application/json", {{"schema", schema_ref(doc.request, schemas)}}}}}};
    }
    json ok = {{"description", "Success"}};
    if (!doc.response.empty()) {
      ok["content"] = {{"application/json", {{"schema", schema_ref(doc.response, schemas)}}}};
    } else if (doc.content != nullptr) {
      ok["content"] = {{doc.content, {{"schema", {{"type", "string"}}}}}};
    }
    json responses = json::object();
    responses[std::to_string(doc.status)] = ok;
    if (doc.status == 201 && std::string_view(doc.path).find("/memories") != std::string::npos) {
      responses["200"] = {{"description", "The client id existed already; nothing changed"},
                          {"content", ok["content"]}};
    }
    responses["default"] = {
        {"description",
         "An error: 400 invalid argument or malformed JSON, 401, 403, 404, 405, 409 conflict or "
         "already exists, 413 body over http.max-body, 429, 500, 503 unavailable or shutting "
         "down, 504 deadline exceeded"},
        {"content",
         {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    op["responses"] = responses;
    paths[doc.path][lower(doc.method)] = op;
  }
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {
      {"title", "neuroca HTTP API"},
      {"version", NCA_VERSION_STRING},
      {"description",
       "The node's HTTP/JSON API: the same requests as the C++ SDK, as protobuf's JSON mapping of "
       "proto/neuroca.proto (proto field names; 64-bit integers as strings; enums by name). "
       "Errors are {code, message, details}."}};
  doc["paths"] = paths;
  doc["components"]["schemas"] = schemas;
  doc["components"]["parameters"] = {
      {"Tenant",
       {{"name", "X-Neuroca-Tenant"},
        {"in", "header"},
        {"required", false},
        {"description", "The tenant (default: \"default\")."},
        {"schema", {{"type", "string"}}}}},
      {"RequestId",
       {{"name", "X-Request-Id"},
        {"in", "header"},
        {"required", false},
        {"description",
         "Client request id (1-128 of [A-Za-z0-9._:@-]); a retried write with the same id is "
         "applied once. Generated when absent; echoed in the reply and in the node's logs."},
        {"schema", {{"type", "string"}}}}},
      {"TimeoutMs",
       {{"name", "X-Timeout-Ms"},
        {"in", "header"},
        {"required", false},
        {"description",
         "The request's deadline in milliseconds, at most the server's (http.timeout; for a long "
         "poll wait_ms + http.timeout). Past it the reply is 504."},
        {"schema", {{"type", "integer"}, {"minimum", 1}}}}}};
  return doc;
}

}  // namespace

const std::string& openapi_document() {
  static const std::string kDocument = build_document().dump();
  return kDocument;
}

}  // namespace nca::http
