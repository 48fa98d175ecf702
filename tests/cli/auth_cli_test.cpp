// `nca auth create-key` and `nca auth token` as an operator uses them, against `nca-node` with auth
// on: keys and tokens work through `--token`, roles hold, and refusals exit with code 7.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/cli/run_nca.hpp"
#include "tests/integration/process.hpp"

namespace nca {
namespace {

using test_support::run_nca;
using test_support::RunResult;

class AuthCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nca-cli-auth-XXXXXX";
    const char* made = mkdtemp(pattern);
    ASSERT_NE(made, nullptr);
    dir_ = made;
    std::ofstream(dir_ + "/jwt-secret") << "a-jwt-secret-for-the-cli-test-0123456789\n";
  }
  void TearDown() override {
    node_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string create_key(const std::string& tenant, const std::string& role) {
    RunResult r = run_nca({"--json", "auth", "create-key", "--for-tenant", tenant, "--role", role,
                           "--keys-file", dir_ + "/keys", "--note", "made by the test"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j["key"].get<std::string>() : "";
  }

  void start_node() {
    node_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{std::string(NCA_BIN_DIR) + "/nca-node", "--dev", "--node.listen",
                                 "127.0.0.1:0", "--memory.dim", "64", "--auth.enabled", "true",
                                 "--auth.api-keys-file", dir_ + "/keys", "--auth.jwt-secret",
                                 "a-jwt-secret-for-the-cli-test-0123456789"},
        dir_, dir_ + "/node.log");
    auto port = node_->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(30));
    ASSERT_TRUE(port.has_value()) << "nca-node did not start; see " << dir_ << "/node.log";
    address_ = "127.0.0.1:" + *port;
  }

  RunResult nca(const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), "--addr=" + address_);
    if (!token.empty()) args.insert(args.begin(), "--token=" + token);
    return run_nca(args);
  }

  std::string dir_;
  std::string address_;
  std::unique_ptr<testing::ChildProcess> node_;
};

TEST_F(AuthCliTest, KeysAndTokensFromTheCliOpenTheirTenantOnly) {
  std::string writer = create_key("acme", "writer");
  std::string admin = create_key("*", "admin");
  ASSERT_FALSE(writer.empty());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the keys file is private";
  std::ifstream keys(dir_ + "/keys");
  std::string text((std::istreambuf_iterator<char>(keys)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(writer.substr(17)), std::string::npos) << "the file holds no secret";
  start_node();

  RunResult anonymous = nca("", {"persona", "list"});
  EXPECT_EQ(anonymous.exit_code, 7) << anonymous.err;
  EXPECT_NE(anonymous.err.find("unauthenticated"), std::string::npos) << anonymous.err;

  RunResult created = nca(writer, {"persona", "create", "ada"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  RunResult remembered = nca(writer, {"remember", "--persona", "ada", "Ada", "prefers", "tea"});
  ASSERT_EQ(remembered.exit_code, 0) << remembered.err;

  RunResult token = run_nca({"auth", "token", "--for-tenant", "acme", "--role", "reader", "--ttl",
                             "5m", "--subject", "cli-test", "--secret-file", dir_ + "/jwt-secret"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string jwt = token.out.substr(0, token.out.find('\n'));
  RunResult read = nca(jwt, {"recall", "--persona", "ada", "tea"});
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_NE(read.out.find("tea"), std::string::npos) << read.out;
  RunResult write = nca(jwt, {"remember", "--persona", "ada", "coffee"});
  EXPECT_EQ(write.exit_code, 7) << write.err;
  EXPECT_NE(write.err.find("permission_denied: role reader may not send remember requests"),
            std::string::npos)
      << write.err;

  RunResult other = nca(writer, {"--tenant", "globex", "persona", "list"});
  EXPECT_EQ(other.exit_code, 7) << other.err;
  RunResult status = nca(writer, {"cluster", "status"});
  EXPECT_EQ(status.exit_code, 7) << "node-wide views need an admin: " << status.err;
  RunResult admin_status = nca(admin, {"cluster", "status"});
  EXPECT_EQ(admin_status.exit_code, 0) << admin_status.err;

  std::ifstream log(dir_ + "/node.log");
  std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(log_text.find("NO AUTHENTICATION"), std::string::npos);
  EXPECT_EQ(log_text.find(writer), std::string::npos) << "no credential in the log";
}

TEST_F(AuthCliTest, BadAuthInputIsAUsageErrorAndMakesNothing) {
  RunResult no_tenant = run_nca({"auth", "create-key", "--keys-file", dir_ + "/keys"});
  EXPECT_EQ(no_tenant.exit_code, 2);
  EXPECT_NE(no_tenant.err.find("missing --for-tenant"), std::string::npos) << no_tenant.err;
  RunResult bad_role = run_nca({"auth", "create-key", "--for-tenant", "acme", "--role", "root",
                                "--keys-file", dir_ + "/keys"});
  EXPECT_EQ(bad_role.exit_code, 2) << bad_role.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/keys"));
  RunResult no_secret = run_nca({"auth", "token", "--for-tenant", "acme"});
  EXPECT_NE(no_secret.exit_code, 0);
  EXPECT_NE(no_secret.err.find("no JWT secret"), std::string::npos) << no_secret.err;
  std::ofstream(dir_ + "/short") << "short";
  RunResult short_secret =
      run_nca({"auth", "token", "--for-tenant", "acme", "--secret-file", dir_ + "/short"});
  EXPECT_NE(short_secret.err.find("shorter than 32 bytes"), std::string::npos) << short_secret.err;
}

}  // namespace
}  // namespace nca
