// Identifiers: the one rule for client-supplied ids, and the node's time-ordered UUIDv7s.
#include "runtime/ids.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace nca {
namespace {

TEST(ValidateId, AcceptsTheIdAlphabetUpTo128Bytes) {
  EXPECT_TRUE(validate_id("ada", "persona_id").ok());
  EXPECT_TRUE(validate_id("A-z_0.9:x@y", "persona_id").ok());
  EXPECT_TRUE(validate_id(std::string(128, 'x'), "persona_id").ok());
}

TEST(ValidateId, RefusesWithAMessageThatNamesTheField) {
  Status empty = validate_id("", "tenant");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(empty.error().message, "tenant must not be empty");
  Status long_id = validate_id(std::string(129, 'x'), "tenant");
  ASSERT_FALSE(long_id.ok());
  EXPECT_NE(long_id.error().message.find("129 bytes"), std::string::npos);
  // Key and URL separators, whitespace, control and non-ASCII bytes.
  const std::vector<std::string> bad_ids = {"a/b", "a b",  "a?b",         "a#b",
                                            "a%b", "a\nb", "caf\xc3\xa9", std::string("a\0b", 3)};
  for (const std::string& bad : bad_ids) {
    Status s = validate_id(bad, "item id");
    EXPECT_FALSE(s.ok()) << "accepted '" << bad << "'";
    if (!s.ok()) {
      EXPECT_EQ(s.error().message.rfind("item id", 0), 0u) << s.error().message;
    }
  }
}

TEST(IdGenerator, IdsAreUuidV7sThatSortByTheClock) {
  ManualClock clock;
  clock.set_us(1'700'000'000'000'000);
  IdGenerator ids(clock, 42);
  std::vector<std::string> made;
  for (int i = 0; i < 100; ++i) {
    made.push_back(ids.uuid_v7());
    if (i % 10 == 9) clock.advance_us(1500);
  }
  for (const std::string& id : made) {
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[14], '7') << "version nibble of " << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "variant of " << id;
  }
  for (size_t i = 1; i < made.size(); ++i) EXPECT_LT(made[i - 1], made[i]) << "at " << i;
  // The first 48 bits are the clock's milliseconds.
  EXPECT_EQ(made.front().substr(0, 8) + made.front().substr(9, 4), "018bcfe56800");
}

TEST(IdGenerator, ConcurrentCallersGetDistinctIds) {
  ManualClock clock;  // a clock that stands still: uniqueness comes from the counter alone
  IdGenerator ids(clock, 7);
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&ids, &out] {
      for (int i = 0; i < 2000; ++i) out.push_back(ids.uuid_v7());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& out : per_thread) all.insert(out.begin(), out.end());
  EXPECT_EQ(all.size(), 8000u);
}

}  // namespace
}  // namespace nca
