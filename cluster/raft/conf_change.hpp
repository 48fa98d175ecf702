// cluster/raft/conf_change.hpp: single-server membership changes and their log encoding.
//
// A ConfChange travels as the data of an EntryType::conf_change entry. Raft allows one unapplied
// change at a time, so any two consecutive configurations share a majority (Ongaro's single-server
// rule) and no joint consensus is needed. apply() is pure: it returns the next ConfState or an
// error a user can act on (adding a voter twice, removing the last voter). Thread-safety: values
// only.
#pragma once

#include <string>

#include "cluster/raft/types.hpp"
#include "nca/result.hpp"

namespace nca::raft {

enum class ConfChangeType : uint8_t {
  add_voter = 0,    // also promotes an existing learner
  add_learner = 1,  // also demotes an existing voter
  remove_node = 2,
};

struct ConfChange {
  ConfChangeType type = ConfChangeType::add_voter;
  NodeId node = kNoNode;

  bool operator==(const ConfChange& o) const { return type == o.type && node == o.node; }
};

std::string encode_conf_change(const ConfChange& change);
Result<ConfChange> decode_conf_change(const std::string& data);

// The configuration after `change`; `conf` is unchanged on error.
Result<ConfState> apply_conf_change(const ConfState& conf, const ConfChange& change);

bool is_voter(const ConfState& conf, NodeId node);
bool is_learner(const ConfState& conf, NodeId node);

}  // namespace nca::raft
