// The `nca event ...` verbs: publish, take (long poll), settle (ack/nack), inspect and requeue
// events (DESIGN §3).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "tools/cli/args.hpp"
#include "tools/cli/exit_codes.hpp"
#include "tools/cli/verb_support.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

Result<pb::EventPriority> parse_priority(const std::string& text) {
  std::string name = lower(text);
  if (name == "low") return pb::LOW;
  if (name == "normal") return pb::NORMAL;
  if (name == "high") return pb::HIGH;
  if (name == "critical") return pb::CRITICAL;
  return make_error(ErrorCode::invalid_argument,
                    "--priority '" + text + "': expected low, normal, high or critical");
}

std::string priority_name(pb::EventPriority priority) {
  switch (priority) {
    case pb::LOW:
      return "low";
    case pb::HIGH:
      return "high";
    case pb::CRITICAL:
      return "critical";
    default:
      return "normal";
  }
}

std::string state_name(pb::EventState state) {
  switch (state) {
    case pb::EVENT_PENDING:
      return "pending";
    case pb::EVENT_ASSIGNED:
      return "assigned";
    case pb::EVENT_DELIVERED:
      return "delivered";
    case pb::EVENT_ACKED:
      return "acked";
    case pb::EVENT_DEAD:
      return "dead";
    default:
      return "-";
  }
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

// "0" (or 0s, 0ms) answers at once; anything else is a duration.
Result<std::chrono::milliseconds> parse_wait(const std::string& text) {
  if (text == "0" || text == "0s" || text == "0ms") return std::chrono::milliseconds(0);
  return parse_duration(text, "--wait");
}

void print_event(const pb::Event& event, Output& out) {
  Fields fields = {{"id", event.id()},
                   {"topic", event.topic()},
                   {"priority", priority_name(event.priority())},
                   {"state", state_name(event.state())},
                   {"persona", or_dash(event.persona_id())},
                   {"attempts", std::to_string(event.attempts())}};
  if (!event.from().empty()) fields.emplace_back("from", event.from());
  if (!event.target_persona().empty()) fields.emplace_back("target", event.target_persona());
  if (!event.thread_id().empty()) fields.emplace_back("thread", event.thread_id());
  if (!event.required_skills().empty()) {
    fields.emplace_back("skills", join_tags(event.required_skills()));
  }
  if (!event.metadata().empty()) fields.emplace_back("metadata", join_map(event.metadata()));
  fields.emplace_back("published", format_time_us(event.published_at_us()));
  if (event.assigned_at_us() != 0) {
    fields.emplace_back("assigned", format_time_us(event.assigned_at_us()));
  }
  if (event.delivered_at_us() != 0) {
    fields.emplace_back("delivered", format_time_us(event.delivered_at_us()));
  }
  if (event.lease_expires_at_us() != 0 &&
      (event.state() == pb::EVENT_ASSIGNED || event.state() == pb::EVENT_DELIVERED)) {
    fields.emplace_back("lease until", format_time_us(event.lease_expires_at_us()));
  }
  if (event.finished_at_us() != 0) {
    fields.emplace_back("finished", format_time_us(event.finished_at_us()));
  }
  if (!event.result().empty()) fields.emplace_back("result", event.result());
  if (!event.last_error().empty()) fields.emplace_back("last error", event.last_error());
  if (!event.memory_id().empty()) fields.emplace_back("memory", event.memory_id());
  if (!event.result_memory_id().empty()) {
    fields.emplace_back("result memory", event.result_memory_id());
  }
  fields.emplace_back("payload", or_dash(event.payload()));
  out.fields(fields);
}

void print_event_table(const google::protobuf::RepeatedPtrField<pb::Event>& events, Output& out) {
  std::vector<std::vector<std::string>> rows;
  for (const pb::Event& event : events) {
    rows.push_back({event.id(), event.topic(), priority_name(event.priority()),
                    state_name(event.state()), or_dash(event.persona_id()),
                    std::to_string(event.attempts()), event.last_error()});
  }
  out.table({{"ID"},
             {"TOPIC"},
             {"PRIORITY"},
             {"STATE"},
             {"PERSONA"},
             {"ATTEMPTS", true},
             {"LAST ERROR", false, true}},
            rows);
}

// --- event publish -------------------------------------------------------------------------------

void declare_publish(po::options_description& options, po::options_description&,
                     po::positional_options_description&) {
  options.add_options()  //
      ("topic", po::value<std::string>()->required()->value_name("T"),
       "what happened, in dot notation, e.g. support.ticket_created")  //
      ("payload", po::value<std::string>()->value_name("JSON"),
       "the event's data as JSON text ('-' reads it from stdin)")  //
      ("priority", po::value<std::string>()->value_name("P"),
       "low|normal|high|critical (default normal)")  //
      ("skill", po::value<Strings>()->composing()->value_name("S"),
       "a skill the work needs (repeatable)")  //
      ("meta", po::value<Strings>()->composing()->value_name("k=v"),
       "metadata key=value (repeatable)")  //
      ("from", po::value<std::string>()->value_name("F"),
       "the person or persona it comes from (relationships give it an affinity)")          //
      ("target", po::value<std::string>()->value_name("P"), "route only to this persona")  //
      ("thread", po::value<std::string>()->value_name("T"),
       "thread id: events of one thread become linked memories")  //
      ("id", po::value<std::string>()->value_name("ID"),
       "your own event id: publishing it again is the same event");
}

Result<pb::Request> build_publish(const po::variables_map& values) {
  pb::Request request;
  pb::EventInput* event = request.mutable_publish()->add_events();
  event->set_topic(text_of(values, "topic"));
  if (event->topic().empty()) {
    return make_error(ErrorCode::invalid_argument, "--topic is empty: say what happened");
  }
  if (has(values, "payload")) {
    std::string payload = text_of(values, "payload");
    if (payload == "-") payload = read_stdin();
    // Checked here so a typo fails before anything is published.
    if (!nlohmann::json::accept(payload)) {
      return make_error(ErrorCode::invalid_argument,
                        "--payload is not valid JSON: " + one_line(payload, 60) +
                            " (quote strings: '\"text\"', objects: '{\"k\": 1}')");
    }
    event->set_payload(payload);
  }
  if (has(values, "priority")) {
    auto priority = parse_priority(text_of(values, "priority"));
    if (!priority.ok()) return priority.error();
    event->set_priority(*priority);
  }
  for (const std::string& skill : list_of(values, "skill")) event->add_required_skills(skill);
  if (Status status = add_metadata(values, event->mutable_metadata()); !status.ok()) {
    return status.error();
  }
  event->set_from(text_of(values, "from"));
  event->set_target_persona(text_of(values, "target"));
  event->set_thread_id(text_of(values, "thread"));
  event->set_id(text_of(values, "id"));
  return request;
}

void print_publish(const pb::Request&, const pb::Response& response, Output& out) {
  for (const pb::Event& event : response.publish().events()) {
    std::string where = event.persona_id().empty() || event.state() == pb::EVENT_PENDING
                            ? "pending (waiting for a persona with room)"
                            : state_name(event.state()) + " to " + out.bold(event.persona_id());
    out.line("published " + out.bold(event.id()) + " (" + priority_name(event.priority()) +
             "): " + where);
  }
}

// --- event next ----------------------------------------------------------------------------------

void declare_next(po::options_description& options, po::options_description& hidden,
                  po::positional_options_description& positional) {
  options.add_options()("wait", po::value<std::string>()->default_value("5s")->value_name("D"),
                        "how long to wait for an event, e.g. 0, 500ms, 30s (the node caps it)")(
      "max", po::value<std::string>()->value_name("N"),
      "take up to N events at once (they are handed out together; at most the node's "
      "events.max-batch)");
  hidden.add_options()("persona", po::value<std::string>());
  positional.add("persona", 1);
}

Result<pb::Request> build_next(const po::variables_map& values) {
  std::string persona = text_of(values, "persona");
  if (persona.empty()) {
    return make_error(ErrorCode::invalid_argument, "missing PERSONA: whose event to take");
  }
  auto wait = parse_wait(text_of(values, "wait"));
  if (!wait.ok()) return wait.error();
  pb::Request request;
  request.mutable_next_event()->set_persona_id(persona);
  // The client adds the wait to the call's deadline (--timeout), so the poll never times out first.
  request.mutable_next_event()->set_wait_ms(static_cast<uint32_t>(wait->count()));
  if (has(values, "max")) {
    auto max = count_of(values, "max", "--max", 1, 100000);
    if (!max.ok()) return max.error();
    request.mutable_next_event()->set_max_events(*max);
  }
  return request;
}

void print_next(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::NextEventRequest& asked = request.next_event();
  std::vector<const pb::Event*> events;
  if (response.next_event().has_event()) events.push_back(&response.next_event().event());
  for (const pb::Event& e : response.next_event().events()) events.push_back(&e);
  if (events.empty()) {
    out.line("no event for " + asked.persona_id() + " within " + std::to_string(asked.wait_ms()) +
             " ms");
    return;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const pb::Event& event = *events[i];
    if (i > 0) out.line("");
    print_event(event, out);
    std::string attempt = " --attempt " + std::to_string(event.attempts());
    out.line(out.dim("done: nca event ack " + event.id() + attempt +
                     "   give back: nca event nack " + event.id() + attempt));
  }
}

// --- event ack, nack -----------------------------------------------------------------------------

void declare_settle(po::options_description& options) {
  options.add_options()("attempt", po::value<std::string>()->value_name("N"),
                        "the delivery being settled (the event's attempts, as `event next` "
                        "shows); refused if the event was redelivered since. Default: no check");
}

void declare_ack(po::options_description& options, po::options_description& hidden,
                 po::positional_options_description& positional) {
  hidden.add_options()("ids", po::value<Strings>());
  positional.add("ids", -1);
  declare_settle(options);
  options.add_options()("result", po::value<std::string>()->value_name("TEXT"),
                        "the outcome; stored as a memory of the persona, linked to the event");
}

void declare_nack(po::options_description& options, po::options_description& hidden,
                  po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  declare_settle(options);
  options.add_options()                                                                //
      ("reason", po::value<std::string>()->value_name("R"), "why it was not handled")  //
      ("dead", po::bool_switch(), "send it to the dead-letter list instead of the queue");
}

Result<uint32_t> attempt_of(const po::variables_map& values) {
  if (!has(values, "attempt")) return 0u;
  return count_of(values, "attempt", "--attempt", 0, 100000);
}

// One ID: an ack. Several: one ack_batch, each ID optionally written ID:ATTEMPT (--attempt and
// --result name one delivery, so they go with a single ID only).
Result<pb::Request> build_ack(const po::variables_map& values) {
  Strings ids = list_of(values, "ids");
  if (ids.empty()) return make_error(ErrorCode::invalid_argument, "missing ID: which event");
  pb::Request request;
  if (ids.size() == 1 && ids[0].find(':') == std::string::npos) {
    if (ids[0].empty()) return make_error(ErrorCode::invalid_argument, "the event id is empty");
    auto attempt = attempt_of(values);
    if (!attempt.ok()) return attempt.error();
    pb::AckRequest* body = request.mutable_ack();
    body->set_event_id(ids[0]);
    body->set_attempt(*attempt);
    body->set_result(text_of(values, "result"));
    return request;
  }
  if (has(values, "attempt") || has(values, "result")) {
    return make_error(ErrorCode::invalid_argument,
                      "--attempt and --result go with a single ID; for several, write each as "
                      "ID:ATTEMPT");
  }
  for (const std::string& text : ids) {
    pb::AckRequest* ack = request.mutable_ack_batch()->add_acks();
    size_t colon = text.rfind(':');
    std::string id = colon == std::string::npos ? text : text.substr(0, colon);
    if (id.empty()) {
      return make_error(ErrorCode::invalid_argument, "'" + text + "': the event id is empty");
    }
    ack->set_event_id(id);
    if (colon != std::string::npos) {
      std::string n = text.substr(colon + 1);
      char* end = nullptr;
      unsigned long v = n.empty() ? 0 : std::strtoul(n.c_str(), &end, 10);
      if (n.empty() || end == nullptr || *end != '\0' || v < 1 || v > 100000) {
        return make_error(ErrorCode::invalid_argument,
                          "'" + text + "': the attempt after ':' must be a number in 1..100000");
      }
      ack->set_attempt(static_cast<uint32_t>(v));
    }
  }
  return request;
}

Result<pb::Request> build_nack(const po::variables_map& values) {
  auto id = required_id(values, "which event");
  if (!id.ok()) return id.error();
  auto attempt = attempt_of(values);
  if (!attempt.ok()) return attempt.error();
  pb::Request request;
  pb::NackRequest* body = request.mutable_nack();
  body->set_event_id(*id);
  body->set_attempt(*attempt);
  body->set_reason(text_of(values, "reason"));
  body->set_dead_letter(values["dead"].as<bool>());
  return request;
}

void print_ack_batch(const pb::Request& request, const pb::Response& response, Output& out) {
  const auto& asked = request.ack_batch().acks();
  const auto& results = response.ack_batch().results();
  for (int i = 0; i < asked.size(); ++i) {
    const std::string& id = asked[i].event_id();
    if (i >= results.size()) {
      out.line("not acked " + out.bold(id) + ": the node gave no answer for it");
    } else if (results[i].status().code() != pb::OK) {
      out.line("not acked " + out.bold(id) + ": " + results[i].status().message());
    } else {
      out.line("acked " + out.bold(id));
    }
  }
}

// A batch whose acks were not all taken fails with the first refusal's exit code.
int ack_outcome(const pb::Response& response) {
  if (!response.has_ack_batch()) return kExitOk;
  for (const auto& r : response.ack_batch().results()) {
    if (r.status().code() != pb::OK) {
      return exit_code_of(
          make_error(static_cast<ErrorCode>(r.status().code()), r.status().message()), true);
    }
  }
  return kExitOk;
}

void print_ack(const pb::Request& request, const pb::Response& response, Output& out) {
  if (request.has_ack_batch()) return print_ack_batch(request, response, out);
  const pb::Event& event = response.ack().event();
  std::string id = event.id().empty() ? request.ack().event_id() : event.id();
  std::string line = "acked " + out.bold(id);
  if (!event.result_memory_id().empty())
    line += "; result remembered as " + event.result_memory_id();
  out.line(line);
}

void print_nack(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::Event& event = response.nack().event();
  std::string id = event.id().empty() ? request.nack().event_id() : event.id();
  if (event.state() == pb::EVENT_DEAD) {
    out.line("nacked " + out.bold(id) + ": on the dead-letter list (requeue with: nca event " +
             "requeue " + id + ")");
  } else {
    out.line("nacked " + out.bold(id) + ": back in the queue (" + state_name(event.state()) + ")");
  }
}

// --- event status --------------------------------------------------------------------------------

Result<pb::Request> build_status(const po::variables_map& values) {
  auto id = required_id(values, "which event");
  if (!id.ok()) return id.error();
  pb::Request request;
  request.mutable_event_status()->set_event_id(*id);
  return request;
}

void print_status(const pb::Request&, const pb::Response& response, Output& out) {
  print_event(response.event_status().event(), out);
}

// --- event dead ----------------------------------------------------------------------------------

void declare_dead(po::options_description& options, po::options_description&,
                  po::positional_options_description&) {
  options.add_options()  //
      ("page-size", po::value<std::string>()->default_value("50")->value_name("N"),
       "events per page (1..1000)")  //
      ("page-token", po::value<std::string>()->value_name("T"),
       "continue where the previous page ended");
}

Result<pb::Request> build_dead(const po::variables_map& values) {
  pb::Request request;
  pb::ListEventsRequest* body = request.mutable_list_dead_letters();
  auto size = count_of(values, "page-size", "--page-size", 1, 1000);
  if (!size.ok()) return size.error();
  body->set_page_size(*size);
  body->set_page_token(text_of(values, "page-token"));
  return request;
}

void print_dead(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::ListEventsReply& reply = response.list_dead_letters();
  if (reply.events().empty()) {
    out.line("no dead letters");
  } else {
    print_event_table(reply.events(), out);
  }
  if (!reply.next_page_token().empty()) {
    out.line(out.dim("more: nca event dead --page-size " +
                     std::to_string(request.list_dead_letters().page_size()) + " --page-token " +
                     reply.next_page_token()));
  }
}

// --- event requeue -------------------------------------------------------------------------------

void declare_requeue(po::options_description&, po::options_description& hidden,
                     po::positional_options_description& positional) {
  hidden.add_options()("ids", po::value<Strings>());
  positional.add("ids", -1);
}

Result<pb::Request> build_requeue(const po::variables_map& values) {
  Strings ids = list_of(values, "ids");
  if (ids.empty()) {
    return make_error(ErrorCode::invalid_argument, "missing ID...: which dead letters to requeue");
  }
  pb::Request request;
  for (const std::string& id : ids) {
    if (id.empty()) return make_error(ErrorCode::invalid_argument, "an event id is empty");
    request.mutable_requeue()->add_event_ids(id);
  }
  return request;
}

void print_requeue(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::RequeueReply& reply = response.requeue();
  out.line("requeued " + std::to_string(reply.events_size()) + " event" +
           (reply.events_size() == 1 ? "" : "s"));
  if (!reply.events().empty()) print_event_table(reply.events(), out);
}

}  // namespace

const std::vector<VerbSpec>& event_verbs() {
  static const std::vector<VerbSpec> table = {
      {"event publish",
       "event publish --topic T [--payload JSON|-] [--priority low|normal|high|critical] "
       "[--skill S]... [--meta k=v]... [--from F] [--target P] [--thread T] [--id ID]",
       "publish an event: it goes to the best persona with room, or waits for one",
       "nca event publish --topic support.ticket_created --payload '{\"ticket\": 42}' "
       "--priority high --skill billing --from grace\n"
       "nca event publish --topic chat.message --target ada --thread t-7 --payload '\"hello\"'",
       declare_publish, build_publish, print_publish},
      {"event next", "event next PERSONA [--wait D] [--max N]",
       "take a persona's next event, or up to --max of them (waits up to --wait for one)",
       "nca event next ada --wait 30s\nnca --json event next ada --wait 0\n"
       "nca event next ada --max 10",
       declare_next, build_next, print_next},
      {"event ack", "event ack ID [--attempt N] [--result TEXT] | event ack ID[:ATTEMPT]...",
       "mark an event done (its result becomes a memory), or several in one call",
       "nca event ack 0190f1c2-7a3b-7c4d-8e5f-0123456789ab --attempt 1 --result 'refund issued'\n"
       "nca event ack 0190f1c2-7a3b-7c4d-8e5f-0123456789ab:1 0190f1c2-7a3b-7c4d-8e5f-"
       "0123456789ac:2",
       declare_ack, build_ack, print_ack, nullptr, ack_outcome},
      {"event nack", "event nack ID [--attempt N] [--reason R] [--dead]",
       "give an event back to the queue, or to the dead-letter list with --dead",
       "nca event nack 0190f1c2-7a3b-7c4d-8e5f-0123456789ab --attempt 1 --reason 'needs a human'",
       declare_nack, build_nack, print_nack},
      {"event status", "event status ID", "show an event and where it is in its life cycle",
       "nca event status 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_id, build_status,
       print_status},
      {"event dead", "event dead [--page-size N] [--page-token T]",
       "list dead letters (events that failed too often or were nacked with --dead)",
       "nca event dead --page-size 20", declare_dead, build_dead, print_dead},
      {"event requeue", "event requeue ID...",
       "put dead letters back in the queue with their attempts reset",
       "nca event requeue 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_requeue, build_requeue,
       print_requeue},
  };
  return table;
}

}  // namespace nca::cli
