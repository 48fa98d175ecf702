#include "cluster/transport/raft_codec.hpp"

#include <algorithm>

#include "proto/raft.pb.h"

namespace nca::transport {
namespace {

constexpr uint32_t kMaxMessageType = static_cast<uint32_t>(raft::MessageType::read_index_resp);
constexpr uint32_t kMaxEntryType = static_cast<uint32_t>(raft::EntryType::conf_change);

Error refused(const std::string& why) {
  return make_error(ErrorCode::invalid_argument, "raft batch refused: " + why);
}

void to_wire(const raft::ConfState& conf, pb::RaftConfState* out) {
  for (raft::NodeId v : conf.voters) out->add_voters(v);
  for (raft::NodeId l : conf.learners) out->add_learners(l);
}

bool sorted_unique(const std::vector<raft::NodeId>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == raft::kNoNode || (i > 0 && ids[i - 1] >= ids[i])) return false;
  }
  return true;
}

bool overlap(const std::vector<raft::NodeId>& a, const std::vector<raft::NodeId>& b) {
  for (raft::NodeId id : a) {
    if (std::binary_search(b.begin(), b.end(), id)) return true;
  }
  return false;
}

}  // namespace

std::string encode_batch(const RaftBatchHeader& header, const std::vector<GroupMessage>& messages) {
  pb::RaftBatch batch;
  batch.set_schema_version(kRaftWireVersion);
  batch.set_from_node(header.from_node);
  batch.set_from_incarnation(header.from_incarnation);
  batch.set_to_node(header.to_node);
  for (const GroupMessage& gm : messages) {
    const raft::Message& m = gm.message;
    pb::RaftMessage* out = batch.add_messages();
    out->set_group(gm.group);
    out->set_type(static_cast<uint32_t>(m.type));
    out->set_from(m.from);
    out->set_to(m.to);
    out->set_term(m.term);
    out->set_log_term(m.log_term);
    out->set_index(m.index);
    out->set_commit(m.commit);
    out->set_reject(m.reject);
    out->set_reject_hint(m.reject_hint);
    out->set_context(m.context);
    for (const raft::Entry& e : m.entries) {
      pb::RaftEntry* pe = out->add_entries();
      pe->set_term(e.term);
      pe->set_index(e.index);
      pe->set_type(static_cast<uint32_t>(e.type));
      pe->set_data(e.data);
    }
    if (m.snapshot) {
      pb::RaftSnapshot* ps = out->mutable_snapshot();
      ps->set_index(m.snapshot->meta.index);
      ps->set_term(m.snapshot->meta.term);
      to_wire(m.snapshot->meta.conf, ps->mutable_conf());
      ps->set_data(m.snapshot->data);
    }
  }
  return batch.SerializeAsString();
}

Result<DecodedBatch> decode_batch(const std::string& bytes) {
  pb::RaftBatch batch;
  if (!batch.ParseFromString(bytes)) return refused("not a protobuf RaftBatch");
  if (batch.schema_version() != kRaftWireVersion) {
    return refused("schema version " + std::to_string(batch.schema_version()) + ", expected " +
                   std::to_string(kRaftWireVersion));
  }
  if (batch.from_node() == raft::kNoNode || batch.to_node() == raft::kNoNode ||
      batch.from_node() == batch.to_node()) {
    return refused("sender " + std::to_string(batch.from_node()) + " and recipient " +
                   std::to_string(batch.to_node()) + " must be distinct, non-zero nodes");
  }
  DecodedBatch out;
  out.header = {batch.from_node(), batch.from_incarnation(), batch.to_node()};
  out.messages.reserve(batch.messages_size());
  for (int i = 0; i < batch.messages_size(); ++i) {
    const pb::RaftMessage& pm = batch.messages(i);
    std::string where =
        "message " + std::to_string(i) + " (group " + std::to_string(pm.group()) + ")";
    if (pm.type() > kMaxMessageType)
      return refused(where + " has unknown type " + std::to_string(pm.type()));
    if (pm.from() != batch.from_node() || pm.to() != batch.to_node()) {
      return refused(where + " is from " + std::to_string(pm.from()) + " to " +
                     std::to_string(pm.to()) + ", not what the batch says");
    }
    GroupMessage gm;
    gm.group = pm.group();
    raft::Message& m = gm.message;
    m.type = static_cast<raft::MessageType>(pm.type());
    m.from = pm.from();
    m.to = pm.to();
    m.term = pm.term();
    m.log_term = pm.log_term();
    m.index = pm.index();
    m.commit = pm.commit();
    m.reject = pm.reject();
    m.reject_hint = pm.reject_hint();
    m.context = pm.context();
    m.entries.reserve(pm.entries_size());
    for (int k = 0; k < pm.entries_size(); ++k) {
      const pb::RaftEntry& pe = pm.entries(k);
      if (pe.type() > kMaxEntryType) {
        return refused(where + " carries an entry of unknown type " + std::to_string(pe.type()));
      }
      if (pe.index() != pm.index() + 1 + static_cast<uint64_t>(k)) {
        return refused(where + " carries non-contiguous entries (entry " + std::to_string(k) +
                       " has index " + std::to_string(pe.index()) + ")");
      }
      m.entries.push_back(
          raft::Entry{pe.term(), pe.index(), static_cast<raft::EntryType>(pe.type()), pe.data()});
    }
    if (m.type == raft::MessageType::snapshot) {
      if (!pm.has_snapshot() || pm.snapshot().index() == 0) {
        return refused(where + " is a snapshot message without a snapshot");
      }
      auto snap = std::make_shared<raft::Snapshot>();
      snap->meta.index = pm.snapshot().index();
      snap->meta.term = pm.snapshot().term();
      snap->meta.conf.voters.assign(pm.snapshot().conf().voters().begin(),
                                    pm.snapshot().conf().voters().end());
      snap->meta.conf.learners.assign(pm.snapshot().conf().learners().begin(),
                                      pm.snapshot().conf().learners().end());
      if (!sorted_unique(snap->meta.conf.voters) || !sorted_unique(snap->meta.conf.learners) ||
          overlap(snap->meta.conf.voters, snap->meta.conf.learners)) {
        return refused(where +
                       " carries a snapshot whose membership is not sorted, unique and "
                       "disjoint");
      }
      snap->data = pm.snapshot().data();
      m.snapshot = std::move(snap);
    }
    out.messages.push_back(std::move(gm));
  }
  return out;
}

}  // namespace nca::transport
