// Smoke tests of examples/: each example runs as a user would run it, against a real
// `nca-node --dev` started here on OS-chosen ports, and must exit 0 (the examples check their own
// results). Each run has a time limit, so a hung example fails instead of stalling CI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <regex>
#include <string>

#include "tests/examples/example_process.hpp"

namespace nca {
namespace {

using examples_test::ChildProcess;
using examples_test::run_with_limit;
using examples_test::RunResult;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBin = NCA_BIN_DIR;
const std::string kSource = NCA_SOURCE_DIR;
constexpr seconds kExampleLimit{90};

std::string describe(const RunResult& r) {
  return (r.timed_out ? "killed after the time limit" : "exit " + std::to_string(r.exit_code)) +
         "; output:\n" + r.output;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nca-examples-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (node_ != nullptr) {
      auto status = node_->signal_and_wait(SIGTERM, seconds(30));
      EXPECT_TRUE(status.has_value()) << "nca-node did not stop on SIGTERM";
      node_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  // `nca-node --dev` in the temp dir (data in ./data there), SDK and HTTP ports chosen by the OS.
  void start_node() {
    ASSERT_TRUE(std::filesystem::exists(kBin + "/nca-node")) << "build nca-node first";
    node_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBin + "/nca-node", "--dev", "--node.listen", "127.0.0.1:0",
                                 "--http.listen", "127.0.0.1:0", "--memory.dim", "64"},
        dir_, dir_ + "/node.log");
    ASSERT_TRUE(node_->started());
    auto port =
        node_->wait_for_line(std::regex(R"(^nca-node listening on .*\(port (\d+)\))"), seconds(30));
    ASSERT_TRUE(port.has_value()) << "nca-node did not start; its output:\n"
                                  << node_->output() << "see " << dir_ << "/node.log";
    addr_ = "127.0.0.1:" + *port;
  }

  // The example binary; fails the test with what to do when it was not built.
  std::string example(const std::string& name) {
    std::string path = kBin + "/" + name;
    EXPECT_TRUE(std::filesystem::exists(path))
        << path << " is missing: the examples are built by examples/CMakeLists.txt "
        << "(add_subdirectory(examples) in the top-level CMakeLists.txt)";
    return path;
  }

  std::string dir_;
  std::string addr_;
  std::unique_ptr<ChildProcess> node_;
};

TEST_F(ExamplesTest, ChatAgentRemembersEveryTurnAndRecallsEarlierFacts) {
  start_node();
  RunResult run = run_with_limit({example("chat_agent"), "--addr", addr_}, kExampleLimit);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_NE(run.output.find("chat_agent: OK"), std::string::npos) << run.output;
  EXPECT_EQ(count_of(run.output, "check ok: recall returned the earlier fact"), 3u) << run.output;
  EXPECT_NE(run.output.find("12 turns stored in 2 sessions; 0 failed checks"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("--- prompt ---"), std::string::npos) << "prints each prompt";

  // Turns have fixed ids: a second run against the same node stores nothing new and still passes.
  RunResult again = run_with_limit({example("chat_agent"), "--addr", addr_}, kExampleLimit);
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(count_of(again.output, "(already stored by an earlier run)"), 12u) << again.output;
}

TEST_F(ExamplesTest, PersonaRouterHandsEveryEventToASkilledPersona) {
  start_node();
  RunResult run = run_with_limit({example("persona_router"), "--addr", addr_, "--timeout", "60"},
                                 kExampleLimit);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_NE(run.output.find("persona_router: OK, all 8 events acked"), std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("CHECK FAILED"), std::string::npos) << run.output;
  for (const char* persona : {"billing-bot", "shipping-bot", "tech-bot"}) {
    EXPECT_EQ(run.output.find(std::string(persona) + " handled 0 events"), std::string::npos)
        << persona << " got work:\n"
        << run.output;
  }
}

// The exit status is what CI relies on: it must not be 0 when the example could not do its work.
TEST_F(ExamplesTest, ExamplesFailWithoutANodeAndOnBadArguments) {
  // A port nothing listens on: bind one, then close it.
  start_node();
  auto stopped = node_->signal_and_wait(SIGTERM, seconds(30));
  ASSERT_TRUE(stopped.has_value());
  node_.reset();
  for (const char* name : {"chat_agent", "persona_router"}) {
    RunResult run = run_with_limit({example(name), "--addr", addr_}, kExampleLimit);
    EXPECT_EQ(run.exit_code, 1) << name << ": " << describe(run);
    EXPECT_NE(run.output.find("cannot reach"), std::string::npos) << run.output;
    RunResult bad = run_with_limit({example(name), "--no-such-flag"}, kExampleLimit);
    EXPECT_EQ(bad.exit_code, 2) << name << ": " << describe(bad);
  }
  RunResult python = run_with_limit(
      {"python3", kSource + "/examples/python_http_client.py", "--url", "http://" + addr_},
      kExampleLimit);
  EXPECT_EQ(python.exit_code, 1) << describe(python);
  EXPECT_NE(python.output.find("cannot talk to"), std::string::npos) << python.output;
}

TEST_F(ExamplesTest, PythonStandardLibraryClientOverHttp) {
  start_node();
  // The node prints its HTTP gateway's port after the SDK port.
  auto http_port =
      node_->wait_for_line(std::regex(R"(^nca-node http on .*\(http port (\d+)\))"), seconds(30));
  ASSERT_TRUE(http_port.has_value()) << "nca-node printed no HTTP port line; its output:\n"
                                     << node_->output();
  RunResult run = run_with_limit({"python3", kSource + "/examples/python_http_client.py", "--url",
                                  "http://127.0.0.1:" + *http_port},
                                 kExampleLimit);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_NE(run.output.find("python_http_client: OK"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("CHECK FAILED"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace nca
