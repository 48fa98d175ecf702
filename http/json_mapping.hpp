// http/json_mapping.hpp: protobuf <-> JSON for the HTTP gateway, and errors as HTTP responses.
//
// JSON is protobuf's canonical JSON mapping of proto/neuroca.proto, printed with the proto field
// names (snake_case) and every scalar field, also when it holds its default, so clients see a
// stable shape (`"created": false`, `"health": 0`). 64-bit integers are JSON strings, enums their
// names, as the mapping specifies. Parsing accepts proto and lowerCamel names and rejects unknown
// fields, so a typo is a clear 400 rather than a silently ignored field. Errors are one JSON shape
// everywhere:
// {"code": "NOT_FOUND", "message": "...", "details": {...}}. Pure functions; thread-safe.
#pragma once

#include <google/protobuf/message.h>

#include <map>
#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::http {

// The HTTP status of a node status code (OK 200, INVALID_ARGUMENT 400, NOT_FOUND 404, ...).
int http_status_of(pb::StatusCode code);
int http_status_of(ErrorCode code);

// The name clients see in "code": the proto enum name ("NOT_FOUND").
std::string code_name(pb::StatusCode code);
std::string code_name(ErrorCode code);

// {"code": code, "message": message, "details": {k: v...}}.
std::string error_body(std::string_view code, std::string_view message,
                       const std::map<std::string, std::string>& details = {});

// Serializes `message` (see the file comment for the options); internal if protobuf's printer
// fails.
Result<std::string> to_json(const google::protobuf::Message& message);

// Parses `json` into `message` (cleared first). invalid_argument names `what` ("request body") and
// carries the parser's message.
Status from_json(std::string_view json, google::protobuf::Message* message, std::string_view what);

// The message held in the response's `body` oneof, or null when none is set.
const google::protobuf::Message* response_body(const pb::Response& response);

}  // namespace nca::http
