// examples/chat_agent.cpp: a chat agent that remembers every turn and recalls context before it
// answers, with the C++ SDK (nca::Client).
//
// The language model is scripted (each assistant answer is written below) so the example runs
// offline; the memory work is real. For every user turn the agent
//   1. remembers the user's turn, with the conversation as `session_id` (consecutive turns of a
//      session are linked by tubules) and the speaker in metadata,
//   2. recalls the memories most relevant to the user's message (`recall`) and the persona's most
//      active memories (`context`),
//   3. prints the prompt it would send to a model: system text, recalled memories, working context,
//      the user's message,
//   4. remembers its (scripted) answer the same way.
// The second conversation asks about facts told in the first one: the agent must find them across
// sessions. The program checks that itself and exits 0 only when every turn was stored and every
// recall returned the earlier fact it needed, so CI runs it as a smoke test.
//
// Turns have fixed ids (persona.session.turn), so a second run against the same node stores nothing
// new and checks the same things.
//
// Usage: chat_agent [--addr HOST:PORT] [--persona ID] [--tenant T] [-k N]
//   --addr defaults to $NCA_ADDR, then 127.0.0.1:7420 (what `nca-node --dev` listens on).
// Exit status: 0 all checks passed, 1 a check or a call failed, 2 bad command line.
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "nca/client.hpp"

namespace {

struct Turn {
  std::string user;
  std::string assistant;
  // A phrase an earlier turn contains that the recall for this turn must return (empty: no check).
  std::string must_recall;
};

struct Conversation {
  std::string session_id;
  std::vector<Turn> turns;
};

// Two conversations a few weeks apart: the first tells facts, the second needs them.
std::vector<Conversation> script() {
  return {
      {"onboarding-2024-05-02",
       {
           {"Hi, I'm Sam. I run a small bakery called Crumb and Co in Leeds.",
            "Nice to meet you, Sam! How can I help Crumb and Co today?", ""},
           {"Our oven supplier is Hobart and the oven service contract renews every March.",
            "Noted: Hobart services your ovens and the contract renews in March.", ""},
           {"Also, I'm allergic to hazelnuts, so never suggest recipes with hazelnuts.",
            "Understood: no hazelnuts in anything I suggest.", ""},
       }},
      {"recipes-2024-06-10",
       {
           {"Suggest a filling for our summer cakes, keeping in mind what I'm allergic to.",
            "How about a lemon curd filling? It contains no hazelnuts.", "allergic to hazelnuts"},
           {"When does the oven service contract renew again?",
            "Your Hobart oven service contract renews every March.", "renews every March"},
           {"What is the name of my bakery? I need it for the invoice header.",
            "Your bakery is Crumb and Co, in Leeds.", "Crumb and Co"},
       }},
  };
}

// Working-context entries shown in the prompt.
constexpr uint32_t kContextSize = 3;

struct Options {
  std::string addr = "127.0.0.1:7420";
  std::string persona = "sam-assistant";
  std::string tenant;
  uint32_t k = 5;
};

void usage(std::ostream& out) {
  out << "usage: chat_agent [--addr HOST:PORT] [--persona ID] [--tenant T] [-k N]\n"
         "Runs a scripted two-session chat against a neuroca node, remembering every turn and\n"
         "recalling context before each answer. Exits 0 when every check passed.\n";
}

// Fills `options`; returns the exit status when the program should end now (help, bad usage).
std::optional<int> parse_args(int argc, char** argv, Options& options) {
  if (const char* env = std::getenv("NCA_ADDR"); env != nullptr && *env != '\0') {
    options.addr = env;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::cerr << "chat_agent: " << arg << " needs a value\n";
        return false;
      }
      out = argv[++i];
      return true;
    };
    std::string k_text;
    if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else if (arg == "--addr") {
      if (!value(options.addr)) return 2;
    } else if (arg == "--persona") {
      if (!value(options.persona)) return 2;
    } else if (arg == "--tenant") {
      if (!value(options.tenant)) return 2;
    } else if (arg == "-k") {
      if (!value(k_text)) return 2;
      char* end = nullptr;
      long k = std::strtol(k_text.c_str(), &end, 10);
      if (end == k_text.c_str() || *end != '\0' || k < 1 || k > 100) {
        std::cerr << "chat_agent: -k takes a number from 1 to 100, not '" << k_text << "'\n";
        return 2;
      }
      options.k = static_cast<uint32_t>(k);
    } else {
      std::cerr << "chat_agent: unknown argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  return std::nullopt;
}

std::string speaker_of(const nca::pb::MemoryItem& item) {
  auto it = item.metadata().find("role");
  return it == item.metadata().end() ? "?" : it->second;
}

// Remembers one turn under a fixed id; true when the node holds it afterwards.
bool remember_turn(nca::Client& client, const Options& options, const std::string& session,
                   const std::string& id, const std::string& role, const std::string& text,
                   std::vector<std::string>& stored_ids) {
  nca::pb::MemoryInput memory;
  memory.set_id(id);
  memory.set_content(text);
  memory.set_session_id(session);
  // What the user tells is worth more than the assistant's paraphrase of it.
  memory.set_importance(role == "user" ? 0.7 : 0.4);
  (*memory.mutable_metadata())["role"] = role;
  memory.add_tags("chat");
  memory.add_tags(role);
  auto stored = client.remember(options.persona, memory);
  if (!stored) {
    std::cerr << "FAIL remember " << id << ": " << stored.error().to_string() << "\n";
    return false;
  }
  std::cout << "remembered " << role << " turn " << id
            << (stored->created() ? "" : " (already stored by an earlier run)") << "\n";
  stored_ids.push_back(id);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (std::optional<int> status = parse_args(argc, argv, options)) return *status;

  nca::ClientOptions client_options;
  client_options.tenant = options.tenant;
  auto connected = nca::Client::connect({options.addr}, client_options);
  if (!connected) {
    std::cerr << "chat_agent: cannot reach " << options.addr << ": "
              << connected.error().to_string() << "\n";
    return 1;
  }
  nca::Client& client = **connected;

  int failures = 0;
  std::vector<std::string> stored_ids;
  std::vector<std::string> stored_texts;
  for (const Conversation& conversation : script()) {
    for (size_t t = 0; t < conversation.turns.size(); ++t) {
      const Turn& turn = conversation.turns[t];
      std::cout << "\n=== " << conversation.session_id << ", turn " << t + 1 << " ===\n";

      // Store the user's turn first (nothing is lost if the model call fails), then ask for the
      // memories relevant to it. The turn itself is the best match of its own recall and the most
      // active memory: leave it out of the prompt, which shows it once, as the user's message.
      std::string id_prefix =
          options.persona + "." + conversation.session_id + "." + std::to_string(t + 1);
      std::string user_id = id_prefix + ".user";
      if (!remember_turn(client, options, conversation.session_id, user_id, "user", turn.user,
                         stored_ids)) {
        return 1;
      }
      stored_texts.push_back(turn.user);
      nca::pb::RecallRequest recall;
      recall.set_persona_id(options.persona);
      recall.set_query(turn.user);
      recall.set_k(options.k + 1);
      auto hits = client.recall(recall);
      if (!hits) {
        std::cerr << "FAIL recall: " << hits.error().to_string() << "\n";
        return 1;
      }
      auto context = client.context(options.persona, kContextSize + 1);
      if (!context) {
        std::cerr << "FAIL context: " << context.error().to_string() << "\n";
        return 1;
      }
      std::vector<const nca::pb::RecallHit*> recalled;
      for (const nca::pb::RecallHit& hit : hits->hits()) {
        if (hit.item().id() != user_id && recalled.size() < options.k) recalled.push_back(&hit);
      }
      std::vector<const nca::pb::MemoryItem*> working;
      for (const nca::pb::ContextItem& entry : context->items()) {
        if (entry.item().id() != user_id && working.size() < kContextSize) {
          working.push_back(&entry.item());
        }
      }

      std::cout << "--- prompt ---\n"
                << "System: You are Sam's assistant. Use the memories below; never contradict "
                   "them.\n"
                << "Relevant memories (recall, best first):\n";
      if (recalled.empty()) std::cout << "  (none yet)\n";
      bool found = turn.must_recall.empty();
      for (const nca::pb::RecallHit* hit : recalled) {
        const nca::pb::MemoryItem& item = hit->item();
        std::cout << "  [" << std::fixed << std::setprecision(4) << hit->score() << "] ("
                  << item.session_id() << ", " << speaker_of(item) << ") " << item.content()
                  << "\n";
        found = found || item.content().find(turn.must_recall) != std::string::npos;
      }
      std::cout << "Working context (most active):\n";
      if (working.empty()) std::cout << "  (nothing else yet)\n";
      for (const nca::pb::MemoryItem* item : working) {
        std::cout << "  - (" << speaker_of(*item) << ") " << item->content() << "\n";
      }
      std::cout << "User: " << turn.user << "\n--- end of prompt ---\n"
                << "Assistant (scripted): " << turn.assistant << "\n";

      if (!turn.must_recall.empty()) {
        std::cout << (found ? "check ok: " : "CHECK FAILED: ") << "recall "
                  << (found ? "returned" : "did not return") << " the earlier fact \""
                  << turn.must_recall << "\"\n";
        if (!found) ++failures;
      }
      // A turn was just stored, so the working context cannot be empty.
      if (context->items().empty()) {
        std::cout << "CHECK FAILED: the working context is empty after storing a turn\n";
        ++failures;
      }

      if (!remember_turn(client, options, conversation.session_id, id_prefix + ".assistant",
                         "assistant", turn.assistant, stored_ids)) {
        return 1;
      }
      stored_texts.push_back(turn.assistant);
    }
  }

  // Every turn must read back as it was said.
  std::cout << "\n=== stored turns ===\n";
  for (size_t i = 0; i < stored_ids.size(); ++i) {
    auto item = client.get(stored_ids[i], options.persona);
    if (!item) {
      std::cout << "CHECK FAILED: " << stored_ids[i] << ": " << item.error().to_string() << "\n";
      ++failures;
    } else if (item->item().content() != stored_texts[i]) {
      std::cout << "CHECK FAILED: " << stored_ids[i] << " reads back as \""
                << item->item().content() << "\"\n";
      ++failures;
    }
  }
  std::cout << stored_ids.size() << " turns stored in " << script().size() << " sessions; "
            << failures << " failed checks\n";
  if (failures != 0) {
    std::cout << "chat_agent: FAILED\n";
    return 1;
  }
  std::cout << "chat_agent: OK\n";
  return 0;
}
