// cluster/sim/linearizability.cpp: Porcupine-style WGL search over per-key register histories.
#include "cluster/sim/linearizability.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nca::raft::sim {
namespace {

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

// Every distinct value of a key gets a small id, so the model state is one word and memoized
// states compare cheaply. Id 0 is the absent value "".
using ValueId = uint32_t;
constexpr ValueId kAbsent = 0;
// What a get that observed a value no put writes is mapped to: no register state ever equals it.
constexpr ValueId kNeverWritten = std::numeric_limits<ValueId>::max();

constexpr size_t kNil = std::numeric_limits<size_t>::max();

// Explanations stay readable (and bounded) for big histories and long or binary values.
constexpr size_t kMaxListedOps = 400;
constexpr size_t kMaxListedPrefix = 64;
constexpr size_t kMaxShownValueBytes = 40;

// One operation of a single key's sub-history, in the checker's terms.
struct KeyOp {
  size_t history_index = 0;  // position in the caller's history, so reports point back to it
  bool is_put = false;
  ValueId value = kAbsent;
  uint64_t call = 0;
  uint64_t ret = 0;  // kInfinity when the op got no reply
};

// splitmix64's finalizer: a cheap, well-mixing bijection on 64-bit words.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The memo of search states already explored: (set of linearized ops, register value). Reaching a
// state again through a different order cannot succeed where the first visit failed, which is what
// keeps WGL polynomial-ish on histories with bounded concurrency.
//
// Entries live in one flat arena (hash, state, bitset words) with an open-addressing index over it,
// because a node-based set would allocate per state and dominate the search time. The caller
// supplies the hash (maintained incrementally, Zobrist-style) so inserting costs one bitset copy.
class VisitedStates {
 public:
  explicit VisitedStates(size_t bitset_words) : stride_(bitset_words + 2), slots_(1024, 0) {}

  // Records the state; returns false if it was already recorded. bits.size() must be the
  // bitset_words given at construction.
  bool insert(uint64_t hash, const std::vector<uint64_t>& bits, ValueId state) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    // The table is at most half full, so the probe meets an empty slot within slots_.size() steps.
    for (size_t probe = 0; probe < slots_.size(); ++probe, i = (i + 1) & mask) {
      const size_t slot = slots_[i];
      if (slot == 0) {
        arena_.push_back(hash);
        arena_.push_back(state);
        arena_.insert(arena_.end(), bits.begin(), bits.end());
        slots_[i] = ++count_;
        return true;
      }
      const uint64_t* entry = &arena_[(slot - 1) * stride_];
      if (entry[0] == hash && entry[1] == state &&
          std::equal(bits.begin(), bits.end(), entry + 2)) {
        return false;
      }
    }
    return false;  // unreachable while the load factor stays below one half
  }

 private:
  void grow() {
    std::vector<size_t> bigger(slots_.size() * 2, 0);
    const size_t mask = bigger.size() - 1;
    for (size_t slot = 1; slot <= count_; ++slot) {
      size_t i = arena_[(slot - 1) * stride_] & mask;
      for (size_t probe = 0; probe < bigger.size() && bigger[i] != 0; ++probe) i = (i + 1) & mask;
      bigger[i] = slot;
    }
    slots_.swap(bigger);
  }

  size_t stride_;  // arena words per entry: hash, state, then the bitset
  std::vector<uint64_t> arena_;
  std::vector<size_t> slots_;  // 0 = empty, otherwise 1 + entry number in arena_
  size_t count_ = 0;
};

struct SearchResult {
  Linearizability verdict = Linearizability::ok;
  std::vector<size_t> longest_prefix;  // indices into the key's ops, in linearization order
  ValueId state_after_prefix = kAbsent;
  uint64_t steps = 0;
};

// The WGL search over one key's ops. Events are sorted by time (calls before returns at equal
// times, so touching intervals are concurrent; no-reply returns last) and threaded on a doubly
// linked list. The DFS walks the list: at a call it tries to linearize that op now (lifting the
// op's call and return out of the list), at a return whose op is still pending it backtracks, since
// that op had to take effect before it returned.
SearchResult search_linearization(const std::vector<KeyOp>& ops, uint64_t max_steps) {
  SearchResult result;
  const size_t n = ops.size();
  if (n == 0) return result;

  struct Event {
    uint64_t time;
    bool is_return;
    size_t op;
  };
  std::vector<Event> events;
  events.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    events.push_back({ops[i].call, false, i});
    events.push_back({ops[i].ret, true, i});
  }
  std::sort(events.begin(), events.end(), [&](const Event& a, const Event& b) {
    // A no-reply return must come after every real event, even one at time kInfinity.
    const bool a_open = a.is_return && ops[a.op].ret == kInfinity;
    const bool b_open = b.is_return && ops[b.op].ret == kInfinity;
    if (a_open != b_open) return b_open;
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return b.is_return;
    return a.op < b.op;
  });

  // Nodes 0..2n-1 are the events in order; node 2n is the head sentinel.
  const size_t head = 2 * n;
  std::vector<size_t> next(2 * n + 1), prev(2 * n + 1), match(2 * n, kNil);
  std::vector<size_t> call_node_of_op(n, kNil);
  for (size_t e = 0; e < 2 * n; ++e) {
    next[e] = e + 1 < 2 * n ? e + 1 : kNil;
    prev[e] = e == 0 ? head : e - 1;
    if (!events[e].is_return) call_node_of_op[events[e].op] = e;
  }
  next[head] = 0;
  prev[head] = kNil;
  for (size_t e = 0; e < 2 * n; ++e) {
    if (events[e].is_return) match[call_node_of_op[events[e].op]] = e;
  }

  auto lift = [&](size_t call) {
    next[prev[call]] = next[call];
    if (next[call] != kNil) prev[next[call]] = prev[call];
    const size_t ret = match[call];
    next[prev[ret]] = next[ret];
    if (next[ret] != kNil) prev[next[ret]] = prev[ret];
  };
  // Exact inverse of lift (dancing links): re-insert in the reverse order.
  auto unlift = [&](size_t call) {
    const size_t ret = match[call];
    next[prev[ret]] = ret;
    if (next[ret] != kNil) prev[next[ret]] = ret;
    next[prev[call]] = call;
    if (next[call] != kNil) prev[next[call]] = call;
  };

  const size_t words = (n + 63) / 64;
  std::vector<uint64_t> linearized(words, 0);
  std::vector<uint64_t> zobrist(n);
  for (size_t i = 0; i < n; ++i) zobrist[i] = mix64(i * 0x2545f4914f6cdd1dULL + 1);
  auto state_hash = [](uint64_t set_hash, ValueId state) {
    return set_hash ^ mix64(0xd1b54a32d192ed03ULL + state);
  };
  VisitedStates visited(words);

  struct Frame {
    size_t call_node;
    ValueId state_before;
  };
  std::vector<Frame> stack;
  stack.reserve(n);
  uint64_t set_hash = 0;
  ValueId state = kAbsent;
  size_t entry = next[head];

  auto record_if_longest = [&]() {
    if (stack.size() <= result.longest_prefix.size()) return;
    result.longest_prefix.clear();
    for (const Frame& f : stack) result.longest_prefix.push_back(events[f.call_node].op);
    result.state_after_prefix = state;
  };

  while (next[head] != kNil) {
    if (result.steps >= max_steps) {
      result.verdict = Linearizability::unknown;
      return result;
    }
    ++result.steps;
    // The list always ends in a return, so the walk cannot run off its end; treating kNil like a
    // return (backtrack) keeps the loop safe regardless.
    if (entry != kNil && !events[entry].is_return) {
      const size_t op_index = events[entry].op;
      const KeyOp& op = ops[op_index];
      const bool legal = op.is_put || op.value == state;
      if (legal) {
        const ValueId new_state = op.is_put ? op.value : state;
        const uint64_t new_set_hash = set_hash ^ zobrist[op_index];
        linearized[op_index / 64] |= uint64_t{1} << (op_index % 64);
        if (visited.insert(state_hash(new_set_hash, new_state), linearized, new_state)) {
          stack.push_back({entry, state});
          state = new_state;
          set_hash = new_set_hash;
          lift(entry);
          record_if_longest();
          entry = next[head];
          continue;
        }
        linearized[op_index / 64] &= ~(uint64_t{1} << (op_index % 64));
      }
      entry = next[entry];
    } else {
      if (stack.empty()) {
        result.verdict = Linearizability::violation;
        return result;
      }
      const Frame top = stack.back();
      stack.pop_back();
      const size_t op_index = events[top.call_node].op;
      state = top.state_before;
      set_hash ^= zobrist[op_index];
      linearized[op_index / 64] &= ~(uint64_t{1} << (op_index % 64));
      unlift(top.call_node);
      entry = next[top.call_node];
    }
  }
  return result;
}

std::string quote(const std::string& value) {
  std::string out = "\"";
  const size_t shown = std::min(value.size(), kMaxShownValueBytes);
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown < value.size()) out += "...(" + std::to_string(value.size()) + " bytes)";
  return out;
}

std::string describe(const std::vector<KvOperation>& history, size_t index) {
  const KvOperation& op = history[index];
  std::string out = "#" + std::to_string(index) + " client " + std::to_string(op.client) + " ";
  out += op.kind == KvOperation::Kind::put ? "put " : "get ";
  out += quote(op.value) + " [" + std::to_string(op.call) + ", ";
  out += op.completed ? std::to_string(op.ret) + "]" : "no reply)";
  return out;
}

bool malformed(const KvOperation& op, std::string* why) {
  if (op.kind != KvOperation::Kind::put && op.kind != KvOperation::Kind::get) {
    *why = "unknown operation kind " + std::to_string(static_cast<unsigned>(op.kind));
    return true;
  }
  if (op.completed && op.ret < op.call) {
    *why = "it returns at " + std::to_string(op.ret) + ", before its call at " +
           std::to_string(op.call);
    return true;
  }
  return false;
}

// The ops of one key, ready for the search, plus what the explanation needs to mention.
struct KeyHistory {
  std::vector<KeyOp> ops;
  std::vector<std::string> values;      // ValueId -> value; values[0] == ""
  std::vector<size_t> left_out;         // history indices of no-reply puts nobody observed
  std::vector<size_t> unwritten_reads;  // history indices of gets of a value no put writes
};

// Builds the search input for one key. No-reply gets are dropped: they observed nothing anyone
// saw. No-reply puts whose value no completed get observed are dropped too: a linearization with
// them can drop them (no get reads from them), and one without them can append them at the end
// (their return is +infinity), so the verdict is unchanged while the search space shrinks, which
// matters because every such put stays concurrent with the rest of the history.
KeyHistory build_key_history(const std::vector<KvOperation>& history,
                             const std::vector<size_t>& indices) {
  KeyHistory kh;
  kh.values.push_back("");
  std::unordered_map<std::string, ValueId> ids{{"", kAbsent}};
  for (size_t index : indices) {
    const KvOperation& op = history[index];
    if (op.kind == KvOperation::Kind::put && ids.emplace(op.value, kh.values.size()).second) {
      kh.values.push_back(op.value);
    }
  }
  std::vector<bool> observed(kh.values.size(), false);
  observed[kAbsent] = true;
  for (size_t index : indices) {
    const KvOperation& op = history[index];
    if (op.kind != KvOperation::Kind::get || !op.completed) continue;
    const auto it = ids.find(op.value);
    if (it == ids.end()) {
      kh.unwritten_reads.push_back(index);
    } else {
      observed[it->second] = true;
    }
  }
  for (size_t index : indices) {
    const KvOperation& op = history[index];
    const bool is_put = op.kind == KvOperation::Kind::put;
    if (!op.completed && !is_put) continue;
    const auto it = ids.find(op.value);
    const ValueId value = it == ids.end() ? kNeverWritten : it->second;
    if (!op.completed && !observed[value]) {
      kh.left_out.push_back(index);
      continue;
    }
    kh.ops.push_back({index, is_put, value, op.call, op.completed ? op.ret : kInfinity});
  }
  return kh;
}

std::string explain_violation(const std::vector<KvOperation>& history,
                              const std::vector<size_t>& indices, const std::string& key,
                              const KeyHistory& kh, const SearchResult& search) {
  std::string out = "key " + quote(key) + ": no linearization of its " +
                    std::to_string(kh.ops.size()) + " checked operations (search took " +
                    std::to_string(search.steps) + " steps)\n";
  for (size_t index : kh.unwritten_reads) {
    out += "  note: " + describe(history, index) + " observed a value no put on this key writes\n";
  }
  std::vector<size_t> by_call = indices;
  std::stable_sort(by_call.begin(), by_call.end(),
                   [&](size_t a, size_t b) { return history[a].call < history[b].call; });
  out += "operations by call time:\n";
  size_t listed = 0;
  for (size_t index : by_call) {
    if (listed == kMaxListedOps) {
      out += "  ... and " + std::to_string(by_call.size() - listed) + " more\n";
      break;
    }
    ++listed;
    out += "  " + describe(history, index);
    const KvOperation& op = history[index];
    if (!op.completed && op.kind == KvOperation::Kind::get) out += " (ignored: no reply)";
    if (std::find(kh.left_out.begin(), kh.left_out.end(), index) != kh.left_out.end()) {
      out += " (ignored: no reply and its value is never observed)";
    }
    out += "\n";
  }
  const std::vector<size_t>& prefix = search.longest_prefix;
  out += "longest linearizable prefix: " + std::to_string(prefix.size()) + " of " +
         std::to_string(kh.ops.size()) + " operations";
  size_t first_shown = 0;
  if (prefix.size() > kMaxListedPrefix) {
    first_shown = prefix.size() - kMaxListedPrefix;
    out += " (the first " + std::to_string(first_shown) + " omitted)";
  }
  out += "\n";
  for (size_t i = first_shown; i < prefix.size(); ++i) {
    out += "  " + describe(history, kh.ops[prefix[i]].history_index) + "\n";
  }
  out += "after it the register holds " + quote(kh.values[search.state_after_prefix]) +
         ", and no remaining operation can be linearized next without a dead end\n";
  return out;
}

}  // namespace

LinearizabilityReport check_kv_history(const std::vector<KvOperation>& history,
                                       uint64_t max_search_steps) {
  LinearizabilityReport report;
  for (size_t i = 0; i < history.size(); ++i) {
    std::string why;
    if (malformed(history[i], &why)) {
      report.verdict = Linearizability::violation;
      report.key = history[i].key;
      report.explanation = "malformed history: operation " + describe(history, i) + " on key " +
                           quote(history[i].key) + " is invalid: " + why;
      return report;
    }
  }

  // std::map: keys are checked in a fixed order, so reports are reproducible run to run.
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < history.size(); ++i) by_key[history[i].key].push_back(i);

  bool exhausted = false;
  for (const auto& [key, indices] : by_key) {
    const KeyHistory kh = build_key_history(history, indices);
    const SearchResult search = search_linearization(kh.ops, max_search_steps);
    if (search.verdict == Linearizability::violation) {
      report.verdict = Linearizability::violation;
      report.key = key;
      report.explanation = explain_violation(history, indices, key, kh, search);
      return report;
    }
    if (search.verdict == Linearizability::unknown && !exhausted) {
      exhausted = true;
      report.verdict = Linearizability::unknown;
      report.key = key;
      report.explanation =
          "key " + quote(key) + ": search budget of " + std::to_string(max_search_steps) +
          " steps exhausted on its " + std::to_string(kh.ops.size()) +
          " checked operations (longest " +
          "linearizable prefix found: " + std::to_string(search.longest_prefix.size()) +
          " operations)";
    }
  }
  return report;
}

}  // namespace nca::raft::sim
