#include "tools/cli/verbs.hpp"
#include "tools/cli/exit_codes.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "tools/cli/args.hpp"
#include "tools/cli/verb_support.hpp"

namespace nca::cli {

namespace {

Status add_tiers(const po::variables_map& values, google::protobuf::RepeatedField<int>* tiers) {
  for (const std::string& text : list_of(values, "tier")) {
    auto tier = parse_tier(text, "--tier");
    if (!tier.ok()) return tier.error();
    tiers->Add(*tier);
  }
  return {};
}

// --- option declarations (shared fragments) -----------------------------------------------------

void declare_tags_and_meta(po::options_description& options, const char* tag_help,
                           const char* meta_help) {
  options.add_options()                                                           //
      ("tag", po::value<Strings>()->composing()->value_name("T"), tag_help)       //
      ("meta", po::value<Strings>()->composing()->value_name("k=v"), meta_help);  //
}

// --- printers (shared fragments) ----------------------------------------------------------------

void print_item(const pb::MemoryItem& item, Output& out) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", item.id()},
      {"persona", item.persona_id()},
      {"tier", out.tier(item.tier())},
      {"health", format_fixed(item.health(), 1)},
      {"importance", format_fixed(item.importance(), 2)},
      {"accesses", std::to_string(item.access_count())},
      {"tags", join_tags(item.tags())},
      {"metadata", join_map(item.metadata())},
  };
  if (!item.session_id().empty()) fields.emplace_back("session", item.session_id());
  fields.emplace_back("created", format_time_us(item.created_at_us()));
  fields.emplace_back("stored", format_time_us(item.stored_at_us()));
  fields.emplace_back("last access", format_time_us(item.last_access_at_us()));
  fields.emplace_back("version", std::to_string(item.version()));
  if (!item.consolidated_from().empty()) {
    fields.emplace_back("merged from", join_tags(item.consolidated_from()));
  }
  fields.emplace_back("content", item.content());
  out.fields(fields);
}

// The one reply printer of every verb answering with an ItemReply, with a verb-specific first line.
template <const pb::ItemReply& (pb::Response::*Body)() const>
void print_item_reply(const pb::Request&, const pb::Response& response, Output& out) {
  print_item((response.*Body)().item(), out);
}

// --- ping ---------------------------------------------------------------------------------------

Result<pb::Request> build_ping(const po::variables_map&) {
  pb::Request request;
  request.mutable_ping();
  return request;
}

void print_ping(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::PingReply& ping = response.ping();
  out.fields({{"node", ping.node_id()},
              {"version", ping.version()},
              {"schema", std::to_string(ping.schema_version())}});
}

// --- remember -----------------------------------------------------------------------------------

void declare_remember(po::options_description& options, po::options_description& hidden,
                      po::positional_options_description& positional) {
  options.add_options()  //
      ("persona", po::value<std::string>()->required()->value_name("P"),
       "persona that owns the memory")  //
      ("importance", po::value<std::string>()->value_name("X"),
       "0..1 (default 0.5); raises initial health")  //
      ("session", po::value<std::string>()->value_name("S"),
       "session (episode) id; links consecutive memories")                              //
      ("tier", po::value<std::string>()->value_name("T"), "stm|mtm|ltm (default stm)")  //
      ("id", po::value<std::string>()->value_name("ID"),
       "your own id: remembering it again is a no-op")  //
      ("created-at", po::value<std::string>()->value_name("TIME"),
       "when it happened: ISO 8601 or Unix seconds (default now)");
  declare_tags_and_meta(options, "tag (repeatable)", "metadata key=value (repeatable)");
  hidden.add_options()("text", po::value<Strings>());
  positional.add("text", -1);
}

Result<pb::Request> build_remember(const po::variables_map& values) {
  pb::Request request;
  pb::RememberRequest* body = request.mutable_remember();
  body->set_persona_id(text_of(values, "persona"));
  pb::MemoryInput* memory = body->mutable_memory();
  auto text = words_or_stdin(values, "text", "TEXT: what to remember");
  if (!text.ok()) return text.error();
  memory->set_content(*text);
  if (has(values, "importance")) {
    auto importance = parse_number(text_of(values, "importance"), "--importance", 0, 1);
    if (!importance.ok()) return importance.error();
    memory->set_importance(*importance);
  }
  for (const std::string& tag : list_of(values, "tag")) memory->add_tags(tag);
  if (Status status = add_metadata(values, memory->mutable_metadata()); !status.ok()) {
    return status.error();
  }
  memory->set_session_id(text_of(values, "session"));
  memory->set_id(text_of(values, "id"));
  if (has(values, "tier")) {
    auto tier = parse_tier(text_of(values, "tier"), "--tier");
    if (!tier.ok()) return tier.error();
    memory->set_tier(*tier);
  }
  if (has(values, "created-at")) {
    auto at = parse_time_us(text_of(values, "created-at"), "--created-at");
    if (!at.ok()) return at.error();
    memory->set_created_at_us(*at);
  }
  return request;
}

void print_remember(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::RememberReply& reply = response.remember();
  const pb::MemoryItem& item = reply.item();
  if (reply.created()) {
    out.line("remembered " + out.bold(item.id()) + " in " + out.tier(item.tier()) + " (health " +
             format_fixed(item.health(), 1) + ")");
  } else {
    out.line("already remembered " + out.bold(item.id()) + " (no change)");
  }
}

// --- recall -------------------------------------------------------------------------------------

Result<pb::RecallMode> parse_recall_mode(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "vector") return pb::VECTOR;
  if (lower == "lexical") return pb::LEXICAL;
  if (lower == "hybrid") return pb::HYBRID;
  return make_error(ErrorCode::invalid_argument,
                    "--mode '" + text + "': expected vector, lexical or hybrid");
}

void declare_recall(po::options_description& options, po::options_description& hidden,
                    po::positional_options_description& positional) {
  options.add_options()  //
      ("persona", po::value<std::string>()->required()->value_name("P"),
       "persona whose memories to search")  //
      ("k,k", po::value<std::string>()->default_value("10")->value_name("N"),
       "number of results (1..1000)")  //
      ("tier", po::value<Strings>()->composing()->value_name("T"),
       "search only this tier (repeatable)")  //
      ("min-health", po::value<std::string>()->value_name("X"),
       "only items with at least this health (0..100)")  //
      ("after", po::value<std::string>()->value_name("TIME"),
       "only items created at or after (ISO 8601 or Unix s)")  //
      ("before", po::value<std::string>()->value_name("TIME"),
       "only items created at or before")  //
      ("mode", po::value<std::string>()->value_name("M"),
       "vector|lexical|hybrid (default: the node's)")                            //
      ("no-spread", po::bool_switch(), "no spreading activation along tubules")  //
      ("include-shared", po::bool_switch(),
       "also search the tenant's shared knowledge (persona _shared)");
  declare_tags_and_meta(options, "only items with this tag (repeatable, all must match)",
                        "only items with metadata key=value (repeatable)");
  hidden.add_options()("query", po::value<Strings>());
  positional.add("query", -1);
}

Result<pb::Request> build_recall(const po::variables_map& values) {
  pb::Request request;
  pb::RecallRequest* body = request.mutable_recall();
  body->set_persona_id(text_of(values, "persona"));
  auto query = words_or_stdin(values, "query", "QUERY: what to search for");
  if (!query.ok()) return query.error();
  body->set_query(*query);
  auto k = count_of(values, "k", "-k", 1, 1000);
  if (!k.ok()) return k.error();
  body->set_k(*k);
  if (Status status = add_tiers(values, body->mutable_tiers()); !status.ok()) return status.error();
  pb::RecallFilter* filter = body->mutable_filter();
  for (const std::string& tag : list_of(values, "tag")) filter->add_tags(tag);
  if (Status status = add_metadata(values, filter->mutable_metadata()); !status.ok()) {
    return status.error();
  }
  if (has(values, "min-health")) {
    auto health = parse_number(text_of(values, "min-health"), "--min-health", 0, 100);
    if (!health.ok()) return health.error();
    filter->set_min_health(*health);
  }
  if (has(values, "after")) {
    auto at = parse_time_us(text_of(values, "after"), "--after");
    if (!at.ok()) return at.error();
    filter->set_created_after_us(*at);
  }
  if (has(values, "before")) {
    auto at = parse_time_us(text_of(values, "before"), "--before");
    if (!at.ok()) return at.error();
    filter->set_created_before_us(*at);
  }
  if (filter->created_after_us() != 0 && filter->created_before_us() != 0 &&
      filter->created_after_us() > filter->created_before_us()) {
    return make_error(ErrorCode::invalid_argument, "--after is later than --before");
  }
  if (has(values, "mode")) {
    auto mode = parse_recall_mode(text_of(values, "mode"));
    if (!mode.ok()) return mode.error();
    body->set_mode(*mode);
  }
  // Unset means the node's default; only --no-spread sends an explicit choice.
  if (values["no-spread"].as<bool>()) body->set_spread(false);
  body->set_include_shared(values["include-shared"].as<bool>());
  return request;
}

// A retriever's rank; 0 means that retriever did not return the item.
std::string rank_text(uint32_t rank) { return rank == 0 ? "-" : std::to_string(rank); }

void print_recall(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::RecallReply& reply = response.recall();
  if (reply.hits().empty()) {
    out.line("no memories matched");
    return;
  }
  // The VIA column appears only when spreading activation reached some hit through a tubule.
  bool any_via = std::any_of(reply.hits().begin(), reply.hits().end(),
                             [](const pb::RecallHit& hit) { return !hit.via_item_id().empty(); });
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const pb::RecallHit& hit : reply.hits()) {
    std::vector<std::string> row = {std::to_string(++rank),
                                    format_fixed(hit.score(), 3),
                                    rank_text(hit.vector_rank()),
                                    rank_text(hit.lexical_rank()),
                                    format_fixed(hit.health(), 1),
                                    out.tier(hit.item().tier()),
                                    hit.item().id()};
    if (any_via) row.push_back(hit.via_item_id().empty() ? "-" : "via " + hit.via_item_id());
    row.push_back(hit.item().content());
    rows.push_back(std::move(row));
  }
  std::vector<Column> columns = {{"#", true},      {"SCORE", true}, {"VEC", true}, {"LEX", true},
                                 {"HEALTH", true}, {"TIER"},        {"ID"}};
  if (any_via) columns.push_back({"VIA"});
  columns.push_back({"CONTENT", false, true});
  out.table(columns, rows);
}

// --- get, update, forget, restore, touch, delete, history: verbs on one item
// -------------------------

Status require_id(const po::variables_map& values) {
  if (text_of(values, "id").empty()) {
    return make_error(ErrorCode::invalid_argument, "missing ID: which memory");
  }
  return {};
}

template <pb::ItemRequest* (pb::Request::*Body)()>
Result<pb::Request> build_item_verb(const po::variables_map& values) {
  if (Status status = require_id(values); !status.ok()) return status.error();
  pb::Request request;
  pb::ItemRequest* body = (request.*Body)();
  body->set_id(text_of(values, "id"));
  body->set_persona_id(text_of(values, "persona"));
  body->set_reason(text_of(values, "reason"));
  return request;
}

void declare_get(po::options_description& options, po::options_description& hidden,
                 po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  options.add_options()("persona", po::value<std::string>()->value_name("P"),
                        "the item's persona, if known (saves a lookup)");
}

void declare_forget(po::options_description& options, po::options_description& hidden,
                    po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  options.add_options()("reason", po::value<std::string>()->value_name("R"),
                        "why (kept in the history)");
}

void print_forget(const pb::Request& request, const pb::Response& response, Output& out) {
  out.line("forgot " + out.bold(response.forget().item().id()) +
           " (archived; undo with: nca restore " + request.forget().id() + ")");
}

void print_restore(const pb::Request&, const pb::Response& response, Output& out);

void declare_restore(po::options_description& options, po::options_description& hidden,
                     po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  options.add_options()("from", po::value<std::string>()->value_name("DIR"),
                        "a directory made by nca backup: load it instead");
}

Result<pb::Request> build_restore(const po::variables_map& values) {
  if (has(values, "from")) {
    if (has(values, "id")) {
      return make_error(ErrorCode::invalid_argument, "give a memory ID or --from DIR, not both");
    }
    if (text_of(values, "from").empty()) {
      return make_error(ErrorCode::invalid_argument, "--from needs a directory");
    }
    return pb::Request();
  }
  return build_item_verb<&pb::Request::mutable_restore>(values);
}

int run_restore(const po::variables_map& values, RunContext& context) {
  if (has(values, "from")) return restore_from_backup(values, context);
  auto request = build_restore(values);
  auto response = context.client.call(*request);
  if (!response) return report(response.error(), true, context.err);
  if (context.json) {
    Output json_out = Output(context.out_stream, false, 0);
    json_out.json(reply_body(*response));
  } else {
    print_restore(*request, *response, context.out);
  }
  return kExitOk;
}

void print_restore(const pb::Request&, const pb::Response& response, Output& out) {
  out.line("restored " + out.bold(response.restore().item().id()) + " to " +
           out.tier(response.restore().item().tier()));
}

void print_touch(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::MemoryItem& item = response.touch().item();
  out.line("touched " + out.bold(item.id()) + ": health " + format_fixed(item.health(), 1) + ", " +
           std::to_string(item.access_count()) + " accesses");
}

void print_delete(const pb::Request& request, const pb::Response& response, Output& out) {
  std::string id =
      response.delete_().id().empty() ? request.delete_().id() : response.delete_().id();
  out.line("deleted " + out.bold(id));
}

void declare_update(po::options_description& options, po::options_description& hidden,
                    po::positional_options_description& positional) {
  declare_id(options, hidden, positional);
  options.add_options()                                                                       //
      ("content", po::value<std::string>()->value_name("TEXT"), "new content (re-embedded)")  //
      ("importance", po::value<std::string>()->value_name("X"), "new importance (0..1)");
  declare_tags_and_meta(options, "replace the tags with these (repeatable)",
                        "replace the metadata with these key=value pairs (repeatable)");
}

Result<pb::Request> build_update(const po::variables_map& values) {
  if (Status status = require_id(values); !status.ok()) return status.error();
  pb::Request request;
  pb::UpdateRequest* body = request.mutable_update();
  body->set_id(text_of(values, "id"));
  bool changed = false;
  if (has(values, "content")) {
    body->set_content(text_of(values, "content"));
    changed = true;
  }
  if (has(values, "importance")) {
    auto importance = parse_number(text_of(values, "importance"), "--importance", 0, 1);
    if (!importance.ok()) return importance.error();
    body->set_importance(*importance);
    changed = true;
  }
  if (has(values, "tag")) {
    for (const std::string& tag : list_of(values, "tag")) body->mutable_tags()->add_tags(tag);
    changed = true;
  }
  if (has(values, "meta")) {
    if (Status status = add_metadata(values, body->mutable_metadata()->mutable_entries());
        !status.ok()) {
      return status.error();
    }
    changed = true;
  }
  if (!changed) {
    return make_error(ErrorCode::invalid_argument,
                      "nothing to update: give --content, --importance, --tag or --meta");
  }
  return request;
}

std::string action_name(pb::HistoryAction action) {
  std::string name = pb::HistoryAction_Name(action);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

void print_history(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::HistoryReply& reply = response.history();
  if (reply.records().empty()) {
    out.line("no history");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const pb::HistoryRecord& record : reply.records()) {
    std::string tier = tier_name(record.new_tier());
    if (record.prev_tier() != pb::TIER_UNSPECIFIED && record.prev_tier() != record.new_tier()) {
      tier = tier_name(record.prev_tier()) + "→" + tier;
    }
    std::string health = format_fixed(record.new_health(), 1);
    std::string previous = format_fixed(record.prev_health(), 1);
    if (previous != health && record.action() != pb::ADD) health = previous + "→" + health;
    std::string detail = record.reason();
    if (detail.empty()) detail = record.new_content();
    if (!record.other_item_id().empty()) detail += " (with " + record.other_item_id() + ")";
    rows.push_back({std::to_string(record.seq()), format_time_us(record.at_us()),
                    action_name(record.action()), tier, health, detail});
  }
  out.table(
      {{"SEQ", true}, {"AT"}, {"ACTION"}, {"TIER"}, {"HEALTH", true}, {"DETAIL", false, true}},
      rows);
}

// --- list ---------------------------------------------------------------------------------------

void declare_list(po::options_description& options, po::options_description&,
                  po::positional_options_description&) {
  options.add_options()  //
      ("persona", po::value<std::string>()->required()->value_name("P"),
       "persona whose memories to list")  //
      ("page-size", po::value<std::string>()->default_value("50")->value_name("N"),
       "items per page (1..1000)")  //
      ("page-token", po::value<std::string>()->value_name("T"),
       "continue where the previous page ended")  //
      ("tier", po::value<Strings>()->composing()->value_name("T"),
       "only this tier (repeatable)")  //
      ("archived", po::bool_switch(), "list forgotten (archived) items instead");
}

Result<pb::Request> build_list(const po::variables_map& values) {
  pb::Request request;
  pb::ListRequest* body = request.mutable_list();
  body->set_persona_id(text_of(values, "persona"));
  auto size = count_of(values, "page-size", "--page-size", 1, 1000);
  if (!size.ok()) return size.error();
  body->set_page_size(*size);
  body->set_page_token(text_of(values, "page-token"));
  if (Status status = add_tiers(values, body->mutable_tiers()); !status.ok()) return status.error();
  body->set_archived(values["archived"].as<bool>());
  return request;
}

void print_list(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::ListReply& reply = response.list();
  std::vector<std::vector<std::string>> rows;
  if (request.list().archived()) {
    for (const pb::ArchivedItem& archived : reply.archived()) {
      rows.push_back({archived.item().id(), archived.reason(),
                      format_time_us(archived.archived_at_us()),
                      format_time_us(archived.expires_at_us()), archived.item().content()});
    }
    if (rows.empty()) {
      out.line("no archived memories");
    } else {
      out.table({{"ID"}, {"REASON"}, {"ARCHIVED"}, {"EXPIRES"}, {"CONTENT", false, true}}, rows);
    }
  } else {
    for (const pb::MemoryItem& item : reply.items()) {
      rows.push_back({item.id(), out.tier(item.tier()), format_fixed(item.health(), 1),
                      format_fixed(item.importance(), 2), format_time_us(item.created_at_us()),
                      item.content()});
    }
    if (rows.empty()) {
      out.line("no memories");
    } else {
      out.table({{"ID"},
                 {"TIER"},
                 {"HEALTH", true},
                 {"IMP", true},
                 {"CREATED"},
                 {"CONTENT", false, true}},
                rows);
    }
  }
  if (!reply.next_page_token().empty()) {
    out.line(out.dim("more: nca list --persona " + request.list().persona_id() +
                     (request.list().archived() ? " --archived" : "") + " --page-token " +
                     reply.next_page_token()));
  }
}

// --- consolidation counters (stats, consolidate)
// ---------------------------------------------------

void append_counters(const pb::ConsolidationCounters& counters,
                     std::vector<std::pair<std::string, std::string>>& fields) {
  fields.emplace_back("ticks", std::to_string(counters.ticks()));
  fields.emplace_back("last tick", format_time_us(counters.last_tick_us()));
  fields.emplace_back("checked", std::to_string(counters.checked()));
  fields.emplace_back("promoted", std::to_string(counters.promoted()));
  fields.emplace_back("demoted", std::to_string(counters.demoted()));
  fields.emplace_back("forgotten", std::to_string(counters.forgotten()));
  fields.emplace_back("merged", std::to_string(counters.merged()));
  fields.emplace_back("capacity evicted", std::to_string(counters.capacity_evicted()));
  fields.emplace_back("tubules pruned", std::to_string(counters.tubules_pruned()));
  fields.emplace_back("archive expired", std::to_string(counters.archive_expired()));
}

// --- stats --------------------------------------------------------------------------------------

// `nca cluster status | decommission NODE | recommission NODE`: the action is a positional word.
void declare_cluster(po::options_description&, po::options_description& hidden,
                     po::positional_options_description& positional) {
  hidden.add_options()("action", po::value<std::string>())("node", po::value<std::string>());
  positional.add("action", 1).add("node", 1);
}

Result<pb::Request> build_cluster(const po::variables_map& values) {
  const std::string action = text_of(values, "action");
  const std::string node = text_of(values, "node");
  pb::Request request;
  if (action == "status") {
    request.mutable_cluster_status();
    return request;
  }
  if (action == "partition" || action == "heal") {
    if (node.empty()) {
      return make_error(ErrorCode::invalid_argument,
                        "nca cluster " + action + " needs a peer: its number or node.id");
    }
    auto* p = request.mutable_cluster_admin()->mutable_partition();
    p->set_peer(node);
    p->set_drop(action == "partition");
    return request;
  }
  if (action == "decommission" || action == "recommission") {
    if (node.empty()) {
      return make_error(ErrorCode::invalid_argument,
                        "nca cluster " + action +
                            " needs a node: its number or node.id (see nca cluster status)");
    }
    if (action == "decommission") {
      request.mutable_cluster_admin()->set_decommission(node);
    } else {
      request.mutable_cluster_admin()->set_recommission(node);
    }
    return request;
  }
  return make_error(ErrorCode::invalid_argument,
                    action.empty() ? "nca cluster needs an action: status, decommission NODE, "
                                     "recommission NODE, partition PEER, heal PEER"
                                   : "unknown cluster action '" + action +
                                         "'; known: status, decommission, recommission, "
                                         "partition, heal");
}

void print_cluster(const pb::Request& request, const pb::Response& response, Output& out) {
  if (response.has_cluster_admin() && request.cluster_admin().has_partition()) {
    out.fields({{"peer", std::to_string(response.cluster_admin().node())},
                {"frames", request.cluster_admin().partition().drop()
                               ? "dropped to and from it (fault injection)"
                               : "flowing again"}});
    return;
  }
  if (response.has_cluster_admin()) {
    const bool drain = request.cluster_admin().has_decommission();
    out.fields({{"node", std::to_string(response.cluster_admin().node())},
                {"state", drain ? "draining: its replicas and leaderships move to the other nodes"
                                : "taking replicas again"},
                {"follow with", "nca cluster status (REPLICAS and LEADS per member)"}});
    return;
  }
  const pb::ClusterStatusReply& status = response.cluster_status();
  std::map<uint64_t, int> replicas_of, leads_of;
  for (const pb::ShardStatus& s : status.shards()) {
    for (uint64_t r : s.replicas()) ++replicas_of[r];
    if (s.leader() != 0) ++leads_of[s.leader()];
  }
  Fields fields = {
      {"node", status.node_name()},
      {"number", std::to_string(status.node())},
      {"incarnation", std::to_string(status.incarnation())},
      {"advertise", status.advertise()},
      {"metadata leader",
       status.metadata_leader() == 0 ? "none known" : std::to_string(status.metadata_leader())},
      {"members", std::to_string(status.members_size())},
      {"peers", std::to_string(status.peers_size())}};
  if (status.has_traffic()) {  // nodes of before session 26 do not count
    const pb::PeerTraffic& t = status.traffic();
    fields.push_back({"frames", "sent " + std::to_string(t.frames_sent()) + ", received " +
                                    std::to_string(t.frames_received()) + ", dropped " +
                                    std::to_string(t.frames_dropped()) + ", refused " +
                                    std::to_string(t.frames_refused()) + "; dials failed " +
                                    std::to_string(t.dials_failed())});
  }
  if (!status.shards_unavailable().empty()) {
    fields.push_back({"shards", "unavailable: " + status.shards_unavailable()});
  }
  out.fields(fields);
  std::vector<std::vector<std::string>> members;
  for (const pb::ClusterMemberStatus& m : status.members()) {
    members.push_back({std::to_string(m.node()), m.address(),
                       m.dead()       ? "dead"
                       : m.draining() ? "draining"
                                      : "alive",
                       std::to_string(m.incarnation()), m.metadata_role(),
                       std::to_string(replicas_of[m.node()]), std::to_string(leads_of[m.node()])});
  }
  if (!members.empty()) {
    out.line("");
    out.table({{"MEMBER"},
               {"ADDRESS"},
               {"STATE"},
               {"INCARNATION", true},
               {"METADATA"},
               {"REPLICAS", true},
               {"LEADS", true}},
              members);
  }
  std::vector<std::vector<std::string>> shards;
  for (const pb::ShardStatus& s : status.shards()) {
    std::string replicas;
    for (uint64_t r : s.replicas()) replicas += (replicas.empty() ? "" : ",") + std::to_string(r);
    shards.push_back({std::to_string(s.shard()), replicas,
                      s.leader() == 0 ? "-" : std::to_string(s.leader()), std::to_string(s.epoch()),
                      s.settled_epoch() >= s.epoch() ? "yes" : "moving",
                      s.hosted() ? s.role() : "no", std::to_string(s.lag())});
  }
  if (!shards.empty()) {
    out.line("");
    out.table({{"SHARD", true},
               {"REPLICAS"},
               {"LEADER"},
               {"EPOCH", true},
               {"SETTLED"},
               {"HERE"},
               {"LAG", true}},
              shards);
  }
  std::vector<std::vector<std::string>> rows;
  for (const pb::ClusterPeer& peer : status.peers()) {
    rows.push_back({std::to_string(peer.node()), peer.address().empty() ? "-" : peer.address(),
                    peer.state(), std::to_string(peer.incarnation()),
                    peer.linked() ? "yes" : "no"});
  }
  if (!rows.empty()) {
    out.line("");
    out.table({{"PEER"}, {"ADDRESS"}, {"STATE"}, {"INCARNATION", true}, {"LINKED"}}, rows);
  }
}

void declare_stats(po::options_description& options, po::options_description&,
                   po::positional_options_description&) {
  options.add_options()("persona", po::value<std::string>()->value_name("P"),
                        "also show this persona's tiers");
}

Result<pb::Request> build_stats(const po::variables_map& values) {
  pb::Request request;
  request.mutable_stats()->set_persona_id(text_of(values, "persona"));
  return request;
}

void print_stats(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::StatsReply& stats = response.stats();
  if (stats.persona_size() > 0) {
    // A persona's figures come from the node that serves it, which does not count the node's
    // totals into them: zeros there would read as an empty node (`nca stats` shows the totals).
    out.fields({{"served by node", stats.node_id()}});
  } else {
    out.fields({{"node", stats.node_id()},
                {"personas", std::to_string(stats.personas())},
                {"active personas", std::to_string(stats.active_personas())},
                {"items", std::to_string(stats.items())},
                {"live item actors", std::to_string(stats.live_item_actors())}});
  }
  std::vector<std::vector<std::string>> rows;
  for (const pb::PersonaStats& persona : stats.persona()) {
    for (const pb::TierStats& tier : persona.tiers()) {
      rows.push_back({persona.persona_id(), out.tier(tier.tier()), std::to_string(tier.items()),
                      std::to_string(tier.index_size()), std::to_string(tier.index_deleted()),
                      tier.capacity() == 0 ? "-" : std::to_string(tier.capacity())});
    }
    rows.push_back(
        {persona.persona_id(), "archive", std::to_string(persona.archived()), "-", "-", "-"});
  }
  if (!rows.empty()) {
    out.line("");
    out.table({{"PERSONA"},
               {"TIER"},
               {"ITEMS", true},
               {"INDEXED", true},
               {"DELETED", true},
               {"CAPACITY", true}},
              rows);
  }
  for (const pb::PersonaStats& persona : stats.persona()) {
    out.line("");
    out.line(out.bold("persona " + persona.persona_id()));
    std::vector<std::pair<std::string, std::string>> fields = {
        {"temperature", format_fixed(persona.temperature(), 2)},
        {"tubules", std::to_string(persona.tubules())}};
    append_counters(persona.consolidation(), fields);
    out.fields(fields);
  }
  if (!stats.counters().empty()) {
    out.line("");
    std::map<std::string, uint64_t> sorted(stats.counters().begin(), stats.counters().end());
    std::vector<std::pair<std::string, std::string>> counters;
    for (const auto& entry : sorted)
      counters.emplace_back(entry.first, std::to_string(entry.second));
    out.fields(counters);
  }
}

// --- link, unlink, neighbours: tubules ----------------------------------------------------------

void declare_pair(po::options_description&, po::options_description& hidden,
                  po::positional_options_description& positional) {
  hidden.add_options()("ids", po::value<Strings>());
  positional.add("ids", -1);
}

void declare_link(po::options_description& options, po::options_description& hidden,
                  po::positional_options_description& positional) {
  declare_pair(options, hidden, positional);
  options.add_options()("strength", po::value<std::string>()->value_name("X"),
                        "0..1 (default: the node's session strength)");
}

template <pb::LinkRequest* (pb::Request::*Body)()>
Result<pb::Request> build_link_verb(const po::variables_map& values) {
  Strings ids = list_of(values, "ids");
  if (ids.size() != 2 || ids[0].empty() || ids[1].empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "expected two memory ids A B, got " + std::to_string(ids.size()));
  }
  if (ids[0] == ids[1]) {
    return make_error(ErrorCode::invalid_argument, "A and B are the same memory: " + ids[0]);
  }
  pb::Request request;
  pb::LinkRequest* body = (request.*Body)();
  body->set_a(ids[0]);
  body->set_b(ids[1]);
  if (has(values, "strength")) {
    auto strength = parse_number(text_of(values, "strength"), "--strength", 0, 1);
    if (!strength.ok()) return strength.error();
    body->set_strength(*strength);
  }
  return request;
}

void print_tubule(const char* verb, const pb::Tubule& tubule, Output& out) {
  out.line(std::string(verb) + " " + out.bold(tubule.a()) + " ↔ " + out.bold(tubule.b()));
  out.fields({{"strength", format_fixed(tubule.strength(), 3)},
              {"activations", std::to_string(tubule.activations())},
              {"last activated", format_time_us(tubule.last_activated_us())}});
}

void print_link(const pb::Request&, const pb::Response& response, Output& out) {
  print_tubule("linked", response.link().tubule(), out);
}

void print_unlink(const pb::Request&, const pb::Response& response, Output& out) {
  print_tubule("unlinked", response.unlink().tubule(), out);
}

void print_neighbours(const pb::Request& request, const pb::Response& response, Output& out) {
  const pb::NeighboursReply& reply = response.neighbours();
  std::string id = reply.item_id().empty() ? request.neighbours().id() : reply.item_id();
  if (reply.neighbours().empty()) {
    out.line(id + " has no tubules");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const pb::Neighbour& neighbour : reply.neighbours()) {
    rows.push_back({neighbour.item_id(), format_fixed(neighbour.strength(), 3),
                    neighbour.consolidated() ? "yes" : "no",
                    std::to_string(neighbour.activations())});
  }
  out.table({{"NEIGHBOUR"}, {"STRENGTH", true}, {"CONSOLIDATED"}, {"ACTIVATIONS", true}}, rows);
}

// --- consolidate, context: per-persona verbs
// ------------------------------------------------------

void declare_persona(po::options_description& options, po::options_description&,
                     po::positional_options_description&) {
  options.add_options()("persona", po::value<std::string>()->required()->value_name("P"),
                        "the persona");
}

Result<pb::Request> build_consolidate(const po::variables_map& values) {
  pb::Request request;
  request.mutable_consolidate()->set_persona_id(text_of(values, "persona"));
  return request;
}

void print_consolidate(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::ConsolidateReply& reply = response.consolidate();
  std::vector<std::pair<std::string, std::string>> tick;
  append_counters(reply.tick(), tick);
  std::vector<std::pair<std::string, std::string>> total;
  append_counters(reply.total(), total);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < tick.size(); ++i) {
    rows.push_back({tick[i].first, tick[i].second, total[i].second});
  }
  out.line("consolidated; temperature " + format_fixed(reply.total().temperature(), 2));
  out.table({{"COUNTER"}, {"THIS TICK", true}, {"TOTAL", true}}, rows);
}

void declare_context(po::options_description& options, po::options_description& hidden,
                     po::positional_options_description& positional) {
  declare_persona(options, hidden, positional);
  options.add_options()("n,n", po::value<std::string>()->default_value("10")->value_name("N"),
                        "number of items (1..1000)");
}

Result<pb::Request> build_context(const po::variables_map& values) {
  pb::Request request;
  pb::ContextRequest* body = request.mutable_context();
  body->set_persona_id(text_of(values, "persona"));
  auto n = count_of(values, "n", "-n", 1, 1000);
  if (!n.ok()) return n.error();
  body->set_n(*n);
  return request;
}

void print_context(const pb::Request&, const pb::Response& response, Output& out) {
  const pb::ContextReply& reply = response.context();
  if (reply.items().empty()) {
    out.line("no active memories");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const pb::ContextItem& entry : reply.items()) {
    rows.push_back({std::to_string(++rank), format_fixed(entry.activation(), 3),
                    format_fixed(entry.item().health(), 1), out.tier(entry.item().tier()),
                    entry.item().id(), entry.item().content()});
  }
  out.table({{"#", true},
             {"ACTIVATION", true},
             {"HEALTH", true},
             {"TIER"},
             {"ID"},
             {"CONTENT", false, true}},
            rows);
}

// --- the table ----------------------------------------------------------------------------------

const std::vector<VerbSpec> kVerbs = {
    {"ping", "ping", "check that a node answers; shows its id and version", "nca ping",
     declare_nothing, build_ping, print_ping},
    {"remember",
     "remember --persona P [--importance X] [--tag T]... [--meta k=v]... [--session S] "
     "[--tier stm|mtm|ltm] [--id ID] [--created-at ISO8601|unix] TEXT...",
     "store one memory for a persona",
     "nca remember --persona ada --importance 0.8 --tag health Ada is allergic to peanuts\n"
     "echo 'long text' | nca remember --persona ada -",
     declare_remember, build_remember, print_remember},
    {"recall",
     "recall --persona P [-k N] [--tier T]... [--tag T]... [--meta k=v]... [--min-health X] "
     "[--after T] [--before T] [--mode vector|lexical|hybrid] [--no-spread] [--include-shared] "
     "QUERY...",
     "find a persona's memories most relevant to a query",
     "nca recall --persona ada -k 5 what is Ada allergic to\n"
     "nca --json recall --persona ada --tier ltm --after 2024-01-01 allergies\n"
     "nca recall --persona ada --mode lexical --no-spread peanuts\n"
     "nca recall --persona ada --include-shared refund policy",
     declare_recall, build_recall, print_recall},
    {"get", "get ID [--persona P]", "show one memory",
     "nca get 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_get,
     build_item_verb<&pb::Request::mutable_get>, print_item_reply<&pb::Response::get>},
    {"update", "update ID [--content TEXT] [--importance X] [--tag T]... [--meta k=v]...",
     "change a memory's content, importance, tags or metadata",
     "nca update 0190f1c2-7a3b-7c4d-8e5f-0123456789ab --importance 0.9 --tag health --tag food",
     declare_update, build_update, print_item_reply<&pb::Response::update>},
    {"forget", "forget ID [--reason R]", "archive a memory (restorable until the archive expires)",
     "nca forget 0190f1c2-7a3b-7c4d-8e5f-0123456789ab --reason outdated", declare_forget,
     build_item_verb<&pb::Request::mutable_forget>, print_forget},
    {"restore", "restore ID | restore --from DIR",
     "bring a forgotten memory back; with --from, load a backup into a fresh node or cluster "
     "(admin)",
     "nca restore 0190f1c2-7a3b-7c4d-8e5f-0123456789ab\n"
     "nca --addr 10.0.0.5:7420 restore --from /backups/neuroca-2026-11-23",
     declare_restore, build_restore, nullptr, run_restore},
    {"touch", "touch ID", "count an access: reinforces the memory's health",
     "nca touch 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_id,
     build_item_verb<&pb::Request::mutable_touch>, print_touch},
    {"delete", "delete ID", "delete a memory for good (not restorable)",
     "nca delete 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_id,
     build_item_verb<&pb::Request::mutable_delete_>, print_delete},
    {"history", "history ID", "show every change to a memory",
     "nca history 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_id,
     build_item_verb<&pb::Request::mutable_history>, print_history},
    {"list", "list --persona P [--page-size N] [--page-token T] [--tier T]... [--archived]",
     "list a persona's memories in id order (oldest first), a page at a time",
     "nca list --persona ada --tier stm --page-size 20\nnca list --persona ada --archived",
     declare_list, build_list, print_list},
    {"stats", "stats [--persona P]", "show node (and persona) counters", "nca stats --persona ada",
     declare_stats, build_stats, print_stats},
    {"cluster", "cluster status | decommission NODE | recommission NODE | partition|heal PEER",
     "show the cluster as this node sees it (members, shards, leaders, lag); drain a node before "
     "removing it, or undo a drain; cut this node off from a peer, or heal it (tests only: "
     "cluster.fault-injection)",
     "nca cluster status\nnca --json cluster status\nnca cluster decommission 4012345678",
     declare_cluster, build_cluster, print_cluster},
    {"link", "link A B [--strength X]", "link two memories of one persona with a tubule",
     "nca link 0190f1c2-7a3b-7c4d-8e5f-0123456789ab 0190f1c2-7a3b-7c4d-8e5f-0123456789ac "
     "--strength 0.6",
     declare_link, build_link_verb<&pb::Request::mutable_link>, print_link},
    {"unlink", "unlink A B", "remove the tubule between two memories",
     "nca unlink 0190f1c2-7a3b-7c4d-8e5f-0123456789ab 0190f1c2-7a3b-7c4d-8e5f-0123456789ac",
     declare_pair, build_link_verb<&pb::Request::mutable_unlink>, print_unlink},
    {"neighbours", "neighbours ID", "show the memories a memory is linked to, with strengths",
     "nca neighbours 0190f1c2-7a3b-7c4d-8e5f-0123456789ab", declare_id,
     build_item_verb<&pb::Request::mutable_neighbours>, print_neighbours},
    {"consolidate", "consolidate --persona P",
     "run one consolidation tick now (promote, demote, forget, merge, prune)",
     "nca consolidate --persona ada", declare_persona, build_consolidate, print_consolidate},
    {"context", "context --persona P [-n N]",
     "show a persona's most active memories (the working context)",
     "nca context --persona ada -n 5", declare_context, build_context, print_context},
};

}  // namespace

const std::vector<VerbSpec>& verbs() {
  static const std::vector<VerbSpec> all = [] {
    std::vector<VerbSpec> table = kVerbs;
    table.push_back(import_verb());
    table.push_back(export_verb());
    table.push_back(backup_verb());
    for (const auto* group : {&persona_verbs(), &event_verbs(), &auth_verbs()}) {
      table.insert(table.end(), group->begin(), group->end());
    }
    return table;
  }();
  return all;
}

const VerbSpec* find_verb(const std::string& name) {
  for (const VerbSpec& verb : verbs()) {
    if (name == verb.name) return &verb;
  }
  return nullptr;
}

bool is_verb_group(const std::string& name) { return !verbs_in_group(name).empty(); }

std::vector<const VerbSpec*> verbs_in_group(const std::string& group) {
  std::vector<const VerbSpec*> members;
  std::string prefix = group + " ";
  for (const VerbSpec& verb : verbs()) {
    if (std::string(verb.name).rfind(prefix, 0) == 0) members.push_back(&verb);
  }
  return members;
}

const google::protobuf::Message& reply_body(const pb::Response& response) {
  const auto* oneof = pb::Response::descriptor()->FindOneofByName("body");
  const auto* reflection = response.GetReflection();
  const auto* field =
      oneof == nullptr ? nullptr : reflection->GetOneofFieldDescriptor(response, oneof);
  if (field == nullptr) return response;
  return reflection->GetMessage(response, field);
}

}  // namespace nca::cli
