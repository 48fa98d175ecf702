#include "storage/shard_snapshot.hpp"

#include <array>
#include <vector>

#include "proto/neuroca.pb.h"
#include "storage/crc32.hpp"
#include "storage/encoding.hpp"
#include "storage/keys.hpp"
#include "storage/raft_log_store.hpp"
#include "storage/records.hpp"
#include "storage/replicated_apply.hpp"

namespace nca::storage {
namespace {

constexpr std::string_view kMagic = "NCSS";
constexpr char kVersion = 1;
constexpr std::array<Cf, 8> kReplicated = {Cf::items,   Cf::vectors, Cf::links, Cf::personas,
                                           Cf::history, Cf::archive, Cf::meta,  Cf::events};

bool replicated(uint8_t cf) {
  for (Cf c : kReplicated) {
    if (static_cast<uint8_t>(c) == cf) return true;
  }
  return false;
}

void put_record(std::string& out, Cf cf, std::string_view key, std::string_view value) {
  out.push_back(static_cast<char>(cf));
  put_varint(out, key.size());
  out.append(key);
  put_varint(out, value.size());
  out.append(value);
}

std::string locators_prefix() {
  std::string p = locator_key("", "");
  p.pop_back();  // the tenant's '\0'
  return p;
}

// The tenant of a locator key ("" when it does not parse).
std::string_view tenant_of_locator(std::string_view key, size_t prefix_size) {
  key.remove_prefix(prefix_size);
  auto end = key.find('\0');
  return end == std::string_view::npos ? std::string_view{} : key.substr(0, end);
}

// Visits the locators of the shard's personas.
Status for_each_locator(const Db& db, uint32_t shard, uint32_t shards,
                        const std::function<void(std::string_view, std::string_view)>& visit,
                        const rocksdb::Snapshot* at = nullptr) {
  const std::string prefix = locators_prefix();
  return db.scan(
      Cf::meta, prefix,
      [&](std::string_view key, std::string_view value) {
        auto loc = decode_record<pb::ItemLocator>(value, "locator");
        std::string_view tenant = tenant_of_locator(key, prefix.size());
        // A corrupt locator goes with no shard: its item is reached through the persona hint.
        if (loc && shard_of(tenant, loc->persona_id(), shards) == shard) visit(key, value);
        return true;
      },
      {}, at);
}

}  // namespace

Result<std::string> dump_shard(const Db& db, uint32_t shard, uint32_t shards,
                               const rocksdb::Snapshot* at) {
  std::string out(kMagic);
  out.push_back(kVersion);
  const std::string prefix = shard_prefix(shard);
  for (Cf cf : kReplicated) {
    auto s = db.scan(
        cf, prefix,
        [&](std::string_view key, std::string_view value) {
          put_record(out, cf, key, value);
          return true;
        },
        {}, at);
    if (!s) return s.error();
  }
  auto s = for_each_locator(
      db, shard, shards,
      [&](std::string_view key, std::string_view value) { put_record(out, Cf::meta, key, value); },
      at);
  if (!s) return s.error();
  uint32_t crc = crc32c_extend(0, out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return out;
}

// Adds to `batch` the deletion of every record of the shard and its personas' locators.
static Status clear_shard(const Db& db, uint32_t shard, uint32_t shards, Batch& batch) {
  const std::string begin = shard_prefix(shard);
  const std::string end = shard_prefix(shard + 1);
  for (Cf cf : kReplicated) batch.delete_range(cf, begin, end);
  return for_each_locator(
      db, shard, shards, [&](std::string_view key, std::string_view) { batch.del(Cf::meta, key); });
}

Status drop_shard(Db& db, uint32_t shard, uint32_t shards) {
  Batch batch = db.batch();
  if (auto s = clear_shard(db, shard, shards, batch); !s) return s.error();
  return db.commit(std::move(batch));
}

Result<std::vector<ShardRecord>> parse_shard(std::string_view blob, uint32_t shard,
                                             const std::string& what) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::invalid_argument, what + " is damaged: " + why);
  };
  if (blob.size() < kMagic.size() + 1 + 4 || blob.substr(0, kMagic.size()) != kMagic) {
    return bad("no header");
  }
  if (blob[kMagic.size()] != kVersion) return bad("unknown version");
  std::string_view body = blob.substr(0, blob.size() - 4);
  uint32_t crc = 0;
  for (int i = 0; i < 4; ++i) {
    crc |= uint32_t{static_cast<uint8_t>(blob[blob.size() - 4 + static_cast<size_t>(i)])}
           << (8 * i);
  }
  if (crc32c_extend(0, body) != crc) return bad("checksum mismatch");
  body.remove_prefix(kMagic.size() + 1);

  const std::string begin = shard_prefix(shard);
  const std::string end = shard_prefix(shard + 1);
  const std::string locators = locators_prefix();
  std::vector<ShardRecord> records;
  while (!body.empty()) {
    auto cf = static_cast<uint8_t>(body[0]);
    body.remove_prefix(1);
    uint64_t n = 0;
    if (!replicated(cf)) return bad("a record of column family " + std::to_string(cf));
    if (!get_varint(body, &n) || n > body.size()) return bad("a truncated key");
    std::string_view key = body.substr(0, n);
    body.remove_prefix(n);
    if (!get_varint(body, &n) || n > body.size()) return bad("a truncated value");
    std::string_view value = body.substr(0, n);
    body.remove_prefix(n);
    const bool in_shard = key >= begin && key < end;
    const bool locator =
        static_cast<Cf>(cf) == Cf::meta && key.substr(0, locators.size()) == locators;
    if (!in_shard && !locator) return bad("a key outside the shard");
    records.push_back({static_cast<Cf>(cf), key, value});
  }
  return records;
}

Result<PinnedShard> pin_shard(const Db& db, uint32_t shard, uint32_t shards, uint64_t group) {
  Db::View view = db.read_view();
  auto applied = applied_index(db, group, view.get());
  if (!applied) return applied.error();
  PinnedShard out;
  out.applied_index = *applied;
  out.dump = [&db, shard, shards, view] { return dump_shard(db, shard, shards, view.get()); };
  return out;
}

Result<ShardCheckpoint> checkpoint_shard(const Db& db, uint32_t shard, uint32_t shards,
                                         uint64_t group) {
  auto pinned = pin_shard(db, shard, shards, group);
  if (!pinned) return pinned.error();
  auto blob = pinned->dump();
  if (!blob) return blob.error();
  return ShardCheckpoint{std::move(*blob), pinned->applied_index};
}

Result<bool> shard_is_empty(const Db& db, uint32_t shard) {
  bool empty = true;
  for (Cf cf : {Cf::personas, Cf::items}) {
    auto s = db.scan(cf, shard_prefix(shard), [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    });
    if (!s) return s.error();
  }
  return empty;
}

Result<Batch> restore_shard_batch(Db& db, uint32_t shard, uint32_t shards, uint64_t group,
                                  uint64_t index, std::string_view blob) {
  const std::string what =
      "snapshot of shard " + std::to_string(shard) + " at index " + std::to_string(index);
  auto records = parse_shard(blob, shard, what);
  if (!records) return records.error();
  Batch batch = db.batch();
  if (auto s = clear_shard(db, shard, shards, batch); !s) return s.error();
  for (const auto& r : *records) batch.put(r.cf, r.key, r.value);
  batch.put(Cf::raft_state, raft_applied_key(group), applied_index_value(index));
  return batch;
}

Status restore_shard(Db& db, uint32_t shard, uint32_t shards, uint64_t group, uint64_t index,
                     std::string_view blob) {
  auto batch = restore_shard_batch(db, shard, shards, group, index, blob);
  if (!batch) return batch.error();
  return db.commit(std::move(*batch));
}

}  // namespace nca::storage
