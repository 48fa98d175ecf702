#include "cluster/routing/shard_entry.hpp"

#include <gtest/gtest.h>

namespace nca::cluster {
namespace {

TEST(ShardEntryTest, PersonaWriteRoundTrips) {
  std::string rep("\0\0\0\0\0\0\0\0\1\0\0\0payload", 19);
  const std::string data = encode_persona_write(rep);
  auto e = decode_shard_entry(data);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, ShardEntryKind::persona_write);
  EXPECT_EQ(e->payload, rep);
}

TEST(ShardEntryTest, UnknownKindsAndEmptyDataAreErrors) {
  EXPECT_FALSE(decode_shard_entry("").ok());
  auto e = decode_shard_entry(std::string("\x07rest"));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("unknown kind 7"), std::string::npos) << e.error().message;
}

}  // namespace
}  // namespace nca::cluster
