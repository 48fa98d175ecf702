// runtime/request_ledger.hpp: the replies to one persona's recent writes, by request id, so a
// retried write (same request id: the client lost the reply, or its node failed over) gets the
// first reply instead of being applied again.
//
// Contract.
//   * Each reply is kept in memory and stored under the persona (storage::request_key, a
//     pb::RequestRecord in `meta`). The record goes into the write's own batch (stage()), so it is
//     durable, and in a cluster replicated through the shard's log, exactly when the write is: the
//     persona's next activation, on this node or on the shard's next leader, loads the records
//     (load()) and answers retries from them.
//   * Entries live `ttl_us` after they were planned and at most `capacity` are kept (the oldest go
//     first). An entry that leaves memory also leaves storage: its delete rides along with a later
//     stage() (a few per write, so no batch grows without bound). A batch that does not commit
//     drops those deletes; the next activation's load() finds the records expired and deletes them
//     then.
//   * remember() happens after the write committed: a write that failed must not answer its retry
//     with success.
//
// Not thread-safe: one owner (the persona actor). The clock is not owned and must outlive it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nca/result.hpp"
#include "runtime/clock.hpp"
#include "storage/batch.hpp"
#include "storage/db.hpp"

namespace nca {

class RequestLedger {
 public:
  struct Reply {
    uint32_t method = 0;
    std::string bytes;  // the serialized Response
  };

  RequestLedger(const Clock& clock, std::string persona_prefix, size_t capacity, TimeUs ttl_us);

  // Loads the persona's stored records; expired and damaged ones are queued for deletion. Returns
  // how many were loaded, or the scan's error (then the ledger holds what it read before it).
  Result<size_t> load(const storage::Db& db);

  std::optional<Reply> find(const std::string& request_id);

  // Adds the record of `request_id`'s reply to `batch`, planned now, plus the deletes of up to
  // kDeletesPerStage records that have left memory. An empty request id stages only the deletes.
  void stage(storage::Batch& batch, const std::string& request_id, const Reply& reply);
  // The write that stage() went into committed: its reply answers retries from now on.
  void remember(const std::string& request_id, Reply reply);

  size_t size() const { return map_.size(); }
  size_t pending_deletes() const { return to_delete_.size(); }

  static constexpr size_t kDeletesPerStage = 16;

 private:
  struct Entry {
    Reply reply;
    TimeUs at_us = 0;
  };

  void insert(const std::string& request_id, Reply reply, TimeUs at_us);
  void expire();

  const Clock& clock_;
  std::string prefix_;
  size_t capacity_;
  TimeUs ttl_us_;
  std::unordered_map<std::string, Entry> map_;
  std::deque<std::pair<TimeUs, std::string>> order_;   // oldest first
  std::vector<std::string> to_delete_;                 // stored records no longer in memory
  std::unordered_map<std::string, TimeUs> staged_at_;  // planned, not committed yet
};

}  // namespace nca
