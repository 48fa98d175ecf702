#include "cluster/raft/raft.hpp"

#include <algorithm>

namespace nca::raft {
namespace {

// Vote messages carrying this context come from a leadership transfer and bypass the leader lease.
constexpr uint64_t kTransferContext = 1;

bool is_response_to_persisted_state(MessageType type) {
  // A vote grant promises the vote is durable; an append ack promises the entries are.
  return type == MessageType::vote || type == MessageType::vote_resp ||
         type == MessageType::append_resp;
}

std::string leader_hint(NodeId leader) {
  return leader == kNoNode ? "no leader is known" : "the leader is node " + std::to_string(leader);
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::follower:
      return "follower";
    case Role::pre_candidate:
      return "pre_candidate";
    case Role::candidate:
      return "candidate";
    case Role::leader:
      return "leader";
  }
  return "unknown";
}

Bootstrap bootstrap_entries(const std::vector<NodeId>& voters) {
  Bootstrap b;
  std::vector<NodeId> sorted = voters;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (NodeId v : sorted) {
    Entry e;
    e.term = 1;
    e.index = b.entries.size() + 1;
    e.type = EntryType::conf_change;
    e.data = encode_conf_change(ConfChange{ConfChangeType::add_voter, v});
    b.entries.push_back(std::move(e));
  }
  b.hard_state = HardState{1, kNoNode, b.entries.size()};
  return b;
}

Raft::Raft(const RaftConfig& config)
    : id_(config.id),
      storage_(config.storage),
      config_(config),
      log_(config.storage),
      rng_state_(config.seed ^ (config.id * 0x9E3779B97F4A7C15ull)) {}

Result<std::unique_ptr<Raft>> Raft::create(const RaftConfig& config) {
  if (config.id == kNoNode) {
    return make_error(ErrorCode::invalid_argument, "raft node id must not be 0");
  }
  if (config.storage == nullptr) {
    return make_error(ErrorCode::invalid_argument, "raft needs a log storage");
  }
  if (config.heartbeat_tick <= 0 || config.election_tick <= config.heartbeat_tick) {
    return make_error(ErrorCode::invalid_argument,
                      "raft election_tick (" + std::to_string(config.election_tick) +
                          ") must exceed heartbeat_tick (" + std::to_string(config.heartbeat_tick) +
                          "), which must be positive");
  }
  if (config.max_inflight == 0) {
    return make_error(ErrorCode::invalid_argument, "raft max_inflight must be positive");
  }
  std::unique_ptr<Raft> raft(new Raft(config));
  Status s = raft->init();
  if (!s.ok()) return s.error();
  return raft;
}

Status Raft::init() {
  auto state = storage_->initial_state();
  if (!state.ok()) return state.error();
  Status s = log_.init(state->hard_state.commit);
  if (!s.ok()) return s;
  term_ = state->hard_state.term;
  vote_ = state->hard_state.vote;
  conf_ = state->conf;
  persisted_hard_state_ = state->hard_state;
  Index applied = std::max(config_.applied, log_.first_index() - 1);
  if (applied > log_.committed()) {
    return make_error(ErrorCode::data_loss, "the application applied index " +
                                                std::to_string(applied) +
                                                " but the raft log commits only up to " +
                                                std::to_string(log_.committed()));
  }
  // Membership changes the application already applied are not in the snapshot's conf.
  Index from = log_.first_index();
  while (from <= applied) {
    auto entries = log_.slice(from, applied + 1, config_.max_message_bytes);
    if (!entries.ok()) return entries.error();
    for (const Entry& e : *entries) {
      if (e.type != EntryType::conf_change) continue;
      auto change = decode_conf_change(e.data);
      if (!change.ok()) return change.error();
      auto next = apply_conf_change(conf_, *change);
      if (next.ok()) conf_ = std::move(*next);
    }
    from = entries->back().index + 1;
  }
  log_.applied_to(applied);
  applying_ = applied;
  become_follower(term_, kNoNode);
  reported_soft_state_ = SoftState{leader_, role_};
  return Status{};
}

// --- roles ----------------------------------------------------------------------------------

uint64_t Raft::next_random() {
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void Raft::reset_randomized_timeout() {
  randomized_election_timeout_ =
      config_.election_tick +
      static_cast<int>(next_random() % static_cast<uint64_t>(config_.election_tick));
}

void Raft::reset(Term term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_timeout();
  abort_transfer();
  votes_.clear();
  progress_.clear();
  pending_reads_.clear();
  reads_before_commit_.clear();
  pending_bcast_ = false;
}

void Raft::become_follower(Term term, NodeId leader) {
  reset(term);
  leader_ = leader;
  role_ = Role::follower;
}

void Raft::become_pre_candidate() {
  // Pre-vote changes neither term nor vote, so a partitioned node cannot disrupt the cluster.
  votes_.clear();
  progress_.clear();
  leader_ = kNoNode;
  role_ = Role::pre_candidate;
}

void Raft::become_candidate() {
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::candidate;
}

void Raft::become_leader() {
  reset(term_);
  leader_ = id_;
  role_ = Role::leader;
  reset_progress();
  // Membership changes wait until the leader has committed an entry of its own term (the fix to
  // the single-server change bug in Ongaro's thesis errata).
  Entry noop;
  append_entries({std::move(noop)});
  pending_conf_index_ = log_.last_index();
}

void Raft::reset_progress() {
  progress_.clear();
  Index next = log_.last_index() + 1;
  for (NodeId v : conf_.voters)
    progress_.emplace(v, Progress(0, next, config_.max_inflight, false));
  for (NodeId l : conf_.learners)
    progress_.emplace(l, Progress(0, next, config_.max_inflight, true));
  auto self = progress_.find(id_);
  if (self != progress_.end()) {
    self->second.match = log_.stable_last_index();
    self->second.become_replicate();
  }
}

bool Raft::promotable() const { return is_voter(conf_, id_); }

bool Raft::has_unapplied_conf_change() const {
  if (log_.committed() <= log_.applied()) return false;
  auto entries = log_.slice(log_.applied() + 1, log_.committed() + 1, UINT64_MAX);
  if (!entries.ok()) return false;
  for (const Entry& e : *entries) {
    if (e.type == EntryType::conf_change) return true;
  }
  return false;
}

void Raft::campaign() {
  if (role_ == Role::leader || !promotable()) return;
  // A node must not count votes under a configuration it has not applied yet.
  if (has_unapplied_conf_change()) return;
  start_campaign(config_.pre_vote ? CampaignKind::pre_election : CampaignKind::election);
}

void Raft::start_campaign(CampaignKind kind) {
  Term vote_term;
  MessageType type;
  if (kind == CampaignKind::pre_election) {
    become_pre_candidate();
    vote_term = term_ + 1;
    type = MessageType::pre_vote;
  } else {
    become_candidate();
    vote_term = term_;
    type = MessageType::vote;
  }
  if (poll(id_, true) > 0) {
    if (kind == CampaignKind::pre_election) {
      start_campaign(CampaignKind::election);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId v : conf_.voters) {
    if (v == id_) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.context = kind == CampaignKind::transfer ? kTransferContext : 0;
    send(std::move(m));
  }
}

int Raft::poll(NodeId from, bool granted) {
  votes_.emplace(from, granted);  // the first answer of a voter counts
  size_t yes = 0;
  size_t no = 0;
  for (NodeId v : conf_.voters) {
    auto it = votes_.find(v);
    if (it == votes_.end()) continue;
    (it->second ? yes : no)++;
  }
  if (yes >= quorum()) return 1;
  if (no >= quorum()) return -1;
  return 0;
}

// --- input ----------------------------------------------------------------------------------

void Raft::tick() {
  if (role_ != Role::leader) {
    ++election_elapsed_;
    // A node that cannot campaign keeps counting, so it leaves the leader lease and votes for
    // others once its leader is gone.
    if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
      election_elapsed_ = 0;
      campaign();
    }
    return;
  }
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  for (auto& [id, pr] : progress_) {
    // A lost snapshot message would stall the follower forever; probe again after a while.
    if (pr.state == Progress::State::snapshot && ++pr.snapshot_ticks > 2 * config_.election_tick) {
      pr.become_probe();
    }
  }
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !quorum_active()) {
      become_follower(term_, kNoNode);
      return;
    }
    abort_transfer();
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    bcast_heartbeat();
  }
}

Status Raft::step(const Message& m) {
  if (m.to != id_) {
    return make_error(ErrorCode::invalid_argument, "raft message for node " + std::to_string(m.to) +
                                                       " delivered to node " + std::to_string(id_));
  }
  if (m.from == kNoNode || m.from == id_ || m.term == 0) {
    return make_error(ErrorCode::invalid_argument, std::string("raft ") + to_string(m.type) +
                                                       " message from node " +
                                                       std::to_string(m.from) + " at term " +
                                                       std::to_string(m.term) + " is malformed");
  }
  if (m.type == MessageType::snapshot && m.snapshot == nullptr) {
    return make_error(ErrorCode::invalid_argument, "raft snapshot message carries no snapshot");
  }
  bool vote_request = m.type == MessageType::vote || m.type == MessageType::pre_vote;
  if (m.term > term_) {
    if (vote_request) {
      bool forced = m.context == kTransferContext;
      bool in_lease =
          config_.check_quorum && leader_ != kNoNode && election_elapsed_ < config_.election_tick;
      // A follower that hears from its leader does not help anyone depose it.
      if (!forced && in_lease) return Status{};
    }
    if (m.type == MessageType::pre_vote) {
      // Never change term for a pre-vote.
    } else if (m.type == MessageType::pre_vote_resp && !m.reject) {
      // A granted pre-vote carries the term we would campaign at; counted below.
    } else if (m.type == MessageType::append || m.type == MessageType::heartbeat ||
               m.type == MessageType::snapshot) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::heartbeat || m.type == MessageType::append)) {
      // Tell a deposed leader about the new term; otherwise, with check-quorum, a partitioned
      // node's higher term would never reach it and it could not rejoin.
      Message resp;
      resp.type = MessageType::append_resp;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::pre_vote) {
      Message resp;
      resp.type = MessageType::pre_vote_resp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      send(std::move(resp));
    }
    return Status{};
  }

  if (vote_request) {
    handle_vote_request(m);
    return Status{};
  }
  switch (role_) {
    case Role::leader:
      return step_leader(m);
    case Role::candidate:
    case Role::pre_candidate:
      return step_candidate(m);
    case Role::follower:
      return step_follower(m);
  }
  return Status{};
}

void Raft::handle_vote_request(const Message& m) {
  bool pre = m.type == MessageType::pre_vote;
  bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  Message resp;
  resp.type = pre ? MessageType::pre_vote_resp : MessageType::vote_resp;
  resp.to = m.from;
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    resp.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  send(std::move(resp));
}

Status Raft::step_leader(const Message& m) {
  auto it = progress_.find(m.from);
  switch (m.type) {
    case MessageType::append_resp: {
      if (it == progress_.end()) return Status{};
      Progress& pr = it->second;
      pr.recent_active = true;
      if (m.reject) {
        if (pr.maybe_decrease_to(m.index, m.reject_hint)) {
          if (pr.state == Progress::State::replicate) pr.become_probe();
          send_append(m.from);
        }
        return Status{};
      }
      bool was_paused = pr.is_paused();
      if (pr.maybe_update(m.index)) {
        if (pr.state == Progress::State::probe) {
          pr.become_replicate();
        } else if (pr.state == Progress::State::snapshot && pr.match >= pr.pending_snapshot) {
          pr.become_probe();
          pr.become_replicate();
        } else if (pr.state == Progress::State::replicate) {
          pr.free_inflight_up_to(m.index);
        }
        if (maybe_commit()) {
          pending_bcast_ = true;
        } else if (was_paused) {
          send_append(m.from);
        }
        // Fill the window again while there is backlog.
        for (int i = 0; i < 64 && send_append(m.from, false); ++i) {
        }
        if (m.from == lead_transferee_ && pr.match == log_.last_index()) {
          Message now;
          now.type = MessageType::timeout_now;
          now.to = m.from;
          send(std::move(now));
        }
      }
      return Status{};
    }
    case MessageType::heartbeat_resp: {
      if (it == progress_.end()) return Status{};
      Progress& pr = it->second;
      pr.recent_active = true;
      pr.probe_sent = false;
      if (pr.state == Progress::State::replicate && pr.inflight_full()) pr.free_first_inflight();
      if (pr.match < log_.last_index()) send_append(m.from);
      if (m.context != 0 && !pr.learner) {
        for (PendingRead& read : pending_reads_) {
          if (read.round <= m.context) read.acks.insert(m.from);
        }
        release_reads();
      }
      return Status{};
    }
    case MessageType::read_index:
      if (it != progress_.end()) handle_read_index(m.from, m.context);
      return Status{};
    default:
      return Status{};  // stale responses and messages of an old role
  }
}

Status Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::append:
      become_follower(m.term, m.from);
      return handle_append(m);
    case MessageType::heartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      return Status{};
    case MessageType::snapshot:
      become_follower(m.term, m.from);
      handle_snapshot(m);
      return Status{};
    case MessageType::pre_vote_resp:
    case MessageType::vote_resp: {
      bool mine = (role_ == Role::pre_candidate) == (m.type == MessageType::pre_vote_resp);
      if (!mine) return Status{};
      int result = poll(m.from, !m.reject);
      if (result > 0) {
        if (role_ == Role::pre_candidate) {
          start_campaign(CampaignKind::election);
        } else {
          become_leader();
        }
      } else if (result < 0) {
        become_follower(term_, kNoNode);
      }
      return Status{};
    }
    default:
      return Status{};
  }
}

Status Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::append:
      election_elapsed_ = 0;
      leader_ = m.from;
      return handle_append(m);
    case MessageType::heartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_heartbeat(m);
      return Status{};
    case MessageType::snapshot:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_snapshot(m);
      return Status{};
    case MessageType::timeout_now:
      if (promotable()) start_campaign(CampaignKind::transfer);
      return Status{};
    case MessageType::read_index_resp:
      read_states_.push_back(ReadState{m.context, m.index});
      return Status{};
    default:
      return Status{};
  }
}

Status Raft::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::append_resp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    resp.index = log_.committed();
    send(std::move(resp));
    return Status{};
  }
  for (size_t i = 0; i < m.entries.size(); ++i) {
    if (m.entries[i].index != m.index + 1 + i || m.entries[i].term > m.term) {
      return make_error(ErrorCode::invalid_argument, "raft append from node " +
                                                         std::to_string(m.from) +
                                                         " carries a non-contiguous entry at " +
                                                         std::to_string(m.entries[i].index));
    }
  }
  auto appended = log_.maybe_append(m.index, m.log_term, m.commit, m.entries);
  if (!appended.ok()) return appended.error();
  if (appended->has_value()) {
    resp.index = **appended;
  } else {
    resp.index = m.index;
    resp.reject = true;
    resp.reject_hint = log_.last_index();
  }
  send(std::move(resp));
  return Status{};
}

void Raft::handle_heartbeat(const Message& m) {
  log_.commit_to(m.commit);
  Message resp;
  resp.type = MessageType::heartbeat_resp;
  resp.to = m.from;
  resp.context = m.context;
  send(std::move(resp));
}

void Raft::handle_snapshot(const Message& m) {
  Message resp;
  resp.type = MessageType::append_resp;
  resp.to = m.from;
  resp.index = restore(*m.snapshot) ? log_.last_index() : log_.committed();
  send(std::move(resp));
}

bool Raft::restore(const Snapshot& snapshot) {
  if (snapshot.meta.index <= log_.committed()) return false;
  // The snapshot's membership may predate this node's addition (the entry adding it follows the
  // snapshot), so a snapshot that does not name us is still installed.
  const ConfState& conf = snapshot.meta.conf;
  if (log_.match_term(snapshot.meta.index, snapshot.meta.term)) {
    // We already have the log up to the snapshot; just commit it.
    log_.commit_to(snapshot.meta.index);
    return false;
  }
  log_.restore(snapshot);
  conf_ = conf;
  return true;
}

// --- leader ---------------------------------------------------------------------------------

void Raft::append_entries(std::vector<Entry> entries) {
  Index index = log_.last_index();
  for (Entry& e : entries) {
    e.term = term_;
    e.index = ++index;
  }
  log_.append(entries);
  pending_bcast_ = true;
}

Result<Index> Raft::propose(std::string data) {
  if (role_ != Role::leader) {
    return make_error(ErrorCode::unavailable, "node " + std::to_string(id_) +
                                                  " is not the leader; " + leader_hint(leader_));
  }
  if (lead_transferee_ != kNoNode) {
    return make_error(
        ErrorCode::unavailable,
        "leadership is moving to node " + std::to_string(lead_transferee_) + "; retry there");
  }
  Entry e;
  e.data = std::move(data);
  append_entries({std::move(e)});
  return log_.last_index();
}

Result<Index> Raft::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::leader) {
    return make_error(ErrorCode::unavailable, "node " + std::to_string(id_) +
                                                  " is not the leader; " + leader_hint(leader_));
  }
  if (lead_transferee_ != kNoNode) {
    return make_error(ErrorCode::unavailable, "leadership is moving; retry at the new leader");
  }
  if (pending_conf_index_ > log_.applied()) {
    return make_error(ErrorCode::conflict,
                      "a membership change (or the new leader's first entry) at index " +
                          std::to_string(pending_conf_index_) +
                          " is not applied yet; retry once it is");
  }
  auto next = apply_conf_change(conf_, change);
  if (!next.ok()) return next.error();
  Entry e;
  e.type = EntryType::conf_change;
  e.data = encode_conf_change(change);
  append_entries({std::move(e)});
  pending_conf_index_ = log_.last_index();
  return log_.last_index();
}

Status Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::leader) {
    return make_error(ErrorCode::unavailable, "node " + std::to_string(id_) +
                                                  " is not the leader; " + leader_hint(leader_));
  }
  if (to == id_) return Status{};
  if (!is_voter(conf_, to)) {
    return make_error(ErrorCode::invalid_argument,
                      "node " + std::to_string(to) + " is not a voter and cannot lead");
  }
  if (lead_transferee_ == to) return Status{};
  lead_transferee_ = to;
  election_elapsed_ = 0;  // the transfer must finish within one election timeout
  auto& pr = progress_.at(to);
  if (pr.match == log_.last_index()) {
    Message now;
    now.type = MessageType::timeout_now;
    now.to = to;
    send(std::move(now));
  } else {
    send_append(to);
  }
  return Status{};
}

Status Raft::read_index(uint64_t context) {
  if (role_ == Role::leader) {
    handle_read_index(id_, context);
    return Status{};
  }
  if (leader_ == kNoNode) {
    return make_error(ErrorCode::unavailable, "no leader is known for a linearizable read");
  }
  Message m;
  m.type = MessageType::read_index;
  m.to = leader_;
  m.context = context;
  send(std::move(m));
  return Status{};
}

void Raft::handle_read_index(NodeId from, uint64_t context) {
  // The commit index is only known to be current once the leader committed in its own term.
  if (log_.term_or_zero(log_.committed()) != term_) {
    reads_before_commit_.emplace_back(from, context);
    return;
  }
  if (conf_.voters.size() == 1 && is_voter(conf_, id_)) {
    answer_read(from, context, log_.committed());
    return;
  }
  PendingRead read;
  read.round = ++read_round_;
  read.from = from;
  read.context = context;
  read.index = log_.committed();
  read.acks.insert(id_);
  pending_reads_.push_back(std::move(read));
  bcast_heartbeat();
}

void Raft::release_reads() {
  size_t done = 0;
  for (; done < pending_reads_.size(); ++done) {
    PendingRead& read = pending_reads_[done];
    size_t acks = 0;
    for (NodeId v : conf_.voters) acks += read.acks.count(v);
    if (acks < quorum()) break;
    answer_read(read.from, read.context, read.index);
  }
  pending_reads_.erase(pending_reads_.begin(), pending_reads_.begin() + done);
}

void Raft::answer_read(NodeId from, uint64_t context, Index index) {
  if (from == id_) {
    read_states_.push_back(ReadState{context, index});
    return;
  }
  Message m;
  m.type = MessageType::read_index_resp;
  m.to = from;
  m.context = context;
  m.index = index;
  send(std::move(m));
}

bool Raft::send_append(NodeId to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end() || to == id_) return false;
  Progress& pr = it->second;
  if (pr.is_paused()) return false;
  Index prev = pr.next - 1;
  auto prev_term = log_.term(prev);
  Result<std::vector<Entry>> entries = std::vector<Entry>{};
  if (prev_term.ok()) {
    // A probe is sent again at every heartbeat response until the follower answers it, so it
    // carries little: with whole 1 MiB probes, a leader whose round was slowed by a returning
    // follower found several heartbeat responses per group in its next round and sent that
    // follower's backlog about forty times over (121,419 entries in 533 messages, 2 s of one
    // round, in a soak). Once a probe matches, the replicate state sends the backlog once.
    const uint64_t budget = pr.state == Progress::State::probe
                                ? std::min(config_.max_message_bytes, config_.max_probe_bytes)
                                : config_.max_message_bytes;
    entries = log_.slice(pr.next, log_.last_index() + 1, budget);
  }
  if (prev_term.ok() && entries.ok()) {
    if (entries->empty() && !send_if_empty) return false;
    Message m;
    m.type = MessageType::append;
    m.to = to;
    m.index = prev;
    m.log_term = *prev_term;
    m.entries = std::move(*entries);
    m.commit = log_.committed();
    size_t count = m.entries.size();
    Index last = count > 0 ? m.entries.back().index : prev;
    pr.sent_entries(count, last);
    send(std::move(m));
    return true;
  }
  // The follower needs entries we compacted: send the snapshot.
  if (!pr.recent_active) return false;
  auto snapshot = storage_->snapshot();
  if (!snapshot.ok() || snapshot->empty()) return false;
  Message m;
  m.type = MessageType::snapshot;
  m.to = to;
  pr.become_snapshot(snapshot->meta.index);
  m.snapshot = std::make_shared<const Snapshot>(std::move(*snapshot));
  send(std::move(m));
  return true;
}

void Raft::bcast_append() {
  for (auto& [id, pr] : progress_) {
    if (id != id_) send_append(id);
  }
}

void Raft::bcast_heartbeat() {
  uint64_t round = pending_reads_.empty() ? 0 : read_round_;
  for (auto& [id, pr] : progress_) {
    if (id == id_) continue;
    Message m;
    m.type = MessageType::heartbeat;
    m.to = id;
    // Never let a follower commit past what it is known to hold.
    m.commit = std::min(pr.match, log_.committed());
    m.context = round;
    send(std::move(m));
  }
}

bool Raft::maybe_commit() {
  std::vector<Index> matches;
  for (NodeId v : conf_.voters) {
    auto it = progress_.find(v);
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<Index>());
  Index majority = matches[quorum() - 1];
  bool committed = log_.maybe_commit(majority, term_);
  if (committed && !reads_before_commit_.empty()) {
    auto waiting = std::move(reads_before_commit_);
    reads_before_commit_.clear();
    for (auto& [from, context] : waiting) handle_read_index(from, context);
  }
  return committed;
}

bool Raft::quorum_active() {
  size_t active = 0;
  for (NodeId v : conf_.voters) {
    auto it = progress_.find(v);
    if (v == id_ || (it != progress_.end() && it->second.recent_active)) ++active;
  }
  for (auto& [id, pr] : progress_) pr.recent_active = false;
  return active >= quorum();
}

// --- membership -----------------------------------------------------------------------------

void Raft::apply_conf(const ConfChange& change) {
  auto next = apply_conf_change(conf_, change);
  if (!next.ok()) return;  // refused at propose time already; a replayed duplicate is a no-op
  conf_ = std::move(*next);
  if (role_ != Role::leader) return;
  if (!is_voter(conf_, id_)) {
    // A leader removed (or demoted) by its own change steps down; the rest elect a new leader.
    become_follower(term_, kNoNode);
    return;
  }
  Index next_index = log_.last_index() + 1;
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!is_voter(conf_, it->first) && !is_learner(conf_, it->first)) {
      it = progress_.erase(it);
    } else {
      it->second.learner = is_learner(conf_, it->first);
      ++it;
    }
  }
  for (NodeId v : conf_.voters) {
    progress_.emplace(v, Progress(0, next_index, config_.max_inflight, false));
  }
  for (NodeId l : conf_.learners) {
    progress_.emplace(l, Progress(0, next_index, config_.max_inflight, true));
  }
  if (lead_transferee_ != kNoNode && !is_voter(conf_, lead_transferee_)) abort_transfer();
  // A smaller quorum may commit more now.
  if (maybe_commit()) pending_bcast_ = true;
  pending_bcast_ = true;
}

// --- output ---------------------------------------------------------------------------------

void Raft::send(Message m) {
  m.from = id_;
  bool vote_kind = m.type == MessageType::vote || m.type == MessageType::vote_resp ||
                   m.type == MessageType::pre_vote || m.type == MessageType::pre_vote_resp;
  if (!vote_kind) m.term = term_;  // vote messages carry the term they are about
  if (is_response_to_persisted_state(m.type)) {
    persisted_messages_.push_back(std::move(m));
  } else {
    messages_.push_back(std::move(m));
  }
}

bool Raft::has_ready() const {
  if (pending_bcast_ && role_ == Role::leader) return true;
  if (SoftState{leader_, role_} != reported_soft_state_) return true;
  if (hard_state() != persisted_hard_state_) return true;
  if (!log_.unstable_entries().empty() || log_.unstable_snapshot()) return true;
  if (!messages_.empty() || !persisted_messages_.empty() || !read_states_.empty()) return true;
  return log_.committed() > applying_;
}

Ready Raft::ready() {
  if (pending_bcast_ && role_ == Role::leader) bcast_append();
  pending_bcast_ = false;
  Ready rd;
  rd.soft_state = SoftState{leader_, role_};
  reported_soft_state_ = rd.soft_state;
  if (hard_state() != persisted_hard_state_) rd.hard_state = hard_state();
  rd.snapshot = log_.unstable_snapshot();
  rd.entries = log_.unstable_entries();
  if (rd.snapshot) applying_ = std::max(applying_, rd.snapshot->meta.index);
  if (log_.committed() > applying_) {
    auto committed = log_.slice(applying_ + 1, log_.committed() + 1, config_.max_committed_bytes);
    if (committed.ok()) {
      rd.committed = std::move(*committed);
      if (!rd.committed.empty()) applying_ = rd.committed.back().index;
    }
  }
  rd.messages = std::move(messages_);
  messages_.clear();
  rd.persisted_messages = std::move(persisted_messages_);
  persisted_messages_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  return rd;
}

void Raft::advance(const Ready& rd) {
  if (rd.hard_state) persisted_hard_state_ = *rd.hard_state;
  if (rd.snapshot) {
    log_.stable_snapshot_to(rd.snapshot->meta.index);
    log_.applied_to(rd.snapshot->meta.index);
  }
  if (!rd.entries.empty()) {
    log_.stable_to(rd.entries.back().index, rd.entries.back().term);
    if (role_ == Role::leader) {
      auto self = progress_.find(id_);
      if (self != progress_.end() && self->second.maybe_update(log_.stable_last_index()) &&
          maybe_commit()) {
        pending_bcast_ = true;
      }
    }
  }
  for (const Entry& e : rd.committed) {
    if (e.type != EntryType::conf_change) continue;
    auto change = decode_conf_change(e.data);
    if (change.ok()) apply_conf(*change);
  }
  if (!rd.committed.empty()) log_.applied_to(rd.committed.back().index);
}

}  // namespace nca::raft
