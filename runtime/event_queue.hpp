// runtime/event_queue.hpp: one tenant's events and personas as a pure state machine: routing,
// waiting order, capacity, leases, acks, nacks and dead letters (DESIGN section 3).
//
// Every operation takes the time as an argument and returns the records it changed (EventChanges);
// the caller (the event router actor) writes them durably before it answers anyone, and re-creates
// an EventQueue from storage after a failed write or a restart (load_* then tick). No I/O, no
// clock, no CAF: tests drive it directly and deterministically.
//
// Life cycle: PENDING -> ASSIGNED (in a persona's inbox, leased) -> DELIVERED (handed to a worker,
// attempts += 1, leased again) -> ACKED; a nack or an expired delivery lease sends it back to
// PENDING, or to DEAD once attempts reach max_attempts; an expired assignment lease (never handed
// out) sends it back to PENDING without counting an attempt. Reassignment avoids the persona whose
// lease ran out when another persona can take the event.
//
// Waiting order: highest priority first, then oldest, with aging: an event that has waited
// `aging_us` ranks with events one priority step above it (key = published_at - level * aging), so
// a stream of HIGH events never starves LOW ones. CRITICAL events may exceed a persona's capacity
// when no persona has room. Ties in the routing score go to the lowest persona id.
//
// ACKED events leave memory (the caller keeps their records for `retention_us`); DEAD events stay
// until requeued. Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"
#include "runtime/event_policy.hpp"

namespace nca {

// One record to store: an event as it was when it changed, already serialized (a change set is
// written once, and copying whole Event messages into it cost more than serializing them).
struct EventWrite {
  std::string id;
  pb::EventState state = pb::EVENT_PENDING;
  std::string record;  // pb::Event bytes
};

struct EventChanges {
  std::vector<EventWrite> writes;  // records to store (their latest state), in change order
  // Ids of newly assigned events: each becomes a memory of its persona. Ids, not copies: the
  // caller reads the events (find) before it hands the queue another change.
  std::vector<std::string> assigned;
  std::set<std::string> ready;  // personas whose inbox gained an event
  bool empty() const { return writes.empty(); }
  void merge(EventChanges&& other);
};

class EventQueue {
 public:
  EventQueue(std::string tenant, const EventPolicy& policy);

  const std::string& tenant() const { return tenant_; }

  // ---- recovery: install stored state, then call tick(now) ----
  void load_persona(const pb::Persona& persona);
  // ACKED records are ignored; others go back where they were, leases included.
  void load_event(pb::Event event);

  // ---- personas ----
  // Adds or replaces a profile; assigns waiting events it can now take.
  EventChanges put_persona(const pb::Persona& persona, TimeUs now);
  // The persona is gone: its assigned and delivered events go back to the queue.
  EventChanges remove_persona(const std::string& id, TimeUs now);
  bool has_persona(const std::string& id) const { return personas_.count(id) > 0; }
  size_t persona_count() const { return personas_.size(); }
  std::vector<pb::Persona> personas(const std::string& after, size_t limit) const;
  size_t in_flight(const std::string& persona) const;

  // ---- events ----
  // `events` are validated, with ids, priorities and publish times set by the caller. An id that is
  // already live or dead is not published again: `out` gets the stored event.
  EventChanges publish(std::vector<pb::Event> events, TimeUs now, std::vector<pb::Event>* out);
  // Hands the persona's next assigned event to a worker (highest priority, then oldest).
  std::optional<pb::Event> next(const std::string& persona, TimeUs now, EventChanges* changes);
  bool has_ready(const std::string& persona) const;
  // `attempt` 0 skips the delivery check. An ack of an ACKED event is the caller's to answer (the
  // record is no longer here): NOT_FOUND tells it to look in storage.
  Result<pb::Event> ack(const std::string& id, uint32_t attempt, const std::string& result,
                        TimeUs now, EventChanges* changes);
  Result<pb::Event> nack(const std::string& id, uint32_t attempt, const std::string& reason,
                         bool dead_letter, TimeUs now, EventChanges* changes);
  // Dead letters back to the queue with attempts reset.
  Result<std::vector<pb::Event>> requeue(const std::vector<std::string>& ids, TimeUs now,
                                         EventChanges* changes);
  // Expires leases due at `now` and assigns what can be assigned.
  EventChanges tick(TimeUs now);
  // The earliest lease expiry, if any lease is running.
  std::optional<TimeUs> next_lease_expiry() const;

  const pb::Event* find(const std::string& id) const;
  // ASSIGNED and DELIVERED events, by id.
  std::vector<pb::Event> in_flight_events() const;
  std::vector<pb::Event> dead_letters(const std::string& after, size_t limit) const;
  size_t pending() const { return pending_.size(); }
  // Calls `visit` for every event held (PENDING, ASSIGNED, DELIVERED, DEAD).
  void for_each_event(const std::function<void(const pb::Event&)>& visit) const;
  size_t live() const { return live_.size(); }

 private:
  using Key = std::pair<int64_t, std::string>;  // waiting-order key, event id
  struct Slot {
    pb::Persona profile;
    size_t in_flight = 0;
    std::set<Key> inbox;  // ASSIGNED events, best first
    // Scratch of one choose() call: the score's parts gathered from the routing index.
    mutable double skill_sum = 0;
    mutable double affinity = 0;
    mutable bool touched = false;
  };
  // Personas by skill (with the proficiency) and by related sender (with the affinity), so a
  // routing decision costs one lookup per required skill and one for the sender instead of two
  // hash lookups per persona. Rebuilt on the first choose() after a profile changed.
  struct RoutingIndex {
    bool stale = true;
    std::unordered_map<std::string, std::vector<std::pair<const Slot*, double>>> by_skill;
    std::unordered_map<std::string, std::vector<std::pair<const Slot*, double>>> by_sender;
  };
  void refresh_index() const;

  Key key_of(const pb::Event& e) const;
  size_t capacity_of(const Slot& s) const;
  bool active(const Slot& s) const;
  const std::string* choose(const pb::Event& e) const;
  const std::string* choose_scored(const pb::Event& e) const;  // choose() after the gathering
  void assign(pb::Event& e, const std::string& persona, TimeUs now, EventChanges* changes);
  void release(pb::Event& e);  // leaves the persona's inbox and lease set
  void to_pending(pb::Event& e, const std::string& why, TimeUs now, EventChanges* changes);
  void to_dead(pb::Event& e, const std::string& why, TimeUs now, EventChanges* changes);
  void pump(TimeUs now, EventChanges* changes);
  void record(const pb::Event& e, EventChanges* changes);

  std::string tenant_;
  EventPolicy policy_;
  std::map<std::string, Slot> personas_;  // ordered: equal scores go to the lowest id
  mutable RoutingIndex index_;
  std::unordered_map<std::string, pb::Event> live_;  // PENDING, ASSIGNED, DELIVERED
  std::map<std::string, pb::Event> dead_;
  std::set<Key> pending_;
  std::set<std::pair<TimeUs, std::string>> leases_;
  std::unordered_map<std::string, std::string> avoid_;  // event -> persona whose lease ran out
};

}  // namespace nca
