// Tests of the `nca persona ...` and `nca event ...` verbs against FakeNode: two-word verbs and
// their help, argument parsing and the requests built, the --yes guard, output and exit codes.
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

const std::vector<std::string> kPersonaVerbs = {"create", "get",    "list",  "update",
                                                "pause",  "resume", "delete"};
const std::vector<std::string> kEventVerbs = {"publish", "next", "ack",    "nack",
                                              "status",  "dead", "requeue"};

std::vector<std::string> with_addr(const FakeNode& node, std::vector<std::string> args) {
  args.insert(args.begin(), addr(node));
  return args;
}

std::string joined(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& arg : args) text += arg + " ";
  return text;
}

TEST(CliGroups, GroupHelpListsItsVerbsAndEveryVerbHasHelp) {
  for (const auto& [group, members] : {std::make_pair(std::string("persona"), kPersonaVerbs),
                                       std::make_pair(std::string("event"), kEventVerbs)}) {
    SCOPED_TRACE(group);
    RunResult help = run_nca({group, "--help"});
    ASSERT_EQ(help.exit_code, 0) << help.err;
    EXPECT_EQ(help.out.rfind("Usage: nca " + group + " VERB", 0), 0u) << help.out;
    EXPECT_EQ(run_nca({"help", group}).out, help.out);
    RunResult global = run_nca({"--help"});
    for (const std::string& verb : members) {
      std::string name = group + " " + verb;
      SCOPED_TRACE(name);
      EXPECT_NE(help.out.find("\n  " + name + " "), std::string::npos) << help.out;
      EXPECT_NE(global.out.find("\n  " + name + " "), std::string::npos) << "in nca --help";
      EXPECT_NE(global.out.find("\n  nca " + name), std::string::npos) << "no example";
      RunResult verb_help = run_nca({group, verb, "--help"});
      ASSERT_EQ(verb_help.exit_code, 0) << verb_help.err;
      EXPECT_EQ(verb_help.out.rfind("Usage: nca " + name, 0), 0u) << verb_help.out;
      EXPECT_NE(verb_help.out.find("\n  nca " + name), std::string::npos) << verb_help.out;
      EXPECT_EQ(run_nca({"help", group, verb}).out, verb_help.out);
    }
  }
}

TEST(CliGroups, AGroupWithoutAKnownVerbIsAUsageError) {
  RunResult bare = run_nca({"persona"});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("'persona' needs a verb: create, get, list"), std::string::npos)
      << bare.err;
  RunResult unknown = run_nca({"event", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown verb 'event frobnicate' (event verbs: publish, next"),
            std::string::npos)
      << unknown.err;
  RunResult option_first = run_nca({"persona", "--json", "get", "ada"});
  EXPECT_EQ(option_first.exit_code, 2) << "the group's verb comes right after the group";
  RunResult top = run_nca({"frobnicate"});
  EXPECT_NE(top.err.find("persona ..., event ..."), std::string::npos) << top.err;
}

TEST(CliGroups, UsageErrorsExitWithTwoAndSendNothing) {
  FakeNode node;
  const std::vector<std::vector<std::string>> cases = {
      {"persona", "create"},
      {"persona", "create", "ada", "--skill", "billing"},
      {"persona", "create", "ada", "--skill", "billing=1.5"},
      {"persona", "create", "ada", "--relationship", "grace"},
      {"persona", "create", "ada", "--relationship", "grace=manager:2"},
      {"persona", "create", "ada", "--capacity", "-1"},
      {"persona", "create", "ada", "--capacity", "2.5"},
      {"persona", "get"},
      {"persona", "list", "--page-size", "0"},
      {"persona", "update", "ada"},
      {"persona", "update", "ada", "--clear", "mood"},
      {"persona", "update", "ada", "--clear", "role", "--role", "lead"},
      {"persona", "update", "ada", "--role", "lead", "--expected-version", "zero"},
      {"persona", "update", "ada", "--role", "lead", "--expected-version", "1.5"},
      {"persona", "pause"},
      {"persona", "resume"},
      {"persona", "delete"},
      {"event", "publish"},
      {"event", "publish", "--topic", ""},
      {"event", "publish", "--topic", "t", "--payload", "{not json"},
      {"event", "publish", "--topic", "t", "--priority", "urgent"},
      {"event", "publish", "--topic", "t", "--meta", "novalue"},
      {"event", "next"},
      {"event", "next", "ada", "--wait", "soon"},
      {"event", "ack"},
      {"event", "ack", "e-1", "--attempt", "-1"},
      {"event", "nack", "e-1", "--attempt", "x"},
      {"event", "status"},
      {"event", "dead", "--page-size", "5000"},
      {"event", "requeue"},
      {"recall", "--persona", "ada", "--include-shared"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(joined(args));
    RunResult result = run_nca(with_addr(node, args));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("nca: usage: ", 0), 0u) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  EXPECT_TRUE(node.requests().empty());
}

TEST(CliPersona, DeleteNeedsYes) {
  FakeNode node;
  RunResult refused = run_nca({addr(node), "persona", "delete", "ada"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("add --yes to confirm"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("persona ada"), std::string::npos) << refused.err;
  EXPECT_TRUE(node.requests().empty()) << "nothing is sent without --yes";

  pb::Response deleted;
  deleted.mutable_delete_persona()->set_persona_id("ada");
  deleted.mutable_delete_persona()->set_items_deleted(12);
  deleted.mutable_delete_persona()->set_events_requeued(2);
  node.set_reply(pb::Request::kDeletePersona, deleted);
  RunResult confirmed = run_nca({addr(node), "persona", "delete", "ada", "--yes"});
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.err;
  EXPECT_EQ(confirmed.out,
            "deleted persona ada: 12 memories deleted, 2 events back in the queue\n");
  auto seen = node.requests_of(pb::Request::kDeletePersona);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].delete_persona().persona_id(), "ada");
  EXPECT_TRUE(seen[0].delete_persona().confirm());
}

TEST(CliPersona, CreateSendsTheWholeProfile) {
  FakeNode node;
  RunResult result = run_nca({addr(node),
                              "--tenant",
                              "acme",
                              "persona",
                              "create",
                              "ada",
                              "--name",
                              "Ada",
                              "--role",
                              "support engineer",
                              "--description",
                              "billing tickets",
                              "--skill",
                              "billing=0.9",
                              "--skill",
                              "sql=0.25",
                              "--responsibility",
                              "refunds",
                              "--trait",
                              "patient",
                              "--trait",
                              "precise",
                              "--like",
                              "clear tickets",
                              "--dislike",
                              "vague reports",
                              "--relationship",
                              "grace=manager:0.8",
                              "--relationship",
                              "bob=peer",
                              "--relationship",
                              "eve=:-0.5",
                              "--capacity",
                              "6"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].request.header().tenant(), "acme");
  ASSERT_TRUE(seen[0].request.has_create_persona());
  const pb::Persona& persona = seen[0].request.create_persona().persona();
  EXPECT_EQ(persona.id(), "ada");
  EXPECT_EQ(persona.name(), "Ada");
  EXPECT_EQ(persona.role(), "support engineer");
  EXPECT_EQ(persona.description(), "billing tickets");
  EXPECT_DOUBLE_EQ(persona.skills().at("billing"), 0.9);
  EXPECT_DOUBLE_EQ(persona.skills().at("sql"), 0.25);
  ASSERT_EQ(persona.responsibilities_size(), 1);
  ASSERT_EQ(persona.traits_size(), 2);
  EXPECT_EQ(persona.traits(1), "precise");
  EXPECT_EQ(persona.preferences().likes(0), "clear tickets");
  EXPECT_EQ(persona.preferences().dislikes(0), "vague reports");
  EXPECT_EQ(persona.relationships().at("grace").relation(), "manager");
  EXPECT_DOUBLE_EQ(persona.relationships().at("grace").affinity(), 0.8);
  EXPECT_EQ(persona.relationships().at("bob").relation(), "peer");
  EXPECT_DOUBLE_EQ(persona.relationships().at("bob").affinity(), 0);
  EXPECT_EQ(persona.relationships().at("eve").relation(), "");
  EXPECT_DOUBLE_EQ(persona.relationships().at("eve").affinity(), -0.5);
  EXPECT_EQ(persona.capacity(), 6u);
}

TEST(CliPersona, UpdateNamesOnlyTheFieldsGiven) {
  FakeNode node;
  const std::vector<std::vector<std::string>> cases = {
      {"persona", "update", "ada", "--role", "lead", "--expected-version", "3"},
      {"persona", "update", "ada", "--skill", "billing=0.5", "--like", "tea", "--clear", "traits",
       "--clear", "capacity"},
  };
  for (const auto& args : cases) {
    RunResult result = run_nca(with_addr(node, args));
    ASSERT_EQ(result.exit_code, 0) << joined(args) << result.err;
  }
  auto seen = node.requests_of(pb::Request::kUpdatePersona);
  ASSERT_EQ(seen.size(), 2u);
  const pb::PersonaWriteRequest& role = seen[0].update_persona();
  EXPECT_EQ(role.persona().id(), "ada");
  EXPECT_EQ(role.persona().role(), "lead");
  EXPECT_EQ(role.expected_version(), 3u);
  EXPECT_EQ(std::vector<std::string>(role.fields().begin(), role.fields().end()),
            std::vector<std::string>{"role"});
  const pb::PersonaWriteRequest& lists = seen[1].update_persona();
  EXPECT_EQ(lists.expected_version(), 0u) << "no --expected-version: any version";
  EXPECT_EQ(std::vector<std::string>(lists.fields().begin(), lists.fields().end()),
            (std::vector<std::string>{"capacity", "preferences", "skills", "traits"}));
  EXPECT_DOUBLE_EQ(lists.persona().skills().at("billing"), 0.5);
  EXPECT_TRUE(lists.persona().traits().empty()) << "--clear sends the field empty";
  EXPECT_EQ(lists.persona().capacity(), 0u);
}

TEST(CliPersona, IdVerbsAndListSendTheirBody) {
  FakeNode node;
  const std::vector<std::vector<std::string>> cases = {
      {"persona", "get", "ada"},
      {"persona", "pause", "ada"},
      {"persona", "resume", "ada"},
      {"persona", "list"},
      {"persona", "list", "--page-size", "2", "--page-token", "bob"},
  };
  for (const auto& args : cases) {
    RunResult result = run_nca(with_addr(node, args));
    EXPECT_EQ(result.exit_code, 0) << joined(args) << result.err;
  }
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), cases.size());
  EXPECT_EQ(seen[0].request.get_persona().persona_id(), "ada");
  EXPECT_EQ(seen[1].request.pause_persona().persona_id(), "ada");
  EXPECT_EQ(seen[2].request.resume_persona().persona_id(), "ada");
  EXPECT_EQ(seen[3].request.list_personas().page_size(), 50u);
  EXPECT_TRUE(seen[3].request.list_personas().page_token().empty());
  EXPECT_EQ(seen[4].request.list_personas().page_size(), 2u);
  EXPECT_EQ(seen[4].request.list_personas().page_token(), "bob");
}

TEST(CliPersona, ProfileTableListAndJson) {
  FakeNode node;
  pb::Response got;
  pb::Persona* ada = got.mutable_get_persona()->mutable_persona();
  ada->set_id("ada");
  ada->set_name("Ada");
  ada->set_role("support engineer");
  (*ada->mutable_skills())["billing"] = 0.9;
  (*ada->mutable_skills())["sql"] = 0.25;
  ada->add_traits("patient");
  pb::Relationship manager;
  manager.set_relation("manager");
  manager.set_affinity(0.8);
  (*ada->mutable_relationships())["grace"] = manager;
  ada->set_status(pb::PERSONA_PAUSED);
  ada->set_version(3);
  node.set_reply(pb::Request::kGetPersona, got);
  RunResult table = run_nca({addr(node), "persona", "get", "ada"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("support engineer"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("billing 0.90, sql 0.25"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("grace: manager (+0.80)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("paused"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("capacity          default"), std::string::npos) << table.out;
  RunResult json = run_nca({addr(node), "--json", "persona", "get", "ada"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json document = nlohmann::json::parse(json.out);
  EXPECT_EQ(document["persona"]["id"], "ada");
  EXPECT_EQ(document["persona"]["status"], "PERSONA_PAUSED");
  EXPECT_DOUBLE_EQ(document["persona"]["skills"]["billing"].get<double>(), 0.9);

  pb::Response page;
  pb::Persona* first = page.mutable_list_personas()->add_personas();
  first->set_id("ada");
  first->set_role("support engineer");
  first->set_capacity(4);
  page.mutable_list_personas()->add_personas()->set_id("bob");
  page.mutable_list_personas()->set_next_page_token("bob");
  node.set_reply(pb::Request::kListPersonas, page);
  RunResult list = run_nca({addr(node), "persona", "list", "--page-size", "2"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("STATUS"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("support engineer"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\nbob "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("more: nca persona list --page-size 2 --page-token bob"),
            std::string::npos)
      << list.out;

  node.set_status(pb::Request::kUpdatePersona, pb::CONFLICT, "persona ada is at version 4, not 3");
  RunResult stale =
      run_nca({addr(node), "persona", "update", "ada", "--role", "x", "--expected-version", "3"});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_EQ(stale.err, "nca: conflict: persona ada is at version 4, not 3\n");
  node.set_status(pb::Request::kGetPersona, pb::NOT_FOUND, "persona 'zed' does not exist");
  EXPECT_EQ(run_nca({addr(node), "persona", "get", "zed"}).exit_code, 3);
}

TEST(CliEvent, PublishSendsEveryFlag) {
  FakeNode node;
  RunResult result = run_nca({addr(node),
                              "event",
                              "publish",
                              "--topic",
                              "support.ticket_created",
                              "--payload",
                              R"({"ticket": 42})",
                              "--priority",
                              "CRITICAL",
                              "--skill",
                              "billing",
                              "--skill",
                              "sql",
                              "--meta",
                              "channel=email",
                              "--from",
                              "grace",
                              "--target",
                              "ada",
                              "--thread",
                              "t-42",
                              "--id",
                              "e-1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  RunResult from_stdin =
      run_nca({addr(node), "event", "publish", "--topic", "chat.message", "--payload", "-"}, {},
              "[1, 2, 3]\n");
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  RunResult bare = run_nca({addr(node), "event", "publish", "--topic", "ping.pong"});
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  auto seen = node.requests_of(pb::Request::kPublish);
  ASSERT_EQ(seen.size(), 3u);
  ASSERT_EQ(seen[0].publish().events_size(), 1);
  const pb::EventInput& event = seen[0].publish().events(0);
  EXPECT_EQ(event.topic(), "support.ticket_created");
  EXPECT_EQ(event.payload(), R"({"ticket": 42})");
  EXPECT_EQ(event.priority(), pb::CRITICAL);
  ASSERT_EQ(event.required_skills_size(), 2);
  EXPECT_EQ(event.required_skills(1), "sql");
  EXPECT_EQ(event.metadata().at("channel"), "email");
  EXPECT_EQ(event.from(), "grace");
  EXPECT_EQ(event.target_persona(), "ada");
  EXPECT_EQ(event.thread_id(), "t-42");
  EXPECT_EQ(event.id(), "e-1");
  EXPECT_EQ(seen[1].publish().events(0).payload(), "[1, 2, 3]");
  EXPECT_EQ(seen[2].publish().events(0).priority(), pb::PRIORITY_UNSPECIFIED)
      << "no --priority: the node's default (normal)";
  EXPECT_TRUE(seen[2].publish().events(0).payload().empty());
}

TEST(CliEvent, SettleAndInspectVerbsSendTheirBody) {
  FakeNode node;
  const std::vector<std::vector<std::string>> cases = {
      {"event", "ack", "e-1", "--attempt", "2", "--result", "refund issued"},
      {"event", "ack", "e-1"},
      {"event", "nack", "e-2", "--attempt", "1", "--reason", "needs a human"},
      {"event", "nack", "e-3", "--dead", "--reason", "poison"},
      {"event", "status", "e-1"},
      {"event", "dead", "--page-size", "5", "--page-token", "e-3"},
      {"event", "requeue", "e-3", "e-4"},
      {"recall", "--persona", "ada", "--include-shared", "refund", "policy"},
      {"recall", "--persona", "ada", "refund"},
  };
  for (const auto& args : cases) {
    RunResult result = run_nca(with_addr(node, args));
    EXPECT_EQ(result.exit_code, 0) << joined(args) << result.err;
  }
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), cases.size());
  EXPECT_EQ(seen[0].request.ack().event_id(), "e-1");
  EXPECT_EQ(seen[0].request.ack().attempt(), 2u);
  EXPECT_EQ(seen[0].request.ack().result(), "refund issued");
  EXPECT_EQ(seen[1].request.ack().attempt(), 0u) << "no --attempt: not checked";
  EXPECT_EQ(seen[2].request.nack().event_id(), "e-2");
  EXPECT_EQ(seen[2].request.nack().reason(), "needs a human");
  EXPECT_FALSE(seen[2].request.nack().dead_letter());
  EXPECT_TRUE(seen[3].request.nack().dead_letter());
  EXPECT_EQ(seen[3].request.nack().attempt(), 0u);
  EXPECT_EQ(seen[4].request.event_status().event_id(), "e-1");
  EXPECT_EQ(seen[5].request.list_dead_letters().page_size(), 5u);
  EXPECT_EQ(seen[5].request.list_dead_letters().page_token(), "e-3");
  ASSERT_EQ(seen[6].request.requeue().event_ids_size(), 2);
  EXPECT_EQ(seen[6].request.requeue().event_ids(1), "e-4");
  EXPECT_TRUE(seen[7].request.recall().include_shared());
  EXPECT_EQ(seen[7].request.recall().query(), "refund policy");
  EXPECT_FALSE(seen[8].request.recall().include_shared());
}

// `event next` waits up to --wait on top of --timeout: a poll the node holds for 800 ms succeeds
// with a 300 ms timeout.
TEST(CliEvent, NextWaitsLongerThanTheTimeout) {
  FakeNode node;
  auto start = std::chrono::steady_clock::now();
  RunResult result =
      run_nca({addr(node), "--timeout", "300ms", "event", "next", "ada", "--wait", "800ms"});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "no event for ada within 800 ms\n");
  EXPECT_GE(took, std::chrono::milliseconds(750));
  auto seen = node.requests_of(pb::Request::kNextEvent);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].next_event().persona_id(), "ada");
  EXPECT_EQ(seen[0].next_event().wait_ms(), 800u);

  RunResult json = run_nca({addr(node), "--json", "event", "next", "ada", "--wait", "0"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  // None arrived: no `event`, and `events` (the batch form's list) empty.
  EXPECT_EQ(nlohmann::json::parse(json.out), nlohmann::json::parse(R"({"events": []})"))
      << json.out;
  EXPECT_EQ(node.requests_of(pb::Request::kNextEvent).back().next_event().wait_ms(), 0u);
  RunResult short_wait = run_nca({addr(node), "event", "next", "ada", "--wait", "1ms"});
  ASSERT_EQ(short_wait.exit_code, 0) << short_wait.err;
}

pb::Event delivered_event() {
  pb::Event event;
  event.set_id("e-1");
  event.set_topic("support.ticket_created");
  event.set_priority(pb::HIGH);
  event.set_state(pb::EVENT_DELIVERED);
  event.set_persona_id("ada");
  event.set_attempts(2);
  event.set_from("grace");
  event.set_thread_id("t-42");
  event.set_payload(R"({"ticket": 42})");
  event.set_published_at_us(1718008200LL * 1'000'000);
  event.set_lease_expires_at_us(1718008260LL * 1'000'000);
  return event;
}

TEST(CliEvent, OutputOfEachVerb) {
  FakeNode node;
  pb::Response next;
  *next.mutable_next_event()->mutable_event() = delivered_event();
  node.queue_reply(pb::Request::kNextEvent, next);
  RunResult taken = run_nca({addr(node), "event", "next", "ada"});
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_NE(taken.out.find("support.ticket_created"), std::string::npos) << taken.out;
  EXPECT_NE(taken.out.find("delivered"), std::string::npos) << taken.out;
  EXPECT_NE(taken.out.find("lease until  2024-06-10 08:31:00"), std::string::npos) << taken.out;
  EXPECT_NE(taken.out.find(R"({"ticket": 42})"), std::string::npos) << taken.out;
  EXPECT_NE(taken.out.find("nca event ack e-1 --attempt 2"), std::string::npos) << taken.out;
  node.queue_reply(pb::Request::kNextEvent, next);
  RunResult taken_json = run_nca({addr(node), "--json", "event", "next", "ada"});
  ASSERT_EQ(taken_json.exit_code, 0) << taken_json.err;
  nlohmann::json document = nlohmann::json::parse(taken_json.out);
  EXPECT_EQ(document["event"]["id"], "e-1");
  EXPECT_EQ(document["event"]["attempts"], 2);
  EXPECT_EQ(document["event"]["state"], "EVENT_DELIVERED");

  pb::Response published;
  pb::Event* assigned = published.mutable_publish()->add_events();
  *assigned = delivered_event();
  assigned->set_state(pb::EVENT_ASSIGNED);
  node.set_reply(pb::Request::kPublish, published);
  RunResult publish = run_nca({addr(node), "event", "publish", "--topic", "t"});
  ASSERT_EQ(publish.exit_code, 0) << publish.err;
  EXPECT_EQ(publish.out, "published e-1 (high): assigned to ada\n");
  published.mutable_publish()->mutable_events(0)->set_state(pb::EVENT_PENDING);
  published.mutable_publish()->mutable_events(0)->clear_persona_id();
  node.set_reply(pb::Request::kPublish, published);
  RunResult waiting = run_nca({addr(node), "event", "publish", "--topic", "t"});
  EXPECT_EQ(waiting.out, "published e-1 (high): pending (waiting for a persona with room)\n");

  pb::Response acked;
  pb::Event* done = acked.mutable_ack()->mutable_event();
  *done = delivered_event();
  done->set_state(pb::EVENT_ACKED);
  done->set_result_memory_id("m-result");
  node.set_reply(pb::Request::kAck, acked);
  RunResult ack = run_nca({addr(node), "event", "ack", "e-1", "--result", "ok"});
  EXPECT_EQ(ack.out, "acked e-1; result remembered as m-result\n") << ack.err;
  pb::Response nacked;
  *nacked.mutable_nack()->mutable_event() = delivered_event();
  nacked.mutable_nack()->mutable_event()->set_state(pb::EVENT_DEAD);
  node.set_reply(pb::Request::kNack, nacked);
  RunResult dead = run_nca({addr(node), "event", "nack", "e-1", "--dead"});
  EXPECT_NE(dead.out.find("dead-letter list"), std::string::npos) << dead.out;

  pb::Response status;
  pb::Event* finished = status.mutable_event_status()->mutable_event();
  *finished = delivered_event();
  finished->set_state(pb::EVENT_ACKED);
  finished->set_result("refund issued");
  node.set_reply(pb::Request::kEventStatus, status);
  RunResult shown = run_nca({addr(node), "event", "status", "e-1"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("acked"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("refund issued"), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("lease until"), std::string::npos) << "no lease once acked";

  pb::Response letters;
  pb::Event* letter = letters.mutable_list_dead_letters()->add_events();
  *letter = delivered_event();
  letter->set_state(pb::EVENT_DEAD);
  letter->set_last_error("nacked: poison");
  letters.mutable_list_dead_letters()->set_next_page_token("e-1");
  node.set_reply(pb::Request::kListDeadLetters, letters);
  RunResult list = run_nca({addr(node), "event", "dead", "--page-size", "1"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("LAST ERROR"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("nacked: poison"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("more: nca event dead --page-size 1 --page-token e-1"), std::string::npos)
      << list.out;
  RunResult none = run_nca({addr(node), "event", "requeue", "e-1"});
  EXPECT_EQ(none.out, "requeued 0 events\n");

  node.set_status(pb::Request::kEventStatus, pb::NOT_FOUND, "no event e-404");
  RunResult missing = run_nca({addr(node), "event", "status", "e-404"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_EQ(missing.err, "nca: not_found: no event e-404\n");
  node.set_status(pb::Request::kAck, pb::CONFLICT, "event e-1 is at delivery 3, not 2");
  EXPECT_EQ(run_nca({addr(node), "event", "ack", "e-1", "--attempt", "2"}).exit_code, 1);
}

// `event next --max N` asks for a batch and prints every event; `event ack` with several ids (each
// ID or ID:ATTEMPT) sends one ack_batch, prints each outcome and fails when one was refused.
TEST(CliEvent, BatchedNextAndAck) {
  FakeNode node;
  pb::Response two;
  *two.mutable_next_event()->add_events() = delivered_event();
  pb::Event second = delivered_event();
  second.set_id("e-2");
  *two.mutable_next_event()->add_events() = second;
  node.queue_reply(pb::Request::kNextEvent, two);
  RunResult taken = run_nca({addr(node), "event", "next", "ada", "--max", "5", "--wait", "0"});
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_NE(taken.out.find("nca event ack e-1 --attempt 2"), std::string::npos) << taken.out;
  EXPECT_NE(taken.out.find("nca event ack e-2 --attempt 2"), std::string::npos) << taken.out;
  EXPECT_EQ(node.requests_of(pb::Request::kNextEvent).back().next_event().max_events(), 5u);

  pb::Response settled;
  auto* ok = settled.mutable_ack_batch()->add_results();
  ok->mutable_status()->set_code(pb::OK);
  *ok->mutable_event() = delivered_event();
  auto* refused = settled.mutable_ack_batch()->add_results();
  refused->mutable_status()->set_code(pb::CONFLICT);
  refused->mutable_status()->set_message("event e-2 is at delivery 3, not 2");
  node.set_reply(pb::Request::kAckBatch, settled);
  RunResult acked = run_nca({addr(node), "event", "ack", "e-1:2", "e-2:2"});
  EXPECT_EQ(acked.exit_code, 1) << "one ack was refused";
  EXPECT_EQ(acked.out, "acked e-1\nnot acked e-2: event e-2 is at delivery 3, not 2\n");
  auto sent = node.requests_of(pb::Request::kAckBatch);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].ack_batch().acks_size(), 2);
  EXPECT_EQ(sent[0].ack_batch().acks(0).event_id(), "e-1");
  EXPECT_EQ(sent[0].ack_batch().acks(0).attempt(), 2u);
  EXPECT_EQ(sent[0].ack_batch().acks(1).event_id(), "e-2");

  refused->mutable_status()->set_code(pb::OK);
  node.set_reply(pb::Request::kAckBatch, settled);
  EXPECT_EQ(run_nca({addr(node), "event", "ack", "e-1", "e-2"}).exit_code, 0);
  EXPECT_EQ(node.requests_of(pb::Request::kAckBatch).back().ack_batch().acks(0).attempt(), 0u);

  // Usage errors send nothing.
  size_t before = node.requests().size();
  EXPECT_EQ(run_nca({addr(node), "event", "ack", "e-1", "e-2", "--attempt", "2"}).exit_code, 2);
  EXPECT_EQ(run_nca({addr(node), "event", "ack", "e-1:x", "e-2"}).exit_code, 2);
  EXPECT_EQ(run_nca({addr(node), "event", "ack", ":1", "e-2"}).exit_code, 2);
  EXPECT_EQ(run_nca({addr(node), "event", "next", "ada", "--max", "0"}).exit_code, 2);
  EXPECT_EQ(node.requests().size(), before);
}

}  // namespace
}  // namespace nca
