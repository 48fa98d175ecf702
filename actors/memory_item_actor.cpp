#include "actors/memory_item_actor.hpp"

#include <algorithm>

#include "actors/reply.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca::actors {
namespace {

struct MemoryItemState {
  NodeContextPtr ctx;
  PersonaRef ref;
  ItemRecordPtr record;
};

pb::Response get_reply(const MemoryItemState& st, const pb::Request& req) {
  pb::Response resp;
  if (!st.record) {
    set_error(resp, make_error(ErrorCode::not_found, "memory '" + req.get().id() + "' is gone"));
    return resp;
  }
  pb::MemoryItem item = *st.record;
  TimeUs now = st.ctx->clock->now_us();
  item.set_health(st.ctx->health.at(HealthValue{item.health(), item.health_updated_at_us()},
                                    item.tier(), now));
  item.set_health_updated_at_us(std::max(now, item.health_updated_at_us()));
  auto* out = resp.mutable_get();
  *out->mutable_item() = std::move(item);
  if (req.get().include_embedding()) {
    auto raw = st.ctx->db->get(storage::Cf::vectors, storage::item_key(st.ref.prefix, req.get().id()));
    if (raw && raw->has_value()) {
      auto rec = storage::decode_record<pb::EmbeddingRecord>(**raw, "embedding");
      if (rec) *out->mutable_embedding() = rec->values();
    }
  }
  return resp;
}

caf::behavior memory_item(caf::stateful_actor<MemoryItemState>* self, caf::actor persona,
                          NodeContextPtr ctx, PersonaRef ref, ItemRecordPtr record) {
  self->state.ctx = ctx;
  self->state.ref = std::move(ref);
  self->state.record = std::move(record);
  ctx->counters.live_item_actors++;
  self->attach_functor([ctx] { ctx->counters.live_item_actors--; });
  auto idle = std::chrono::microseconds(ctx->idle_timeout_us);
  return {
      [=](item_get_atom, RequestPtr req) -> caf::result<uint32_t, std::string> {
        return reply_bytes(pb::Request::kGet, get_reply(self->state, *req));
      },
      [=](refresh_atom, ItemRecordPtr rec) { self->state.record = std::move(rec); },
      caf::after(idle) >>
          [=] {
            std::string id = self->state.record ? self->state.record->id() : std::string{};
            self->send(persona, idle_atom::value, id, caf::actor_cast<caf::actor>(self));
          },
  };
}

}  // namespace

caf::actor spawn_memory_item(caf::local_actor* persona, NodeContextPtr ctx, PersonaRef ref,
                             ItemRecordPtr record) {
  // Linked, so a persona that ends takes its item actors with it.
  return persona->spawn<caf::linked>(memory_item, caf::actor_cast<caf::actor>(persona), std::move(ctx),
                        std::move(ref), std::move(record));
}

}  // namespace nca::actors
