#include "actors/shard_archiver.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "actors/messages.hpp"
#include "actors/persona_directory.hpp"
#include "actors/reply.hpp"
#include "actors/shard_log.hpp"
#include "storage/shard_snapshot.hpp"

namespace nca::actors {
namespace {

constexpr size_t kRestoreBatchBytes = 1 << 20;

using Result2 = caf::result<uint32_t, std::string>;

Result2 backup(NodeContext& ctx, const pb::BackupShardRequest& r, uint32_t method) {
  auto cp =
      storage::checkpoint_shard(*ctx.db, r.shard(), ctx.policy.shards, shard_group(r.shard()));
  if (!cp) return reply_error(method, cp.error());
  pb::Response resp;
  auto* out = resp.mutable_backup_shard();
  out->set_shard(r.shard());
  out->set_shards(ctx.policy.shards);
  out->set_applied_index(cp->applied_index);
  out->set_checkpoint(std::move(cp->blob));
  out->set_node_id(ctx.node_id);
  out->set_taken_at_us(ctx.clock->now_us());
  spdlog::info("backup: shard {} at index {} ({} bytes)", r.shard(), cp->applied_index,
               out->checkpoint().size());
  return reply_bytes(method, resp);
}

// The records of one restore, cut into batches, proposed one after the other.
struct Restore {
  std::shared_ptr<const pb::Request> req;  // keeps the checkpoint the records point into
  std::vector<storage::Batch> batches;
  size_t next = 0;
  uint64_t records = 0;
  caf::response_promise rp;
};

void finish_restore(NodeContext& ctx, Restore& r, const Error* failed) {
  const uint32_t method = pb::Request::kRestoreShard;
  if (failed != nullptr) {
    deliver(r.rp, method, error_response(*failed));
    return;
  }
  // The event router serves the restored events only once it has read them; a persona activated
  // before the restore (by a read of a then-unknown name) holds none of its memories.
  if (ctx.router) caf::anon_send(ctx.router, reload_atom::value);
  if (ctx.directory != nullptr) ctx.directory->evict_shard(r.req->restore_shard().shard());
  pb::Response resp;
  resp.mutable_restore_shard()->set_shard(r.req->restore_shard().shard());
  resp.mutable_restore_shard()->set_records(r.records);
  spdlog::info("restore: shard {} loaded, {} records", r.req->restore_shard().shard(), r.records);
  deliver(r.rp, method, resp);
}

void propose_next(caf::event_based_actor* self, NodeContextPtr ctx, std::shared_ptr<Restore> r) {
  if (r->next == r->batches.size()) return finish_restore(*ctx, *r, nullptr);
  storage::Batch& batch = r->batches[r->next++];
  const uint32_t shard = r->req->restore_shard().shard();
  if (!ctx->replicated()) {
    Status s = ctx->db->commit(std::move(batch));
    if (!s) return finish_restore(*ctx, *r, &s.error());
    return propose_next(self, ctx, r);
  }
  propose_batch(self, *ctx, shard, batch.rep().Data())
      .then([self, ctx, r](uint64_t) { propose_next(self, ctx, r); },
            [self, ctx, r](caf::error& e) {
              Error why = make_error(
                  ErrorCode::unavailable,
                  "the shard's log did not take part " + std::to_string(r->next) +
                      " of the restore: " + self->system().render(e) + "; restore the shard again");
              finish_restore(*ctx, *r, &why);
            });
}

Result2 restore(caf::event_based_actor* self, NodeContextPtr ctx, RequestPtr req) {
  const uint32_t method = pb::Request::kRestoreShard;
  const auto& r = req->restore_shard();
  auto invalid = [&](std::string msg) {
    return reply_error(method, make_error(ErrorCode::invalid_argument, std::move(msg)));
  };
  if (r.shards() != ctx->policy.shards) {
    return invalid("the checkpoint comes from a cluster of " + std::to_string(r.shards()) +
                   " shards; this one has " + std::to_string(ctx->policy.shards) +
                   " (cluster.shards must match)");
  }
  auto empty = storage::shard_is_empty(*ctx->db, r.shard());
  if (!empty) return reply_error(method, empty.error());
  if (!*empty) {
    return reply_error(
        method, make_error(ErrorCode::conflict, "shard " + std::to_string(r.shard()) +
                                                    " already holds personas or memories: restore "
                                                    "into a fresh node or cluster"));
  }
  auto records = storage::parse_shard(r.checkpoint(), r.shard(),
                                      "checkpoint of shard " + std::to_string(r.shard()));
  if (!records) return reply_error(method, records.error());
  auto job = std::make_shared<Restore>();
  job->req = req;
  job->records = records->size();
  size_t bytes = 0;
  for (const auto& rec : *records) {
    if (job->batches.empty() || bytes >= kRestoreBatchBytes) {
      job->batches.push_back(ctx->db->batch());
      bytes = 0;
    }
    job->batches.back().put(rec.cf, rec.key, rec.value);
    bytes += rec.key.size() + rec.value.size();
  }
  job->rp = self->make_response_promise();
  propose_next(self, ctx, job);
  return job->rp;
}

caf::behavior archiver(caf::event_based_actor* self, NodeContextPtr ctx) {
  return {
      [=](handle_atom, RequestPtr req) -> Result2 {
        const auto method = static_cast<uint32_t>(req->body_case());
        switch (req->body_case()) {
          case pb::Request::kBackupShard:
            return backup(*ctx, req->backup_shard(), method);
          case pb::Request::kRestoreShard:
            return restore(self, ctx, req);
          default:
            return reply_error(method, make_error(ErrorCode::internal,
                                                  "the shard archiver got a request it does not "
                                                  "handle"));
        }
      },
  };
}

}  // namespace

caf::actor spawn_shard_archiver(caf::actor_system& sys, NodeContextPtr ctx) {
  return sys.spawn<caf::detached>(archiver, std::move(ctx));
}

}  // namespace nca::actors
