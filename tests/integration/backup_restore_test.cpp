// nca backup under write load, nca restore into a fresh cluster (real nca-node processes): every
// write acknowledged before the backup began reads back from the new cluster with its content,
// and so does an event published before it. A second restore is refused and changes nothing; a
// damaged backup is refused before anything is sent.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nca/client.hpp"
#include "tests/integration/local_cluster_util.hpp"

namespace nca {
namespace {

using testing::Json;
using testing::LocalCluster;
using testing::poll;
using Clock = std::chrono::steady_clock;

using testing::kFaultTestArgs;

struct Write {
  std::string persona, id, content;
  Clock::time_point acked;
};

// Two writers remembering with client ids over six personas until stopped.
class BackupWriters {
 public:
  explicit BackupWriters(LocalCluster& c) {
    for (int t = 0; t < 2; ++t) {
      threads_.emplace_back([this, &c, t] {
        auto client = Client::connect({c.address(1 + t), c.address(2 + t), c.address(3 - t)});
        if (!client) return;
        for (int n = 0; !stop_.load() && n < 100000; ++n) {
          Write w{"p" + std::to_string(n % 6),
                  "w" + std::to_string(t) + "-" + std::to_string(n),
                  "writer " + std::to_string(t) + " wrote fact " + std::to_string(n),
                  {}};
          pb::MemoryInput m;
          m.set_id(w.id);
          m.set_content(w.content);
          if ((*client)->remember(w.persona, m)) {
            w.acked = Clock::now();
            std::lock_guard<std::mutex> lock(mu_);
            acked_.push_back(w);
          }
        }
      });
    }
  }
  ~BackupWriters() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::vector<Write> acked_before(Clock::time_point t) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Write> out;
    for (const auto& w : acked_) {
      if (w.acked < t) out.push_back(w);
    }
    return out;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Write> acked_;
  std::vector<std::thread> threads_;
};

TEST(BackupRestore, ABackupUnderLoadRestoresEveryEarlierWriteIntoAFreshCluster) {
  LocalCluster source("backup-source", kFaultTestArgs);
  ASSERT_EQ(source.run("3").exit_code, 0);
  ASSERT_TRUE(
      poll([&] { return !testing::shard_leaders(source, 1).empty(); }, std::chrono::seconds(30)));
  std::string event_id;
  {
    auto client = Client::connect({source.address(1)});
    ASSERT_TRUE(client.ok());
    pb::Persona ada;
    ada.set_id("ada");
    (*ada.mutable_skills())["ops"] = 1;
    // Creating a persona asks the node serving the tenant's events for room
    // (limits.personas-per-tenant): right after the start that node may still be taking over.
    ASSERT_TRUE(
        poll([&] { return (*client)->create_persona(ada).ok(); }, std::chrono::seconds(30)));
    pb::EventInput e;
    e.set_topic("ops.page");
    e.set_target_persona("ada");
    auto published = (*client)->publish(e);
    ASSERT_TRUE(published.ok()) << published.error().message;
    event_id = published->events(0).id();
  }

  BackupWriters writers(source);
  ASSERT_TRUE(poll([&] { return writers.count() >= 200; }, std::chrono::seconds(60)));
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("nca-backup-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  const auto began = Clock::now();
  auto backup = source.cli(1, "--timeout 60s backup --out " + dir);
  const auto backup_ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  const size_t during = writers.count();
  writers.stop();
  const std::vector<Write> before = writers.acked_before(began);
  ASSERT_GE(before.size(), 200u);
  EXPECT_GT(writers.count(), before.size()) << "the writers kept writing during the backup";
  ASSERT_TRUE(std::filesystem::exists(dir + "/manifest.json"));

  LocalCluster target("backup-target", kFaultTestArgs);
  ASSERT_EQ(target.run("3").exit_code, 0);
  ASSERT_TRUE(
      poll([&] { return !testing::shard_leaders(target, 1).empty(); }, std::chrono::seconds(30)));
  const auto restore_began = Clock::now();
  auto restored = target.cli(2, "--timeout 60s restore --from " + dir);
  const auto restore_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - restore_began).count();
  ASSERT_EQ(restored.exit_code, 0) << restored.out;

  auto reader = Client::connect({target.address(3), target.address(1), target.address(2)});
  ASSERT_TRUE(reader.ok());
  size_t found = 0;
  std::vector<std::string> missing;
  for (const Write& w : before) {
    Result<pb::ItemReply> got = make_error(ErrorCode::unavailable, "not asked");
    for (int attempt = 0; attempt < 20; ++attempt) {  // a transient refusal is asked again
      got = (*reader)->get(w.id, w.persona);
      if (got || got.code() != ErrorCode::unavailable) break;
    }
    if (got && got->item().content() == w.content) {
      ++found;
    } else if (missing.size() < 5) {
      missing.push_back(w.id + ": " + (got ? "content differs" : got.error().message));
    }
  }
  EXPECT_EQ(found, before.size()) << "first missing: " << (missing.empty() ? "" : missing[0]);
  auto ada = (*reader)->get_persona("ada");
  ASSERT_TRUE(ada.ok()) << ada.error().message;
  EXPECT_EQ(ada->persona().skills().at("ops"), 1);
  auto event = (*reader)->event_status(event_id);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->event().topic(), "ops.page");
  auto recalled = (*reader)->recall("p1", "fact", 5);
  ASSERT_TRUE(recalled.ok()) << recalled.error().message;
  EXPECT_GT(recalled->hits_size(), 0) << "restored memories are searchable";

  std::cout << "[ backup   ] " << before.size() << " writes acknowledged before the backup began, "
            << during - before.size() << " more during it (" << backup_ms << " ms); restore "
            << restore_ms << " ms; " << found << " read back from the new cluster" << std::endl;

  // Restoring twice is refused: the shards are no longer empty.
  auto again = target.cli(1, "restore --from " + dir);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.out.find("already holds personas or memories"), std::string::npos) << again.out;

  // A damaged backup is refused before anything is sent.
  {
    std::fstream f(dir + "/shard-0001.ncss", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(6);
    f.put('\x7f');
  }
  LocalCluster third("backup-third", kFaultTestArgs);
  ASSERT_EQ(third.run("3").exit_code, 0);
  auto damaged = third.cli(1, "restore --from " + dir);
  EXPECT_NE(damaged.exit_code, 0);
  EXPECT_NE(damaged.out.find("does not match its SHA-256"), std::string::npos) << damaged.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nca
