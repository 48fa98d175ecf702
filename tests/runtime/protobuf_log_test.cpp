// libprotobuf's log lines go to spdlog, not stderr, and the last one explains a failed parse.
#include "runtime/protobuf_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "proto/neuroca.pb.h"

namespace nca {
namespace {

// A request whose memory content is not UTF-8: proto3 refuses to parse it.
std::string request_with_invalid_utf8() {
  pb::Request req;
  req.mutable_remember()->set_persona_id("ada");
  req.mutable_remember()->mutable_memory()->set_content(std::string("caf\xc3", 4));
  return req.SerializeAsString();
}

TEST(ProtobufLog, AFailedParseNamesItsCauseAndWritesNothingToStderr) {
  install_protobuf_log_handler();
  const std::string bytes = request_with_invalid_utf8();
  (void)take_protobuf_error();  // serializing it logged too
  ::testing::internal::CaptureStderr();
  pb::Request parsed;
  const bool ok = parsed.ParseFromString(bytes);
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(ok) << "proto3 string fields must be UTF-8";
  EXPECT_EQ(stderr_text, "");
  const std::string why = take_protobuf_error();
  EXPECT_NE(why.find("content"), std::string::npos) << why;
  EXPECT_NE(why.find("invalid UTF-8"), std::string::npos) << why;
  EXPECT_EQ(why.find("Use the 'bytes' type"), std::string::npos) << "advice for schema authors";
  EXPECT_EQ(take_protobuf_error(), "") << "a line is taken once";
}

TEST(ProtobufLog, ALineBelongsToTheThreadThatLoggedIt) {
  install_protobuf_log_handler();
  install_protobuf_log_handler();  // idempotent
  const std::string bytes = request_with_invalid_utf8();
  (void)take_protobuf_error();  // serializing it logged on this thread
  std::string other_thread_saw;
  std::thread([&] {
    pb::Request parsed;
    EXPECT_FALSE(parsed.ParseFromString(bytes));
    other_thread_saw = take_protobuf_error();
  }).join();
  EXPECT_NE(other_thread_saw.find("invalid UTF-8"), std::string::npos) << other_thread_saw;
  EXPECT_EQ(take_protobuf_error(), "");
}

}  // namespace
}  // namespace nca
