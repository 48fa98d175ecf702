#include "runtime/request_ledger.hpp"

#include <algorithm>

#include "proto/neuroca.pb.h"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca {

RequestLedger::RequestLedger(const Clock& clock, std::string persona_prefix, size_t capacity,
                             TimeUs ttl_us)
    : clock_(clock), prefix_(std::move(persona_prefix)), capacity_(capacity), ttl_us_(ttl_us) {}

Result<size_t> RequestLedger::load(const storage::Db& db) {
  const std::string prefix = storage::request_prefix(prefix_);
  const TimeUs now = clock_.now_us();
  struct Loaded {
    TimeUs at;
    std::string id;
    Reply reply;
  };
  std::vector<Loaded> loaded;
  auto s = db.scan(storage::Cf::meta, prefix, [&](std::string_view key, std::string_view value) {
    std::string id(key.substr(prefix.size()));
    auto rec = storage::decode_record<pb::RequestRecord>(value, "request record");
    if (!rec || now - rec->at_us() >= ttl_us_) {
      to_delete_.push_back(std::move(id));
      return true;
    }
    loaded.push_back({rec->at_us(), std::move(id), Reply{rec->method(), rec->reply()}});
    return true;
  });
  std::sort(loaded.begin(), loaded.end(),
            [](const Loaded& a, const Loaded& b) { return a.at < b.at; });
  for (auto& l : loaded) insert(l.id, std::move(l.reply), l.at);
  if (!s) return s.error();
  return loaded.size();
}

std::optional<RequestLedger::Reply> RequestLedger::find(const std::string& request_id) {
  expire();
  auto it = map_.find(request_id);
  if (it == map_.end()) return std::nullopt;
  return it->second.reply;
}

void RequestLedger::stage(storage::Batch& batch, const std::string& request_id,
                          const Reply& reply) {
  expire();
  for (size_t n = 0; n < kDeletesPerStage && !to_delete_.empty(); ++n) {
    batch.del(storage::Cf::meta, storage::request_key(prefix_, to_delete_.back()));
    to_delete_.pop_back();
  }
  if (request_id.empty() || capacity_ == 0) return;
  const TimeUs now = clock_.now_us();
  pb::RequestRecord rec;
  rec.set_schema_version(1);
  rec.set_method(reply.method);
  rec.set_reply(reply.bytes);
  rec.set_at_us(now);
  batch.put_proto(storage::Cf::meta, storage::request_key(prefix_, request_id), rec);
  // Writes that never commit leave their entry here; forget them all rather than grow.
  if (staged_at_.size() >= capacity_) staged_at_.clear();
  staged_at_[request_id] = now;
}

void RequestLedger::remember(const std::string& request_id, Reply reply) {
  if (request_id.empty() || capacity_ == 0) return;
  auto staged = staged_at_.find(request_id);
  TimeUs at = clock_.now_us();
  if (staged != staged_at_.end()) {
    at = staged->second;
    staged_at_.erase(staged);
  }
  insert(request_id, std::move(reply), at);
  expire();
}

void RequestLedger::insert(const std::string& request_id, Reply reply, TimeUs at_us) {
  auto [it, inserted] = map_.try_emplace(request_id);
  it->second = Entry{std::move(reply), at_us};
  if (inserted) order_.emplace_back(at_us, request_id);
}

void RequestLedger::expire() {
  const TimeUs now = clock_.now_us();
  while (!order_.empty() && (map_.size() > capacity_ || now - order_.front().first >= ttl_us_)) {
    auto it = map_.find(order_.front().second);
    // A re-inserted id keeps its first place in the order; it goes when that place comes up.
    if (it != map_.end()) {
      map_.erase(it);
      to_delete_.push_back(std::move(order_.front().second));
    }
    order_.pop_front();
  }
}

}  // namespace nca
