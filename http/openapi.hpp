// http/openapi.hpp: the OpenAPI 3 document of the HTTP API, served at /v1/openapi.json.
//
// Paths are written by hand here (a summary, the request and reply messages of every route) so the
// document says what each route means; their query parameters come from the route table, and the
// schemas of the bodies are generated from proto/neuroca.proto's descriptors with the gateway's
// JSON options (proto field names, 64-bit integers as strings, enums by name), so they never drift
// from the messages. tests/http/openapi_test.cpp checks that the documented operations and the
// route table are the same set. Pure; thread-safe.
#pragma once

#include <string>

namespace nca::http {

// The document as JSON text.
const std::string& openapi_document();

}  // namespace nca::http
