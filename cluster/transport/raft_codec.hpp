// cluster/transport/raft_codec.hpp: Raft messages to and from their wire form (proto/raft.proto).
//
// Contract: encode_batch() turns the messages one node sends another in one flush (any number of
// groups) into bytes; decode_batch() turns bytes from a peer back into messages, or an error that
// names what was wrong. A peer is untrusted: a message of an unknown type, an entry type out of
// range, a sender or recipient that does not match the batch, non-contiguous entries, a snapshot
// message without a snapshot, a batch of another schema version or one that is not protobuf at
// all, are all refused as a whole (ErrorCode::invalid_argument) and decode nothing. Pure functions,
// thread-safe; no ownership beyond the returned values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/raft/types.hpp"
#include "nca/result.hpp"

namespace nca::transport {

struct GroupMessage {
  uint64_t group = 0;
  raft::Message message;
};

struct RaftBatchHeader {
  raft::NodeId from_node = raft::kNoNode;
  uint64_t from_incarnation = 0;
  raft::NodeId to_node = raft::kNoNode;
};

struct DecodedBatch {
  RaftBatchHeader header;
  std::vector<GroupMessage> messages;
};

constexpr uint32_t kRaftWireVersion = 1;

std::string encode_batch(const RaftBatchHeader& header, const std::vector<GroupMessage>& messages);
Result<DecodedBatch> decode_batch(const std::string& bytes);

}  // namespace nca::transport
