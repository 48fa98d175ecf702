// Bad input from clients gets a clear error, changes nothing, and the node keeps serving.
#include <gtest/gtest.h>

#include <limits>

#include "proto/wire.hpp"
#include "tests/actors/node_test_util.hpp"

namespace nca {
namespace {

using testing::NodeFixture;

class BadInputTest : public NodeFixture {
 protected:
  // Sends raw bytes in the envelope straight to the api actor; returns the decoded status.
  pb::Response raw_call(uint32_t method, const std::string& bytes) {
    caf::scoped_actor self{node_->system()};
    pb::Response resp;
    self->request(node_->api(), std::chrono::seconds(5), wire::envelope_atom::value, method, bytes)
        .receive([&](uint32_t, const std::string& out) { EXPECT_TRUE(resp.ParseFromString(out)); },
                 [&](caf::error& e) { ADD_FAILURE() << "transport error: " << caf::to_string(e); });
    return resp;
  }

  void expect_unchanged_and_alive() {
    pb::ListRequest l;
    l.set_persona_id("ada");
    auto items = client_->list(l);
    ASSERT_TRUE(items.ok());
    EXPECT_EQ(items->items_size(), 1) << "nothing changed";
    EXPECT_TRUE(client_->ping().ok()) << "the node keeps serving";
  }

  void SetUp() override {
    NodeFixture::SetUp();
    ASSERT_TRUE(client_->remember("ada", "the one good memory").ok());
  }
};

TEST_F(BadInputTest, EmptyAndOversizedContent) {
  auto empty = client_->remember("ada", memory(""));
  EXPECT_EQ(empty.code(), ErrorCode::invalid_argument);
  EXPECT_NE(empty.error().message.find("content must not be empty"), std::string::npos);
  auto big = client_->remember("ada", memory(std::string(64 * 1024 + 1, 'x')));
  EXPECT_EQ(big.code(), ErrorCode::invalid_argument);
  EXPECT_NE(big.error().message.find("memory.max-content-bytes"), std::string::npos);
  expect_unchanged_and_alive();
}

TEST_F(BadInputTest, WrongDimensionNanAndInf) {
  auto wrong = memory("x");
  for (int i = 0; i < 3; ++i) wrong.add_embedding(1);
  auto r = client_->remember("ada", wrong);
  EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
  EXPECT_NE(r.error().message.find("64"), std::string::npos) << r.error().message;
  auto nan = memory("x");
  for (int i = 0; i < 64; ++i)
    nan.add_embedding(i == 5 ? std::numeric_limits<float>::quiet_NaN() : 1);
  EXPECT_EQ(client_->remember("ada", nan).code(), ErrorCode::invalid_argument);
  auto inf = memory("x");
  for (int i = 0; i < 64; ++i)
    inf.add_embedding(i == 5 ? std::numeric_limits<float>::infinity() : 1);
  EXPECT_EQ(client_->remember("ada", inf).code(), ErrorCode::invalid_argument);
  pb::RecallRequest q;
  q.set_persona_id("ada");
  for (int i = 0; i < 10; ++i) q.add_query_embedding(1);
  EXPECT_EQ(client_->recall(q).code(), ErrorCode::invalid_argument);
  // A batch with one bad memory changes nothing at all.
  std::vector<pb::MemoryInput> batch = {memory("fine"), memory("")};
  auto b = client_->remember_batch("ada", batch);
  EXPECT_EQ(b.code(), ErrorCode::invalid_argument);
  EXPECT_NE(b.error().message.find("memories[1]"), std::string::npos);
  expect_unchanged_and_alive();
}

TEST_F(BadInputTest, UnknownIdsAndBadIds) {
  EXPECT_EQ(client_->get("no-such-id").code(), ErrorCode::not_found);
  EXPECT_EQ(client_->forget("no-such-id").code(), ErrorCode::not_found);
  EXPECT_EQ(client_->restore("no-such-id").code(), ErrorCode::not_found);
  EXPECT_EQ(client_->remove("no-such-id").code(), ErrorCode::not_found);
  EXPECT_EQ(client_->history("no-such-id").code(), ErrorCode::not_found);
  EXPECT_EQ(client_->touch("no-such-id").code(), ErrorCode::not_found);
  pb::UpdateRequest up;
  up.set_id("no-such-id");
  up.set_importance(0.3);
  EXPECT_EQ(client_->update(up).code(), ErrorCode::not_found);
  EXPECT_EQ(client_->get("../../etc/passwd").code(), ErrorCode::invalid_argument);
  EXPECT_EQ(client_->remember("bad persona!", "x").code(), ErrorCode::invalid_argument);
  expect_unchanged_and_alive();
}

TEST_F(BadInputTest, MalformedBytesFromAClient) {
  auto garbage = raw_call(pb::Request::kRemember, std::string("\xff\xfe\x01garbage", 10));
  EXPECT_EQ(garbage.status().code(), pb::INVALID_ARGUMENT);
  EXPECT_NE(garbage.status().message().find("malformed request"), std::string::npos);

  // A well-formed envelope whose text is not UTF-8: the error names the field, as libprotobuf's
  // log does (the node keeps that line out of stderr).
  pb::Request latin1;
  latin1.mutable_remember()->set_persona_id("ada");
  latin1.mutable_remember()->mutable_memory()->set_content(std::string("caf\xe9", 4));
  auto not_utf8 = raw_call(pb::Request::kRemember, latin1.SerializeAsString());
  EXPECT_EQ(not_utf8.status().code(), pb::INVALID_ARGUMENT);
  EXPECT_NE(not_utf8.status().message().find("content' contains invalid UTF-8"), std::string::npos)
      << not_utf8.status().message();

  pb::Request req;
  req.mutable_remember()->set_persona_id("ada");
  req.mutable_remember()->mutable_memory()->set_content("sneaky");
  auto mismatch = raw_call(pb::Request::kRecall, req.SerializeAsString());
  EXPECT_EQ(mismatch.status().code(), pb::INVALID_ARGUMENT);
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string::npos);

  pb::Request future = req;
  future.mutable_header()->set_schema_version(99);
  auto newer = raw_call(pb::Request::kRemember, future.SerializeAsString());
  EXPECT_EQ(newer.status().code(), pb::INVALID_ARGUMENT);
  EXPECT_NE(newer.status().message().find("schema_version"), std::string::npos);

  pb::Request empty;
  EXPECT_EQ(raw_call(0, empty.SerializeAsString()).status().code(), pb::INVALID_ARGUMENT);

  pb::Request late = req;
  late.mutable_header()->set_deadline_us(1);
  EXPECT_EQ(raw_call(pb::Request::kRemember, late.SerializeAsString()).status().code(),
            pb::DEADLINE_EXCEEDED);

  pb::Request bad_tenant = req;
  bad_tenant.mutable_header()->set_tenant("no/slashes");
  EXPECT_EQ(raw_call(pb::Request::kRemember, bad_tenant.SerializeAsString()).status().code(),
            pb::INVALID_ARGUMENT);
  expect_unchanged_and_alive();
}

}  // namespace
}  // namespace nca
