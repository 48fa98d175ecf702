// Tests of how `nca` presents itself: help with an example for every verb (the verb list is read
// from `nca --help`, so a verb added later is covered too), colour and table width on a terminal,
// NO_COLOR, and --json that is the same text for the same reply.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
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
using test_support::Terminal;

// The verbs `nca --help` lists: the lines between "Verbs:" and the blank line, each "  NAME
// summary" with NAME one or two words and the summaries in one column.
std::vector<std::string> listed_verbs(const std::string& help) {
  std::vector<std::string> verbs;
  size_t at = help.find("\nVerbs:\n");
  if (at == std::string::npos) return verbs;
  at += 8;
  while (at < help.size() && help.compare(at, 2, "  ") == 0) {
    size_t end = help.find('\n', at);
    std::string line = help.substr(at + 2, end - at - 2);
    verbs.push_back(line.substr(0, line.find("  ")));
    at = end + 1;
  }
  return verbs;
}

std::vector<std::string> words(const std::string& verb) {
  size_t space = verb.find(' ');
  if (space == std::string::npos) return {verb};
  return {verb.substr(0, space), verb.substr(space + 1)};
}

TEST(CliHelpForEveryVerb, EachListedVerbHasHelpWithAnExampleOfItself) {
  RunResult global = run_nca({"--help"});
  ASSERT_EQ(global.exit_code, 0) << global.err;
  std::vector<std::string> verbs = listed_verbs(global.out);
  ASSERT_GE(verbs.size(), 33u) << global.out;
  for (const char* expected : {"import", "export", "persona create", "event publish", "recall"}) {
    EXPECT_NE(std::find(verbs.begin(), verbs.end(), expected), verbs.end()) << expected;
  }
  for (const std::string& verb : verbs) {
    SCOPED_TRACE(verb);
    std::vector<std::string> args = words(verb);
    args.push_back("--help");
    RunResult help = run_nca(args);
    ASSERT_EQ(help.exit_code, 0) << help.err;
    EXPECT_EQ(help.out.rfind("Usage: nca " + verb, 0), 0u) << help.out;
    size_t examples = help.out.find("\nExample");
    ASSERT_NE(examples, std::string::npos) << help.out;
    // Every line under "Example(s):" is a command line of this verb.
    size_t line = help.out.find('\n', examples + 1) + 1;
    int count = 0;
    while (line < help.out.size() && help.out[line] != '\n') {
      std::string text = help.out.substr(line, help.out.find('\n', line) - line);
      EXPECT_NE(text.find("nca "), std::string::npos) << text;
      EXPECT_NE(text.find(" " + verb), std::string::npos) << text;
      ++count;
      line = help.out.find('\n', line) + 1;
    }
    EXPECT_GE(count, 1);
    std::vector<std::string> via_help = words(verb);
    via_help.insert(via_help.begin(), "help");
    EXPECT_EQ(run_nca(via_help).out, help.out) << "nca help " << verb;
  }
}

pb::Response list_reply() {
  pb::Response response;
  pb::MemoryItem* item = response.mutable_list()->add_items();
  item->set_id("m-1");
  item->set_tier(pb::STM);
  item->set_health(60);
  item->set_importance(0.5);
  item->set_content("Ada is allergic to peanuts and " + std::string(200, 'x'));
  pb::MemoryItem* second = response.mutable_list()->add_items();
  second->set_id("m-2");
  second->set_tier(pb::LTM);
  second->set_content("Ada ♥ tea");
  return response;
}

// Display columns of one terminal line: code points, without colour codes or the "\r" of "\r\n".
size_t columns(const std::string& line) {
  size_t width = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c == 0x1B) {
      while (i < line.size() && line[i] != 'm') ++i;
      continue;
    }
    if (c != '\r' && (c & 0xC0) != 0x80) ++width;
  }
  return width;
}

TEST(CliTerminal, ColourAndWidthOnATerminalPlainTextOtherwise) {
  FakeNode node;
  node.set_reply(pb::Request::kList, list_reply());
  const std::vector<std::string> args = {addr(node), "list", "--persona", "ada"};

  RunResult terminal = run_nca(args, {}, "", Terminal::stdout_only);
  ASSERT_EQ(terminal.exit_code, 0) << terminal.err;
  EXPECT_NE(terminal.out.find("\033[1mID"), std::string::npos) << "bold headers: " << terminal.out;
  EXPECT_NE(terminal.out.find("\033[33mSTM\033[0m"), std::string::npos) << terminal.out;
  EXPECT_NE(terminal.out.find("\033[32mLTM\033[0m"), std::string::npos) << terminal.out;
  EXPECT_NE(terminal.out.find("…"), std::string::npos) << "long content is cut to the width";
  size_t start = 0;
  while (start < terminal.out.size()) {
    size_t end = terminal.out.find('\n', start);
    std::string line = terminal.out.substr(start, end - start);
    EXPECT_LE(columns(line), 80u) << "a terminal of unknown size is taken as 80 wide: " << line;
    start = end + 1;
  }

  for (std::string env : {"NO_COLOR=1", "TERM=dumb"}) {
    SCOPED_TRACE(env);
    RunResult plain = run_nca(args, {env}, "", Terminal::stdout_only);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(plain.out.find('\033'), std::string::npos) << plain.out;
    EXPECT_NE(plain.out.find("Ada ♥ tea"), std::string::npos) << plain.out;
  }
  RunResult empty_no_colour = run_nca(args, {"NO_COLOR="}, "", Terminal::stdout_only);
  EXPECT_NE(empty_no_colour.out.find('\033'), std::string::npos)
      << "an empty NO_COLOR does not count (no-color.org)";

  RunResult piped = run_nca(args);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out.find('\033'), std::string::npos) << piped.out;
  EXPECT_EQ(piped.out.rfind("ID ", 0), 0u) << "still a table, without colour: " << piped.out;

  RunResult json =
      run_nca({addr(node), "--json", "list", "--persona", "ada"}, {}, "", Terminal::stdout_only);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.find('\033'), std::string::npos) << "--json is plain even on a terminal";
  EXPECT_EQ(nlohmann::json::parse(json.out)["items"].size(), 2u);
}

TEST(CliJson, TheSameReplyGivesTheSameTextWithMapKeysSorted) {
  FakeNode node;
  pb::Response response;
  pb::MemoryItem* item = response.mutable_get()->mutable_item();
  item->set_id("m-1");
  item->set_content("Ada");
  // Enough keys that protobuf's hash order is not sorted order by chance.
  for (int i = 0; i < 40; ++i) {
    (*item->mutable_metadata())["key-" + std::to_string((i * 17) % 40)] = std::to_string(i);
  }
  node.set_reply(pb::Request::kGet, response);
  RunResult first = run_nca({addr(node), "--json", "get", "m-1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::vector<std::string> keys;
  nlohmann::ordered_json document = nlohmann::ordered_json::parse(first.out);
  for (const auto& entry : document["item"]["metadata"].items()) keys.push_back(entry.key());
  ASSERT_EQ(keys.size(), 40u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end())) << first.out;
  // Message fields keep the schema's order (id before content).
  EXPECT_LT(first.out.find("\"id\""), first.out.find("\"content\"")) << first.out;
  for (int run = 0; run < 3; ++run) {
    EXPECT_EQ(run_nca({addr(node), "--json", "get", "m-1"}).out, first.out);
  }
}

}  // namespace
}  // namespace nca
