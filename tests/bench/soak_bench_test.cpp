// `nca-bench soak` briefly in CI: three nca-node processes under mixed load, SIGKILLed and
// restarted twice; every acknowledged write must read back (lost 0, corrupt 0). The 10-minute run
// is reported in docs/benchmarks.md. Bad arguments are refused with exit code 2.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/shell_command.hpp"

namespace {

// The benchmark's log goes to `log` (a file), kept for a failure's message: a sanitizer's report
// is printed there.
nca::testing::CommandResult soak(const std::string& args, const std::string& log = "/dev/null") {
  return nca::testing::run_shell(std::string(NCA_BIN_DIR) + "/nca-bench soak --json " + args +
                                 " 2>" + log);
}

std::string tail_of(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

TEST(SoakBench, LosesNoAcknowledgedWriteAcrossKills) {
  const std::string log = ::testing::TempDir() + "soak_bench_test.log";
  auto r = soak("--minutes 0.3 --kill-every 7 --callers 3 --shards 8", log);
  ASSERT_EQ(r.exit_code, 0) << r.out << "\nthe benchmark's log ends:\n" << tail_of(log, 8000);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  std::cout << "[ soak     ] seed " << j["seed"] << ", " << j["kills"] << " kills, "
            << j["remembers_acknowledged"] << " writes acknowledged, " << j["index_rebuilds"]
            << " index rebuilds" << std::endl;
  EXPECT_TRUE(j["index_rebuilds"].is_number_unsigned()) << r.out;
  EXPECT_GE(j["kills"].get<int>(), 2);
  EXPECT_GT(j["remembers_acknowledged"].get<int>(), 0);
  EXPECT_EQ(j["verified"], j["remembers_acknowledged"]);
  EXPECT_EQ(j["lost"], 0) << j["lost_examples"];
  EXPECT_EQ(j["corrupt"], 0);
  EXPECT_EQ(j["get_mismatches"], 0);
}

TEST(SoakBench, RejectsBadArguments) {
  for (const char* args : {"--nodes 2", "--minutes 0", "--kill-every 0.5", "--no-such-option"}) {
    auto r = soak(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_TRUE(r.out.empty()) << args << ": " << r.out;
  }
}

}  // namespace
