// tests/storage/storage_test_util.hpp: helpers shared by the storage tests.
//
// TempDir owns a fresh directory under the system temp dir and removes it on destruction. Latch is
// a one-shot gate for deterministic hand-offs between threads, always waited on with a deadline.
// open_db opens a small Db (8 MiB block cache, 4 MiB memtables) at a path, failing the test if it
// cannot.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include "storage/db.hpp"

namespace nca::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nca-storage-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class Latch {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  // True when opened before the deadline.
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return open_; });
  }
  bool is_open() {
    std::lock_guard<std::mutex> lock(mutex_);
    return open_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

inline std::unique_ptr<Db> open_db(const std::string& path, bool sync = true) {
  Db::Options options;
  options.path = path;
  options.sync = sync;
  options.block_cache_bytes = 8 << 20;
  options.write_buffer_bytes = 4 << 20;
  auto db = Db::open(options);
  if (!db.ok()) {
    ADD_FAILURE() << db.error().to_string();
    return nullptr;
  }
  return std::move(db).value();
}

}  // namespace nca::storage::testing
