// examples/persona_router.cpp: work routed to personas by skill, handled by one worker per persona.
//
// A support desk with three personas, each with skills: billing-bot (billing, refunds),
// shipping-bot (shipping, tracking) and tech-bot (technical, integrations). The program publishes
// customer events that name the skills they need; the node routes each event to the best persona
// with room (DESIGN §3: skill match, affinity, load). One worker per persona takes that persona's
// events and acks each with a result, which the node stores as a memory of the persona:
//   - billing-bot and shipping-bot use Client::subscribe (a background long-poll loop that acks or
//     nacks as the handler decides),
//   - tech-bot runs a hand-written next_event loop, to show what subscribe does underneath.
// It prints which persona handled what, then checks through event_status that every event was acked
// by a persona that has all the skills the event asked for, and that each result became a memory.
// Exit status 0 only when all of that holds, so CI runs it as a smoke test.
//
// The personas live in their own tenant (default: a new one per run), so earlier runs against the
// same node, whose personas have no workers any more, cannot be assigned this run's events.
//
// Usage: persona_router [--addr HOST:PORT] [--tenant T] [--timeout SECONDS]
//   --addr defaults to $NCA_ADDR, then 127.0.0.1:7420 (what `nca-node --dev` listens on).
// Exit status: 0 all checks passed, 1 a check or a call failed, 2 bad command line.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nca/client.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct PersonaSpec {
  std::string id;
  std::string role;
  std::map<std::string, double> skills;
};

const std::vector<PersonaSpec>& personas() {
  static const std::vector<PersonaSpec> specs = {
      {"billing-bot", "Billing specialist", {{"billing", 0.9}, {"refunds", 0.8}}},
      {"shipping-bot", "Shipping coordinator", {{"shipping", 0.9}, {"tracking", 0.8}}},
      {"tech-bot", "Technical support engineer", {{"technical", 0.9}, {"integrations", 0.7}}},
  };
  return specs;
}

nca::pb::EventInput event(const std::string& topic, nca::pb::EventPriority priority,
                          std::vector<std::string> skills, const std::string& customer,
                          const std::string& payload) {
  nca::pb::EventInput input;
  input.set_topic(topic);
  input.set_priority(priority);
  for (std::string& skill : skills) input.add_required_skills(std::move(skill));
  input.set_from(customer);
  // One thread per customer: the persona's memories of that customer's events get linked.
  input.set_thread_id("thread-" + customer);
  input.set_payload(payload);
  return input;
}

std::vector<nca::pb::EventInput> events() {
  using nca::pb::CRITICAL;
  using nca::pb::HIGH;
  using nca::pb::LOW;
  using nca::pb::NORMAL;
  return {
      event("billing.invoice_disputed", HIGH, {"billing"}, "customer-17",
            R"({"invoice":"INV-1042","amount_eur":129.0})"),
      event("billing.refund_requested", NORMAL, {"billing", "refunds"}, "customer-17",
            R"({"order":"ORD-881","reason":"damaged"})"),
      event("shipping.parcel_lost", CRITICAL, {"shipping", "tracking"}, "customer-23",
            R"({"tracking":"ZX-55120","carrier":"DPD"})"),
      event("shipping.address_change", NORMAL, {"shipping"}, "customer-31",
            R"({"order":"ORD-902","new_city":"York"})"),
      event("tech.api_error", HIGH, {"technical"}, "customer-42",
            R"({"endpoint":"/v1/orders","status":502})"),
      event("tech.webhook_setup", LOW, {"technical", "integrations"}, "customer-42",
            R"({"url":"https://example.invalid/hook"})"),
      event("billing.vat_invoice", LOW, {"billing"}, "customer-31", R"({"year":2024})"),
      event("shipping.delivery_window", NORMAL, {"shipping"}, "customer-23",
            R"({"order":"ORD-915","window":"9-12"})"),
  };
}

struct Options {
  std::string addr = "127.0.0.1:7420";
  std::string tenant;
  int timeout_s = 60;
};

// What the workers did, shared between their threads and main.
class HandledLog {
 public:
  struct Entry {
    std::string persona;
    std::string topic;
    std::string result;
  };

  void add(const std::string& event_id, Entry entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace(event_id, std::move(entry));
    changed_.notify_all();
  }

  // Waits until `count` events are handled or the deadline passes; true when they are.
  bool wait_for(size_t count, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_until(lock, deadline, [&] { return entries_.size() >= count; });
  }

  std::map<std::string, Entry> snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Entry> entries_;  // event id -> who handled it
};

std::string result_text(const std::string& persona, const nca::pb::Event& event) {
  return persona + " resolved " + event.topic() + " for " + event.from();
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::optional<int> parse_args(int argc, char** argv, Options& options) {
  if (const char* env = std::getenv("NCA_ADDR"); env != nullptr && *env != '\0') {
    options.addr = env;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: persona_router [--addr HOST:PORT] [--tenant T] [--timeout SECONDS]\n"
                   "Creates skilled personas, publishes events, handles them with one worker per\n"
                   "persona and checks each went to a persona with the skills. Exit 0 when so.\n";
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "persona_router: unknown argument or missing value: '" << arg << "'\n";
      return 2;
    }
    std::string value = argv[++i];
    if (arg == "--addr") {
      options.addr = value;
    } else if (arg == "--tenant") {
      options.tenant = value;
    } else if (arg == "--timeout") {
      char* end = nullptr;
      long seconds = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || seconds < 1 || seconds > 3600) {
        std::cerr << "persona_router: --timeout takes seconds from 1 to 3600, not '" << value
                  << "'\n";
        return 2;
      }
      options.timeout_s = static_cast<int>(seconds);
    } else {
      std::cerr << "persona_router: unknown argument '" << arg << "'\n";
      return 2;
    }
  }
  if (options.tenant.empty()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    options.tenant = "router-demo-" + std::to_string(ms);
  }
  return std::nullopt;
}

// Creates the persona, or accepts the one an earlier run with the same tenant created.
bool create_persona(nca::Client& client, const PersonaSpec& spec) {
  nca::pb::Persona persona;
  persona.set_id(spec.id);
  persona.set_name(spec.id);
  persona.set_role(spec.role);
  for (const auto& [skill, proficiency] : spec.skills) {
    (*persona.mutable_skills())[skill] = proficiency;
  }
  persona.set_capacity(20);
  auto created = client.create_persona(persona);
  if (!created && created.code() != nca::ErrorCode::already_exists) {
    std::cerr << "FAIL create_persona " << spec.id << ": " << created.error().to_string() << "\n";
    return false;
  }
  std::cout << (created ? "created " : "reusing ") << spec.id << " (" << spec.role << "), skills:";
  for (const auto& [skill, proficiency] : spec.skills) {
    std::cout << " " << skill << "=" << proficiency;
  }
  std::cout << "\n";
  return true;
}

// tech-bot's worker: the loop Client::subscribe runs for the other personas, written out.
void next_event_loop(nca::Client& client, const std::string& persona, HandledLog& log,
                     const std::atomic<bool>& stop, Clock::time_point deadline) {
  while (!stop.load() && Clock::now() < deadline) {
    auto next = client.next_event(persona, std::chrono::milliseconds(500));
    if (!next) {
      std::cerr << "next_event for " << persona << ": " << next.error().to_string() << "\n";
      // ok-sleep: back off after an error, then poll again.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (!next->has_event()) continue;  // nothing arrived within the wait
    const nca::pb::Event& event = next->event();
    std::string result = result_text(persona, event);
    // Name the delivery being acked: if our lease ran out and the event went to another worker,
    // the node refuses this ack (conflict) instead of settling someone else's delivery.
    auto acked = client.ack(event.id(), event.attempts(), result);
    if (!acked) {
      std::cerr << "ack " << event.id() << ": " << acked.error().to_string() << "\n";
      continue;  // the node redelivers it when the lease runs out
    }
    log.add(event.id(), {persona, event.topic(), result});
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (std::optional<int> status = parse_args(argc, argv, options)) return *status;

  nca::ClientOptions client_options;
  client_options.tenant = options.tenant;
  auto connected = nca::Client::connect({options.addr}, client_options);
  if (!connected) {
    std::cerr << "persona_router: cannot reach " << options.addr << ": "
              << connected.error().to_string() << "\n";
    return 1;
  }
  nca::Client& client = **connected;
  std::cout << "tenant " << options.tenant << " on " << client.address() << "\n";
  for (const PersonaSpec& spec : personas()) {
    if (!create_persona(client, spec)) return 1;
  }

  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(options.timeout_s);
  HandledLog log;

  // Workers first, so each event is taken as soon as it is routed.
  std::vector<nca::Subscription> subscriptions;
  for (const std::string persona : {"billing-bot", "shipping-bot"}) {
    nca::SubscriptionOptions sub_options;
    sub_options.wait = std::chrono::milliseconds(500);
    sub_options.on_error = [persona](const nca::Error& error) {
      std::cerr << "worker " << persona << ": " << error.to_string() << "\n";
    };
    auto subscription = client.subscribe(
        persona,
        [persona, &log](const nca::pb::Event& event) {
          std::string result = result_text(persona, event);
          // The subscription sends the ack after this returns; the log entry is what the handler
          // decided, and event_status below confirms the node took it.
          log.add(event.id(), {persona, event.topic(), result});
          return nca::EventDecision::ack(result);
        },
        sub_options);
    if (!subscription) {
      std::cerr << "FAIL subscribe " << persona << ": " << subscription.error().to_string() << "\n";
      return 1;
    }
    subscriptions.push_back(std::move(*subscription));
  }
  std::atomic<bool> stop_loop{false};
  std::thread tech_worker(next_event_loop, std::ref(client), "tech-bot", std::ref(log),
                          std::cref(stop_loop), deadline);

  std::vector<nca::pb::EventInput> inputs = events();
  auto published = client.publish(inputs);
  int failures = 0;
  std::vector<nca::pb::Event> stored;
  if (!published) {
    std::cerr << "FAIL publish: " << published.error().to_string() << "\n";
    ++failures;
  } else {
    stored.assign(published->events().begin(), published->events().end());
    std::cout << "published " << stored.size() << " events\n";
  }

  bool all_handled = failures == 0 && log.wait_for(stored.size(), deadline);
  // Stop the workers before checking, so the states read below no longer change.
  for (nca::Subscription& subscription : subscriptions) subscription.request_stop();
  stop_loop.store(true);
  for (nca::Subscription& subscription : subscriptions) subscription.stop();
  tech_worker.join();
  if (failures == 0 && !all_handled) {
    std::cout << "CHECK FAILED: only " << log.snapshot().size() << " of " << stored.size()
              << " events were handled within " << options.timeout_s << " s\n";
    ++failures;
  }

  std::map<std::string, std::set<std::string>> skills_of;
  for (const PersonaSpec& spec : personas()) {
    for (const auto& entry : spec.skills) skills_of[spec.id].insert(entry.first);
  }
  std::map<std::string, HandledLog::Entry> handled = log.snapshot();
  std::map<std::string, int> per_persona;
  std::cout << "\n"
            << std::left << std::setw(28) << "event" << std::setw(10) << "priority" << std::setw(24)
            << "needs"
            << "handled by\n";
  for (const nca::pb::Event& event : stored) {
    auto status = client.event_status(event.id());
    std::string handler = handled.count(event.id()) ? handled[event.id()].persona : "-";
    std::cout << std::setw(28) << event.topic() << std::setw(10)
              << nca::pb::EventPriority_Name(event.priority()) << std::setw(24)
              << join(event.required_skills()) << handler << "\n";
    if (!status) {
      std::cout << "  CHECK FAILED: event_status: " << status.error().to_string() << "\n";
      ++failures;
      continue;
    }
    const nca::pb::Event& now = status->event();
    std::vector<std::string> problems;
    if (now.state() != nca::pb::EVENT_ACKED) {
      problems.push_back("state is " + nca::pb::EventState_Name(now.state()) + ", not acked");
    }
    if (now.persona_id() != handler) {
      problems.push_back("the node says " + now.persona_id() + " holds it, the workers say " +
                         handler);
    }
    for (const std::string& skill : now.required_skills()) {
      if (skills_of[now.persona_id()].count(skill) == 0) {
        problems.push_back(now.persona_id() + " lacks the skill " + skill);
      }
    }
    if (now.state() == nca::pb::EVENT_ACKED) {
      // The ack's result is stored as a memory of the persona that handled the event.
      auto memory = client.get(now.result_memory_id(), now.persona_id());
      if (now.result_memory_id().empty() || !memory) {
        problems.push_back("the result memory '" + now.result_memory_id() + "' is missing");
      } else if (memory->item().content().find(now.result()) == std::string::npos) {
        problems.push_back("the result memory does not hold the result");
      }
    }
    for (const std::string& problem : problems) std::cout << "  CHECK FAILED: " << problem << "\n";
    failures += static_cast<int>(problems.size());
    if (problems.empty()) ++per_persona[handler];
  }

  std::cout << "\n";
  for (const PersonaSpec& spec : personas()) {
    std::cout << spec.id << " handled " << per_persona[spec.id] << " events\n";
  }
  for (size_t i = 0; i < subscriptions.size(); ++i) {
    nca::Subscription::Counters c = subscriptions[i].counters();
    std::cout << "subscription " << i + 1 << ": polls " << c.polls << ", events " << c.events
              << ", acked " << c.acked << ", errors " << c.errors << "\n";
  }
  if (failures != 0) {
    std::cout << "persona_router: FAILED (" << failures << " failed checks)\n";
    return 1;
  }
  std::cout << "persona_router: OK, all " << stored.size()
            << " events acked by a persona with the skills they need\n";
  return 0;
}
