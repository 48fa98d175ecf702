// cluster/raft/types.hpp: the vocabulary of the Raft core (entries, states, snapshots, messages).
//
// Plain value types with no behaviour beyond comparison, shared by the state machine
// (cluster/raft/raft.hpp), the log storages (cluster/raft/memory_storage.hpp,
// storage/raft_log_store.hpp) and the simulator. Header-only on purpose: the RocksDB log in
// storage/ uses these types without linking the cluster layer. Not thread-safe beyond what values
// are.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nca::raft {

using NodeId = uint64_t;  // 0 means "nobody"
using Term = uint64_t;
using Index = uint64_t;  // log positions start at 1; 0 is "before the log"

constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  normal = 0,       // application data (empty data: a new leader's no-op)
  conf_change = 1,  // data is an encoded ConfChange (see conf_change.hpp)
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::normal;
  std::string data;

  bool operator==(const Entry& o) const {
    return term == o.term && index == o.index && type == o.type && data == o.data;
  }
  bool operator!=(const Entry& o) const { return !(*this == o); }
};

// Membership: voters decide elections and commits; learners only receive the log.
struct ConfState {
  std::vector<NodeId> voters;    // sorted, unique
  std::vector<NodeId> learners;  // sorted, unique, disjoint from voters

  bool operator==(const ConfState& o) const { return voters == o.voters && learners == o.learners; }
  bool operator!=(const ConfState& o) const { return !(*this == o); }
};

// What a node must remember across crashes besides the log.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;

  bool operator==(const HardState& o) const {
    return term == o.term && vote == o.vote && commit == o.commit;
  }
  bool operator!=(const HardState& o) const { return !(*this == o); }
};

struct SnapshotMeta {
  Index index = 0;  // last entry the snapshot covers
  Term term = 0;    // that entry's term
  ConfState conf;   // membership as of `index`

  bool operator==(const SnapshotMeta& o) const {
    return index == o.index && term == o.term && conf == o.conf;
  }
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // the application's state as of meta.index; opaque to Raft

  bool empty() const { return meta.index == 0; }
  bool operator==(const Snapshot& o) const { return meta == o.meta && data == o.data; }
};

enum class MessageType : uint8_t {
  pre_vote,  // "would you vote for me at term+1?"; changes nobody's term
  pre_vote_resp,
  vote,
  vote_resp,
  append,       // entries after (log_term, index), and the leader's commit
  append_resp,  // index: the follower's last matching index; reject: mismatch at index
  heartbeat,    // commit (capped to the follower's match) and a read-index context
  heartbeat_resp,
  snapshot,         // install `snapshot`
  timeout_now,      // leadership transfer: campaign at once, skipping pre-vote
  read_index,       // a follower forwards a linearizable read request to the leader
  read_index_resp,  // index: the commit index the read must wait for
};

const char* to_string(MessageType type);

struct Message {
  MessageType type = MessageType::append;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  Term log_term = 0;  // append: term at `index`; votes: term of the candidate's last entry
  Index index = 0;    // append: the entry before `entries`; votes: candidate's last index
  std::vector<Entry> entries;
  Index commit = 0;
  bool reject = false;
  Index reject_hint = 0;                     // append_resp reject: the follower's last index
  std::shared_ptr<const Snapshot> snapshot;  // only for MessageType::snapshot
  uint64_t context = 0;  // heartbeats: read-index round; read_index: request id; vote: 1 = transfer
};

inline const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::pre_vote:
      return "pre_vote";
    case MessageType::pre_vote_resp:
      return "pre_vote_resp";
    case MessageType::vote:
      return "vote";
    case MessageType::vote_resp:
      return "vote_resp";
    case MessageType::append:
      return "append";
    case MessageType::append_resp:
      return "append_resp";
    case MessageType::heartbeat:
      return "heartbeat";
    case MessageType::heartbeat_resp:
      return "heartbeat_resp";
    case MessageType::snapshot:
      return "snapshot";
    case MessageType::timeout_now:
      return "timeout_now";
    case MessageType::read_index:
      return "read_index";
    case MessageType::read_index_resp:
      return "read_index_resp";
  }
  return "unknown";
}

}  // namespace nca::raft
