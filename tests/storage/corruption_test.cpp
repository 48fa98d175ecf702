// Corrupt data is reported, never fatal: a garbage record is data_loss for that record alone, and a
// damaged SST file yields an error value from open, get or scan, with a message that says what and
// where.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proto/neuroca.pb.h"
#include "storage/db.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

Db::Options small_options(const std::string& path) {
  Db::Options options;
  options.path = path;
  options.block_cache_bytes = 8 << 20;
  options.write_buffer_bytes = 8 << 20;
  return options;
}

pb::MemoryItem make_item(const std::string& id, const std::string& content) {
  pb::MemoryItem item;
  item.set_schema_version(kRecordSchemaVersion);
  item.set_id(id);
  item.set_tenant("acme");
  item.set_persona_id("ada");
  item.set_content(content);
  item.set_importance(0.5);
  return item;
}

std::string describe(std::string_view id) {
  return "item '" + std::string(id) + "' in persona 'ada'";
}

TEST(Records, RoundTrip) {
  pb::MemoryItem item = make_item("i1", "hello");
  auto decoded = decode_record<pb::MemoryItem>(encode_record(item), describe("i1"));
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(decoded->content(), "hello");
  EXPECT_EQ(decoded->schema_version(), kRecordSchemaVersion);
}

TEST(Records, GarbageIsDataLossNamingTheRecord) {
  std::string garbage(57, '\xff');
  auto decoded = decode_record<pb::MemoryItem>(garbage, "item 'abc' in persona 'ada'");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.code(), ErrorCode::data_loss);
  EXPECT_EQ(decoded.error().message,
            "item 'abc' in persona 'ada': corrupt record (cannot parse 57 bytes)");
}

TEST(Records, NewerSchemaIsDataLoss) {
  pb::PersonaCounters counters;
  counters.set_schema_version(kRecordSchemaVersion + 1);
  auto decoded = decode_record<pb::PersonaCounters>(encode_record(counters), "counters of 'ada'");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.code(), ErrorCode::data_loss);
  EXPECT_NE(decoded.error().message.find("counters of 'ada'"), std::string::npos);
  EXPECT_NE(decoded.error().message.find("schema_version 2"), std::string::npos);
}

TEST(Corruption, GarbageRecordIsReportedForThatKeyOnly) {
  TempDir dir;
  auto opened = Db::open(small_options(dir.sub("db")));
  ASSERT_TRUE(opened.ok()) << opened.error().to_string();
  auto db = std::move(opened).value();
  std::string ada = persona_prefix(shard_of("acme", "ada", 64), "acme", "ada");

  std::map<std::string, std::string> good = {
      {"a1", "first"}, {"b2", "second"}, {"c3", std::string(300, 'c')}, {"e5", "fifth"}};
  Batch b = db->batch();
  for (const auto& [id, content] : good)
    b.put_proto(Cf::items, item_key(ada, id), make_item(id, content));
  // Written raw, bypassing put_proto: an invalid tag/varint, and a record cut inside its content
  // field.
  b.put(Cf::items, item_key(ada, "bad"), std::string(12, '\xff'));
  std::string whole = encode_record(make_item("cut", std::string(200, 'x')));
  b.put(Cf::items, item_key(ada, "cut"), whole.substr(0, whole.size() / 2));
  ASSERT_TRUE(db->commit(std::move(b)).ok());

  for (int pass = 0; pass < 2; ++pass) {  // from the memtable, then from an SST
    SCOPED_TRACE(pass == 0 ? "memtable" : "sst");
    std::map<std::string, std::string> decoded;
    std::map<std::string, Error> failed;
    Status scanned = db->scan(Cf::items, ada, [&](std::string_view key, std::string_view value) {
      std::string id(key.substr(ada.size()));
      auto item = decode_record<pb::MemoryItem>(value, describe(id));
      if (item.ok()) {
        decoded[id] = item->content();
      } else {
        failed.emplace(id, item.error());
      }
      return true;  // one bad record does not stop the scan
    });
    ASSERT_TRUE(scanned.ok()) << scanned.error().to_string();
    EXPECT_EQ(decoded, good);
    ASSERT_EQ(failed.size(), 2u);
    for (const auto& [id, error] : failed) {
      EXPECT_EQ(error.code, ErrorCode::data_loss);
      EXPECT_EQ(error.message.find(describe(id)), 0u) << error.message;
      EXPECT_NE(error.message.find("corrupt record"), std::string::npos);
    }
    EXPECT_NE(failed.at("cut").message.find("(cannot parse " + std::to_string(whole.size() / 2) +
                                            " bytes)"),
              std::string::npos);
    // Point reads of the good records are unaffected.
    for (const auto& [id, content] : good) {
      auto raw = db->get(Cf::items, item_key(ada, id));
      ASSERT_TRUE(raw.ok() && raw->has_value());
      auto item = decode_record<pb::MemoryItem>(**raw, describe(id));
      ASSERT_TRUE(item.ok());
      EXPECT_EQ(item->content(), content);
    }
    ASSERT_TRUE(db->flush().ok());
  }
}

// Writes `count` incompressible values into `items` and flushes them into one SST; returns key ->
// value.
std::map<std::string, std::string> fill_and_flush(const std::string& path, int count) {
  std::map<std::string, std::string> written;
  auto opened = Db::open(small_options(path));
  if (!opened.ok()) {
    ADD_FAILURE() << opened.error().to_string();
    return written;
  }
  auto db = std::move(opened).value();
  std::mt19937_64 rng(42);
  Batch b = db->batch();
  for (int i = 0; i < count; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "key%06d", i);
    std::string value(200, '\0');
    for (char& c : value) c = static_cast<char>(rng() & 0xff);
    b.put(Cf::items, key, value);
    written[key] = value;
  }
  EXPECT_TRUE(db->commit(std::move(b)).ok());
  EXPECT_TRUE(db->flush().ok());
  return written;
}

// The largest .sst file under `dir` (the items table; the other families hold nothing).
fs::path largest_sst(const std::string& dir) {
  fs::path best;
  uintmax_t best_size = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".sst" && entry.file_size() > best_size) {
      best = entry.path();
      best_size = entry.file_size();
    }
  }
  return best;
}

// Reads every key back; returns the number of errors. A read that succeeds must return the right
// value.
int read_back(const Db& db, const std::map<std::string, std::string>& written,
              std::vector<std::string>* messages) {
  int errors = 0;
  for (const auto& [key, value] : written) {
    auto got = db.get(Cf::items, key);
    if (!got.ok()) {
      ++errors;
      messages->push_back(got.error().message);
      EXPECT_EQ(got.code(), ErrorCode::data_loss) << got.error().message;
      continue;
    }
    if (got->has_value()) {
      EXPECT_EQ(**got, value) << "silently wrong value for " << key;
    }
  }
  size_t scanned = 0;
  Status s = db.scan(Cf::items, "", [&](std::string_view key, std::string_view value) {
    auto it = written.find(std::string(key));
    EXPECT_TRUE(it != written.end() && it->second == value) << "scan returned damaged data";
    ++scanned;
    return true;
  });
  if (!s.ok()) {
    ++errors;
    messages->push_back(s.error().message);
    EXPECT_EQ(s.code(), ErrorCode::data_loss) << s.error().message;
  } else {
    EXPECT_EQ(scanned, written.size());
  }
  return errors;
}

TEST(Corruption, FlippedBytesInAnSstAreAnErrorNotACrash) {
  TempDir dir;
  auto written = fill_and_flush(dir.sub("db"), 3000);
  fs::path sst = largest_sst(dir.sub("db"));
  ASSERT_FALSE(sst.empty());
  uintmax_t size = fs::file_size(sst);
  ASSERT_GT(size, 100000u);  // many data blocks: the middle is data, not index or footer
  {
    std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    std::string bytes(64, '\0');
    f.seekg(static_cast<std::streamoff>(size / 2));
    f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    for (char& c : bytes) c = static_cast<char>(~c);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good());
  }
  auto opened = Db::open(small_options(dir.sub("db")));  // paranoid_checks is on
  if (!opened.ok()) {
    EXPECT_NE(opened.error().message.find(dir.sub("db")), std::string::npos);
    EXPECT_NE(opened.error().message.find("Corruption"), std::string::npos);
    return;
  }
  auto db = std::move(opened).value();
  std::vector<std::string> messages;
  int errors = read_back(*db, written, &messages);
  EXPECT_GT(errors, 0) << "flipped bytes in a data block went unnoticed";
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages[0].find("Corruption"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("'items'"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find(dir.sub("db")), std::string::npos) << messages[0];
  std::cout << "first corruption message: " << messages[0] << "\n";
  // The damage stays confined: keys in other blocks still read correctly, and the Db still writes.
  EXPECT_LT(errors, static_cast<int>(written.size()));
  Batch b = db->batch();
  b.put(Cf::vectors, "still", "writable");
  EXPECT_TRUE(db->commit(std::move(b)).ok());
}

TEST(Corruption, TruncatedSstIsAnErrorNotACrash) {
  TempDir dir;
  auto written = fill_and_flush(dir.sub("db"), 3000);
  fs::path sst = largest_sst(dir.sub("db"));
  ASSERT_FALSE(sst.empty());
  fs::resize_file(sst, fs::file_size(sst) / 2);
  auto opened = Db::open(small_options(dir.sub("db")));
  if (!opened.ok()) {
    std::cout << "open error: " << opened.error().message << "\n";
    EXPECT_NE(opened.error().message.find(dir.sub("db")), std::string::npos);
    EXPECT_TRUE(opened.code() == ErrorCode::data_loss || opened.code() == ErrorCode::unavailable)
        << opened.error().to_string();
    return;
  }
  std::vector<std::string> messages;
  EXPECT_GT(read_back(**opened, written, &messages), 0);
}

TEST(Corruption, GarbageCurrentFileFailsOpenClearly) {
  TempDir dir;
  fill_and_flush(dir.sub("db"), 10);
  { std::ofstream(dir.sub("db") + "/CURRENT", std::ios::trunc) << "no-such-manifest\n"; }
  auto opened = Db::open(small_options(dir.sub("db")));
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("cannot open RocksDB at '" + dir.sub("db") + "'"),
            std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace nca::storage
