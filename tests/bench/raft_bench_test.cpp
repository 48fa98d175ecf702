// `nca-bench raft` runs end to end with tiny sizes: it elects a leader, commits proposals at each
// concurrency and prints every key issue #6 asks for, with positive values (no timing is checked);
// bad arguments are refused with exit code 2 and nothing on stdout.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/bench/quiet_command.hpp"

#include <cstdio>
#include <string>

namespace {

using nca::testing::run_quiet;

TEST(RaftBench, PrintsEveryKeyWithPositiveValues) {
  int code = -1;
  std::string out = run_quiet(std::string(NCA_BIN_DIR) +
                                  "/nca-bench raft --proposers 1,4 --seconds 0.3 --commits 200 "
                                  "--value-bytes 64 --json",
                              &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  for (const char* key : {"commits_per_s", "commit_p50_us", "commit_p99_us",
                          "raw_rocksdb_sync_writes_per_s", "ratio_to_raw"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    ASSERT_TRUE(j[key].is_number()) << key << " = " << j[key];
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  EXPECT_GE(j["commit_p99_us"].get<double>(), j["commit_p50_us"].get<double>());
  EXPECT_EQ(j["headline_proposers"], 4);
  EXPECT_TRUE(j["target_met"].is_boolean());
  ASSERT_TRUE(j["by_proposers"].is_array());
  ASSERT_EQ(j["by_proposers"].size(), 2u);
  EXPECT_EQ(j["by_proposers"][0]["proposers"], 1);
  EXPECT_EQ(j["by_proposers"][1]["proposers"], 4);
  for (const auto& phase : j["by_proposers"]) {
    EXPECT_GT(phase["commits"].get<double>(), 0);
    EXPECT_LE(phase["commits"].get<double>(), 200);
    EXPECT_GT(phase["commits_per_s"].get<double>(), 0);
    EXPECT_GT(phase["commit_p50_us"].get<double>(), 0);
    EXPECT_GT(phase["raw_rocksdb_sync_writes_per_s"].get<double>(), 0);
    // Every commit needs at least one save on the leader and one on a follower.
    EXPECT_GT(phase["entries_per_leader_save"].get<double>(), 0);
    EXPECT_GT(phase["fsyncs_per_commit"].get<double>(), 0);
  }
}

TEST(RaftBench, RejectsBadArguments) {
  for (const char* args : {"--proposers 0", "--proposers 1,x", "--seconds 0", "--commits 0",
                           "--value-bytes 0", "--no-such-option"}) {
    int code = -1;
    std::string out = run_quiet(std::string(NCA_BIN_DIR) + "/nca-bench raft --json " + args, &code);
    EXPECT_EQ(code, 2) << args;
    EXPECT_TRUE(out.empty()) << args << ": " << out;  // nothing on stdout, the reason on stderr
  }
}

}  // namespace
