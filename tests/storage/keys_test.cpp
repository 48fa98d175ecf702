#include "storage/keys.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace nca::storage {
namespace {

TEST(Fnv1a64, KnownVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(ShardOf, IsTheFixedHashOfTenantSlashPersona) {
  EXPECT_EQ(shard_of("acme", "ada", 64), fnv1a64("acme/ada") % 64);
  EXPECT_EQ(shard_of("acme", "ada", 1), 0u);
  EXPECT_EQ(shard_of("acme", "ada", 0), 0u);
  // The separator matters: ("a", "b/c") and ("a/b", "c") are different personas that may collide
  // only by hash, never by construction; both hash the same string, which is why ids may not
  // contain '/'.
  EXPECT_EQ(shard_of("a", "b/c", 1000), shard_of("a/b", "c", 1000));
  EXPECT_NE(shard_of("acme", "ada", 1u << 30), shard_of("acme", "bob", 1u << 30));
}

TEST(Keys, ShardPrefixIsTwoBytesBigEndian) {
  EXPECT_EQ(shard_prefix(0), std::string("\x00\x00", 2));
  EXPECT_EQ(shard_prefix(1), std::string("\x00\x01", 2));
  EXPECT_EQ(shard_prefix(0x1234), std::string("\x12\x34", 2));
  EXPECT_LT(shard_prefix(255), shard_prefix(256));
}

TEST(Keys, Layout) {
  std::string p = persona_prefix(3, "acme", "ada");
  EXPECT_EQ(p, std::string("\x00\x03"
                           "acme\0ada\0",
                           11));
  EXPECT_EQ(item_key(p, "i1"), p + "i1");
  EXPECT_EQ(history_prefix(p, "i1"), p + std::string("i1\0", 3));
  EXPECT_EQ(history_key(p, "i1", 0x0102), p + std::string("i1\0\0\0\0\0\0\0\x01\x02", 11));
  EXPECT_EQ(counters_key(p), p + "\x01"
                                 "counters");
  EXPECT_EQ(locator_key("acme", "i1"), std::string("\xff\xff"
                                                   "loc\0acme\0i1",
                                                   13));
  EXPECT_EQ(node_meta_key("applied"), std::string("\xff\xff"
                                                  "node\0applied",
                                                  14));
}

TEST(Keys, HistoryKeysSortBySeqWithinAnItem) {
  std::string p = persona_prefix(1, "t", "p");
  EXPECT_LT(history_key(p, "i", 1), history_key(p, "i", 2));
  EXPECT_LT(history_key(p, "i", 255), history_key(p, "i", 256));
  EXPECT_LT(history_key(p, "i", 0xffffffffULL), history_key(p, "i", 0x100000000ULL));
  // The history of "i" never interleaves with that of "i2".
  EXPECT_LT(history_key(p, "i", ~0ULL), history_prefix(p, "i2"));
  std::string hp = history_prefix(p, "i");
  EXPECT_EQ(history_key(p, "i2", 1).compare(0, hp.size(), hp) == 0, false);
}

TEST(Keys, PrefixSuccessor) {
  EXPECT_EQ(prefix_successor("abc"), "abd");
  EXPECT_EQ(prefix_successor(std::string("ab\xff", 3)), "ac");
  EXPECT_EQ(prefix_successor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(prefix_successor(std::string("\x00", 1)), std::string("\x01", 1));
  EXPECT_EQ(prefix_successor(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(prefix_successor(""), "");
  // Greater than every extension of the prefix, and the smallest such key.
  std::string p = persona_prefix(7, "t", "ada");
  std::string s = prefix_successor(p);
  for (std::string ext : {std::string(), std::string("x"), std::string(300, '\xff')}) {
    EXPECT_LT(p + ext, s);
  }
  EXPECT_GT(s, p);
}

TEST(Keys, APersonaIsContiguousAndInsideItsShard) {
  // Personas chosen so that names are prefixes of one another and tenants collide with personas.
  struct P {
    std::string tenant, persona;
  };
  std::vector<P> personas = {{"t", "ada"}, {"t", "ada2"}, {"t", "ad"}, {"t2", "ada"},
                             {"ta", "da"}, {"t", ""},     {"", "ada"}, {"t", "ada\x01"}};
  const uint32_t shards = 4;
  std::vector<std::pair<std::string, size_t>> keys;  // key, index of its persona
  for (size_t i = 0; i < personas.size(); ++i) {
    uint32_t shard = shard_of(personas[i].tenant, personas[i].persona, shards);
    std::string p = persona_prefix(shard, personas[i].tenant, personas[i].persona);
    for (std::string id : {"a", "ada", "b", "zzz", "\x01", "\xfe\xff"}) {
      keys.emplace_back(item_key(p, id), i);
      keys.emplace_back(history_key(p, id, 42), i);
      keys.emplace_back(history_key(p, id, ~0ULL), i);
    }
    keys.emplace_back(p, i);
  }
  std::sort(keys.begin(), keys.end());
  // Contiguous: once a persona's run ends, it never appears again.
  std::vector<bool> finished(personas.size(), false);
  for (size_t k = 0; k < keys.size(); ++k) {
    size_t i = keys[k].second;
    ASSERT_FALSE(finished[i]) << "persona " << i << " is not contiguous";
    if (k + 1 < keys.size() && keys[k + 1].second != i) finished[i] = true;
  }
  // Every key of a persona is inside [persona prefix, successor) and inside its shard's range.
  for (const auto& [key, i] : keys) {
    uint32_t shard = shard_of(personas[i].tenant, personas[i].persona, shards);
    std::string p = persona_prefix(shard, personas[i].tenant, personas[i].persona);
    EXPECT_GE(key, p);
    EXPECT_LT(key, prefix_successor(p));
    EXPECT_GE(key, shard_prefix(shard));
    EXPECT_LT(key, prefix_successor(shard_prefix(shard)));
  }
}

TEST(Keys, NodeWideKeysAreOutsideEveryShard) {
  std::string highest_shard_end = prefix_successor(shard_prefix(0xfffe));
  EXPECT_GE(locator_key("", ""), highest_shard_end);
  EXPECT_GE(node_meta_key(""), highest_shard_end);
  EXPECT_LT(locator_key("t", "i"), node_meta_key("x"));
}

TEST(Keys, ParsePersonaPrefixRoundTrips) {
  for (uint32_t shard : {0u, 1u, 63u, 256u, 0xfffeu}) {
    for (auto [tenant, persona] : std::vector<std::pair<std::string, std::string>>{
             {"acme", "ada"}, {"", "p"}, {"t", ""}, {"t\xff\x01", "p q/r"}}) {
      std::string p = persona_prefix(shard, tenant, persona);
      auto parsed = parse_persona_prefix(p);
      ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
      EXPECT_EQ(parsed->shard, shard);
      EXPECT_EQ(parsed->tenant, tenant);
      EXPECT_EQ(parsed->persona, persona);
      // Keys that extend the prefix parse to the same persona.
      auto from_item = parse_persona_prefix(item_key(p, "item-1"));
      ASSERT_TRUE(from_item.ok());
      EXPECT_EQ(from_item->persona, persona);
    }
  }
}

TEST(Keys, ParsePersonaPrefixRejectsMalformedKeys) {
  for (std::string bad : {std::string(), std::string("\x00", 1), std::string("\x00\x01t\0p", 5),
                          std::string("\x00\x01tenant", 8), std::string("\x00\x01\0", 3)}) {
    auto parsed = parse_persona_prefix(bad);
    ASSERT_FALSE(parsed.ok()) << printable_key(bad);
    EXPECT_EQ(parsed.code(), ErrorCode::data_loss);
    EXPECT_NE(parsed.error().message.find("malformed persona key"), std::string::npos);
  }
}

TEST(Keys, PrintableKeyEscapesBinary) {
  EXPECT_EQ(printable_key(std::string("\x00\x05"
                                      "ada\0",
                                      6)),
            "\"\\x00\\x05ada\\x00\"");
}

}  // namespace
}  // namespace nca::storage

namespace nca::storage {
namespace {

TEST(Keys, LinkAndLymphaticKeysStayInsideThePersona) {
  std::string p = persona_prefix(3, "t", "ada");
  std::string link = link_key(p, "a1", "b2");
  EXPECT_EQ(link.substr(0, p.size()), p);
  EXPECT_EQ(link.substr(p.size()), std::string("a1\0b2", 5));
  EXPECT_LT(link_key(p, "a1", "b2"), link_key(p, "a1", "c"));
  EXPECT_EQ(lymphatic_key(p).substr(0, p.size()), p);
  EXPECT_NE(lymphatic_key(p), counters_key(p));
}

}  // namespace
}  // namespace nca::storage
