// http/logging.hpp: the node's log lines (spdlog), as text or JSON, with the request id of the
// request being handled.
//
// configure_logging() sets the default logger's level and format from log.level and log.format:
//   text: 2024-05-01 12:00:00.123 info [req=0190...] message
//   json: {"time":"2024-05-01T12:00:00.123+0000","level":"info","request_id":"0190...","msg":"..."}
// (one object per line, the message JSON-escaped; request_id only inside a request). A
// RequestLogScope puts a request id on the current thread for its lifetime, so every line logged by
// that thread while it handles the request carries the id. Actors log from their own threads, so
// their lines carry no id. Thread-safe; the scope is per thread.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "nca/result.hpp"

namespace nca::http {

// invalid_argument for a level or format spdlog does not know (the config schema checks both
// first).
Status configure_logging(const config::LogSettings& log);

// The formatter for "text" or "json" (tests use it on their own sinks).
std::unique_ptr<spdlog::formatter> make_log_formatter(std::string_view format);

// JSON string escaping (quotes, backslash, control characters); UTF-8 passes through.
std::string json_escape(std::string_view text);

class RequestLogScope {
 public:
  explicit RequestLogScope(std::string request_id);
  ~RequestLogScope();
  RequestLogScope(const RequestLogScope&) = delete;
  RequestLogScope& operator=(const RequestLogScope&) = delete;

 private:
  std::string previous_;
};

// The request id of the current thread's request; empty outside one.
const std::string& current_request_id();

}  // namespace nca::http
