#include "tools/fuzz/targets.hpp"

#include <cstdlib>
#include <string>

#include "cluster/metadata/cluster_map.hpp"
#include "cluster/raft/memory_storage.hpp"
#include "cluster/raft/raft.hpp"
#include "cluster/transport/raft_codec.hpp"
#include "config/ini.hpp"
#include "config/schema.hpp"
#include "http/request_mapping.hpp"
#include "http/route_table.hpp"
#include "proto/cluster.pb.h"
#include "proto/neuroca.pb.h"
#include "proto/raft.pb.h"
#include "runtime/api_keys.hpp"
#include "runtime/event_input.hpp"
#include "runtime/event_policy.hpp"
#include "runtime/input_validation.hpp"
#include "runtime/jwt.hpp"
#include "runtime/memory_policy.hpp"
#include "runtime/principal.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca::fuzz {
namespace {

const std::string kSecret = "fuzzing-secret-fuzzing-secret-fuzzing";

// A peer's frame all the way in: decoded, then every message stepped into a fresh member (node 2
// of voters 1..3, with a committed entry) and its Readies handled as the Raft host would. A step
// may refuse a message (an error value); nothing may crash or leave a Ready the storage refuses.
void step_frame(const std::string& bytes) {
  auto batch = transport::decode_batch(bytes);
  if (!batch) return;
  raft::MemoryStorage storage;
  raft::Bootstrap boot = raft::bootstrap_entries({1, 2, 3});
  if (!storage.save(&boot.hard_state, boot.entries, nullptr).ok()) std::abort();
  raft::RaftConfig config;
  config.id = 2;
  config.storage = &storage;
  auto node = raft::Raft::create(config);
  if (!node.ok()) std::abort();
  raft::Raft& r = **node;
  for (auto& gm : batch->messages) {
    gm.message.to = 2;  // past the first check, into the handlers
    (void)r.step(gm.message);
    for (int i = 0; i < 4 && r.has_ready(); ++i) {
      raft::Ready rd = r.ready();
      Status saved = storage.save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                                  rd.snapshot ? &*rd.snapshot : nullptr);
      if (!saved.ok()) std::abort();  // a frame made the node write what its storage refuses
      r.advance(rd);
    }
    r.tick();
    if (r.log().committed() > r.log().last_index()) std::abort();
  }
}

// The first byte picks a variant, the rest is the input: libFuzzer learns the variants quickly.
std::pair<uint8_t, std::string_view> split(std::string_view bytes) {
  if (bytes.empty()) return {0, bytes};
  return {static_cast<uint8_t>(bytes[0]), bytes.substr(1)};
}

}  // namespace

void request(std::string_view bytes) {
  pb::Request req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  // The credential, as the api actor checks it.
  const std::string& token = req.header().auth_token();
  (void)verify_jwt(token, kSecret, 1'800'000'000);
  static const ApiKeyStore keys = [] {
    auto made = ApiKeyStore::generate("acme", Role::writer, "");
    return *ApiKeyStore::parse(made->line, "keys");
  }();
  (void)keys.find(token);
  pb::Request copy = req;
  (void)authorize(Principal{"acme", Role::writer, "fuzz"}, copy, "default");
  (void)required_role(req);
  // The validators the persona actor and the event router run on a client's input.
  MemoryPolicy policy;
  policy.dim = 8;
  switch (req.body_case()) {
    case pb::Request::kRemember:
      (void)validate_memory_input(*req.mutable_remember()->mutable_memory(), policy);
      break;
    case pb::Request::kRememberBatch:
      for (auto& m : *req.mutable_remember_batch()->mutable_memories()) {
        (void)validate_memory_input(m, policy);
      }
      break;
    case pb::Request::kRecall:
      (void)validate_recall(*req.mutable_recall(), policy);
      break;
    case pb::Request::kUpdate:
      (void)validate_update(*req.mutable_update(), policy);
      break;
    case pb::Request::kPublish: {
      EventPolicy events;
      for (const auto& e : req.publish().events()) (void)validate_event_input(e, events);
      break;
    }
    default:
      break;
  }
}

void http(std::string_view bytes) {
  auto [variant, rest] = split(bytes);
  const auto& table = http::routes();
  if (variant < 16) {
    // A raw request line: "METHOD /path?query".
    std::string_view line = rest.substr(0, rest.find('\n'));
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return;
    (void)http::match_route(line.substr(0, space), line.substr(space + 1));
    return;
  }
  // A JSON body for one API route, with fuzzed path parameters.
  const http::Route& route = table[variant % table.size()];
  if (!http::is_api_op(route.op)) return;
  size_t cut = rest.find('\n');
  std::string id(cut == std::string_view::npos ? "ada" : rest.substr(0, cut));
  http::HttpInput in;
  in.route = &route;
  in.params = {{"id", id}, {"asset", id}};
  in.body = cut == std::string_view::npos ? rest : rest.substr(cut + 1);
  if (!http::check_query(route, in.query)) return;
  (void)http::build_request(in);
}

void config(std::string_view bytes) {
  auto entries = config::parse_ini(std::string(bytes), "fuzz.ini");
  if (!entries) return;
  config::Settings s = config::defaults();
  for (const auto& e : *entries) (void)config::set(s, e.key, e.value);
  (void)config::validate(s);
}

void records(std::string_view bytes) {
  auto [variant, rest] = split(bytes);
  const std::string_view what = "fuzz";
  switch (variant % 12) {
    case 0:
      (void)storage::decode_record<pb::MemoryItem>(rest, what);
      break;
    case 1:
      (void)storage::decode_record<pb::Persona>(rest, what);
      break;
    case 2:
      (void)storage::decode_record<pb::Event>(rest, what);
      break;
    case 3:
      (void)storage::decode_record<pb::ArchivedItem>(rest, what);
      break;
    case 4:
      (void)storage::decode_record<pb::HistoryRecord>(rest, what);
      break;
    case 5:
      (void)storage::decode_record<pb::RequestRecord>(rest, what);
      break;
    case 6:
      (void)storage::decode_record<pb::ItemLocator>(rest, what);
      break;
    case 7:
      (void)storage::decode_record<pb::ClusterMapRecord>(rest, what);
      break;
    case 8:
      step_frame(std::string(rest));
      break;
    case 9:
      (void)storage::parse_persona_prefix(rest);
      break;
    case 10: {
      metadata::ClusterMap map(8, 3);
      (void)map.apply(1, std::string(rest));
      break;
    }
    default:
      (void)storage::decode_record<pb::ConsolidationCounters>(rest, what);
      break;
  }
}

}  // namespace nca::fuzz
