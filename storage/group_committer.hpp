// storage/group_committer.hpp: one thread that writes queued batches in groups sharing one fsync.
//
// Contract: submit() queues a batch; the committer thread takes everything queued at once (a
// group), hands the group's non-empty batches, in submission order, to the WriteGroup function with
// sync=true if any entry of the group asked for durability, then runs every entry's callback with
// the group's status. So batches submitted while one group is being written share the next group's
// single fsync. A failed group fails every entry in it (a prefix of its batches may already be
// applied). Callbacks run on the committer thread, in submission order; they must be cheap and must
// not wait for another commit.
//
// Thread-safety: submit() and the counters may be called from any thread. Ownership: the committer
// owns its thread; the destructor (or stop()) writes everything already queued, runs its callbacks,
// then joins. A submit() after stop() fails at once with ErrorCode::unavailable, on the caller's
// thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "nca/result.hpp"
#include "storage/batch.hpp"

namespace nca::storage {

class GroupCommitter {
 public:
  // Writes `batches` in order; when `sync`, the group must be durable when it returns ok.
  using WriteGroup = std::function<Status(std::vector<Batch*>& batches, bool sync)>;
  using Done = std::function<void(Status)>;

  explicit GroupCommitter(WriteGroup write_group);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // `sync`: this batch must be durable before `done` runs (false for derived state).
  void submit(Batch batch, bool sync, Done done);

  // Drains the queue and joins the thread; idempotent. Must not be called from a callback.
  void stop();

  // True on the committer thread (inside a callback or the WriteGroup function).
  bool on_committer_thread() const {
    return std::this_thread::get_id() == committer_id_.load(std::memory_order_acquire);
  }

  uint64_t sync_count() const { return syncs_.load(std::memory_order_acquire); }
  // Entries (batches) whose group succeeded.
  uint64_t commit_count() const { return commits_.load(std::memory_order_acquire); }
  uint64_t group_count() const { return groups_.load(std::memory_order_acquire); }

 private:
  struct Entry {
    Batch batch;
    bool sync;
    Done done;
  };

  void run();

  WriteGroup write_group_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Entry> queue_;  // guarded by mutex_
  bool stopping_ = false;     // guarded by mutex_
  std::mutex stop_mutex_;     // serializes stop() callers around join
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> groups_{0};
  std::atomic<std::thread::id> committer_id_{};
  std::thread thread_;  // last: starts after every other member exists
};

}  // namespace nca::storage
