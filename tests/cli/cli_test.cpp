// Tests of the `nca` binary: runs it as a subprocess against FakeNode (tests/sdk/fake_node.hpp) and
// checks exit codes, stderr messages, JSON and table output, help, and the requests it builds.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "tests/cli/run_nca.hpp"
#include "tests/sdk/fake_node.hpp"

namespace nca {
namespace {

using test_support::addr;
using test_support::FakeNode;
using test_support::run_nca;
using test_support::RunResult;

const std::vector<std::string> kVerbs = {
    "ping",       "remember",    "recall",  "get",    "update", "forget", "restore",
    "touch",      "delete",      "history", "list",   "stats",  "link",   "unlink",
    "neighbours", "consolidate", "context", "import", "export", "cluster"};

TEST(CliHelp, GlobalHelpListsEveryVerbWithAnExample) {
  RunResult result = run_nca({"--help"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const std::string& verb : kVerbs) {
    SCOPED_TRACE(verb);
    EXPECT_NE(result.out.find("\n  " + verb + " "), std::string::npos);
    EXPECT_NE(result.out.find("  nca " + verb), std::string::npos) << "no example";
  }
  EXPECT_NE(result.out.find("Exit codes"), std::string::npos);
  // Summaries line up in one column, whatever the length of the verb's name.
  size_t ping = result.out.find("\n  ping ");
  size_t consolidate = result.out.find("\n  consolidate ");
  ASSERT_NE(ping, std::string::npos);
  ASSERT_NE(consolidate, std::string::npos);
  size_t ping_summary = result.out.find_first_not_of(' ', ping + 7) - ping;
  size_t consolidate_summary = result.out.find_first_not_of(' ', consolidate + 14) - consolidate;
  EXPECT_EQ(ping_summary, consolidate_summary) << result.out;
}

TEST(CliHelp, EveryVerbHasHelpWithAnExample) {
  for (const std::string& verb : kVerbs) {
    SCOPED_TRACE(verb);
    RunResult result = run_nca({verb, "--help"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out.rfind("Usage: nca " + verb, 0), 0u) << result.out;
    EXPECT_NE(result.out.find("Example"), std::string::npos);
    EXPECT_NE(result.out.find("\n  nca " + verb), std::string::npos) << result.out;
    RunResult via_help_verb = run_nca({"help", verb});
    EXPECT_EQ(via_help_verb.exit_code, 0);
    EXPECT_EQ(via_help_verb.out, result.out);
  }
}

TEST(CliErrors, UsageErrorsExitWithTwo) {
  uint16_t port = test_support::closed_port();
  std::string unused = "--addr=127.0.0.1:" + std::to_string(port);
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {unused, "ping", "--bogus"},
      {unused, "remember", "--persona", "ada"},
      {unused, "remember", "hello"},
      {unused, "remember", "--persona", "ada", "--importance", "7", "hi"},
      {unused, "remember", "--persona", "ada", "--tier", "xtm", "hi"},
      {unused, "remember", "--persona", "ada", "--created-at", "2024-13-01", "hi"},
      {unused, "remember", "--persona", "ada", "--meta", "novalue", "hi"},
      {unused, "recall", "--persona", "ada", "-k", "zero", "q"},
      {unused, "recall", "--persona", "ada", "--after", "2025-01-02", "--before", "2025-01-01",
       "q"},
      {unused, "get"},
      {unused, "get", "a", "b"},
      {unused, "update", "m-1"},
      {unused, "--timeout", "5x", "ping"},
      {unused, "recall", "--persona", "ada", "--mode", "fuzzy", "q"},
      {unused, "link", "m-1"},
      {unused, "link", "m-1", "m-2", "m-3"},
      {unused, "link", "m-1", "m-1"},
      {unused, "link", "m-1", "m-2", "--strength", "1.5"},
      {unused, "unlink", "m-1"},
      {unused, "neighbours"},
      {unused, "consolidate"},
      {unused, "context"},
      {unused, "context", "--persona", "ada", "-n", "0"},
      {"--addr", "no-port", "ping"},
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    SCOPED_TRACE(joined);
    RunResult result = run_nca(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("nca: ", 0), 0u) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
}

TEST(CliErrors, UnavailableExitsWithFour) {
  std::string address = "127.0.0.1:" + std::to_string(test_support::closed_port());
  RunResult result = run_nca({"--addr", address, "ping"});
  EXPECT_EQ(result.exit_code, 4);
  EXPECT_EQ(result.err.rfind("nca: unavailable: cannot connect to " + address, 0), 0u)
      << result.err;
  EXPECT_NE(result.err.find("is nca-node running?"), std::string::npos);
}

TEST(CliErrors, NodeStatusesMapToExitCodes) {
  FakeNode node;
  struct Case {
    pb::StatusCode code;
    int exit_code;
    std::string name;
  };
  for (const Case& c :
       {Case{pb::NOT_FOUND, 3, "not_found"}, Case{pb::INVALID_ARGUMENT, 6, "invalid_argument"},
        Case{pb::INTERNAL, 1, "internal"}, Case{pb::PERMISSION_DENIED, 7, "permission_denied"},
        Case{pb::UNAUTHENTICATED, 7, "unauthenticated"}}) {
    SCOPED_TRACE(c.name);
    node.set_status(pb::Request::kGet, c.code, "message for " + c.name);
    RunResult result = run_nca({addr(node), "get", "m-1"});
    EXPECT_EQ(result.exit_code, c.exit_code);
    EXPECT_EQ(result.err, "nca: " + c.name + ": message for " + c.name + "\n");
    EXPECT_TRUE(result.out.empty());
  }
}

TEST(CliErrors, DeadlineExceededExitsWithFive) {
  FakeNode node;
  node.set_silent(pb::Request::kPing);
  RunResult result = run_nca({addr(node), "--timeout", "300ms", "ping"});
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_EQ(result.err.rfind("nca: deadline_exceeded: ", 0), 0u) << result.err;
}

pb::Response recall_reply() {
  pb::Response response;
  pb::RecallReply* reply = response.mutable_recall();
  pb::RecallHit* first = reply->add_hits();
  first->mutable_item()->set_id("m-peanuts");
  first->mutable_item()->set_persona_id("ada");
  first->mutable_item()->set_content("Ada is allergic to peanuts");
  first->mutable_item()->set_tier(pb::LTM);
  first->set_score(0.8125);
  first->set_health(72.46);
  pb::RecallHit* second = reply->add_hits();
  second->mutable_item()->set_id("m-long");
  second->mutable_item()->set_content(std::string(100, 'x') + " tail that must be cut");
  second->mutable_item()->set_tier(pb::STM);
  second->set_score(0.5);
  second->set_health(40);
  return response;
}

TEST(CliOutput, JsonIsOneDocumentWithProtoFieldNames) {
  FakeNode node;
  node.set_reply(pb::Request::kRecall, recall_reply());
  RunResult result = run_nca({addr(node), "--json", "recall", "--persona", "ada", "peanuts"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json document;
  ASSERT_NO_THROW(document = nlohmann::json::parse(result.out)) << result.out;
  ASSERT_TRUE(document.contains("hits"));
  ASSERT_EQ(document["hits"].size(), 2u);
  EXPECT_EQ(document["hits"][0]["item"]["id"], "m-peanuts");
  EXPECT_EQ(document["hits"][0]["item"]["persona_id"], "ada");
  EXPECT_EQ(document["hits"][0]["item"]["tier"], "LTM");
  EXPECT_DOUBLE_EQ(document["hits"][0]["score"].get<double>(), 0.8125);

  RunResult after_verb = run_nca({addr(node), "recall", "--persona", "ada", "--json", "peanuts"});
  ASSERT_EQ(after_verb.exit_code, 0) << after_verb.err;
  EXPECT_EQ(after_verb.out, result.out);

  RunResult ping = run_nca({addr(node), "--json", "ping"});
  ASSERT_EQ(ping.exit_code, 0) << ping.err;
  nlohmann::json ping_doc = nlohmann::json::parse(ping.out);
  EXPECT_TRUE(ping_doc.contains("node_id")) << ping.out;
  EXPECT_TRUE(ping_doc.contains("schema_version")) << ping.out;
}

TEST(CliOutput, TableShowsContentHealthAndScoreAndCutsLongContent) {
  FakeNode node;
  node.set_reply(pb::Request::kRecall, recall_reply());
  RunResult result = run_nca({addr(node), "recall", "--persona", "ada", "peanuts"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("CONTENT"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("Ada is allergic to peanuts"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("m-peanuts"), std::string::npos);
  EXPECT_NE(result.out.find("72.5"), std::string::npos) << "health to one decimal";
  EXPECT_NE(result.out.find("0.812"), std::string::npos);
  EXPECT_NE(result.out.find("LTM"), std::string::npos);
  EXPECT_EQ(result.out.find("tail that must be cut"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(std::string(59, 'x') + "…"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("\033["), std::string::npos) << "no colour when not on a TTY";
}

TEST(CliRequests, RememberSendsEveryFlag) {
  FakeNode node;
  RunResult result = run_nca({addr(node),     "--tenant",
                              "acme",         "--token",
                              "tok-1",        "remember",
                              "--persona",    "ada",
                              "--importance", "0.8",
                              "--tag",        "health",
                              "--tag",        "food",
                              "--meta",       "source=chat",
                              "--meta",       "lang=en",
                              "--session",    "s-1",
                              "--tier",       "mtm",
                              "--id",         "m-7",
                              "--created-at", "2024-06-10T08:30:00Z",
                              "Ada",          "is",
                              "allergic",     "to",
                              "peanuts"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 1u);
  const pb::Request& request = seen[0].request;
  EXPECT_EQ(request.header().tenant(), "acme");
  EXPECT_EQ(request.header().auth_token(), "tok-1");
  EXPECT_FALSE(request.header().request_id().empty());
  ASSERT_TRUE(request.has_remember());
  EXPECT_EQ(request.remember().persona_id(), "ada");
  const pb::MemoryInput& memory = request.remember().memory();
  EXPECT_EQ(memory.content(), "Ada is allergic to peanuts");
  EXPECT_TRUE(memory.has_importance());
  EXPECT_DOUBLE_EQ(memory.importance(), 0.8);
  ASSERT_EQ(memory.tags_size(), 2);
  EXPECT_EQ(memory.tags(1), "food");
  EXPECT_EQ(memory.metadata().at("source"), "chat");
  EXPECT_EQ(memory.metadata().at("lang"), "en");
  EXPECT_EQ(memory.session_id(), "s-1");
  EXPECT_EQ(memory.tier(), pb::MTM);
  EXPECT_EQ(memory.id(), "m-7");
  EXPECT_EQ(memory.created_at_us(), 1718008200LL * 1'000'000);
}

TEST(CliRequests, TextThatIsNotUtf8LeavesNoLibprotobufLineOnStderr) {
  FakeNode node;
  RunResult result = run_nca({addr(node), "remember", "--persona", "ada", "caf\xe9"});
  EXPECT_EQ(result.err.find("libprotobuf"), std::string::npos) << result.err;
  // It was sent as typed: the node, not the CLI, refuses it and names the field.
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].parsed);
}

TEST(CliRequests, RememberReadsStdinAndLeavesImportanceUnsetByDefault) {
  FakeNode node;
  RunResult result =
      run_nca({addr(node), "remember", "--persona", "ada", "-"}, {}, "line one\nline two\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].request.remember().memory().content(), "line one\nline two");
  EXPECT_FALSE(seen[0].request.remember().memory().has_importance());
}

TEST(CliRequests, RecallFiltersAndTimeout) {
  FakeNode node;
  RunResult result = run_nca({addr(node),
                              "--timeout",
                              "3s",
                              "recall",
                              "--persona",
                              "ada",
                              "-k",
                              "5",
                              "--tier",
                              "stm",
                              "--tier",
                              "LTM",
                              "--tag",
                              "health",
                              "--meta",
                              "k=v",
                              "--min-health",
                              "20",
                              "--after",
                              "1700000000",
                              "--before",
                              "2024-06-10T10:30:00+02:00",
                              "what",
                              "is",
                              "Ada",
                              "allergic",
                              "to"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 1u);
  const pb::RecallRequest& recall = seen[0].request.recall();
  EXPECT_EQ(recall.query(), "what is Ada allergic to");
  EXPECT_EQ(recall.k(), 5u);
  ASSERT_EQ(recall.tiers_size(), 2);
  EXPECT_EQ(recall.tiers(0), pb::STM);
  EXPECT_EQ(recall.tiers(1), pb::LTM);
  EXPECT_EQ(recall.filter().tags(0), "health");
  EXPECT_EQ(recall.filter().metadata().at("k"), "v");
  EXPECT_DOUBLE_EQ(recall.filter().min_health(), 20);
  EXPECT_EQ(recall.filter().created_after_us(), 1700000000LL * 1'000'000);
  EXPECT_EQ(recall.filter().created_before_us(), 1718008200LL * 1'000'000);
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_LE(seen[0].request.header().deadline_us(), now_us + 3'000'000);
  EXPECT_GT(seen[0].request.header().deadline_us(), now_us - 20'000'000);
}

TEST(CliRequests, ItemVerbsSendTheirBody) {
  FakeNode node;
  struct Case {
    std::vector<std::string> args;
    pb::Request::BodyCase body;
  };
  const std::vector<Case> cases = {
      {{"get", "m-1"}, pb::Request::kGet},
      {{"update", "m-1", "--content", "new text"}, pb::Request::kUpdate},
      {{"forget", "m-1", "--reason", "old"}, pb::Request::kForget},
      {{"restore", "m-1"}, pb::Request::kRestore},
      {{"touch", "m-1"}, pb::Request::kTouch},
      {{"delete", "m-1"}, pb::Request::kDelete},
      {{"history", "m-1"}, pb::Request::kHistory},
      {{"list", "--persona", "ada", "--page-size", "3", "--archived"}, pb::Request::kList},
      {{"stats", "--persona", "ada"}, pb::Request::kStats},
      {{"ping"}, pb::Request::kPing},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0]);
    std::vector<std::string> args = {addr(node)};
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunResult result = run_nca(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
  }
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].args[0]);
    EXPECT_EQ(seen[i].request.body_case(), cases[i].body);
  }
  EXPECT_EQ(seen[0].request.get().id(), "m-1");
  EXPECT_EQ(seen[1].request.update().content(), "new text");
  EXPECT_FALSE(seen[1].request.update().has_tags()) << "tags untouched unless --tag is given";
  EXPECT_EQ(seen[2].request.forget().reason(), "old");
  EXPECT_EQ(seen[5].request.delete_().id(), "m-1");
  EXPECT_EQ(seen[7].request.list().page_size(), 3u);
  EXPECT_TRUE(seen[7].request.list().archived());
  EXPECT_EQ(seen[8].request.stats().persona_id(), "ada");
}

TEST(CliRequests, TubuleConsolidationContextVerbsAndRecallModeSendTheirBody) {
  FakeNode node;
  const std::vector<std::vector<std::string>> cases = {
      {"link", "m-1", "m-2", "--strength", "0.6"},
      {"link", "m-1", "m-3"},
      {"unlink", "m-1", "m-2"},
      {"neighbours", "m-1"},
      {"consolidate", "--persona", "ada"},
      {"context", "--persona", "ada", "-n", "5"},
      {"context", "--persona", "bob"},
      {"recall", "--persona", "ada", "--mode", "lexical", "--no-spread", "peanuts"},
      {"recall", "--persona", "ada", "--mode", "HYBRID", "peanuts"},
      {"recall", "--persona", "ada", "--mode", "vector", "peanuts"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[0]);
    std::vector<std::string> args = {addr(node)};
    args.insert(args.end(), c.begin(), c.end());
    RunResult result = run_nca(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
  }
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), cases.size());
  EXPECT_EQ(seen[0].request.body_case(), pb::Request::kLink);
  EXPECT_EQ(seen[0].request.link().a(), "m-1");
  EXPECT_EQ(seen[0].request.link().b(), "m-2");
  EXPECT_DOUBLE_EQ(seen[0].request.link().strength(), 0.6);
  EXPECT_DOUBLE_EQ(seen[1].request.link().strength(), 0) << "no --strength: the node's default";
  EXPECT_EQ(seen[2].request.body_case(), pb::Request::kUnlink);
  EXPECT_EQ(seen[2].request.unlink().b(), "m-2");
  EXPECT_EQ(seen[3].request.body_case(), pb::Request::kNeighbours);
  EXPECT_EQ(seen[3].request.neighbours().id(), "m-1");
  EXPECT_EQ(seen[4].request.body_case(), pb::Request::kConsolidate);
  EXPECT_EQ(seen[4].request.consolidate().persona_id(), "ada");
  EXPECT_EQ(seen[5].request.body_case(), pb::Request::kContext);
  EXPECT_EQ(seen[5].request.context().n(), 5u);
  EXPECT_EQ(seen[6].request.context().persona_id(), "bob");
  EXPECT_EQ(seen[6].request.context().n(), 10u);
  EXPECT_EQ(seen[7].request.recall().mode(), pb::LEXICAL);
  ASSERT_TRUE(seen[7].request.recall().has_spread());
  EXPECT_FALSE(seen[7].request.recall().spread());
  EXPECT_EQ(seen[8].request.recall().mode(), pb::HYBRID);
  EXPECT_FALSE(seen[8].request.recall().has_spread()) << "no --no-spread: the node's default";
  EXPECT_EQ(seen[9].request.recall().mode(), pb::VECTOR);
}

TEST(CliOutput, TubuleVerbsPrintTheTubuleAndNeighbours) {
  FakeNode node;
  pb::Response link;
  pb::Tubule* tubule = link.mutable_link()->mutable_tubule();
  tubule->set_a("m-1");
  tubule->set_b("m-2");
  tubule->set_strength(0.6);
  tubule->set_activations(3);
  node.set_reply(pb::Request::kLink, link);
  pb::Response unlink;
  unlink.mutable_unlink()->mutable_tubule()->CopyFrom(*tubule);
  node.set_reply(pb::Request::kUnlink, unlink);
  pb::Response neighbours;
  neighbours.mutable_neighbours()->set_item_id("m-1");
  pb::Neighbour* neighbour = neighbours.mutable_neighbours()->add_neighbours();
  neighbour->set_item_id("m-peanuts");
  neighbour->set_strength(0.875);
  neighbour->set_consolidated(true);
  neighbour->set_activations(12);
  node.set_reply(pb::Request::kNeighbours, neighbours);

  RunResult linked = run_nca({addr(node), "link", "m-1", "m-2"});
  ASSERT_EQ(linked.exit_code, 0) << linked.err;
  EXPECT_NE(linked.out.find("linked m-1"), std::string::npos) << linked.out;
  EXPECT_NE(linked.out.find("m-2"), std::string::npos) << linked.out;
  EXPECT_NE(linked.out.find("0.600"), std::string::npos) << linked.out;
  RunResult unlinked = run_nca({addr(node), "unlink", "m-1", "m-2"});
  ASSERT_EQ(unlinked.exit_code, 0) << unlinked.err;
  EXPECT_NE(unlinked.out.find("unlinked m-1"), std::string::npos) << unlinked.out;
  RunResult json = run_nca({addr(node), "--json", "link", "m-1", "m-2"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json document = nlohmann::json::parse(json.out);
  EXPECT_EQ(document["tubule"]["a"], "m-1");
  EXPECT_DOUBLE_EQ(document["tubule"]["strength"].get<double>(), 0.6);

  RunResult table = run_nca({addr(node), "neighbours", "m-1"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("NEIGHBOUR"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("m-peanuts"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("0.875"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("yes"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("12"), std::string::npos) << table.out;
  RunResult neighbours_json = run_nca({addr(node), "--json", "neighbours", "m-1"});
  ASSERT_EQ(neighbours_json.exit_code, 0) << neighbours_json.err;
  nlohmann::json neighbours_doc = nlohmann::json::parse(neighbours_json.out);
  EXPECT_EQ(neighbours_doc["item_id"], "m-1");
  ASSERT_EQ(neighbours_doc["neighbours"].size(), 1u);
  EXPECT_EQ(neighbours_doc["neighbours"][0]["item_id"], "m-peanuts");
  EXPECT_EQ(neighbours_doc["neighbours"][0]["consolidated"], true);

  node.set_status(pb::Request::kNeighbours, pb::NOT_FOUND, "no item m-404");
  RunResult missing = run_nca({addr(node), "neighbours", "m-404"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_EQ(missing.err, "nca: not_found: no item m-404\n");
}

TEST(CliOutput, ConsolidateContextAndPersonaStats) {
  FakeNode node;
  pb::Response consolidate;
  pb::ConsolidateReply* tick = consolidate.mutable_consolidate();
  tick->mutable_tick()->set_promoted(3);
  tick->mutable_tick()->set_tubules_pruned(5);
  tick->mutable_total()->set_ticks(17);
  tick->mutable_total()->set_promoted(41);
  tick->mutable_total()->set_temperature(0.75);
  node.set_reply(pb::Request::kConsolidate, consolidate);
  RunResult table = run_nca({addr(node), "consolidate", "--persona", "ada"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("THIS TICK"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("promoted"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("41"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("17"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("tubules pruned"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("0.75"), std::string::npos) << table.out;
  RunResult json = run_nca({addr(node), "--json", "consolidate", "--persona", "ada"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json document = nlohmann::json::parse(json.out);
  EXPECT_EQ(document["tick"]["promoted"], "3") << "uint64 maps to a JSON string";
  EXPECT_EQ(document["total"]["ticks"], "17");

  pb::Response context;
  pb::ContextItem* entry = context.mutable_context()->add_items();
  entry->mutable_item()->set_id("m-active");
  entry->mutable_item()->set_content("Ada is allergic to peanuts");
  entry->mutable_item()->set_health(66);
  entry->set_activation(0.4321);
  node.set_reply(pb::Request::kContext, context);
  RunResult active = run_nca({addr(node), "context", "--persona", "ada", "-n", "3"});
  ASSERT_EQ(active.exit_code, 0) << active.err;
  EXPECT_NE(active.out.find("ACTIVATION"), std::string::npos) << active.out;
  EXPECT_NE(active.out.find("0.432"), std::string::npos) << active.out;
  EXPECT_NE(active.out.find("m-active"), std::string::npos) << active.out;
  EXPECT_NE(active.out.find("Ada is allergic to peanuts"), std::string::npos) << active.out;
  RunResult context_json = run_nca({addr(node), "--json", "context", "--persona", "ada"});
  ASSERT_EQ(context_json.exit_code, 0) << context_json.err;
  nlohmann::json context_doc = nlohmann::json::parse(context_json.out);
  ASSERT_EQ(context_doc["items"].size(), 1u);
  EXPECT_EQ(context_doc["items"][0]["item"]["id"], "m-active");

  pb::Response stats;
  pb::PersonaStats* persona = stats.mutable_stats()->add_persona();
  persona->set_persona_id("ada");
  persona->set_temperature(1.25);
  persona->set_tubules(314);
  persona->mutable_consolidation()->set_ticks(27);
  persona->mutable_consolidation()->set_merged(6);
  node.set_reply(pb::Request::kStats, stats);
  RunResult shown = run_nca({addr(node), "stats", "--persona", "ada"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("temperature"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("1.25"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("tubules"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("314"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("27"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("merged"), std::string::npos) << shown.out;
  // No node totals in a persona's reply, so none are printed as zeros.
  EXPECT_EQ(shown.out.find("active personas"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("served by node"), std::string::npos) << shown.out;

  node.set_status(pb::Request::kConsolidate, pb::NOT_FOUND, "no persona zed");
  RunResult missing = run_nca({addr(node), "consolidate", "--persona", "zed"});
  EXPECT_EQ(missing.exit_code, 3);
}

TEST(CliRequests, ClusterStatusShowsPeersAndRefusesUnknownActions) {
  FakeNode node;
  pb::Response reply;
  auto* status = reply.mutable_cluster_status();
  status->set_node_name("node-a");
  status->set_node(42);
  status->set_incarnation(3);
  status->set_advertise("10.0.0.1:7420");
  auto* peer = status->add_peers();
  peer->set_node(77);
  peer->set_address("10.0.0.2:7420");
  peer->set_state("suspected");
  peer->set_incarnation(5);
  peer->set_linked(true);
  auto* member = status->add_members();
  member->set_node(91);
  member->set_address("10.0.0.3:7420");
  member->set_incarnation(2);
  member->set_metadata_role("learner");
  status->set_metadata_leader(42);
  auto* shard = status->add_shards();
  shard->set_shard(5);
  shard->add_replicas(42);
  shard->add_replicas(91);
  shard->set_leader(91);
  shard->set_epoch(3);
  shard->set_hosted(true);
  shard->set_lag(7);
  status->mutable_traffic()->set_frames_sent(1234);
  status->mutable_traffic()->set_frames_refused(2);
  node.set_reply(pb::Request::kClusterStatus, reply);
  RunResult shown = run_nca({addr(node), "cluster", "status"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  for (const char* text : {"node-a", "10.0.0.1:7420", "77", "10.0.0.2:7420", "suspected", "MEMBER",
                           "10.0.0.3:7420", "learner", "metadata leader", "SHARD", "42,91",
                           "sent 1234, received 0, dropped 0, refused 2; dials failed 0"}) {
    EXPECT_NE(shown.out.find(text), std::string::npos) << text << "\n" << shown.out;
  }
  RunResult json = run_nca({addr(node), "--json", "cluster", "status"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("suspected"), std::string::npos) << json.out;
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].request.body_case(), pb::Request::kClusterStatus);

  RunResult bad = run_nca({addr(node), "cluster", "explode"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown cluster action 'explode'"), std::string::npos) << bad.err;
  RunResult none = run_nca({addr(node), "cluster"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("needs an action"), std::string::npos) << none.err;
  EXPECT_EQ(node.requests().size(), 2u) << "refused actions send nothing";
  RunResult nameless = run_nca({addr(node), "cluster", "decommission"});
  EXPECT_NE(nameless.exit_code, 0);
  EXPECT_NE(nameless.err.find("needs a node"), std::string::npos) << nameless.err;

  pb::Response drained;
  drained.mutable_cluster_admin()->set_node(91);
  drained.mutable_cluster_admin()->set_applied_index(12);
  node.set_reply(pb::Request::kClusterAdmin, drained);
  RunResult drain = run_nca({addr(node), "cluster", "decommission", "91"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_NE(drain.out.find("draining"), std::string::npos) << drain.out;
  seen = node.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].request.cluster_admin().decommission(), "91");
  RunResult undo = run_nca({addr(node), "cluster", "recommission", "node-b"});
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(node.requests()[3].request.cluster_admin().recommission(), "node-b");
  RunResult cut = run_nca({addr(node), "cluster", "partition", "91"});
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_NE(cut.out.find("dropped"), std::string::npos) << cut.out;
  EXPECT_TRUE(node.requests()[4].request.cluster_admin().partition().drop());
  RunResult heal = run_nca({addr(node), "cluster", "heal", "91"});
  ASSERT_EQ(heal.exit_code, 0) << heal.err;
  EXPECT_FALSE(node.requests()[5].request.cluster_admin().partition().drop());

  // A node that does not report its traffic (an older one) gets no made-up zeros.
  pb::Response older = reply;
  older.mutable_cluster_status()->clear_traffic();
  node.set_reply(pb::Request::kClusterStatus, older);
  RunResult quiet = run_nca({addr(node), "cluster", "status"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out.find("frames"), std::string::npos) << quiet.out;
}

TEST(CliOutput, RecallTableShowsScorePartsAndVia) {
  FakeNode node;
  pb::Response response = recall_reply();
  pb::RecallHit* first = response.mutable_recall()->mutable_hits(0);
  first->set_vector_rank(2);
  first->set_lexical_rank(1);
  pb::RecallHit* spread = response.mutable_recall()->add_hits();
  spread->mutable_item()->set_id("m-walnuts");
  spread->mutable_item()->set_content("Ada also avoids walnuts");
  spread->set_score(0.3);
  spread->set_health(55);
  spread->set_via_item_id("m-peanuts");
  node.set_reply(pb::Request::kRecall, response);
  RunResult result = run_nca({addr(node), "recall", "--persona", "ada", "peanuts"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("VEC"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("LEX"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("HEALTH"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("via m-peanuts"), std::string::npos) << result.out;
  // The first hit's row: vector rank 2, lexical rank 1.
  size_t row = result.out.find("0.812");
  ASSERT_NE(row, std::string::npos) << result.out;
  std::string line = result.out.substr(row, result.out.find('\n', row) - row);
  EXPECT_NE(line.find(" 2 "), std::string::npos) << line;
  EXPECT_NE(line.find(" 1 "), std::string::npos) << line;
  RunResult json = run_nca({addr(node), "--json", "recall", "--persona", "ada", "peanuts"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json document = nlohmann::json::parse(json.out);
  EXPECT_EQ(document["hits"][2]["via_item_id"], "m-peanuts");
  EXPECT_EQ(document["hits"][0]["lexical_rank"], 1);

  // Without any spread hit the VIA column is left out.
  node.set_reply(pb::Request::kRecall, recall_reply());
  RunResult plain = run_nca({addr(node), "recall", "--persona", "ada", "peanuts"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("VIA"), std::string::npos) << plain.out;
}

TEST(CliHelp, ListHelpSaysIdOrderOldestFirst) {
  RunResult result = run_nca({"list", "--help"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("oldest first"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("newest first"), std::string::npos) << result.out;
}

TEST(CliRequests, AddressComesFromEnvironmentAndFallsBackAcrossAList) {
  FakeNode node;
  std::string dead = "127.0.0.1:" + std::to_string(test_support::closed_port());
  RunResult from_env = run_nca({"ping"}, {"NCA_ADDR=" + node.address()});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  RunResult bad_timeout = run_nca({"ping"}, {"NCA_ADDR=" + node.address(), "NCA_TIMEOUT=soon"});
  EXPECT_EQ(bad_timeout.exit_code, 2);
  EXPECT_NE(bad_timeout.err.find("NCA_TIMEOUT"), std::string::npos) << bad_timeout.err;
  RunResult from_list = run_nca({"--addr", dead + "," + node.address(), "ping"});
  EXPECT_EQ(from_list.exit_code, 0) << from_list.err;
  EXPECT_EQ(node.requests().size(), 2u);
}

TEST(CliOutput, ItemDetailAndHistoryTables) {
  FakeNode node;
  pb::Response item;
  pb::MemoryItem* memory = item.mutable_get()->mutable_item();
  memory->set_id("m-1");
  memory->set_persona_id("ada");
  memory->set_content("Ada is allergic to peanuts");
  memory->set_health(80);
  memory->add_tags("health");
  (*memory->mutable_metadata())["source"] = "chat";
  node.set_reply(pb::Request::kGet, item);
  RunResult get = run_nca({addr(node), "get", "m-1"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("Ada is allergic to peanuts"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("80.0"), std::string::npos);
  EXPECT_NE(get.out.find("source=chat"), std::string::npos);

  pb::Response history;
  pb::HistoryRecord* record = history.mutable_history()->add_records();
  record->set_seq(1);
  record->set_action(pb::PROMOTE);
  record->set_prev_tier(pb::STM);
  record->set_new_tier(pb::MTM);
  record->set_prev_health(79);
  record->set_new_health(85);
  record->set_reason("healthy");
  node.set_reply(pb::Request::kHistory, history);
  RunResult table = run_nca({addr(node), "history", "m-1"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("promote"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("STM→MTM"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("healthy"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace nca
