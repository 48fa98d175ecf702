// tests/cluster/sim/linearizability_test.cpp: the KV linearizability checker on hand-made and
// randomly generated histories.
#include "cluster/sim/linearizability.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace nca::raft::sim {
namespace {

using Kind = KvOperation::Kind;

KvOperation put(uint64_t client, const std::string& key, const std::string& value, uint64_t call,
                uint64_t ret) {
  return KvOperation{client, Kind::put, key, value, call, ret, true};
}
KvOperation get(uint64_t client, const std::string& key, const std::string& value, uint64_t call,
                uint64_t ret) {
  return KvOperation{client, Kind::get, key, value, call, ret, true};
}
KvOperation put_no_reply(uint64_t client, const std::string& key, const std::string& value,
                         uint64_t call) {
  return KvOperation{client, Kind::put, key, value, call, 0, false};
}
KvOperation get_no_reply(uint64_t client, const std::string& key, const std::string& value,
                         uint64_t call) {
  return KvOperation{client, Kind::get, key, value, call, 0, false};
}

const char* name(Linearizability v) {
  switch (v) {
    case Linearizability::ok:
      return "ok";
    case Linearizability::violation:
      return "violation";
    case Linearizability::unknown:
      return "unknown";
  }
  return "?";
}

// Asserts the verdict and shows the explanation when it is not the expected one.
void expect_verdict(const std::vector<KvOperation>& history, Linearizability expected,
                    uint64_t budget = 10'000'000) {
  const LinearizabilityReport report = check_kv_history(history, budget);
  EXPECT_EQ(report.verdict, expected)
      << "got " << name(report.verdict) << " on key " << report.key << "\n"
      << report.explanation;
  if (expected == Linearizability::ok) {
    EXPECT_TRUE(report.explanation.empty());
  }
}

TEST(Linearizability, EmptyHistoryIsOk) { expect_verdict({}, Linearizability::ok); }

TEST(Linearizability, SequentialHistoryIsOk) {
  expect_verdict({get(1, "k", "", 0, 1), put(1, "k", "a", 2, 3), get(2, "k", "a", 4, 5),
                  put(2, "k", "b", 6, 7), get(1, "k", "b", 8, 9), get(3, "k", "b", 10, 11)},
                 Linearizability::ok);
}

TEST(Linearizability, ConcurrentOpsThatCanBeOrderedAreOk) {
  // Two overlapping puts, reads during the overlap seeing either order, a final read of the winner.
  expect_verdict({put(1, "k", "a", 0, 10), put(2, "k", "b", 1, 11), get(3, "k", "b", 2, 3),
                  get(4, "k", "a", 4, 12), get(3, "k", "a", 13, 14)},
                 Linearizability::ok);
  // A read concurrent with the first put may still see the initial absence.
  expect_verdict({put(1, "k", "a", 0, 10), get(2, "k", "", 5, 6), get(2, "k", "a", 11, 12)},
                 Linearizability::ok);
}

TEST(Linearizability, TouchingIntervalsAreConcurrent) {
  // The reply and the next call share a tick: the checker must not order them.
  expect_verdict({put(1, "k", "a", 0, 5), get(2, "k", "", 5, 6)}, Linearizability::ok);
  // One tick later they are ordered, and the stale read is caught.
  expect_verdict({put(1, "k", "a", 0, 5), get(2, "k", "", 6, 7)}, Linearizability::violation);
}

TEST(Linearizability, StaleReadAfterCompletedWriteIsViolation) {
  expect_verdict({put(1, "k", "a", 0, 1), put(2, "k", "b", 2, 3), get(3, "k", "a", 4, 5)},
                 Linearizability::violation);
}

TEST(Linearizability, ReadOfValueNeverWrittenIsViolation) {
  const LinearizabilityReport report =
      check_kv_history({put(1, "k", "a", 0, 1), get(2, "k", "zzz", 2, 3)});
  EXPECT_EQ(report.verdict, Linearizability::violation);
  EXPECT_NE(report.explanation.find("no put on this key writes"), std::string::npos)
      << report.explanation;
  // Even concurrently with every put: the value comes from nowhere.
  expect_verdict({put(1, "k", "a", 0, 10), get(2, "k", "b", 0, 10)}, Linearizability::violation);
}

TEST(Linearizability, LostWriteIsViolation) {
  // "b" was acknowledged, yet a later read still shows the older "a" and never "b".
  expect_verdict({put(1, "k", "a", 0, 1), put(2, "k", "b", 2, 3), get(3, "k", "a", 4, 5),
                  get(1, "k", "a", 6, 7)},
                 Linearizability::violation);
  // An acknowledged first write vanishes entirely.
  expect_verdict({put(1, "k", "a", 0, 1), get(2, "k", "", 5, 6)}, Linearizability::violation);
}

TEST(Linearizability, IncompletePutSeenLaterIsOk) {
  expect_verdict({put(1, "k", "a", 0, 1), put_no_reply(2, "k", "b", 2), get(3, "k", "a", 3, 4),
                  get(3, "k", "b", 100, 101)},
                 Linearizability::ok);
}

TEST(Linearizability, IncompletePutNeverSeenIsOk) {
  expect_verdict({put(1, "k", "a", 0, 1), put_no_reply(2, "k", "b", 2), get(3, "k", "a", 3, 4),
                  get(3, "k", "a", 100, 101), get(1, "k", "a", 200, 201)},
                 Linearizability::ok);
}

TEST(Linearizability, IncompletePutCannotTakeEffectBeforeItsCall) {
  expect_verdict({get(1, "k", "b", 0, 1), put_no_reply(2, "k", "b", 5)},
                 Linearizability::violation);
}

TEST(Linearizability, IncompletePutSeenThenOlderValueIsViolation) {
  // Once "b" has been read it took effect; "a" cannot come back without another put of "a".
  expect_verdict({put(1, "k", "a", 0, 1), put_no_reply(2, "k", "b", 2), get(3, "k", "b", 3, 4),
                  get(3, "k", "a", 5, 6)},
                 Linearizability::violation);
  // A second no-reply put of "a" can explain it: unobserved-looking puts must not be dropped
  // when their value is observed.
  expect_verdict({put(1, "k", "a", 0, 1), put_no_reply(2, "k", "b", 2), get(3, "k", "b", 3, 4),
                  put_no_reply(4, "k", "a", 4), get(3, "k", "a", 5, 6)},
                 Linearizability::ok);
}

TEST(Linearizability, IncompleteGetsAreIgnored) {
  expect_verdict({put(1, "k", "a", 0, 1), get_no_reply(2, "k", "garbage", 2),
                  get_no_reply(3, "k", "", 3), get(1, "k", "a", 4, 5)},
                 Linearizability::ok);
}

TEST(Linearizability, NonMonotonicReadIsViolation) {
  // No concurrent put: the newer value is read, then the older one.
  expect_verdict({put(1, "k", "a", 0, 1), put(1, "k", "b", 2, 3), get(2, "k", "b", 4, 5),
                  get(2, "k", "a", 6, 7)},
                 Linearizability::violation);
  // Even while "b" is still in flight, once it has been observed the register cannot go back.
  expect_verdict({put(1, "k", "a", 0, 1), put(2, "k", "b", 2, 20), get(3, "k", "b", 3, 4),
                  get(3, "k", "a", 5, 6)},
                 Linearizability::violation);
}

TEST(Linearizability, KeysAreIndependent) {
  // Interleaved in time, each key alone is fine; a shared register would be violated here.
  expect_verdict({put(1, "x", "1", 0, 1), put(2, "y", "2", 2, 3), get(3, "x", "1", 4, 5),
                  get(3, "y", "2", 6, 7), get(4, "z", "", 8, 9)},
                 Linearizability::ok);
  // A violation in y alone is reported on y.
  const LinearizabilityReport report =
      check_kv_history({put(1, "x", "1", 0, 1), put(2, "y", "2", 2, 3), get(3, "x", "1", 4, 5),
                        get(3, "y", "", 6, 7), get(4, "x", "1", 8, 9)});
  EXPECT_EQ(report.verdict, Linearizability::violation);
  EXPECT_EQ(report.key, "y");
}

TEST(Linearizability, ExplanationNamesKeyOpsAndPrefix) {
  const LinearizabilityReport report =
      check_kv_history({put(7, "user/42", "alpha", 10, 20), put(8, "user/42", "beta", 30, 40),
                        get(9, "user/42", "alpha", 50, 60), put(1, "other", "x", 0, 1)});
  ASSERT_EQ(report.verdict, Linearizability::violation);
  EXPECT_EQ(report.key, "user/42");
  const std::string& text = report.explanation;
  EXPECT_NE(text.find("\"user/42\""), std::string::npos) << text;
  EXPECT_NE(text.find("client 7 put \"alpha\" [10, 20]"), std::string::npos) << text;
  EXPECT_NE(text.find("client 9 get \"alpha\" [50, 60]"), std::string::npos) << text;
  EXPECT_NE(text.find("longest linearizable prefix: 2 of 3"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"other\""), std::string::npos) << text;
}

TEST(Linearizability, ExplanationEscapesAndTruncatesValues) {
  const std::string long_binary = std::string("\x01\"q") + std::string(200, 'v');
  const LinearizabilityReport report = check_kv_history({get(1, "k", long_binary, 0, 1)});
  ASSERT_EQ(report.verdict, Linearizability::violation);
  EXPECT_NE(report.explanation.find("\\x01\\\"q"), std::string::npos) << report.explanation;
  EXPECT_NE(report.explanation.find("(203 bytes)"), std::string::npos) << report.explanation;
  EXPECT_LT(report.explanation.size(), 2000u);
}

TEST(Linearizability, MalformedHistoryIsRejected) {
  const LinearizabilityReport report =
      check_kv_history({put(1, "k", "a", 0, 1), get(2, "bad", "a", 10, 5)});
  EXPECT_EQ(report.verdict, Linearizability::violation);
  EXPECT_EQ(report.key, "bad");
  EXPECT_EQ(report.explanation.rfind("malformed history", 0), 0u) << report.explanation;

  KvOperation odd = get(1, "k", "", 0, 1);
  odd.kind = static_cast<Kind>(7);
  const LinearizabilityReport kind_report = check_kv_history({odd});
  EXPECT_EQ(kind_report.verdict, Linearizability::violation);
  EXPECT_EQ(kind_report.explanation.rfind("malformed history", 0), 0u) << kind_report.explanation;

  // The reply time of an op without reply is meaningless, so it is not validated.
  expect_verdict({KvOperation{1, Kind::put, "k", "a", 10, 3, false}}, Linearizability::ok);
}

// A random register execution that is linearizable by construction: each op gets a linearization
// point inside its interval, the ops are replayed in that order, and gets report what they saw.
struct GeneratorOptions {
  int clients = 8;
  int ops_per_client = 40;
  int keys = 1;
  int no_reply_percent = 5;
};

std::vector<KvOperation> generate_linearizable(std::mt19937_64& rng,
                                               const GeneratorOptions& options) {
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  struct Planned {
    KvOperation op;
    bool takes_effect;
    uint64_t point;
    uint64_t tie_break;
  };
  std::vector<Planned> planned;
  for (int c = 0; c < options.clients; ++c) {
    uint64_t now = uniform(0, 5);
    for (int i = 0; i < options.ops_per_client; ++i) {
      KvOperation op;
      op.client = static_cast<uint64_t>(c + 1);
      op.kind = uniform(0, 1) == 0 ? Kind::put : Kind::get;
      op.key = "key" + std::to_string(uniform(0, static_cast<uint64_t>(options.keys - 1)));
      op.value = op.kind == Kind::put ? "c" + std::to_string(c) + "-" + std::to_string(i) : "";
      op.call = now + uniform(0, 3);
      op.completed = uniform(0, 99) >= static_cast<uint64_t>(options.no_reply_percent);
      Planned p{op, true, 0, uniform(0, ~uint64_t{0})};
      if (op.completed) {
        p.op.ret = op.call + uniform(0, 20);
        p.point = uniform(op.call, p.op.ret);
        now = p.op.ret + 1;
      } else {
        // A timed-out client moves on; its put may land much later, or never.
        // A get without reply observed nothing anyone saw: it never takes effect.
        p.takes_effect = op.kind == Kind::put && uniform(0, 1) == 0;
        p.point = op.call + uniform(0, 100);
        p.op.ret = 0;
        if (op.kind == Kind::get) p.op.value = "unseen-" + std::to_string(i);
        now = op.call + 25;
      }
      planned.push_back(p);
    }
  }
  std::vector<size_t> order(planned.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (planned[a].point != planned[b].point) return planned[a].point < planned[b].point;
    return planned[a].tie_break < planned[b].tie_break;
  });
  std::map<std::string, std::string> registers;
  for (size_t i : order) {
    Planned& p = planned[i];
    if (!p.takes_effect) continue;
    if (p.op.kind == Kind::put) {
      registers[p.op.key] = p.op.value;
    } else {
      p.op.value = registers[p.op.key];
    }
  }
  std::vector<KvOperation> history;
  for (const Planned& p : planned) history.push_back(p.op);
  std::shuffle(history.begin(), history.end(), rng);  // the checker must not rely on input order
  return history;
}

uint64_t test_seed() {
  if (const char* env = std::getenv("NCA_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

TEST(Linearizability, RandomLinearizableHistoriesPassAndCorruptedOnesFail) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with NCA_TEST_SEED=" + std::to_string(seed) + ")");
  std::cout << "[ linearizability ] random history seed " << seed << std::endl;
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    GeneratorOptions options;
    options.clients = 2 + round % 9;
    options.keys = 1 + round % 3;
    options.ops_per_client = 30;
    std::vector<KvOperation> history = generate_linearizable(rng, options);
    const LinearizabilityReport clean = check_kv_history(history);
    ASSERT_EQ(clean.verdict, Linearizability::ok) << clean.key << "\n" << clean.explanation;

    std::vector<size_t> completed_gets;
    for (size_t i = 0; i < history.size(); ++i) {
      if (history[i].kind == Kind::get && history[i].completed) completed_gets.push_back(i);
    }
    ASSERT_FALSE(completed_gets.empty());
    const size_t victim = completed_gets[rng() % completed_gets.size()];
    history[victim].value = "never-written";
    const LinearizabilityReport corrupted = check_kv_history(history);
    EXPECT_EQ(corrupted.verdict, Linearizability::violation) << corrupted.explanation;
    EXPECT_EQ(corrupted.key, history[victim].key);
    EXPECT_NE(corrupted.explanation.find("#" + std::to_string(victim) + " "), std::string::npos);
  }
}

// The definition, executed literally: some subset of the no-reply puts plus every completed op,
// in some order that respects real time, replays on a register to the observed values.
bool brute_force_linearizable(const std::vector<KvOperation>& history) {
  std::vector<size_t> required, optional;
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].completed) {
      required.push_back(i);
    } else if (history[i].kind == Kind::put) {
      optional.push_back(i);
    }
  }
  for (uint64_t mask = 0; mask < (uint64_t{1} << optional.size()); ++mask) {
    std::vector<size_t> chosen = required;
    for (size_t b = 0; b < optional.size(); ++b) {
      if (mask & (uint64_t{1} << b)) chosen.push_back(optional[b]);
    }
    std::sort(chosen.begin(), chosen.end());
    do {
      bool fits = true;
      std::map<std::string, std::string> registers;
      for (size_t a = 0; a < chosen.size() && fits; ++a) {
        const KvOperation& op = history[chosen[a]];
        for (size_t b = a + 1; b < chosen.size() && fits; ++b) {
          const KvOperation& later = history[chosen[b]];
          if (later.completed && later.ret < op.call) fits = false;
        }
        if (op.kind == Kind::put) {
          registers[op.key] = op.value;
        } else if (registers[op.key] != op.value) {
          fits = false;
        }
      }
      if (fits) return true;
    } while (std::next_permutation(chosen.begin(), chosen.end()));
  }
  return false;
}

TEST(Linearizability, AgreesWithBruteForceOnSmallRandomHistories) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with NCA_TEST_SEED=" + std::to_string(seed) + ")");
  std::cout << "[ linearizability ] brute-force comparison seed " << seed << std::endl;
  std::mt19937_64 rng(seed);
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const std::vector<std::string> values = {"", "a", "b", "c"};
  int linearizable = 0, violations = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<KvOperation> history;
    const size_t count = uniform(1, 7);
    for (size_t i = 0; i < count; ++i) {
      KvOperation op;
      op.client = uniform(1, 3);
      op.kind = uniform(0, 1) == 0 ? Kind::put : Kind::get;
      op.key = uniform(0, 4) == 0 ? "k2" : "k1";
      op.value = values[op.kind == Kind::put ? uniform(1, 3) : uniform(0, 3)];
      op.call = uniform(0, 10);
      op.ret = op.call + uniform(0, 4);
      op.completed = uniform(0, 4) != 0;
      history.push_back(op);
    }
    const bool expected = brute_force_linearizable(history);
    const LinearizabilityReport report = check_kv_history(history);
    ASSERT_EQ(report.verdict, expected ? Linearizability::ok : Linearizability::violation)
        << "round " << round << "\n"
        << report.explanation;
    (expected ? linearizable : violations)++;
  }
  // Both outcomes must be exercised, or the comparison proves little.
  EXPECT_GT(linearizable, 30);
  EXPECT_GT(violations, 30);
}

TEST(Linearizability, BudgetExhaustedIsUnknown) {
  std::mt19937_64 rng(42);  // fixed: the history only needs to be big and concurrent
  GeneratorOptions options;
  options.clients = 10;
  options.ops_per_client = 30;
  const std::vector<KvOperation> history = generate_linearizable(rng, options);
  const LinearizabilityReport starved = check_kv_history(history, 10);
  EXPECT_EQ(starved.verdict, Linearizability::unknown) << starved.explanation;
  EXPECT_EQ(starved.key, "key0");
  EXPECT_NE(starved.explanation.find("budget of 10 steps"), std::string::npos);
  // The same history with a real budget is decided.
  expect_verdict(history, Linearizability::ok);
}

TEST(Linearizability, ViolationOutranksUnknown) {
  std::mt19937_64 rng(7);
  GeneratorOptions options;
  options.clients = 10;
  options.ops_per_client = 30;
  std::vector<KvOperation> history = generate_linearizable(rng, options);  // all on "key0"
  history.push_back(put(1, "zz", "a", 0, 1));
  history.push_back(get(2, "zz", "", 2, 3));
  const LinearizabilityReport report = check_kv_history(history, 10);
  EXPECT_EQ(report.verdict, Linearizability::violation) << report.explanation;
  EXPECT_EQ(report.key, "zz");
}

TEST(Linearizability, ThreeHundredOpsEightClientsIsFast) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  GeneratorOptions options;
  options.clients = 8;
  options.ops_per_client = 38;  // ~300 ops on one key
  std::vector<KvOperation> history = generate_linearizable(rng, options);

  const auto start = std::chrono::steady_clock::now();
  const LinearizabilityReport clean = check_kv_history(history);
  const auto mid = std::chrono::steady_clock::now();
  ASSERT_EQ(clean.verdict, Linearizability::ok) << clean.explanation;

  // Worst case for the search: the corruption sits at the end, so every prefix is explored.
  size_t last_get = history.size();
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].kind == Kind::get && history[i].completed &&
        (last_get == history.size() || history[i].call > history[last_get].call)) {
      last_get = i;
    }
  }
  ASSERT_LT(last_get, history.size());
  history[last_get].value = "never-written";
  const LinearizabilityReport corrupted = check_kv_history(history);
  const auto end = std::chrono::steady_clock::now();
  EXPECT_EQ(corrupted.verdict, Linearizability::violation);

  using ms = std::chrono::duration<double, std::milli>;
  std::cout << "[ linearizability ] " << history.size() << " ops, 8 clients: ok in "
            << ms(mid - start).count() << " ms, violation in " << ms(end - mid).count() << " ms"
            << std::endl;
}

}  // namespace
}  // namespace nca::raft::sim
