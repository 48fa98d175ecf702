// Log lines as text and JSON, with the request id of the request being handled.
#include "http/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace nca::http {
namespace {

// A logger writing to a string, with the given format.
struct CapturedLog {
  explicit CapturedLog(std::string_view format)
      : sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(out)),
        logger(std::make_shared<spdlog::logger>("test", sink)) {
    logger->set_formatter(make_log_formatter(format));
    logger->set_level(spdlog::level::trace);
  }
  std::vector<std::string> lines() {
    logger->flush();
    std::vector<std::string> v;
    std::istringstream in(out.str());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink;
  std::shared_ptr<spdlog::logger> logger;
};

TEST(Logging, JsonLinesCarryTheRequestIdAndEscapeTheMessage) {
  CapturedLog log("json");
  log.logger->info("outside");
  {
    RequestLogScope scope("req-1");
    log.logger->warn("quote \" backslash \\ newline \n tab \t bell \x07 done");
  }
  log.logger->info("after");
  auto lines = log.lines();
  ASSERT_EQ(lines.size(), 3u);
  auto outside = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(outside["msg"], "outside");
  EXPECT_EQ(outside["level"], "info");
  EXPECT_FALSE(outside.contains("request_id"));
  EXPECT_TRUE(outside["time"].is_string());
  auto inside = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(inside["request_id"], "req-1");
  EXPECT_EQ(inside["level"], "warning");
  EXPECT_EQ(inside["msg"], "quote \" backslash \\ newline \n tab \t bell \x07 done");
  EXPECT_FALSE(nlohmann::json::parse(lines[2]).contains("request_id"));
}

TEST(Logging, TextLinesCarryTheRequestId) {
  CapturedLog log("text");
  {
    RequestLogScope scope("abc");
    log.logger->info("handling");
  }
  log.logger->info("idle");
  auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("info [req=abc] handling"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].find("req="), std::string::npos) << lines[1];
}

TEST(Logging, ScopesNestAndArePerThread) {
  RequestLogScope outer("outer");
  {
    RequestLogScope inner("inner");
    EXPECT_EQ(current_request_id(), "inner");
    std::string other = "unset";
    std::thread t([&] { other = current_request_id(); });
    t.join();
    EXPECT_EQ(other, "") << "another thread is not in this request";
  }
  EXPECT_EQ(current_request_id(), "outer");
}

TEST(Logging, ConfigureRejectsUnknownLevelsAndFormats) {
  config::LogSettings bad_format;
  bad_format.format = "xml";
  EXPECT_EQ(configure_logging(bad_format).code(), ErrorCode::invalid_argument);
  config::LogSettings bad_level;
  bad_level.level = "loud";
  EXPECT_EQ(configure_logging(bad_level).code(), ErrorCode::invalid_argument);
  config::LogSettings ok;
  ok.level = "warn";
  ok.format = "json";
  EXPECT_TRUE(configure_logging(ok).ok());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  ok.format = "text";
  EXPECT_TRUE(configure_logging(ok).ok());
}

TEST(Logging, JsonEscape) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a\"b"), "a\\\"b");
  EXPECT_EQ(json_escape(std::string("\x01", 1)), "\\u0001");
  EXPECT_EQ(json_escape("héllo"), "héllo") << "UTF-8 passes through";
}

}  // namespace
}  // namespace nca::http
