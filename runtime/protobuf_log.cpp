#include "runtime/protobuf_log.hpp"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace nca {
namespace {

thread_local std::string last_protobuf_line;

void route_protobuf_line(google::protobuf::LogLevel level, const char* filename, int line,
                         const std::string& message) {
  // The first sentence is the cause; the rest is advice for the schema's author.
  const size_t end = message.find(". ");
  last_protobuf_line = end == std::string::npos ? message : message.substr(0, end);
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("libprotobuf {}:{}: {}", filename, line, message);
  } else {
    spdlog::debug("libprotobuf {}:{}: {}", filename, line, message);
  }
}

}  // namespace

void install_protobuf_log_handler() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&route_protobuf_line); });
}

std::string take_protobuf_error() {
  std::string out;
  out.swap(last_protobuf_line);
  return out;
}

}  // namespace nca
