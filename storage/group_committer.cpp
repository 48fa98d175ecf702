#include "storage/group_committer.hpp"

#include <utility>

namespace nca::storage {

GroupCommitter::GroupCommitter(WriteGroup write_group)
    : write_group_(std::move(write_group)), thread_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::submit(Batch batch, bool sync, Done done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      queue_.push_back(Entry{std::move(batch), sync, std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  if (done)
    done(make_error(ErrorCode::unavailable, "storage is shutting down; the write was not applied"));
}

void GroupCommitter::stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void GroupCommitter::run() {
  committer_id_.store(std::this_thread::get_id(), std::memory_order_release);
  std::vector<Entry> group;
  std::vector<Batch*> batches;
  for (;;) {
    group.clear();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      group.swap(queue_);
    }
    batches.clear();
    bool sync = false;
    for (Entry& entry : group) {
      sync = sync || entry.sync;
      if (!entry.batch.empty()) batches.push_back(&entry.batch);
    }
    Status status;
    // An all-empty group has nothing to make durable: no write, no fsync.
    if (!batches.empty()) {
      status = write_group_(batches, sync);
      groups_.fetch_add(1, std::memory_order_acq_rel);
      if (sync) syncs_.fetch_add(1, std::memory_order_acq_rel);
    }
    if (status.ok()) commits_.fetch_add(group.size(), std::memory_order_acq_rel);
    for (Entry& entry : group) {
      if (entry.done) entry.done(status);
    }
  }
}

}  // namespace nca::storage
