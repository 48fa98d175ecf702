// Status codes to HTTP statuses, the error body, and the JSON options of replies.
#include "http/json_mapping.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace nca::http {
namespace {

TEST(JsonMapping, EveryStatusCodeHasItsHttpStatus) {
  const std::pair<pb::StatusCode, int> kExpected[] = {
      {pb::OK, 200},
      {pb::INVALID_ARGUMENT, 400},
      {pb::UNAUTHENTICATED, 401},
      {pb::PERMISSION_DENIED, 403},
      {pb::NOT_FOUND, 404},
      {pb::ALREADY_EXISTS, 409},
      {pb::CONFLICT, 409},
      {pb::RESOURCE_EXHAUSTED, 429},
      {pb::UNAVAILABLE, 503},
      {pb::DEADLINE_EXCEEDED, 504},
      {pb::INTERNAL, 500},
      {pb::DATA_LOSS, 500},
  };
  // Every value of the enum is listed: a new code must be given its status here.
  EXPECT_EQ(std::size(kExpected), static_cast<size_t>(pb::StatusCode_descriptor()->value_count()));
  for (const auto& [code, status] : kExpected) {
    SCOPED_TRACE(pb::StatusCode_Name(code));
    EXPECT_EQ(http_status_of(code), status);
    EXPECT_EQ(http_status_of(static_cast<ErrorCode>(code)), status);
    EXPECT_EQ(code_name(code), pb::StatusCode_Name(code));
  }
  EXPECT_EQ(http_status_of(static_cast<pb::StatusCode>(99)), 500) << "unknown codes are 500";
  EXPECT_EQ(code_name(static_cast<pb::StatusCode>(99)), "INTERNAL");
}

TEST(JsonMapping, ErrorBodyHasCodeMessageAndDetails) {
  auto body = nlohmann::json::parse(error_body("NOT_FOUND", "no memory \"m1\"\n", {{"id", "m1"}}));
  EXPECT_EQ(body["code"], "NOT_FOUND");
  EXPECT_EQ(body["message"], "no memory \"m1\"\n");
  EXPECT_EQ(body["details"]["id"], "m1");
  auto plain = nlohmann::json::parse(error_body("INTERNAL", "x"));
  EXPECT_TRUE(plain["details"].is_object());
  EXPECT_TRUE(plain["details"].empty());
  // Invalid UTF-8 (a message quoting client input) still gives valid JSON.
  auto bad = nlohmann::json::parse(error_body("INVALID_ARGUMENT", "bad \xff byte"));
  EXPECT_TRUE(bad["message"].is_string());
}

TEST(JsonMapping, RepliesUseProtoNamesAndPrintDefaults) {
  pb::RememberReply reply;
  reply.mutable_item()->set_id("m1");
  reply.mutable_item()->set_created_at_us(1700000000000000);
  reply.mutable_item()->set_tier(pb::STM);
  reply.set_created(false);
  auto text = to_json(reply);
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["item"]["id"], "m1");
  EXPECT_EQ(j["item"]["created_at_us"], "1700000000000000") << "64-bit integers are strings";
  EXPECT_EQ(j["item"]["tier"], "STM") << "enums by name";
  ASSERT_TRUE(j.contains("created")) << "defaults are printed";
  EXPECT_EQ(j["created"], false);
  EXPECT_TRUE(j["item"]["tags"].is_array());
}

TEST(JsonMapping, ParsingAcceptsBothNameStylesAndRejectsUnknownFields) {
  pb::MemoryInput in;
  ASSERT_TRUE(from_json(R"({"session_id": "s1", "createdAtUs": "5"})", &in, "body").ok());
  EXPECT_EQ(in.session_id(), "s1");
  EXPECT_EQ(in.created_at_us(), 5);
  auto unknown = from_json(R"({"colour": "green"})", &in, "request body");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.code(), ErrorCode::invalid_argument);
  EXPECT_NE(unknown.error().message.find("request body"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("MemoryInput"), std::string::npos);
  EXPECT_EQ(in.session_id(), "") << "a failed parse leaves the message empty";
}

TEST(JsonMapping, ResponseBodyIsTheOneofMessage) {
  pb::Response resp;
  EXPECT_EQ(response_body(resp), nullptr);
  resp.mutable_get()->mutable_item()->set_id("m1");
  const auto* body = response_body(resp);
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->GetDescriptor()->name(), "ItemReply");
}

}  // namespace
}  // namespace nca::http
