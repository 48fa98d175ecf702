// `nca-bench http` runs end to end at a tiny size and prints every key issue #5 asks for, with
// positive rates and latencies on both paths at every concurrency; bad options exit 2.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/shell_command.hpp"

#include <cstdio>
#include <string>

namespace {

std::string run_bench(const std::string& args, int* exit_code) {
  auto r = nca::testing::run_shell(std::string(NCA_BIN_DIR) + "/nca-bench http " + args +
                                   " 2>/dev/null");
  *exit_code = r.exit_code;
  return r.out;
}

TEST(HttpBenchSmoke, PrintsEveryKeyWithPositiveNumbers) {
  int code = -1;
  std::string out = run_bench(
      "--n 300 --dim 16 --queries 20 --concurrency 1,2 --headline 2 --seconds 0.3 --json", &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["benchmark"], "http");
  EXPECT_EQ(j["n"], 300);
  EXPECT_EQ(j["headline_concurrency"], 2);
  for (const char* key :
       {"http_recall_per_s", "http_recall_p50_us", "http_recall_p99_us", "sdk_recall_per_s",
        "sdk_recall_p50_us", "sdk_recall_p99_us", "http_remember_per_s", "http_remember_p99_us",
        "sdk_remember_per_s", "sdk_remember_p99_us", "http_over_sdk_recall_p99"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    ASSERT_TRUE(j[key].is_number()) << key << ": " << j[key].dump();
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  ASSERT_TRUE(j.contains("target_http_recall_p99_met"));
  EXPECT_TRUE(j["target_http_recall_p99_met"].is_boolean());
  ASSERT_TRUE(j["by_concurrency"].is_array());
  ASSERT_EQ(j["by_concurrency"].size(), 2u);
  for (const auto& e : j["by_concurrency"]) {
    for (const char* cell : {"http_recall", "sdk_recall", "http_remember", "sdk_remember"}) {
      ASSERT_TRUE(e.contains(cell)) << cell;
      EXPECT_GT(e[cell]["calls"].get<double>(), 0) << cell;
      EXPECT_GT(e[cell]["per_s"].get<double>(), 0) << cell;
      EXPECT_GE(e[cell]["p99_us"].get<double>(), e[cell]["p50_us"].get<double>()) << cell;
    }
  }
}

TEST(HttpBenchSmoke, BadOptionsExitTwo) {
  int code = -1;
  run_bench("--concurrency 0", &code);
  EXPECT_EQ(code, 2);
  run_bench("--concurrency 1,4 --headline 3", &code);
  EXPECT_EQ(code, 2);
  run_bench("--n 3", &code);
  EXPECT_EQ(code, 2);
}

}  // namespace
