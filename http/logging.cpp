#include "http/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace nca::http {
namespace {

// Log context, like a logging MDC: the request a thread is handling. Thread-local by nature (each
// HTTP worker handles one request at a time), so it is not shared mutable state.
thread_local std::string t_request_id;

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

// %q: "[req=ID] " inside a request, nothing outside.
class TextRequestIdFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_request_id.empty()) return;
    append(dest, "[req=");
    append(dest, t_request_id);
    append(dest, "] ");
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<TextRequestIdFlag>();
  }
};

// %k: ,"request_id":"ID" inside a request, nothing outside.
class JsonRequestIdFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_request_id.empty()) return;
    append(dest, ",\"request_id\":\"");
    append(dest, json_escape(t_request_id));
    append(dest, "\"");
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<JsonRequestIdFlag>();
  }
};

// %Q: the message, JSON-escaped.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append(dest, json_escape(std::string_view(msg.payload.data(), msg.payload.size())));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(std::string_view format) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  if (format == "json") {
    f->add_flag<JsonRequestIdFlag>('k').add_flag<JsonMessageFlag>('Q').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l"%k,"msg":"%Q"})");
  } else {
    f->add_flag<TextRequestIdFlag>('q').set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %q%v");
  }
  return f;
}

Status configure_logging(const config::LogSettings& log) {
  if (log.format != "text" && log.format != "json") {
    return make_error(ErrorCode::invalid_argument,
                      "log.format '" + log.format + "' is neither text nor json");
  }
  auto level = spdlog::level::from_str(log.level);
  // from_str answers "off" for any name it does not know; only "off" itself may mean off.
  if (level == spdlog::level::off && log.level != "off") {
    return make_error(
        ErrorCode::invalid_argument,
        "log.level '" + log.level + "' is not trace, debug, info, warn, error or off");
  }
  spdlog::set_level(level);
  spdlog::set_formatter(make_log_formatter(log.format));
  return {};
}

RequestLogScope::RequestLogScope(std::string request_id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(request_id);
}

RequestLogScope::~RequestLogScope() { t_request_id = std::move(previous_); }

const std::string& current_request_id() { return t_request_id; }

}  // namespace nca::http
