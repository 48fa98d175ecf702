#include "cluster/raft/conf_change.hpp"

#include <algorithm>

namespace nca::raft {
namespace {

bool contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

void insert_sorted(std::vector<NodeId>& ids, NodeId id) {
  ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
}

void erase(std::vector<NodeId>& ids, NodeId id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

}  // namespace

std::string encode_conf_change(const ConfChange& change) {
  std::string out(9, '\0');
  out[0] = static_cast<char>(change.type);
  for (int i = 0; i < 8; ++i) out[1 + i] = static_cast<char>((change.node >> (56 - 8 * i)) & 0xff);
  return out;
}

Result<ConfChange> decode_conf_change(const std::string& data) {
  if (data.size() != 9 || static_cast<uint8_t>(data[0]) > 2) {
    return make_error(ErrorCode::data_loss, "raft conf change entry is malformed (" +
                                                std::to_string(data.size()) + " bytes)");
  }
  ConfChange change;
  change.type = static_cast<ConfChangeType>(data[0]);
  for (int i = 0; i < 8; ++i) change.node = (change.node << 8) | static_cast<uint8_t>(data[1 + i]);
  if (change.node == kNoNode) {
    return make_error(ErrorCode::data_loss, "raft conf change names node 0");
  }
  return change;
}

bool is_voter(const ConfState& conf, NodeId node) { return contains(conf.voters, node); }

bool is_learner(const ConfState& conf, NodeId node) { return contains(conf.learners, node); }

Result<ConfState> apply_conf_change(const ConfState& conf, const ConfChange& change) {
  if (change.node == kNoNode) {
    return make_error(ErrorCode::invalid_argument,
                      "a membership change needs a node id other than 0");
  }
  ConfState next = conf;
  std::string node = std::to_string(change.node);
  switch (change.type) {
    case ConfChangeType::add_voter:
      if (is_voter(conf, change.node)) {
        return make_error(ErrorCode::already_exists, "node " + node + " is already a voter");
      }
      erase(next.learners, change.node);
      insert_sorted(next.voters, change.node);
      return next;
    case ConfChangeType::add_learner:
      if (is_learner(conf, change.node)) {
        return make_error(ErrorCode::already_exists, "node " + node + " is already a learner");
      }
      if (is_voter(conf, change.node) && conf.voters.size() == 1) {
        return make_error(ErrorCode::invalid_argument,
                          "node " + node + " is the last voter; add another voter first");
      }
      erase(next.voters, change.node);
      insert_sorted(next.learners, change.node);
      return next;
    case ConfChangeType::remove_node:
      if (!is_voter(conf, change.node) && !is_learner(conf, change.node)) {
        return make_error(ErrorCode::not_found, "node " + node + " is not a member");
      }
      if (is_voter(conf, change.node) && conf.voters.size() == 1) {
        return make_error(ErrorCode::invalid_argument,
                          "node " + node + " is the last voter; add another voter first");
      }
      erase(next.voters, change.node);
      erase(next.learners, change.node);
      return next;
  }
  return make_error(ErrorCode::invalid_argument, "unknown membership change type");
}

}  // namespace nca::raft
