// actors/messages.hpp: the messages actors of one node exchange, and the atoms that name them.
//
// Everything here is node-local: payloads travel as shared_ptr<const T> (immutable once sent, so sharing
// is safe without copies) and are marked as unsafe message types, which CAF allows only for local
// messages. What crosses the network is only the wire envelope of proto/wire.hpp.
#pragma once

#include <caf/all.hpp>

#include <memory>
#include <string>
#include <vector>

#include "proto/neuroca.pb.h"
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

using RequestPtr = std::shared_ptr<const pb::Request>;

// A search of one tier: vector top-k with in-memory filters, then record filters on fetched items.
struct TierSearch {
  std::vector<float> query;
  size_t k = 10;
  TierFilter filter;
  std::vector<std::string> tags;                    // all must be on the item
  std::vector<std::pair<std::string, std::string>> metadata;  // all must match exactly
  bool include_embedding = false;
  double health_weight = 0.15;
  size_t overfetch = 4;
  TimeUs now_us = 0;
  double temperature = 0;
};
using TierSearchPtr = std::shared_ptr<const TierSearch>;

struct TierHit {
  pb::MemoryItem item;  // health decayed to the search time
  float similarity = 0;
  double health = 0;
  double score = 0;
  uint32_t vector_rank = 0;  // 1-based rank by similarity within its tier
  std::vector<float> embedding;
};

struct TierSearchResult {
  std::vector<TierHit> hits;  // best score first
  std::string error;          // non-empty: the search failed (e.g. a corrupt record)
};
using TierSearchResultPtr = std::shared_ptr<const TierSearchResult>;

using TierEffectsPtr = std::shared_ptr<const std::vector<TierEffect>>;
using TierStatsPtr = std::shared_ptr<const pb::TierStats>;
using ItemRecordPtr = std::shared_ptr<const pb::MemoryItem>;  // null: the item is gone
using TextsPtr = std::shared_ptr<const std::vector<std::string>>;
using EmbeddingsPtr = std::shared_ptr<const Result<std::vector<std::vector<float>>>>;

}  // namespace nca::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::RequestPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierSearchPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierSearchResultPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierEffectsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TierStatsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::ItemRecordPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::TextsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::EmbeddingsPtr)
