#include "runtime/event_queue.hpp"

#include <algorithm>

#include "runtime/event_routing.hpp"

namespace nca {

void EventChanges::merge(EventChanges&& other) {
  for (auto& e : other.writes) writes.push_back(std::move(e));
  for (auto& e : other.assigned) assigned.push_back(std::move(e));
  ready.insert(other.ready.begin(), other.ready.end());
}

EventQueue::EventQueue(std::string tenant, const EventPolicy& policy)
    : tenant_(std::move(tenant)), policy_(policy) {}

EventQueue::Key EventQueue::key_of(const pb::Event& e) const {
  return {e.published_at_us() - priority_level(e.priority()) * policy_.aging_us, e.id()};
}

size_t EventQueue::capacity_of(const Slot& s) const {
  return s.profile.capacity() != 0 ? s.profile.capacity() : policy_.default_capacity;
}

bool EventQueue::active(const Slot& s) const { return s.profile.status() != pb::PERSONA_PAUSED; }

void EventQueue::record(const pb::Event& e, EventChanges* changes) {
  changes->writes.push_back({e.id(), e.state(), e.SerializeAsString()});
}

// ---- recovery ---------------------------------------------------------------------------------

void EventQueue::load_persona(const pb::Persona& persona) {
  personas_[persona.id()].profile = persona;
  index_.stale = true;
}

void EventQueue::load_event(pb::Event e) {
  const std::string id = e.id();
  switch (e.state()) {
    case pb::EVENT_PENDING:
      pending_.insert(key_of(e));
      live_[id] = std::move(e);
      break;
    case pb::EVENT_ASSIGNED:
    case pb::EVENT_DELIVERED: {
      Slot& slot = personas_[e.persona_id()];
      index_.stale = true;
      if (slot.profile.id().empty()) {
        // Held by a persona whose profile is gone: it takes nothing new and its events go back to
        // the queue when their leases run out.
        slot.profile.set_id(e.persona_id());
        slot.profile.set_status(pb::PERSONA_PAUSED);
      }
      slot.in_flight++;
      if (e.state() == pb::EVENT_ASSIGNED) slot.inbox.insert(key_of(e));
      leases_.insert({e.lease_expires_at_us(), id});
      live_[id] = std::move(e);
      break;
    }
    case pb::EVENT_DEAD:
      dead_[id] = std::move(e);
      break;
    default:
      break;
  }
}

// ---- personas ---------------------------------------------------------------------------------

EventChanges EventQueue::put_persona(const pb::Persona& persona, TimeUs now) {
  EventChanges changes;
  personas_[persona.id()].profile = persona;
  index_.stale = true;
  pump(now, &changes);
  return changes;
}

EventChanges EventQueue::remove_persona(const std::string& id, TimeUs now) {
  EventChanges changes;
  auto it = personas_.find(id);
  if (it == personas_.end()) return changes;
  std::vector<std::string> held;
  for (const auto& [eid, e] : live_) {
    if (e.persona_id() == id &&
        (e.state() == pb::EVENT_ASSIGNED || e.state() == pb::EVENT_DELIVERED)) {
      held.push_back(eid);
    }
  }
  std::sort(held.begin(), held.end());
  for (const auto& eid : held) {
    pb::Event& e = live_.at(eid);
    release(e);
    to_pending(e, "persona '" + id + "' was deleted", now, &changes);
  }
  personas_.erase(it);
  index_.stale = true;
  pump(now, &changes);
  return changes;
}

std::vector<pb::Persona> EventQueue::personas(const std::string& after, size_t limit) const {
  std::vector<pb::Persona> out;
  for (auto it = personas_.upper_bound(after); it != personas_.end() && out.size() < limit; ++it) {
    if (it->second.profile.version() == 0) continue;  // a placeholder from load_event
    out.push_back(it->second.profile);
  }
  return out;
}

size_t EventQueue::in_flight(const std::string& persona) const {
  auto it = personas_.find(persona);
  return it == personas_.end() ? 0 : it->second.in_flight;
}

// ---- routing ----------------------------------------------------------------------------------

void EventQueue::refresh_index() const {
  if (!index_.stale) return;
  index_.by_skill.clear();
  index_.by_sender.clear();
  for (const auto& [id, s] : personas_) {
    for (const auto& [skill, proficiency] : s.profile.skills())
      index_.by_skill[skill].emplace_back(&s, proficiency);
    for (const auto& [sender, rel] : s.profile.relationships())
      index_.by_sender[sender].emplace_back(&s, rel.affinity());
  }
  index_.stale = false;
}

const std::string* EventQueue::choose(const pb::Event& e) const {
  refresh_index();
  // Gather the score's parts of the personas the event's skills and sender name; every other
  // persona's parts are 0. Sums run over the required skills in order, as skill_match does.
  std::vector<const Slot*> touched;
  auto touch = [&](const Slot* s) {
    if (!s->touched) {
      s->touched = true;
      touched.push_back(s);
    }
  };
  for (const auto& skill : e.required_skills()) {
    auto it = index_.by_skill.find(skill);
    if (it == index_.by_skill.end()) continue;
    for (const auto& [s, proficiency] : it->second) {
      touch(s);
      s->skill_sum += proficiency;
    }
  }
  if (!e.from().empty()) {
    auto it = index_.by_sender.find(e.from());
    if (it != index_.by_sender.end()) {
      for (const auto& [s, aff] : it->second) {
        touch(s);
        s->affinity = aff;
      }
    }
  }
  const std::string* chosen = choose_scored(e);
  for (const Slot* s : touched) {
    s->skill_sum = 0;
    s->affinity = 0;
    s->touched = false;
  }
  return chosen;
}

const std::string* EventQueue::choose_scored(const pb::Event& e) const {
  const bool critical = e.priority() == pb::CRITICAL;
  const size_t required = static_cast<size_t>(e.required_skills_size());
  auto avoid_it = avoid_.find(e.id());
  const std::string* avoid = avoid_it == avoid_.end() ? nullptr : &avoid_it->second;
  // Pass 0: personas with room, other than the one to avoid; pass 1: with room, any; pass 2
  // (CRITICAL only): any active persona, over capacity.
  for (int pass = 0; pass < 3; ++pass) {
    if (pass == 1 && avoid == nullptr) continue;
    if (pass == 2 && !critical) break;
    const std::string* best = nullptr;
    double best_score = 0;
    auto consider = [&](const std::string& id, const Slot& s) {
      if (!active(s)) return;
      if (pass == 0 && avoid != nullptr && id == *avoid) return;
      size_t cap = capacity_of(s);
      if (pass < 2 && s.in_flight >= cap) return;
      double score = routing_score_of(s.skill_sum, required, s.affinity, s.in_flight, cap);
      if (best == nullptr || score > best_score) {
        best = &id;
        best_score = score;
      }
    };
    if (!e.target_persona().empty()) {
      auto it = personas_.find(e.target_persona());
      if (it != personas_.end()) consider(it->first, it->second);
    } else {
      for (const auto& [id, s] : personas_) consider(id, s);
    }
    if (best != nullptr) return best;
  }
  return nullptr;
}

void EventQueue::assign(pb::Event& e, const std::string& persona, TimeUs now,
                        EventChanges* changes) {
  pending_.erase(key_of(e));
  avoid_.erase(e.id());
  Slot& slot = personas_.at(persona);
  e.set_state(pb::EVENT_ASSIGNED);
  e.set_persona_id(persona);
  e.set_assignments(e.assignments() + 1);
  e.set_assigned_at_us(now);
  e.set_delivered_at_us(0);
  e.set_lease_expires_at_us(now + policy_.lease_us);
  e.set_memory_id("ev-" + e.id() + "-" + std::to_string(e.assignments()));
  e.set_version(e.version() + 1);
  slot.in_flight++;
  slot.inbox.insert(key_of(e));
  leases_.insert({e.lease_expires_at_us(), e.id()});
  record(e, changes);
  changes->assigned.push_back(e.id());
  changes->ready.insert(persona);
}

void EventQueue::release(pb::Event& e) {
  leases_.erase({e.lease_expires_at_us(), e.id()});
  auto it = personas_.find(e.persona_id());
  if (it == personas_.end()) return;
  it->second.inbox.erase(key_of(e));
  if (it->second.in_flight > 0) it->second.in_flight--;
}

void EventQueue::to_pending(pb::Event& e, const std::string& why, TimeUs now,
                            EventChanges* changes) {
  (void)now;
  e.set_state(pb::EVENT_PENDING);
  e.set_lease_expires_at_us(0);
  e.set_last_error(why);
  e.set_version(e.version() + 1);
  pending_.insert(key_of(e));
  record(e, changes);
}

void EventQueue::to_dead(pb::Event& e, const std::string& why, TimeUs now, EventChanges* changes) {
  e.set_state(pb::EVENT_DEAD);
  e.set_lease_expires_at_us(0);
  e.set_finished_at_us(now);
  e.set_last_error(why);
  e.set_version(e.version() + 1);
  record(e, changes);
  avoid_.erase(e.id());
  std::string id = e.id();
  dead_[id] = std::move(e);
  live_.erase(id);
}

void EventQueue::pump(TimeUs now, EventChanges* changes) {
  // Bounded by the number of waiting events: each is looked at once per pump.
  std::vector<Key> order(pending_.begin(), pending_.end());
  for (const Key& k : order) {
    auto it = live_.find(k.second);
    if (it == live_.end() || it->second.state() != pb::EVENT_PENDING) continue;
    const std::string* persona = choose(it->second);
    if (persona == nullptr) continue;
    assign(it->second, *persona, now, changes);
  }
}

// ---- events -----------------------------------------------------------------------------------

EventChanges EventQueue::publish(std::vector<pb::Event> events, TimeUs now,
                                 std::vector<pb::Event>* out) {
  EventChanges changes;
  std::vector<std::string> ids;
  for (auto& e : events) {
    ids.push_back(e.id());
    if (live_.count(e.id()) > 0 || dead_.count(e.id()) > 0) continue;
    e.set_state(pb::EVENT_PENDING);
    e.set_version(1);
    const std::string id = e.id();
    pending_.insert(key_of(e));
    pb::Event& stored = live_[id] = std::move(e);
    // Published and, when a persona has room, assigned in the same write.
    const std::string* persona = choose(stored);
    if (persona != nullptr) {
      assign(stored, *persona, now, &changes);
    } else {
      record(stored, &changes);
    }
  }
  if (out != nullptr) {
    for (const auto& id : ids) {
      if (const pb::Event* e = find(id)) out->push_back(*e);
    }
  }
  return changes;
}

std::optional<pb::Event> EventQueue::next(const std::string& persona, TimeUs now,
                                          EventChanges* changes) {
  auto it = personas_.find(persona);
  if (it == personas_.end() || it->second.inbox.empty()) return std::nullopt;
  Key k = *it->second.inbox.begin();
  it->second.inbox.erase(it->second.inbox.begin());
  pb::Event& e = live_.at(k.second);
  leases_.erase({e.lease_expires_at_us(), e.id()});
  e.set_state(pb::EVENT_DELIVERED);
  e.set_attempts(e.attempts() + 1);
  e.set_delivered_at_us(now);
  e.set_lease_expires_at_us(now + policy_.lease_us);
  e.set_version(e.version() + 1);
  leases_.insert({e.lease_expires_at_us(), e.id()});
  record(e, changes);
  return e;
}

bool EventQueue::has_ready(const std::string& persona) const {
  auto it = personas_.find(persona);
  return it != personas_.end() && !it->second.inbox.empty();
}

namespace {

Status check_delivery(const pb::Event& e, uint32_t attempt, const char* verb) {
  if (e.state() != pb::EVENT_DELIVERED) {
    return make_error(ErrorCode::conflict,
                      std::string("event '") + e.id() + "' cannot be " + verb + ": it is " +
                          (e.state() == pb::EVENT_PENDING    ? "waiting for a persona"
                           : e.state() == pb::EVENT_ASSIGNED ? "assigned but not delivered"
                                                             : "not in flight") +
                          "; take it with next_event first");
  }
  if (attempt != 0 && attempt != e.attempts()) {
    return make_error(ErrorCode::conflict,
                      std::string("event '") + e.id() + "' delivery " + std::to_string(attempt) +
                          " is stale: its lease ran out and it is now delivery " +
                          std::to_string(e.attempts()) + " to persona '" + e.persona_id() + "'");
  }
  return {};
}

}  // namespace

Result<pb::Event> EventQueue::ack(const std::string& id, uint32_t attempt,
                                  const std::string& result, TimeUs now, EventChanges* changes) {
  auto it = live_.find(id);
  if (it == live_.end()) {
    auto d = dead_.find(id);
    if (d != dead_.end()) {
      return make_error(ErrorCode::conflict,
                        "event '" + id + "' is dead-lettered; requeue it to process it");
    }
    return make_error(ErrorCode::not_found, "event '" + id + "' is not in flight");
  }
  pb::Event& e = it->second;
  if (auto s = check_delivery(e, attempt, "acked"); !s) return s.error();
  release(e);
  e.set_state(pb::EVENT_ACKED);
  e.set_lease_expires_at_us(0);
  e.set_finished_at_us(now);
  e.set_result(result);
  if (!result.empty()) e.set_result_memory_id("ev-" + id + "-result");
  e.set_version(e.version() + 1);
  record(e, changes);
  pb::Event done = std::move(e);
  live_.erase(it);
  avoid_.erase(id);
  pump(now, changes);
  return done;
}

Result<pb::Event> EventQueue::nack(const std::string& id, uint32_t attempt,
                                   const std::string& reason, bool dead_letter, TimeUs now,
                                   EventChanges* changes) {
  auto it = live_.find(id);
  if (it == live_.end()) {
    return make_error(dead_.count(id) > 0 ? ErrorCode::conflict : ErrorCode::not_found,
                      "event '" + id + "' is not in flight");
  }
  pb::Event& e = it->second;
  if (auto s = check_delivery(e, attempt, "nacked"); !s) return s.error();
  release(e);
  std::string why = reason.empty() ? "nacked" : "nacked: " + reason;
  if (dead_letter || e.attempts() >= policy_.max_attempts) {
    if (!dead_letter) why += " (" + std::to_string(e.attempts()) + " deliveries)";
    to_dead(e, why, now, changes);
    pump(now, changes);
    return dead_.at(id);
  }
  to_pending(e, why, now, changes);
  pump(now, changes);
  return live_.at(id);
}

Result<std::vector<pb::Event>> EventQueue::requeue(const std::vector<std::string>& ids, TimeUs now,
                                                   EventChanges* changes) {
  for (const auto& id : ids) {
    if (dead_.count(id) == 0) {
      return make_error(live_.count(id) > 0 ? ErrorCode::conflict : ErrorCode::not_found,
                        "event '" + id + "' is not a dead letter; nothing was requeued");
    }
  }
  std::vector<std::string> order = ids;
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  for (const auto& id : order) {
    pb::Event e = std::move(dead_.at(id));
    dead_.erase(id);
    e.set_attempts(0);
    e.set_finished_at_us(0);
    pb::Event& stored = live_[id] = std::move(e);
    to_pending(stored, "requeued from the dead letters", now, changes);
  }
  pump(now, changes);
  std::vector<pb::Event> out;
  for (const auto& id : ids) {
    if (const pb::Event* e = find(id)) out.push_back(*e);
  }
  return out;
}

EventChanges EventQueue::tick(TimeUs now) {
  EventChanges changes;
  // Bounded: every step removes one lease.
  while (!leases_.empty() && leases_.begin()->first <= now) {
    std::string id = leases_.begin()->second;
    pb::Event& e = live_.at(id);
    std::string persona = e.persona_id();
    bool delivered = e.state() == pb::EVENT_DELIVERED;
    release(e);
    avoid_[id] = persona;
    if (delivered && e.attempts() >= policy_.max_attempts) {
      to_dead(e,
              "lease expired after " + std::to_string(e.attempts()) + " deliveries (persona '" +
                  persona + "')",
              now, &changes);
    } else {
      to_pending(e,
                 delivered ? "lease expired: persona '" + persona + "' did not ack in time"
                           : "lease expired: persona '" + persona + "' did not take it in time",
                 now, &changes);
    }
  }
  pump(now, &changes);
  return changes;
}

std::optional<TimeUs> EventQueue::next_lease_expiry() const {
  if (leases_.empty()) return std::nullopt;
  return leases_.begin()->first;
}

const pb::Event* EventQueue::find(const std::string& id) const {
  auto it = live_.find(id);
  if (it != live_.end()) return &it->second;
  auto d = dead_.find(id);
  return d == dead_.end() ? nullptr : &d->second;
}

void EventQueue::for_each_event(const std::function<void(const pb::Event&)>& visit) const {
  for (const auto& [id, e] : live_) visit(e);
  for (const auto& [id, e] : dead_) visit(e);
}

std::vector<pb::Event> EventQueue::in_flight_events() const {
  std::vector<pb::Event> out;
  for (const auto& [id, e] : live_) {
    if (e.state() == pb::EVENT_ASSIGNED || e.state() == pb::EVENT_DELIVERED) out.push_back(e);
  }
  std::sort(out.begin(), out.end(),
            [](const pb::Event& a, const pb::Event& b) { return a.id() < b.id(); });
  return out;
}

std::vector<pb::Event> EventQueue::dead_letters(const std::string& after, size_t limit) const {
  std::vector<pb::Event> out;
  for (auto it = dead_.upper_bound(after); it != dead_.end() && out.size() < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

}  // namespace nca
