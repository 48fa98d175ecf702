#include "actors/api_actor.hpp"

#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "actors/messages.hpp"
#include "actors/metadata_actor.hpp"
#include "actors/peer_transport.hpp"
#include "actors/persona_directory.hpp"
#include "actors/raft_host_actor.hpp"
#include "actors/reply.hpp"
#include "cluster/membership/node_number.hpp"
#include "config/values.hpp"
#include "proto/cluster.pb.h"
#include "proto/wire.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "runtime/ids.hpp"
#include "runtime/memory_guard.hpp"
#include "runtime/persona_profile.hpp"
#include "runtime/principal.hpp"
#include "runtime/protobuf_log.hpp"
#include "runtime/rate_limiter.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca::actors {
namespace {

constexpr const char* kDefaultTenant = "default";

using ApiResult = caf::result<uint32_t, std::string>;
using reroute_atom = caf::atom_constant<caf::atom("reroute")>;

// How often a request that waits for its shard to have a serving leader is routed again.
constexpr std::chrono::microseconds kRerouteEvery{25'000};

// Who serves a routed request on the node that serves its shard.
enum class Target {
  persona,  // the persona's actor
  events,   // the event router of the tenant's event shard
  archive,  // the shard archiver (backup_shard, restore_shard)
};

// A persona request waiting to be routed again (see dispatch()).
struct Parked {
  std::shared_ptr<pb::Request> req;
  std::string persona;
  uint32_t shard = 0;  // the persona's, computed once
  bool forwarded = false;
  Target target = Target::persona;
  caf::response_promise rp;
  TimeUs give_up_us = 0;
};

struct ApiState {
  NodeContextPtr ctx;
  std::unordered_map<uint64_t, Parked> parked;
  uint64_t next_parked = 0;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<MemoryGuard> memory;
};

using ApiSelf = caf::stateful_actor<ApiState>;

// Where a request came from: a client (credentials checked), a peer node's transport (checked by
// the node that took it first, and not forwarded again), or an actor of this node.
enum class Origin { client, peer, local };

bool sent_from_this_node(ApiSelf* self) {
  const auto& sender = self->current_sender();
  return sender != nullptr && sender->node() == self->node();
}

// Requests that make the node hold more: refused while it is under memory pressure. Reads,
// deletes, forgets and acknowledgements go on: they are how memory is given back.
bool grows_memory(const pb::Request& req) {
  switch (req.body_case()) {
    case pb::Request::kRemember:
    case pb::Request::kRememberBatch:
    case pb::Request::kUpdate:
    case pb::Request::kCreatePersona:
    case pb::Request::kPublish:
    case pb::Request::kLink:
      return true;
    default:
      return false;
  }
}

// Authenticates a client's request, settles its tenant, checks its role and its tenant's rate.
// The credential is dropped from the request: it is never forwarded, logged or stored.
Status admit_client(ApiSelf* self, pb::Request& req) {
  NodeContext& ctx = *self->state.ctx;
  if (!ctx.auth) return {};
  if (auto reload = ctx.auth->refresh_if_due(); !reload) {
    spdlog::error("auth.api-keys-file: {}", reload.error().message);
  }
  auto who = ctx.auth->authenticate(req.header().auth_token());
  req.mutable_header()->clear_auth_token();
  if (!who) {
    ctx.counters.refused_unauthenticated++;
    return who.error();
  }
  if (auto s = authorize(*who, req, kDefaultTenant); !s) {
    ctx.counters.refused_permission++;
    return s;
  }
  RateLimiter& limiter = *self->state.limiter;
  if (TimeUs wait = limiter.admit(req.header().tenant(), ctx.clock->now_us()); wait > 0) {
    ctx.counters.refused_rate++;
    return make_error(ErrorCode::resource_exhausted,
                      "tenant '" + req.header().tenant() + "' is over its request rate (" +
                          config::format_double(ctx.settings.limits.rate_per_tenant) +
                          "/s, burst " + std::to_string(ctx.settings.limits.burst_per_tenant) +
                          "); retry in " + std::to_string((wait + 999) / 1000) + " ms");
  }
  return {};
}

void park(ApiSelf* self, Parked p, const Error& why);

// The persona an item-addressed request goes to: its locator, else the client's hint.
Result<std::string> locate(const NodeContext& ctx, const std::string& tenant, const std::string& id,
                           const std::string& hint, bool allow_deleted) {
  if (auto s = validate_id(id, "memory id"); !s) return s.error();
  auto raw = ctx.db->get(storage::Cf::meta, storage::locator_key(tenant, id));
  if (!raw) return raw.error();
  if (!raw->has_value()) {
    if (!hint.empty()) return hint;
    return make_error(ErrorCode::not_found, "no memory '" + id + "'");
  }
  auto loc = storage::decode_record<pb::ItemLocator>(**raw, "locator of memory '" + id + "'");
  if (!loc) return loc.error();
  if (loc->deleted() && !allow_deleted) {
    return make_error(ErrorCode::not_found, "memory '" + id + "' was deleted");
  }
  return loc->persona_id();
}

pb::Response node_stats(const NodeContext& ctx) {
  pb::Response resp;
  auto* s = resp.mutable_stats();
  s->set_node_id(ctx.node_id);
  uint64_t personas = 0;
  auto st = ctx.db->scan(storage::Cf::personas, "", [&](std::string_view, std::string_view) {
    ++personas;
    return true;
  });
  if (!st) {
    set_error(resp, st.error());
    return resp;
  }
  s->set_personas(personas);
  uint64_t items = 0;
  ctx.db->raw()->GetIntProperty(ctx.db->handle(storage::Cf::items), "rocksdb.estimate-num-keys",
                                &items);
  s->set_items(items);
  s->set_live_item_actors(ctx.counters.live_item_actors.load());
  s->set_active_personas(ctx.counters.live_personas.load());
  auto& c = *s->mutable_counters();
  c["requests"] = ctx.counters.requests.load();
  c["request_errors"] = ctx.counters.request_errors.load();
  c["index_rebuilds"] = ctx.counters.index_rebuilds.load();
  c["indices_warmed"] = ctx.counters.indices_warmed.load();
  c["corrupt_records"] = ctx.counters.corrupt_records.load();
  c["storage_syncs"] = ctx.db->sync_count();
  c["storage_commits"] = ctx.db->commit_count();
  c["incarnation"] = ctx.incarnation;
  c["personas_evicted"] = ctx.counters.personas_evicted.load();
  c["shard_snapshots_installed"] = ctx.counters.shard_snapshots_installed.load();
  c["shard_copies_dropped"] = ctx.counters.shard_copies_dropped.load();
  c["requests_forwarded"] = ctx.counters.requests_forwarded.load();
  return resp;
}

// What a stopping node answers: a transport-level error, not a reply, so the SDK resends the
// request (same request id) to another node, as for a connection that went down.
caf::error stopping_error() {
  return caf::make_error(caf::sec::request_receiver_down, "the node is shutting down");
}

// Where a persona's request goes: its actor on this node, or the node that serves its shard.
struct Destination {
  caf::actor actor;     // valid: this node serves it
  uint64_t leader = 0;  // otherwise: forward through the transport to this node
};

// `retry`: the cluster cannot serve the persona right now but will (an election, a leader still
// applying its log); the request may wait and be routed again.
Result<Destination> destination_of(NodeContext& ctx, const std::string& tenant,
                                   const std::string& persona, uint32_t shard, bool forwarded,
                                   bool* retry, Target target = Target::persona) {
  *retry = false;
  if (ctx.replicated()) {
    auto r = ctx.routes->route(shard);
    if (r.kind == cluster::ShardRoutes::Kind::refuse) {
      *retry = true;
      return make_error(ErrorCode::unavailable, r.reason);
    }
    if (r.kind == cluster::ShardRoutes::Kind::forward) {
      // One hop only: a node that was forwarded a request it cannot serve says so at once, and
      // the node that forwarded it routes it again (leadership moved while it travelled), to the
      // leader named here when it does not replicate the shard itself.
      if (forwarded) {
        return make_error(ErrorCode::unavailable, std::string(kLeadershipMoved) + ": node '" +
                                                      ctx.node_id + "' does not lead shard " +
                                                      std::to_string(shard) + " (node " +
                                                      std::to_string(r.leader) + " does); retry");
      }
      if (!ctx.transport) {
        return make_error(ErrorCode::unavailable,
                          "the node is shutting down; retry on another node");
      }
      return Destination{caf::actor{}, r.leader};
    }
  }
  if (target != Target::persona) {
    caf::actor actor = target == Target::events ? ctx.router : ctx.archiver;
    if (!actor) {
      return make_error(ErrorCode::unavailable, "the node is shutting down; retry on another node");
    }
    return Destination{actor, 0};
  }
  auto actor = ctx.directory->activate(tenant, persona);
  if (!actor) {
    // The routes said serve, the directory did not: the leadership moved in between.
    *retry = ctx.replicated() && actor.error().message.find("shutting down") == std::string::npos;
    return actor.error();
  }
  return Destination{*actor, 0};
}

// The message of a reply that says the request should be routed again (it starts with
// kLeadershipMoved: from a persona that lost its shard under the request, or from a node that was
// forwarded a request for a shard it does not lead); nullopt for any other reply. Most replies are
// told apart by a scan of their bytes, without parsing them.
std::optional<std::string> leadership_moved(const std::string& bytes) {
  if (bytes.find(kLeadershipMoved) == std::string::npos) return std::nullopt;
  pb::Response resp;
  if (!resp.ParseFromString(bytes) || resp.status().code() != pb::UNAVAILABLE ||
      resp.status().message().rfind(kLeadershipMoved, 0) != 0) {
    return std::nullopt;
  }
  return resp.status().message();
}

// A node that was forwarded a request for a shard it does not lead names the leader it knows,
// "(node N does)": a node that does not replicate the shard forwards there next time.
void learn_hint(NodeContext& ctx, uint32_t shard, const std::string& message) {
  if (!ctx.routes) return;
  auto at = message.find("(node ");
  if (at == std::string::npos) return;
  const uint64_t leader = std::strtoull(message.c_str() + at + 6, nullptr, 10);
  if (leader != 0) ctx.routes->set_hint(shard, leader);
}

// A read served on a cluster node under cluster.read-consistency = linearizable: it waits for the
// shard's leadership to be confirmed by a quorum (actors/raft_host_actor.hpp, read_index_atom).
bool linearizable_read(const NodeContext& ctx, const pb::Request& req) {
  if (!ctx.replicated() || !ctx.raft || !ctx.linearizable_reads) return false;
  switch (req.body_case()) {
    case pb::Request::kRecall:
    case pb::Request::kGet:
    case pb::Request::kList:
    case pb::Request::kHistory:
    case pb::Request::kNeighbours:
    case pb::Request::kContext:
    case pb::Request::kGetPersona:
    case pb::Request::kStats:
    case pb::Request::kEventStatus:
    case pb::Request::kListDeadLetters:
    case pb::Request::kListPersonas:
      return true;
    default:
      return false;
  }
}

// Sends the request where its persona is served, or parks it to be routed again shortly when
// the cluster cannot serve it yet: a failover shows up as latency, not as an error, for as long
// as the request's deadline allows.
void dispatch(ApiSelf* self, NodeContext& ctx, Parked p) {
  const uint32_t method = static_cast<uint32_t>(p.req->body_case());
  if (ctx.stopping) {
    p.rp.deliver(stopping_error());
    return;
  }
  bool retry = false;
  auto dest = destination_of(ctx, p.req->header().tenant(), p.persona, p.shard, p.forwarded, &retry,
                             p.target);
  if (!dest) {
    if (retry) return park(self, std::move(p), dest.error());
    return deliver(p.rp, method, error_response(dest.error()));
  }
  if (dest->actor && !ctx.replicated()) {
    p.rp.delegate(dest->actor, handle_atom::value, RequestPtr(p.req));
    return;
  }
  // On a node of a cluster the reply comes back here: a persona that lost its shard under the
  // request, or a leader that moved on while a forwarded request travelled, says so, and the
  // request goes round again; so does one the leader's node did not get (it just died).
  const TimeUs left = p.give_up_us - ctx.clock->now_us();
  auto timeout = std::chrono::microseconds(std::max<TimeUs>(left, 1000) + kRerouteEvery.count());
  auto on_reply = [self, p](uint32_t m, std::string& bytes) mutable {
    if (auto moved = leadership_moved(bytes)) {
      learn_hint(*self->state.ctx, p.shard, *moved);
      return park(self, std::move(p), make_error(ErrorCode::unavailable, *moved));
    }
    p.rp.deliver(m, std::move(bytes));
  };
  if (dest->actor) {
    auto to_persona = [self, p, method, timeout, on_reply,
                       actor = dest->actor](uint64_t = 0) mutable {
      self->request(actor, timeout, handle_atom::value, RequestPtr(p.req))
          .then(std::move(on_reply), [self, p, method](caf::error& e) mutable {
            Error why = make_error(ErrorCode::unavailable,
                                   "the persona did not answer: " + self->system().render(e));
            // The actor left (evicted, or the node is stopping) without the request.
            if (e == caf::sec::request_receiver_down) return park(self, std::move(p), why);
            deliver(p.rp, method, error_response(why));
          });
    };
    if (!linearizable_read(ctx, *p.req)) return to_persona();
    // The leader confirms it still leads (and has applied what it confirmed) before the persona
    // reads: a leader cut off from the others must not serve what a new leader has overwritten.
    self->request(ctx.raft, timeout, read_index_atom::value, shard_group(p.shard))
        .then(std::move(to_persona), [self, p](caf::error& e) mutable {
          park(self, std::move(p),
               make_error(ErrorCode::unavailable,
                          "the shard's leadership was not confirmed for a read: " +
                              self->system().render(e)));
        });
    return;
  }
  ctx.counters.requests_forwarded++;
  // The reply names the node that served it (served_by, added by its transport); a persona's also
  // names the shard, so the client sends the shard's other personas there too. Appended unparsed:
  // the leader never sets these fields itself (a forwarded request is not forwarded again), so
  // nothing in the reply can override them.
  std::string route;
  if (p.target == Target::persona && !p.persona.empty()) {
    pb::Response shard;
    shard.set_route_shard(p.shard);
    shard.set_shard_count(ctx.routes->shard_count());
    shard.set_route_tenant(p.req->header().tenant());
    route = shard.SerializeAsString();
  }
  auto on_forwarded = [on_reply, route](uint32_t m, std::string& bytes) mutable {
    bytes += route;  // serialized fields concatenate: the parsed reply has both
    on_reply(m, bytes);
  };
  self->request(ctx.transport, timeout, forward_atom::value, dest->leader, method,
                p.req->SerializeAsString())
      .then(std::move(on_forwarded),
            [self, p, method, leader = dest->leader](caf::error& e) mutable {
              Error why = make_error(ErrorCode::unavailable, "the shard's leader did not answer: " +
                                                                 self->system().render(e));
              if (e == caf::sec::no_route_to_receiving_node) {
                self->state.ctx->routes->unreachable(p.shard, leader);
                return park(self, std::move(p), why);
              }
              deliver(p.rp, method, error_response(why));
            });
}

void park(ApiSelf* self, Parked p, const Error& why) {
  auto& ctx = *self->state.ctx;
  if (ctx.clock->now_us() + kRerouteEvery.count() >= p.give_up_us) {
    const uint32_t method = static_cast<uint32_t>(p.req->body_case());
    return deliver(p.rp, method, error_response(why));
  }
  const uint64_t id = ++self->state.next_parked;
  self->state.parked.emplace(id, std::move(p));
  self->delayed_send(self, kRerouteEvery, reroute_atom::value, id);
}

// Routes a persona's request, or (`events`) a tenant's event request to the leader of the tenant's
// event shard, through dispatch().
ApiResult route(ApiSelf* self, NodeContext& ctx, const std::shared_ptr<pb::Request>& req,
                const std::string& persona, bool forwarded, Target target = Target::persona) {
  uint32_t method = static_cast<uint32_t>(req->body_case());
  if (target == Target::persona) {
    if (auto s = validate_persona_id(persona); !s) return reply_error(method, s.error());
  }
  const TimeUs now = ctx.clock->now_us();
  // A long poll may be held for its whole wait on top of the request's time.
  const TimeUs wait = req->has_next_event() ? TimeUs{req->next_event().wait_ms()} * 1000 : 0;
  const TimeUs deadline = (req->header().deadline_us() != 0 ? req->header().deadline_us()
                                                            : now + ctx.request_timeout_us) +
                          wait;
  const std::string& tenant = req->header().tenant();
  // Give up early enough for the answer to reach the client before its deadline.
  uint32_t shard = 0;
  switch (target) {
    case Target::persona:
      shard = storage::shard_of(tenant, persona, ctx.policy.shards);
      break;
    case Target::events:
      shard = storage::events_shard(tenant, ctx.policy.shards);
      break;
    case Target::archive:
      shard = req->has_backup_shard() ? req->backup_shard().shard() : req->restore_shard().shard();
      if (shard >= ctx.policy.shards) {
        return reply_error(method, make_error(ErrorCode::invalid_argument,
                                              "shard " + std::to_string(shard) +
                                                  " does not exist; this cluster has " +
                                                  std::to_string(ctx.policy.shards) + " shards"));
      }
      break;
  }
  Parked p{req,
           persona,
           shard,
           forwarded,
           target,
           self->make_response_promise(),
           std::min(deadline - 2 * kRerouteEvery.count(), now + ctx.request_timeout_us + wait)};
  auto rp = p.rp;
  dispatch(self, ctx, std::move(p));
  return rp;
}

// The transport's view of the cluster, with this node's name.
ApiResult cluster_status(ApiSelf* self, NodeContext& ctx) {
  constexpr uint32_t method = pb::Request::kClusterStatus;
  if (!ctx.transport) {
    return reply_error(method, make_error(ErrorCode::unavailable,
                                          "the node is shutting down; retry on another node"));
  }
  auto rp = self->make_response_promise();
  const std::string name = ctx.node_id;
  // The metadata actor adds the cluster map's members to the transport's peers.
  caf::actor source = ctx.metadata ? ctx.metadata : ctx.transport;
  self->request(source, std::chrono::microseconds(ctx.request_timeout_us),
                cluster_status_atom::value)
      .then(
          [=](const std::string& bytes) mutable {
            pb::Response resp;
            if (!resp.mutable_cluster_status()->ParseFromString(bytes)) {
              deliver(rp, method,
                      error_response(make_error(ErrorCode::internal, "bad cluster status")));
              return;
            }
            resp.mutable_cluster_status()->set_node_name(name);
            deliver(rp, method, resp);
          },
          [=](caf::error& e) mutable {
            deliver(rp, method,
                    error_response(make_error(
                        ErrorCode::unavailable,
                        "the cluster status did not come: " + self->system().render(e))));
          });
  return rp;
}

// An operator's command on the cluster map, or a peer's report of a settled shard: carried out by
// the metadata leader, to which any other node forwards it once.
ApiResult cluster_admin(ApiSelf* self, NodeContext& ctx, const std::shared_ptr<pb::Request>& req,
                        bool forwarded) {
  constexpr uint32_t method = pb::Request::kClusterAdmin;
  if (!ctx.metadata || !ctx.transport) {
    return reply_error(method, make_error(ErrorCode::invalid_argument,
                                          "this node is not part of a cluster (no cluster.seeds)"));
  }
  const auto& admin = req->cluster_admin();
  pb::MetaCommand command;
  command.set_schema_version(1);
  uint64_t node = 0;
  auto node_named = [](const std::string& name) -> uint64_t {
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) {
      return std::strtoull(name.c_str(), nullptr, 10);
    }
    return membership::node_number(name);
  };
  switch (admin.command_case()) {
    case pb::ClusterAdminRequest::kDecommission:
      node = node_named(admin.decommission());
      command.set_drain(node);
      break;
    case pb::ClusterAdminRequest::kRecommission:
      node = node_named(admin.recommission());
      command.set_undrain(node);
      break;
    case pb::ClusterAdminRequest::kShardSettled:
      // Only a peer node's metadata actor reports shards; the transport authenticated it.
      if (!forwarded) {
        return reply_error(method, make_error(ErrorCode::permission_denied,
                                              "shard reports come from cluster nodes only"));
      }
      command.mutable_shard_settled()->set_shard(admin.shard_settled().shard());
      command.mutable_shard_settled()->set_epoch(admin.shard_settled().epoch());
      break;
    case pb::ClusterAdminRequest::kPersonaProfile:
    case pb::ClusterAdminRequest::kPersonaGone: {
      // A peer's persona actor reports to the node that serves the tenant's events.
      if (!forwarded) {
        return reply_error(method, make_error(ErrorCode::permission_denied,
                                              "persona reports come from cluster nodes only"));
      }
      if (ctx.router) {
        if (admin.has_persona_profile()) {
          caf::anon_send(ctx.router, profile_atom::value,
                         std::make_shared<const pb::Persona>(admin.persona_profile()));
        } else {
          caf::anon_send(ctx.router, persona_gone_atom::value, admin.persona_gone().tenant(),
                         admin.persona_gone().persona());
        }
      }
      return reply_bytes(method, pb::Response());
    }
    case pb::ClusterAdminRequest::kPersonaQuota: {
      if (!forwarded) {
        return reply_error(method, make_error(ErrorCode::permission_denied,
                                              "persona counts are asked by cluster nodes only"));
      }
      if (!ctx.router) {
        return reply_error(method, make_error(ErrorCode::unavailable, "the node is stopping"));
      }
      // The router answers with (method, Response) itself.
      auto rp = self->make_response_promise<uint32_t, std::string>();
      return rp.delegate(ctx.router, persona_quota_atom::value, admin.persona_quota().tenant(),
                         admin.persona_quota().persona());
    }
    case pb::ClusterAdminRequest::kPartition: {
      // This node's own transport, never forwarded: each side of a partition is told separately.
      if (!ctx.settings.cluster.fault_injection) {
        return reply_error(method, make_error(ErrorCode::permission_denied,
                                              "fault injection is off on node '" + ctx.node_id +
                                                  "' (cluster.fault-injection)"));
      }
      const uint64_t peer = node_named(admin.partition().peer());
      if (peer == 0) {
        return reply_error(method, make_error(ErrorCode::invalid_argument,
                                              "name the peer by its cluster id or node.id"));
      }
      caf::anon_send(ctx.transport, partition_atom::value, peer, admin.partition().drop());
      spdlog::warn("fault injection: frames to and from node {} {}", peer,
                   admin.partition().drop() ? "are dropped" : "flow again");
      pb::Response resp;
      resp.mutable_cluster_admin()->set_node(peer);
      return reply_bytes(method, resp);
    }
    case pb::ClusterAdminRequest::COMMAND_NOT_SET:
      return reply_error(
          method, make_error(ErrorCode::invalid_argument, "cluster_admin without a command"));
  }
  if (node == 0 && !command.has_shard_settled()) {
    return reply_error(method, make_error(ErrorCode::invalid_argument,
                                          "name the node by its cluster id or node.id"));
  }
  auto rp = self->make_response_promise();
  const auto timeout = std::chrono::microseconds(ctx.request_timeout_us);
  caf::actor transport = ctx.transport;
  self->request(ctx.metadata, timeout, meta_command_atom::value, command.SerializeAsString())
      .then(
          [=](uint64_t index, uint64_t leader, const std::string& refusal) mutable {
            if (!refusal.empty()) {
              return deliver(rp, method, error_response(make_error(ErrorCode::not_found, refusal)));
            }
            if (index != 0) {
              pb::Response resp;
              resp.mutable_cluster_admin()->set_node(node);
              resp.mutable_cluster_admin()->set_applied_index(index);
              return deliver(rp, method, resp);
            }
            if (leader == 0 || forwarded) {
              return deliver(rp, method,
                             error_response(make_error(
                                 ErrorCode::unavailable,
                                 "the cluster has no metadata leader right now; retry")));
            }
            self->request(transport, timeout, forward_atom::value, leader, method,
                          req->SerializeAsString())
                .then([rp](uint32_t m, const std::string& bytes) mutable { rp.deliver(m, bytes); },
                      [rp](caf::error& e) mutable {
                        deliver(rp, pb::Request::kClusterAdmin,
                                error_response(make_error(ErrorCode::unavailable,
                                                          "the metadata leader did not answer (" +
                                                              caf::to_string(e) + "); retry")));
                      });
          },
          [=](caf::error& e) mutable {
            deliver(rp, method,
                    error_response(make_error(
                        ErrorCode::unavailable,
                        "the command was not carried out (" + caf::to_string(e) + "); retry")));
          });
  return rp;
}

ApiResult to_router(NodeContext& ctx, ApiSelf* self, const std::shared_ptr<pb::Request>& req,
                    bool forwarded) {
  uint32_t method = static_cast<uint32_t>(req->body_case());
  if (!ctx.router) {
    return reply_error(method, make_error(ErrorCode::unavailable,
                                          "the node is shutting down; retry on another node"));
  }
  // A tenant's events are served by the leader of its event shard, routed like a persona's.
  if (ctx.replicated()) return route(self, ctx, req, "", forwarded, Target::events);
  auto rp = self->make_response_promise();
  rp.delegate(ctx.router, handle_atom::value, RequestPtr(req));
  return rp;
}

// recall(include_shared): the persona's and the tenant's shared persona's hits, merged by score.
ApiResult recall_with_shared(ApiSelf* self, NodeContext& ctx,
                             const std::shared_ptr<pb::Request>& req) {
  constexpr uint32_t method = pb::Request::kRecall;
  const std::string persona = req->recall().persona_id();
  if (auto s = validate_persona_id(persona); !s) return reply_error(method, s.error());
  auto own = std::make_shared<pb::Request>(*req);
  own->mutable_recall()->set_include_shared(false);
  auto shared = std::make_shared<pb::Request>(*own);
  shared->mutable_recall()->set_persona_id(kSharedPersona);
  struct Gather {
    size_t pending = 2;
    std::vector<pb::Response> replies;
    std::string error;
  };
  auto g = std::make_shared<Gather>();
  auto rp = self->make_response_promise();
  uint32_t k = req->recall().k() == 0 ? 10 : req->recall().k();
  auto finish = [g, rp, k]() mutable {
    if (--g->pending > 0) return;
    if (!g->error.empty()) {
      return deliver(rp, method, error_response(make_error(ErrorCode::unavailable, g->error)));
    }
    std::vector<pb::RecallHit> hits;
    for (auto& r : g->replies) {
      if (r.status().code() != pb::OK) {
        // A tenant without shared knowledge yet is not an error for the persona's recall.
        if (r.status().code() == pb::NOT_FOUND) continue;
        return deliver(rp, method, r);
      }
      for (auto& h : *r.mutable_recall()->mutable_hits()) hits.push_back(std::move(h));
    }
    std::stable_sort(hits.begin(), hits.end(), [](const pb::RecallHit& a, const pb::RecallHit& b) {
      return a.score() > b.score();
    });
    if (hits.size() > k) hits.resize(k);
    pb::Response resp;
    for (auto& h : hits) *resp.mutable_recall()->add_hits() = std::move(h);
    deliver(rp, method, resp);
  };
  auto timeout = std::chrono::microseconds(ctx.request_timeout_us);
  // Each half goes through this actor's own routing (forwarding, parking while a shard has no
  // serving leader, the ReadIndex round of a linearizable read), as a request of its own.
  for (const auto& sub : {own, shared}) {
    self->request(caf::actor_cast<caf::actor>(self), timeout, local_request_atom::value, method,
                  sub->SerializeAsString())
        .then(
            [g, finish](uint32_t, const std::string& bytes) mutable {
              pb::Response r;
              if (!r.ParseFromString(bytes)) g->error = "unparseable reply from a persona";
              g->replies.push_back(std::move(r));
              finish();
            },
            [g, finish](caf::error& e) mutable {
              g->error = "recall failed: " + caf::to_string(e);
              finish();
            });
  }
  return rp;
}

ApiResult handle(ApiSelf* self, NodeContext& ctx, uint32_t method, const std::string& bytes,
                 Origin origin) {
  if (ctx.stopping) return stopping_error();
  // A forwarded request is not forwarded again (actors/peer_transport.hpp).
  const bool forwarded = origin == Origin::peer;
  ctx.counters.requests++;
  auto req = std::make_shared<pb::Request>();
  auto invalid = [&](std::string msg) {
    ctx.counters.request_errors++;
    return reply_error(method, make_error(ErrorCode::invalid_argument, std::move(msg)));
  };
  // Checked before parsing: a huge request is refused without the cost of decoding it.
  if (origin == Origin::client && bytes.size() > ctx.settings.limits.request_bytes) {
    ctx.counters.refused_size++;
    return invalid("the request is " + std::to_string(bytes.size()) +
                   " bytes; limits.request-bytes allows " +
                   std::to_string(ctx.settings.limits.request_bytes));
  }
  (void)take_protobuf_error();  // a line left by an earlier parse on this thread is not ours
  if (!req->ParseFromString(bytes)) {
    // libprotobuf names the cause only in its log (runtime/protobuf_log.hpp): e.g. which string
    // field holds invalid UTF-8, the one mistake a well-formed client can make.
    const std::string why = take_protobuf_error();
    return invalid("malformed request: " + std::to_string(bytes.size()) +
                   " bytes do not parse as nca.pb.Request" + (why.empty() ? "" : ": " + why));
  }
  if (req->body_case() == pb::Request::BODY_NOT_SET) return invalid("the request has no body");
  if (method != static_cast<uint32_t>(req->body_case())) {
    return invalid("envelope method " + std::to_string(method) +
                   " does not match the request body (" + std::to_string(req->body_case()) + ")");
  }
  auto* header = req->mutable_header();
  if (header->schema_version() > wire::kSchemaVersion) {
    return invalid("request schema_version " + std::to_string(header->schema_version()) +
                   " is newer than this node understands (" + std::to_string(wire::kSchemaVersion) +
                   "); upgrade the node");
  }
  if (origin == Origin::client) {
    if (auto s = admit_client(self, *req); !s) {
      ctx.counters.request_errors++;
      return reply_error(method, s.error());
    }
  }
  if (origin != Origin::local && grows_memory(*req) && self->state.memory->under_pressure()) {
    ctx.counters.refused_memory++;
    const MemoryGuard& m = *self->state.memory;
    return reply_error(
        method, make_error(ErrorCode::resource_exhausted,
                           "node " + ctx.node_id + " is under memory pressure (resident " +
                               std::to_string(m.last_rss() >> 20) + " MiB; limits.memory-high is " +
                               std::to_string(m.high() >> 20) +
                               " MiB): it takes no new writes until memory is freed; "
                               "reads go on, retry later or on another node"));
  }
  if (header->tenant().empty()) header->set_tenant(kDefaultTenant);
  if (auto s = validate_id(header->tenant(), "tenant"); !s) return invalid(s.error().message);
  if (header->deadline_us() != 0 && ctx.clock->now_us() > header->deadline_us()) {
    return reply_error(method, make_error(ErrorCode::deadline_exceeded,
                                          "the request's deadline had passed when it arrived"));
  }
  const std::string& tenant = header->tenant();
  auto by_item = [&](const std::string& id, const std::string& hint, bool allow_deleted) {
    auto persona = locate(ctx, tenant, id, hint, allow_deleted);
    if (!persona) return reply_error(method, persona.error());
    return route(self, ctx, req, *persona, forwarded);
  };
  switch (req->body_case()) {
    case pb::Request::kPing: {
      pb::Response resp;
      resp.mutable_ping()->set_node_id(ctx.node_id);
      resp.mutable_ping()->set_version(NCA_VERSION_STRING);
      resp.mutable_ping()->set_schema_version(wire::kSchemaVersion);
      return reply_bytes(method, resp);
    }
    case pb::Request::kRemember:
      return route(self, ctx, req, req->remember().persona_id(), forwarded);
    case pb::Request::kRememberBatch:
      return route(self, ctx, req, req->remember_batch().persona_id(), forwarded);
    case pb::Request::kRecall:
      if (req->recall().include_shared() && req->recall().persona_id() != kSharedPersona) {
        return recall_with_shared(self, ctx, req);
      }
      return route(self, ctx, req, req->recall().persona_id(), forwarded);
    case pb::Request::kCreatePersona:
      return route(self, ctx, req, req->create_persona().persona().id(), forwarded);
    case pb::Request::kUpdatePersona:
      return route(self, ctx, req, req->update_persona().persona().id(), forwarded);
    case pb::Request::kGetPersona:
      return route(self, ctx, req, req->get_persona().persona_id(), forwarded);
    case pb::Request::kPausePersona:
      return route(self, ctx, req, req->pause_persona().persona_id(), forwarded);
    case pb::Request::kResumePersona:
      return route(self, ctx, req, req->resume_persona().persona_id(), forwarded);
    case pb::Request::kDeletePersona:
      return route(self, ctx, req, req->delete_persona().persona_id(), forwarded);
    case pb::Request::kPublish:
    case pb::Request::kNextEvent:
    case pb::Request::kAck:
    case pb::Request::kAckBatch:
    case pb::Request::kNack:
    case pb::Request::kEventStatus:
    case pb::Request::kListDeadLetters:
    case pb::Request::kRequeue:
    case pb::Request::kListPersonas:
      return to_router(ctx, self, req, forwarded);
    case pb::Request::kList:
      return route(self, ctx, req, req->list().persona_id(), forwarded);
    case pb::Request::kClusterStatus:
      return cluster_status(self, ctx);
    case pb::Request::kClusterAdmin:
      return cluster_admin(self, ctx, req, forwarded);
    case pb::Request::kBackupShard:
    case pb::Request::kRestoreShard:
      return route(self, ctx, req, "", forwarded, Target::archive);
    case pb::Request::kStats:
      if (req->stats().persona_id().empty()) return reply_bytes(method, node_stats(ctx));
      return route(self, ctx, req, req->stats().persona_id(), forwarded);
    case pb::Request::kGet:
      return by_item(req->get().id(), req->get().persona_id(), false);
    case pb::Request::kUpdate:
      return by_item(req->update().id(), req->update().persona_id(), false);
    case pb::Request::kForget:
      return by_item(req->forget().id(), req->forget().persona_id(), false);
    case pb::Request::kRestore:
      return by_item(req->restore().id(), req->restore().persona_id(), false);
    case pb::Request::kDelete:
      return by_item(req->delete_().id(), req->delete_().persona_id(), false);
    case pb::Request::kHistory:
      return by_item(req->history().id(), req->history().persona_id(), true);
    case pb::Request::kTouch:
      return by_item(req->touch().id(), req->touch().persona_id(), false);
    case pb::Request::kLink:
      return by_item(req->link().a(), req->link().persona_id(), false);
    case pb::Request::kUnlink:
      return by_item(req->unlink().a(), req->unlink().persona_id(), false);
    case pb::Request::kNeighbours:
      return by_item(req->neighbours().id(), req->neighbours().persona_id(), false);
    case pb::Request::kConsolidate:
      return route(self, ctx, req, req->consolidate().persona_id(), forwarded);
    case pb::Request::kContext:
      return route(self, ctx, req, req->context().persona_id(), forwarded);
    default:
      return invalid("unknown method " + std::to_string(method));
  }
}

// A client that speaks the node-internal messages: refused like a bad credential.
ApiResult not_from_this_node(uint32_t method) {
  return reply_error(method, make_error(ErrorCode::permission_denied,
                                        "node-internal requests are accepted only from the node "
                                        "itself; clients send the wire envelope"));
}

caf::behavior api_actor(ApiSelf* self, NodeContextPtr ctx) {
  self->state.ctx = ctx;
  self->state.limiter = std::make_unique<RateLimiter>(ctx->settings.limits.rate_per_tenant,
                                                      ctx->settings.limits.burst_per_tenant);
  // Blocks the allocator keeps for reuse are resident but free: counting them would refuse writes
  // for good after one spike, since they are never given back to the kernel (runtime/allocator).
  self->state.memory =
      std::make_unique<MemoryGuard>(ctx->settings.limits.memory_high, ctx->clock, [] {
        const uint64_t resident = MemoryGuard::resident_bytes();
        const uint64_t idle = alloc::stats().free_bytes;
        return resident > idle ? resident - idle : 0;
      });
  // Told to stop with requests still parked: their clients resend them elsewhere.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, p] : self->state.parked) p.rp.deliver(stopping_error());
    self->state.parked.clear();
    self->quit(msg.reason);
  });
  return {
      [=](reroute_atom, uint64_t id) {
        if (!sent_from_this_node(self)) return;
        auto it = self->state.parked.find(id);
        if (it == self->state.parked.end()) return;
        Parked p = std::move(it->second);
        self->state.parked.erase(it);
        dispatch(self, *ctx, std::move(p));
      },
      [=](wire::envelope_atom, uint32_t method, const std::string& bytes) -> ApiResult {
        return handle(self, *ctx, method, bytes, Origin::client);
      },
      [=](forwarded_atom, uint32_t method, const std::string& bytes) -> ApiResult {
        if (!sent_from_this_node(self)) return not_from_this_node(method);
        return handle(self, *ctx, method, bytes, Origin::peer);
      },
      [=](local_request_atom, uint32_t method, const std::string& bytes) -> ApiResult {
        if (!sent_from_this_node(self)) return not_from_this_node(method);
        return handle(self, *ctx, method, bytes, Origin::local);
      },
      // A peer's transport dials the node's published port and finds this actor: the handshake
      // is the transport's business.
      [=](hello_atom, uint64_t node, uint64_t incarnation, const std::string& secret,
          const caf::actor& theirs, const std::string& advertise)
          -> caf::result<uint64_t, uint64_t, caf::actor, std::string> {
        if (!ctx->transport) {
          return caf::make_error(caf::sec::invalid_argument, "the node is shutting down");
        }
        // With mutual TLS, peers link only through the TLS port, where the transport is
        // published: a handshake here comes from something without a cluster certificate.
        if (ctx->settings.tls.enabled) {
          spdlog::warn(
              "cluster: node {} tried to link through the client port; with tls.enabled "
              "peers link through tls.listen",
              node);
          return caf::make_error(caf::sec::request_receiver_down,
                                 "this node links peers only by mutual TLS on its tls.listen port");
        }
        auto rp = self->make_response_promise<uint64_t, uint64_t, caf::actor, std::string>();
        return rp.delegate(ctx->transport, hello_atom::value, node, incarnation, secret, theirs,
                           advertise);
      },
  };
}

caf::behavior embed_worker(caf::event_based_actor*, NodeContextPtr ctx) {
  return {
      [=](embed_atom, TextsPtr texts) -> EmbeddingsPtr {
        return std::make_shared<const Result<std::vector<std::vector<float>>>>(
            ctx->embedder->embed(*texts));
      },
  };
}

}  // namespace

caf::actor spawn_api(caf::actor_system& sys, NodeContextPtr ctx) {
  return sys.spawn(api_actor, std::move(ctx));
}

caf::actor spawn_embed_worker(caf::actor_system& sys, NodeContextPtr ctx) {
  return sys.spawn<caf::detached>(embed_worker, std::move(ctx));
}

}  // namespace nca::actors
