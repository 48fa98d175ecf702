// actors/messages.hpp: the messages actors of one node exchange, and the atoms that name them.
//
// Everything here is node-local: payloads travel as shared_ptr<const T> (immutable once sent, so
// sharing is safe without copies) and are marked as unsafe message types, which CAF allows only for
// local messages. What crosses the network is only the wire envelope of proto/wire.hpp.
#pragma once

#include <caf/all.hpp>

#include <memory>
#include <string>
#include <vector>

#include "proto/neuroca.pb.h"
#include "runtime/consolidation_planner.hpp"
#include "runtime/persona_writer.hpp"
#include "runtime/tier.hpp"

namespace nca::actors {

using handle_atom = caf::atom_constant<caf::atom("handle")>;
using search_atom = caf::atom_constant<caf::atom("search")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using save_atom = caf::atom_constant<caf::atom("save")>;
using tstats_atom = caf::atom_constant<caf::atom("tstats")>;
using item_get_atom = caf::atom_constant<caf::atom("itemget")>;
using refresh_atom = caf::atom_constant<caf::atom("refresh")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using embed_atom = caf::atom_constant<caf::atom("embed")>;
using consolidate_atom = caf::atom_constant<caf::atom("consol")>;
using context_atom = caf::atom_constant<caf::atom("context")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using profile_atom = caf::atom_constant<caf::atom("profile")>;
using persona_gone_atom = caf::atom_constant<caf::atom("pgone")>;
// To the event router: (tenant, persona) may the persona come into being? -> (method, Response).
using persona_quota_atom = caf::atom_constant<caf::atom("pquota")>;
using wait_timeout_atom = caf::atom_constant<caf::atom("waitto")>;
// To the event router: the memories of assignments have waited events.memory-delay.
using memory_flush_atom = caf::atom_constant<caf::atom("memflush")>;
// To the event router, as the node stops: write every waiting memory -> (bool) once all are.
using drain_memories_atom = caf::atom_constant<caf::atom("memdrain")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using index_atom = caf::atom_constant<caf::atom("index")>;
using estats_atom = caf::atom_constant<caf::atom("estats")>;
// To the event router: this node now serves an event shard (rebuild the queues from storage).
using reload_atom = caf::atom_constant<caf::atom("ereload")>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;
using evict_atom = caf::atom_constant<caf::atom("evict")>;

using RequestPtr = std::shared_ptr<const pb::Request>;

// A vector search of one tier: the k most similar items passing the in-memory filters. Records are
// fetched by the persona, which ranks candidates of every tier and of the lexical index together.
struct TierSearch {
  std::vector<float> query;
  size_t k = 10;
  TierFilter filter;
  bool include_embedding = false;
  TimeUs now_us = 0;
  double temperature = 0;
};
using TierSearchPtr = std::shared_ptr<const TierSearch>;

struct TierHit {
  std::string id;
  uint64_t ordinal = 0;
  float similarity = 0;
  double health = 0;
  std::vector<float> embedding;
};

struct TierSearchResult {
  std::vector<TierHit> hits;  // most similar first
};
using TierSearchResultPtr = std::shared_ptr<const TierSearchResult>;

// One lymphatic tick's question to a tier: what should change, checking at most `budget` items.
struct ConsolidationAsk {
  double temperature = 0;
  TimeUs now_us = 0;
  size_t budget = 0;
  double merge_base = 0.95;
};
using ConsolidationAskPtr = std::shared_ptr<const ConsolidationAsk>;
struct ConsolidationProposal {
  std::vector<ConsolidationAction> actions;
  size_t checked = 0;
  std::string error;
};
using ConsolidationProposalPtr = std::shared_ptr<const ConsolidationProposal>;

// Working memory: a tier's n most active items (health × recency) as (id, activation).
using ActivationsPtr = std::shared_ptr<const std::vector<std::pair<std::string, double>>>;

using TierEffectsPtr = std::shared_ptr<const std::vector<TierEffect>>;
using TierStatsPtr = std::shared_ptr<const pb::TierStats>;
using ItemRecordPtr = std::shared_ptr<const pb::MemoryItem>;  // null: the item is gone
using TextsPtr = std::shared_ptr<const std::vector<std::string>>;
using PersonaPtr = std::shared_ptr<const pb::Persona>;  // a profile as committed
using IndexPtr = std::shared_ptr<const VectorIndex>;    // a tier's index, for direct reads

// The event router's answer to estats_atom: events held in memory (every state but ACKED, which
// only storage keeps), counted per tenant, state and priority, plus the acked records still
// retained.
struct EventCount {
  std::string tenant;
  pb::EventState state = pb::EVENT_STATE_UNSPECIFIED;
  pb::EventPriority priority = pb::PRIORITY_UNSPECIFIED;
  uint64_t count = 0;
};
struct EventStats {
  std::vector<EventCount> counts;
  uint64_t acked_retained = 0;
};
using EventStatsPtr = std::shared_ptr<const EventStats>;
using EmbeddingsPtr = std::shared_ptr<const Result<std::vector<std::vector<float>>>>;

}  // namespace nca::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::RequestPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierSearchPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierSearchResultPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierEffectsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierStatsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::ItemRecordPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TextsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::PersonaPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::IndexPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::EventStatsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::EmbeddingsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::ConsolidationAskPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::ConsolidationProposalPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::ActivationsPtr)
