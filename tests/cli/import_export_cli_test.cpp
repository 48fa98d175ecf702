// Tests of `nca import` and `nca export`: the requests import builds (against FakeNode), usage
// errors, and end to end through `nca-node --dev`: a round trip through another tenant, re-runs
// that import nothing, bad lines named by number, paging, files, and the progress bar on a
// terminal.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/run_nca.hpp"
#include "tests/integration/process.hpp"
#include "tests/sdk/fake_node.hpp"

namespace nca {
namespace {

using test_support::addr;
using test_support::FakeNode;
using test_support::run_nca;
using test_support::RunResult;
using test_support::Terminal;

// A directory of its own under /tmp, removed at the end.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/nca-cli-transfer-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// A RememberBatchReply of `count` new memories, as the fake node's answer to one batch.
pb::Response batch_reply(int count) {
  pb::Response response;
  for (int i = 0; i < count; ++i)
    response.mutable_remember_batch()->add_results()->set_created(true);
  return response;
}

// --- against FakeNode: what import sends -------------------------------------------------------

TEST(CliImport, BatchesPerPersonaAndParsesEveryField) {
  FakeNode node;
  // ada's lines 1-2 fill a batch of 2; bob's 3 + 5 the next; then ada's 4 + 6; ada's 7 alone at
  // the end.
  for (int count : {2, 2, 2, 1}) node.queue_reply(pb::Request::kRememberBatch, batch_reply(count));
  TempDir dir;
  std::string file = dir.write(
      "in.jsonl",
      R"({"persona_id":"ada","id":"m-1","content":"Ada is allergic to peanuts","importance":0.8,)"
      R"("tags":["health","food"],"metadata":{"source":"chat","lang":"en"},"session_id":"s-1",)"
      R"("tier":"ltm","created_at_us":"1718008200000000"})"
      "\n"
      R"({"persona_id":"ada","content":"Ada likes green","embedding":[0.6,0.8],"createdAtUs":5})"
      "\r\n"
      R"({"persona_id":"bob","content":"Bob plays chess"})"
      "\n\n   \n"
      R"({"persona_id":"ada","content":"four","tier":"MTM"})"
      "\n"
      R"({"persona_id":"bob","content":"five","importance":0})"
      "\n"
      R"({"persona_id":"ada","content":"six"})"
      "\n"
      R"({"persona_id":"ada","content":"seven"})");
  RunResult result = run_nca({addr(node), "import", "--batch", "2", file});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "imported 7, skipped 0 (already there), failed 0 of 7 lines\n");
  EXPECT_EQ(result.err, "") << "no progress bar when stderr is not a terminal";

  std::vector<pb::Request> calls = node.requests_of(pb::Request::kRememberBatch);
  ASSERT_EQ(calls.size(), 4u);
  std::vector<std::pair<std::string, std::vector<std::string>>> sent;
  for (const pb::Request& call : calls) {
    std::vector<std::string> contents;
    for (const pb::MemoryInput& memory : call.remember_batch().memories()) {
      contents.push_back(memory.content());
    }
    sent.emplace_back(call.remember_batch().persona_id(), contents);
  }
  using Sent = std::vector<std::pair<std::string, std::vector<std::string>>>;
  EXPECT_EQ(sent, (Sent{{"ada", {"Ada is allergic to peanuts", "Ada likes green"}},
                        {"bob", {"Bob plays chess", "five"}},
                        {"ada", {"four", "six"}},
                        {"ada", {"seven"}}}));

  const pb::MemoryInput& first = calls[0].remember_batch().memories(0);
  EXPECT_EQ(first.id(), "m-1");
  EXPECT_TRUE(first.has_importance());
  EXPECT_DOUBLE_EQ(first.importance(), 0.8);
  ASSERT_EQ(first.tags_size(), 2);
  EXPECT_EQ(first.tags(1), "food");
  EXPECT_EQ(first.metadata().at("lang"), "en");
  EXPECT_EQ(first.session_id(), "s-1");
  EXPECT_EQ(first.tier(), pb::LTM) << "tiers in lower case are accepted";
  EXPECT_EQ(first.created_at_us(), 1718008200000000);
  const pb::MemoryInput& second = calls[0].remember_batch().memories(1);
  ASSERT_EQ(second.embedding_size(), 2);
  EXPECT_FLOAT_EQ(second.embedding(1), 0.8f);
  EXPECT_EQ(second.created_at_us(), 5) << "JSON (camelCase) field names work too";
  EXPECT_FALSE(second.has_importance()) << "no importance: the node's default";
  EXPECT_EQ(calls[2].remember_batch().memories(0).tier(), pb::MTM);
  const pb::MemoryInput& five = calls[1].remember_batch().memories(1);
  EXPECT_TRUE(five.has_importance()) << "an explicit 0 is sent as such";
  // Lines without an id get a derived UUIDv8, never the empty id.
  std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (const pb::Request& call : calls) {
    for (const pb::MemoryInput& memory : call.remember_batch().memories()) {
      if (memory.id() == "m-1") continue;
      EXPECT_TRUE(std::regex_match(memory.id(), uuid)) << memory.id();
    }
  }
}

// The derived id is a function of persona, session, created_at and content only: the known answer
// below is SHA-256 ("ada\0s-1\01718008200000000\0Ada is allergic to peanuts") =
// 46826a18 2a20b71a a7491dc6... laid out as UUIDv8 after 48 bits of created_at in ms
// (1718008200000 = 0x01900144bb40).
TEST(CliImport, DerivedIdIsStableAndKnown) {
  FakeNode node;
  const std::string line =
      R"({"persona_id":"ada","session_id":"s-1","created_at_us":1718008200000000,)"
      R"("content":"Ada is allergic to peanuts","tags":["ignored by the id"]})"
      "\n";
  const std::string moved = R"({"content":"Ada is allergic to peanuts","created_at_us":)"
                            R"("1718008200000000","session_id":"s-1"})"
                            "\n";
  const std::string other_persona = line;
  for (int i = 0; i < 3; ++i) node.queue_reply(pb::Request::kRememberBatch, batch_reply(1));
  ASSERT_EQ(run_nca({addr(node), "import", "-"}, {}, line).exit_code, 0);
  ASSERT_EQ(run_nca({addr(node), "import", "--persona", "ada", "-"}, {}, moved).exit_code, 0);
  ASSERT_EQ(run_nca({addr(node), "import", "--persona", "bob", "-"}, {}, other_persona).exit_code,
            0);
  std::vector<pb::Request> calls = node.requests_of(pb::Request::kRememberBatch);
  ASSERT_EQ(calls.size(), 3u);
  const std::string expected = "01900144-bb40-8682-aa18-2a20b71aa749";
  EXPECT_EQ(calls[0].remember_batch().memories(0).id(), expected);
  EXPECT_EQ(calls[1].remember_batch().memories(0).id(), expected)
      << "same fields in another order and --persona naming the same persona";
  EXPECT_EQ(calls[2].remember_batch().persona_id(), "bob") << "--persona wins over the line";
  EXPECT_NE(calls[2].remember_batch().memories(0).id(), expected)
      << "the persona is part of the id: another persona's copy is another memory";
}

TEST(CliImport, TheSameIdTwiceInOneFileGoesInSeparateCalls) {
  FakeNode node;
  node.queue_reply(pb::Request::kRememberBatch, batch_reply(1));
  pb::Response again;
  again.mutable_remember_batch()->add_results()->set_created(false);
  again.mutable_remember_batch()->add_results()->set_created(true);
  node.queue_reply(pb::Request::kRememberBatch, again);
  const std::string input = R"({"persona_id":"ada","content":"same"})"
                            "\n"
                            R"({"persona_id":"ada","content":"same"})"
                            "\n"
                            R"({"persona_id":"ada","content":"other"})"
                            "\n";
  RunResult result = run_nca({addr(node), "--json", "import", "-"}, {}, input);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<pb::Request> calls = node.requests_of(pb::Request::kRememberBatch);
  ASSERT_EQ(calls.size(), 2u) << "the node rejects one id twice in one call";
  EXPECT_EQ(calls[0].remember_batch().memories_size(), 1);
  EXPECT_EQ(calls[1].remember_batch().memories_size(), 2);
  nlohmann::json summary = nlohmann::json::parse(result.out);
  EXPECT_EQ(summary["imported"], 2);
  EXPECT_EQ(summary["skipped"], 1);
  EXPECT_EQ(summary["failed"], 0);
  EXPECT_EQ(summary["complete"], true);
}

TEST(CliImport, NodeErrorsThatAreNotAboutALineStopTheImport) {
  FakeNode node;
  node.set_status(pb::Request::kRememberBatch, pb::INVALID_ARGUMENT,
                  "remember_batch has 3 memories; memory.max-batch allows 2");
  const std::string input = R"({"persona_id":"ada","content":"a"})"
                            "\n"
                            R"({"persona_id":"ada","content":"b"})"
                            "\n"
                            R"({"persona_id":"ada","content":"c"})"
                            "\n";
  RunResult result = run_nca({addr(node), "import", "--batch", "3", "-"}, {}, input);
  EXPECT_EQ(result.exit_code, 6);
  EXPECT_NE(result.err.find("lines 1-3 (persona ada): remember_batch has 3 memories"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("use a smaller --batch"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("run the same command again"), std::string::npos) << result.err;
  RunResult going_on =
      run_nca({addr(node), "import", "--batch", "3", "--continue-on-error", "-"}, {}, input);
  EXPECT_EQ(going_on.exit_code, 6) << "a batch too big is not a bad line: " << going_on.err;
  EXPECT_NE(going_on.err.find("use a smaller --batch"), std::string::npos) << going_on.err;

  node.set_status(pb::Request::kRememberBatch, pb::PERMISSION_DENIED, "tenant is read-only");
  RunResult denied = run_nca({addr(node), "import", "--continue-on-error", "-"}, {}, input);
  EXPECT_EQ(denied.exit_code, 7) << "not a line's fault: --continue-on-error does not go on";
  EXPECT_NE(denied.err.find("nca: permission_denied: lines 1-3"), std::string::npos) << denied.err;
  EXPECT_EQ(node.requests_of(pb::Request::kRememberBatch).size(), 3u);
}

TEST(CliImport, ANodeThatAnswersTheWrongNumberOfResultsIsAnError) {
  FakeNode node;  // answers every batch with no results at all
  RunResult result =
      run_nca({addr(node), "import", "-"}, {}, R"({"persona_id":"ada","content":"a"})");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("answered 0 results for 1 memories"), std::string::npos) << result.err;
}

TEST(CliTransfer, UsageErrorsExitWithTwoBeforeConnecting) {
  std::string unused = "--addr=127.0.0.1:" + std::to_string(test_support::closed_port());
  TempDir dir;
  std::string file = dir.write("ok.jsonl", R"({"persona_id":"ada","content":"a"})");
  const std::vector<std::vector<std::string>> cases = {
      {unused, "import"},
      {unused, "import", dir.path() + "/missing.jsonl"},
      {unused, "import", "--batch", "0", file},
      {unused, "import", "--batch", "1001", file},
      {unused, "import", "--batch", "2.5", file},
      {unused, "import", file, "second-file"},
      {unused, "export"},
      {unused, "export", "--persona", "ada", "--tier", "xtm"},
      {unused, "export", "--persona", "ada", "--page-size", "0"},
      {unused, "export", "--persona", "ada", "extra"},
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    SCOPED_TRACE(joined);
    RunResult result = run_nca(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("nca: usage: ", 0), 0u) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  RunResult missing = run_nca({unused, "import", dir.path() + "/missing.jsonl"});
  EXPECT_NE(missing.err.find("cannot open '" + dir.path() + "/missing.jsonl'"), std::string::npos)
      << missing.err;
}

// --- end to end through nca-node --dev ---------------------------------------------------------

class DevNodeTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    node_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{std::string(NCA_BIN_DIR) + "/nca-node", "--dev", "--node.listen",
                                 "127.0.0.1:0", "--memory.dim", "64"},
        dir_.path(), dir_.path() + "/node.log");
    auto port = node_->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(30));
    ASSERT_TRUE(port.has_value()) << "nca-node did not start; see " << dir_.path() << "/node.log";
    address_ = "127.0.0.1:" + *port;
  }

  void TearDown() override { node_.reset(); }

  RunResult nca(std::vector<std::string> args, const std::string& input = "",
                Terminal terminal = Terminal::none) {
    args.insert(args.begin(), "--addr=" + address_);
    return run_nca(args, {}, input, terminal);
  }

  TempDir dir_;
  std::string address_;
  std::unique_ptr<testing::ChildProcess> node_;
};

// Memories with every field a line can carry, ids given and derived.
const char kSample[] =
    R"({"persona_id":"ada","id":"m-peanuts","content":"Ada is allergic to peanuts",)"
    R"("importance":0.9,"tags":["health","food"],"metadata":{"z":"last","a":"first","source":"chat"},)"
    R"("session_id":"s-1","tier":"LTM","created_at_us":"1718008200000000"})"
    "\n"
    R"({"persona_id":"ada","content":"Ada's favourite colour is green","tier":"mtm",)"
    R"("created_at_us":"1718008300000000","session_id":"s-1"})"
    "\n"
    R"({"persona_id":"ada","content":"Ada's cat is called Turing","importance":0.2})"
    "\n"
    R"({"persona_id":"ada","content":"Ada prefers tea to coffee","tags":["food"]})"
    "\n"
    R"({"persona_id":"ada","content":"Ada lives in Lisbon","metadata":{"source":"profile"}})"
    "\n";

// The export's lines with the persona renamed, for comparing two personas' exports.
std::string renamed(const std::string& jsonl, const std::string& from, const std::string& to) {
  std::string out;
  for (const std::string& line : lines_of(jsonl)) {
    nlohmann::ordered_json document = nlohmann::ordered_json::parse(line);
    EXPECT_EQ(document["persona_id"], from) << line;
    document["persona_id"] = to;
    out += document.dump() + "\n";
  }
  return out;
}

TEST_F(DevNodeTransferTest, ExportImportIntoAnotherTenantAndExportAgainIsIdentical) {
  RunResult imported = nca({"import", "--batch", "2", "-"}, kSample);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(imported.out, "imported 5, skipped 0 (already there), failed 0 of 5 lines\n");

  RunResult first = nca({"export", "--persona", "ada"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err, "");
  std::vector<std::string> lines = lines_of(first.out);
  ASSERT_EQ(lines.size(), 5u) << first.out;
  // Everything a re-import needs is on the line, persona first, metadata keys sorted.
  std::string peanuts;
  for (const std::string& line : lines) {
    if (line.find("m-peanuts") != std::string::npos) peanuts = line;
  }
  EXPECT_EQ(peanuts,
            R"({"persona_id":"ada","id":"m-peanuts","content":"Ada is allergic to peanuts",)"
            R"("importance":0.9,"metadata":{"a":"first","source":"chat","z":"last"},)"
            R"("tags":["health","food"],"session_id":"s-1","tier":"LTM",)"
            R"("created_at_us":"1718008200000000"})");
  for (const std::string& line : lines) {
    nlohmann::json document = nlohmann::json::parse(line);
    EXPECT_FALSE(document.contains("embedding")) << "only with --with-embeddings";
    EXPECT_TRUE(document.contains("id") && document.contains("tier") &&
                document.contains("importance") && document.contains("created_at_us"))
        << line;
  }
  RunResult again = nca({"export", "--persona", "ada"});
  EXPECT_EQ(again.out, first.out) << "an export is stable byte for byte";

  // Into another tenant (ids are per tenant) under another persona name.
  RunResult copied = nca({"--tenant", "copy", "import", "--persona", "zed", "-"}, first.out);
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_EQ(copied.out, "imported 5, skipped 0 (already there), failed 0 of 5 lines\n");
  RunResult second = nca({"--tenant", "copy", "export", "--persona", "zed"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(renamed(second.out, "zed", "ada"), first.out);

  // With embeddings: the copy gets the very vectors, not new ones computed from the content.
  RunResult with_vectors = nca({"export", "--persona", "ada", "--with-embeddings"});
  ASSERT_EQ(with_vectors.exit_code, 0) << with_vectors.err;
  for (const std::string& line : lines_of(with_vectors.out)) {
    nlohmann::json document = nlohmann::json::parse(line);
    ASSERT_TRUE(document.contains("embedding")) << line;
    EXPECT_EQ(document["embedding"].size(), 64u);
  }
  RunResult vectors_in =
      nca({"--tenant", "vectors", "import", "--persona", "ada", "-"}, with_vectors.out);
  ASSERT_EQ(vectors_in.exit_code, 0) << vectors_in.err;
  RunResult vectors_out =
      nca({"--tenant", "vectors", "export", "--persona", "ada", "--with-embeddings"});
  ASSERT_EQ(vectors_out.exit_code, 0) << vectors_out.err;
  std::vector<std::string> original = lines_of(with_vectors.out);
  std::vector<std::string> copy = lines_of(vectors_out.out);
  ASSERT_EQ(copy.size(), original.size());
  for (size_t i = 0; i < copy.size(); ++i) {
    nlohmann::json a = nlohmann::json::parse(original[i]);
    nlohmann::json b = nlohmann::json::parse(copy[i]);
    ASSERT_EQ(a["embedding"].size(), b["embedding"].size());
    for (size_t d = 0; d < a["embedding"].size(); ++d) {
      // The node normalises vectors it is given; a unit vector stays itself within float error.
      EXPECT_NEAR(a["embedding"][d].get<double>(), b["embedding"][d].get<double>(), 1e-6);
    }
    a.erase("embedding");
    b.erase("embedding");
    EXPECT_EQ(a, b);
  }
}

// Ids are per tenant: a copy into another persona of the same tenant needs new ids.
TEST_F(DevNodeTransferTest, ACopyInTheSameTenantNeedsDerivedIds) {
  ASSERT_EQ(nca({"import", "-"}, kSample).exit_code, 0);
  RunResult exported = nca({"export", "--persona", "ada"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;

  RunResult clash =
      nca({"--json", "import", "--persona", "eve", "--continue-on-error", "-"}, exported.out);
  EXPECT_EQ(clash.exit_code, 6);
  nlohmann::json summary = nlohmann::json::parse(clash.out);
  EXPECT_EQ(summary["failed"], 5);
  ASSERT_EQ(summary["errors"].size(), 5u);
  EXPECT_EQ(summary["errors"][0]["code"], "already_exists");
  EXPECT_NE(
      summary["errors"][0]["message"].get<std::string>().find("already used by persona 'ada'"),
      std::string::npos)
      << summary.dump();

  RunResult copy = nca({"import", "--persona", "eve", "--derive-ids", "-"}, exported.out);
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  EXPECT_EQ(copy.out, "imported 5, skipped 0 (already there), failed 0 of 5 lines\n");
  RunResult again = nca({"import", "--persona", "eve", "--derive-ids", "-"}, exported.out);
  EXPECT_EQ(again.out, "imported 0, skipped 5 (already there), failed 0 of 5 lines\n");
  RunResult eve = nca({"export", "--persona", "eve"});
  ASSERT_EQ(eve.exit_code, 0) << eve.err;
  std::vector<std::string> lines = lines_of(eve.out);
  ASSERT_EQ(lines.size(), 5u);
  for (const std::string& line : lines) {
    nlohmann::json document = nlohmann::json::parse(line);
    EXPECT_EQ(document["persona_id"], "eve");
    EXPECT_EQ(exported.out.find(document["id"].get<std::string>()), std::string::npos)
        << "a new id: " << line;
  }
}

TEST_F(DevNodeTransferTest, ASecondRunImportsNothingAndSkipsEverything) {
  RunResult first = nca({"--json", "import", "-"}, kSample);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  nlohmann::json summary = nlohmann::json::parse(first.out);
  EXPECT_EQ(summary["imported"], 5);
  EXPECT_EQ(summary["skipped"], 0);
  RunResult second = nca({"--json", "import", "-"}, kSample);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  summary = nlohmann::json::parse(second.out);
  EXPECT_EQ(summary["imported"], 0);
  EXPECT_EQ(summary["skipped"], 5);
  EXPECT_EQ(summary["failed"], 0);
  EXPECT_EQ(summary["lines"], 5);
  // Nothing was stored twice.
  RunResult exported = nca({"export", "--persona", "ada"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(lines_of(exported.out).size(), 5u) << exported.out;
}

TEST_F(DevNodeTransferTest, AStoppedImportResumesWhereItStopped) {
  std::string input;
  for (int i = 0; i < 10; ++i) {
    input += R"({"persona_id":"ada","content":"memory )" + std::to_string(i) + "\"}\n";
  }
  std::string broken = input + R"({"persona_id":"ada","content":"bad",})" + "\n" + input;
  for (int i = 10; i < 15; ++i) {
    broken += R"({"persona_id":"ada","content":"memory )" + std::to_string(i) + "\"}\n";
  }
  std::string file = dir_.write("broken.jsonl", broken);
  RunResult stopped = nca({"import", "--batch", "4", file});
  EXPECT_EQ(stopped.exit_code, 6) << stopped.err;
  EXPECT_EQ(stopped.err.rfind("nca: invalid_argument: line 11: not valid JSON: column 37", 0), 0u)
      << stopped.err;
  EXPECT_NE(stopped.err.find("stopped at line 11"), std::string::npos) << stopped.err;
  EXPECT_EQ(stopped.out, "stopped: imported 8, skipped 0 (already there), failed 1 of 11 lines\n")
      << "two whole batches of 4 went in before the bad line";

  std::string fixed = broken;
  fixed.replace(fixed.find(R"("bad",})"), 7, R"("fixed"})");
  std::ofstream(file, std::ios::binary | std::ios::trunc) << fixed;
  RunResult resumed = nca({"import", "--batch", "4", file});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out, "imported 8, skipped 18 (already there), failed 0 of 26 lines\n")
      << "memories 8, 9, fixed and 10-14 are new; the repeated block is skipped";
}

TEST_F(DevNodeTransferTest, BadLinesAreNamedByNumberAndTheRestIsImported) {
  const std::string input =
      std::string(R"({"persona_id":"ada","content":"good one"})") +
      "\n"
      R"({"persona_id":"ada","content":"trailing comma",})"
      "\n"
      R"(["not","an","object"])"
      "\n"
      R"({"content":"no persona"})"
      "\n"
      R"({"persona_id":"ada","contnet":"typo"})"
      "\n"
      R"({"persona_id":"ada","content":"importance as text","importance":"high"})"
      "\n"
      R"({"persona_id":"ada","content":"importance out of range","importance":7})"
      "\n"
      R"({"persona_id":"ada","content":"bad id","id":"has space"})"
      "\n"
      R"({"persona_id":"ada","content":"good two"})"
      "\n"
      R"({"persona_id":"ada","content":"bad tier","tier":"xtm"})"
      "\n"
      R"({"persona_id":"ada","content":""})"
      "\n"
      R"({"persona_id":"ada","content":"good three"})"
      "\n" +
      R"({"persona_id":"ada","content":"deep","metadata":)" + std::string(100000, '[') + "\n" +
      R"({"persona_id":"ada","content":"not UTF-8 \xff"})" + "\n";
  RunResult result = nca({"--json", "import", "--continue-on-error", "-"}, input);
  EXPECT_EQ(result.exit_code, 6) << "some lines failed";
  nlohmann::json summary = nlohmann::json::parse(result.out);
  EXPECT_EQ(summary["imported"], 3);
  EXPECT_EQ(summary["failed"], 11);
  EXPECT_EQ(summary["lines"], 14);
  std::vector<int> failed_lines;
  for (const auto& error : summary["errors"]) failed_lines.push_back(error["line"]);
  EXPECT_EQ(failed_lines, (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14}));
  std::map<int, std::string> messages;
  for (const auto& error : summary["errors"]) messages[error["line"]] = error["message"];
  EXPECT_EQ(messages[2].rfind("not valid JSON: column ", 0), 0u) << messages[2];
  EXPECT_EQ(messages[3], "expected a JSON object, got array");
  EXPECT_NE(messages[4].find("persona_id"), std::string::npos) << messages[4];
  EXPECT_NE(messages[5].find("unknown field \"contnet\""), std::string::npos) << messages[5];
  EXPECT_EQ(messages[6], R"("importance": invalid value "high" (expected a number))");
  EXPECT_NE(messages[7].find("importance must be a number in [0, 1]"), std::string::npos)
      << "rejected by the node, named by line: " << messages[7];
  EXPECT_NE(messages[8].find("has space"), std::string::npos) << messages[8];
  EXPECT_EQ(messages[10], R"("tier": invalid value "XTM" (expected STM, MTM or LTM))");
  EXPECT_EQ(messages[11], "\"content\" is missing or empty");
  EXPECT_EQ(messages[13], "arrays and objects nest deeper than 16 levels");
  EXPECT_NE(messages[14].find("UTF-8"), std::string::npos) << messages[14];
  // Each failed line was also reported on stderr as it happened.
  for (int line : failed_lines) {
    EXPECT_NE(result.err.find("line " + std::to_string(line) + ": "), std::string::npos)
        << line << "\n"
        << result.err;
  }
  RunResult exported = nca({"export", "--persona", "ada"});
  EXPECT_EQ(lines_of(exported.out).size(), 3u) << exported.out;
}

TEST_F(DevNodeTransferTest, ExportPagesThroughEveryMemoryAndWritesFilesWhole) {
  std::string input;
  for (int i = 0; i < 7; ++i) {
    input += R"({"persona_id":"ada","content":"memory number )" + std::to_string(i) +
             R"(","tier":")" + (i % 2 == 0 ? "stm" : "ltm") + "\"}\n";
  }
  ASSERT_EQ(nca({"import", "-"}, input).exit_code, 0);
  RunResult all = nca({"export", "--persona", "ada"});
  RunResult paged = nca({"export", "--persona", "ada", "--page-size", "2"});
  ASSERT_EQ(paged.exit_code, 0) << paged.err;
  EXPECT_EQ(lines_of(paged.out).size(), 7u);
  EXPECT_EQ(paged.out, all.out) << "pages of 2 give what one page gives";
  RunResult ltm = nca({"export", "--persona", "ada", "--tier", "ltm", "--page-size", "2"});
  ASSERT_EQ(ltm.exit_code, 0) << ltm.err;
  EXPECT_EQ(lines_of(ltm.out).size(), 3u) << ltm.out;
  for (const std::string& line : lines_of(ltm.out)) {
    EXPECT_NE(line.find(R"("tier":"LTM")"), std::string::npos) << line;
  }

  std::string file = dir_.path() + "/ada.jsonl";
  RunResult to_file = nca({"export", "--persona", "ada", "-o", file});
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(to_file.out, "exported 7 memories of ada to " + file + "\n");
  EXPECT_EQ(read_file(file), all.out);
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));
  RunResult json = nca({"--json", "export", "--persona", "ada", "--output", file});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["exported"], 7);

  std::string nowhere = dir_.path() + "/no/such/dir/ada.jsonl";
  RunResult unwritable = nca({"export", "--persona", "ada", "-o", nowhere});
  EXPECT_EQ(unwritable.exit_code, 2) << unwritable.err;
  EXPECT_NE(unwritable.err.find("cannot write"), std::string::npos) << unwritable.err;
  EXPECT_FALSE(std::filesystem::exists(nowhere));
}

// On a terminal stderr shows a progress line redrawn in place; the summary still goes to stdout.
TEST_F(DevNodeTransferTest, ProgressIsDrawnOnlyOnATerminal) {
  std::string input;
  for (int i = 0; i < 600; ++i) {
    input += R"({"persona_id":"ada","content":"progress memory )" + std::to_string(i) + "\"}\n";
  }
  std::string file = dir_.write("progress.jsonl", input);
  // One memory per call makes the import last well past the bar's first 100 ms.
  RunResult on_terminal = nca({"import", "--batch", "1", file}, "", Terminal::stderr_only);
  ASSERT_EQ(on_terminal.exit_code, 0) << on_terminal.err;
  EXPECT_EQ(on_terminal.out, "imported 600, skipped 0 (already there), failed 0 of 600 lines\n");
  EXPECT_NE(on_terminal.err.find("\r\033[K"), std::string::npos) << on_terminal.err;
  EXPECT_TRUE(
      std::regex_search(on_terminal.err, std::regex(R"(\d+ lines  \d+/s  \[[#.]{20}\] +\d+%)")))
      << on_terminal.err;
  // The bar is erased at the end: the last thing on the terminal is an erased line.
  EXPECT_EQ(on_terminal.err.substr(on_terminal.err.size() - 4), "\r\033[K") << on_terminal.err;

  RunResult piped = nca({"import", "--batch", "1", file});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err, "") << "silent when stderr is not a terminal";
}

}  // namespace
}  // namespace nca
