#include "http/json_mapping.hpp"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

namespace nca::http {

int http_status_of(pb::StatusCode code) {
  switch (code) {
    case pb::OK:
      return 200;
    case pb::INVALID_ARGUMENT:
      return 400;
    case pb::UNAUTHENTICATED:
      return 401;
    case pb::PERMISSION_DENIED:
      return 403;
    case pb::NOT_FOUND:
      return 404;
    case pb::ALREADY_EXISTS:
      return 409;
    case pb::CONFLICT:
      return 409;
    case pb::RESOURCE_EXHAUSTED:
      return 429;
    case pb::UNAVAILABLE:
      return 503;
    case pb::DEADLINE_EXCEEDED:
      return 504;
    case pb::INTERNAL:
      return 500;
    case pb::DATA_LOSS:
      return 500;
    default:
      return 500;  // a code this build does not know: the node is newer than the gateway
  }
}

int http_status_of(ErrorCode code) { return http_status_of(static_cast<pb::StatusCode>(code)); }

std::string code_name(pb::StatusCode code) {
  if (!pb::StatusCode_IsValid(code)) return "INTERNAL";
  return pb::StatusCode_Name(code);
}

std::string code_name(ErrorCode code) { return code_name(static_cast<pb::StatusCode>(code)); }

std::string error_body(std::string_view code, std::string_view message,
                       const std::map<std::string, std::string>& details) {
  nlohmann::json body;
  body["code"] = std::string(code);
  body["message"] = std::string(message);
  body["details"] = nlohmann::json::object();
  for (const auto& [k, v] : details) body["details"][k] = v;
  // Replacement, not an exception, for invalid UTF-8 in a message that quotes client input.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::string> to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!st.ok()) {
    return make_error(ErrorCode::internal,
                      "the reply cannot be written as JSON: " +
                          std::string(st.message().data(), st.message().size()));
  }
  return out;
}

Status from_json(std::string_view json, google::protobuf::Message* message, std::string_view what) {
  message->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!st.ok()) {
    message->Clear();
    return make_error(ErrorCode::invalid_argument,
                      std::string(what) + " is not a valid " + message->GetDescriptor()->name() +
                          ": " + std::string(st.message().data(), st.message().size()));
  }
  return {};
}

const google::protobuf::Message* response_body(const pb::Response& response) {
  const auto* oneof = pb::Response::descriptor()->FindOneofByName("body");
  const auto* reflection = response.GetReflection();
  const auto* field = reflection->GetOneofFieldDescriptor(response, oneof);
  if (field == nullptr) return nullptr;
  return &reflection->GetMessage(response, field);
}

}  // namespace nca::http
