// tests/cluster/sim/kv_state_machine_test.cpp: the simulator's KV state machine: command encoding,
// tolerance of garbage, idempotent puts, and snapshot serialize/restore.
#include "cluster/sim/kv_state_machine.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace nca::raft::sim {
namespace {

using CommandKind = KvCommand::Kind;

KvCommand put(uint64_t client, uint64_t seq, std::string key, std::string value) {
  return KvCommand{CommandKind::put, client, seq, std::move(key), std::move(value)};
}

KvCommand get(uint64_t client, uint64_t seq, std::string key) {
  return KvCommand{CommandKind::get, client, seq, std::move(key), ""};
}

::testing::AssertionResult same(const KvCommand& a, const KvCommand& b) {
  if (a.kind == b.kind && a.client == b.client && a.seq == b.seq && a.key == b.key &&
      a.value == b.value) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "kind " << static_cast<int>(a.kind) << "/" << static_cast<int>(b.kind) << " client "
         << a.client << "/" << b.client << " seq " << a.seq << "/" << b.seq << " key '" << a.key
         << "'/'" << b.key << "' value '" << a.value << "'/'" << b.value << "'";
}

uint64_t fresh_seed() {
  uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << std::endl;
  return seed;
}

TEST(KvStateMachineTest, EncodeDecodeRoundTrip) {
  std::string binary("\0:1:\xff\n9", 7);
  std::vector<KvCommand> commands = {
      put(1, 1, "k", "v"),
      get(2, 7, "k"),
      put(3, 4, "", ""),
      get(3, 5, ""),
      put(9, 9, binary, binary + binary),
      put(5, 6, "12:34", "5:"),
      put(0, 0, std::string(1000, 'k'), std::string(5000, 'v')),
      put(9999999999999999999ull, 1234567890123456789ull, "big", "ids"),
  };
  for (const KvCommand& c : commands) {
    std::string data = encode_command(c);
    auto back = decode_command(data);
    ASSERT_TRUE(back.has_value()) << "could not decode key of " << c.key.size() << " bytes";
    EXPECT_TRUE(same(*back, c));
  }
  EXPECT_NE(encode_command(put(1, 1, "k", "v")), encode_command(get(1, 1, "k")));
}

TEST(KvStateMachineTest, EncodeDecodeRoundTripForTheLargestIds) {
  // UINT64_MAX has 20 digits; one more than that overflows and is refused.
  KvCommand c = put(UINT64_MAX, UINT64_MAX, "k", "v");
  auto back = decode_command(encode_command(c));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(same(*back, c));
  std::string overflow = encode_command(c);
  overflow.replace(overflow.find("18446744073709551615"), 20, "18446744073709551616");
  EXPECT_FALSE(decode_command(overflow).has_value());
}

TEST(KvStateMachineTest, MalformedCommandsAreIgnored) {
  KvStateMachine kv;
  ASSERT_TRUE(kv.apply(encode_command(put(1, 1, "k", "v"))).has_value());
  const std::string before = kv.serialize();
  const std::string good = encode_command(put(1, 2, "k", "changed"));
  std::vector<std::string> bad = {
      "",                       // a new leader's no-op
      "X1:11:21:k1:v",          // unknown kind
      "P",                      // nothing after the kind
      good + "x",               // trailing bytes
      good.substr(1),           // no kind
      "P1:12:21:k1:v",          // a length that runs into the next field
      "Pa:11:21:k1:v",          // a non-digit length
      "P:1:21:k1:v",            // an empty length
      "P1:x1:21:k1:v",          // a non-numeric client
      "P0:1:21:k1:v",           // an empty client
      "P1:11:21:k9:v",          // a value longer than what is left
      "P1:11:21:k1234567890:",  // a ten-digit length
      "G1:11:2",                // missing key and value
  };
  for (const std::string& data : bad) {
    EXPECT_FALSE(decode_command(data).has_value()) << "'" << data << "'";
    EXPECT_FALSE(kv.apply(data).has_value()) << "'" << data << "'";
  }
  EXPECT_EQ(kv.serialize(), before);
  EXPECT_EQ(kv.get("k"), "v");
}

TEST(KvStateMachineTest, EveryStrictPrefixOfACommandIsRejected) {
  for (const KvCommand& c : {put(12, 345, "key:1", "value"), get(1, 1, ""), put(1, 1, "", "")}) {
    std::string data = encode_command(c);
    for (size_t n = 0; n < data.size(); ++n) {
      EXPECT_FALSE(decode_command(data.substr(0, n)).has_value()) << data.substr(0, n);
    }
  }
}

TEST(KvStateMachineTest, RandomBytesNeverCrashAndOnlyValidCommandsChangeState) {
  uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::string alphabet = "PG0123456789::kv\xff";
  KvStateMachine kv;
  int decoded = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string data;
    if (rng() % 2 == 0) {
      // A mutated valid command: likely to get deep into the parser.
      data = encode_command(put(rng() % 20, rng() % 20, "k" + std::to_string(rng() % 5),
                                std::string(rng() % 4, 'v')));
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !data.empty(); ++e) {
        size_t pos = rng() % data.size();
        switch (rng() % 3) {
          case 0:
            data[pos] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            data.erase(pos, 1);
            break;
          default:
            data.insert(pos, 1, alphabet[rng() % alphabet.size()]);
        }
      }
    } else {
      data.resize(rng() % 24);
      for (char& ch : data) ch = rng() % 4 == 0 ? static_cast<char>(rng()) : alphabet[rng() % 16];
    }
    std::string before = kv.serialize();
    auto command = decode_command(data);
    auto applied = kv.apply(data);
    ASSERT_EQ(command.has_value(), applied.has_value()) << "iteration " << i;
    if (!command) {
      ASSERT_EQ(kv.serialize(), before) << "garbage changed the state at iteration " << i;
      continue;
    }
    ++decoded;
    // Whatever decodes re-encodes to something that decodes the same.
    auto again = decode_command(encode_command(*command));
    ASSERT_TRUE(again.has_value()) << "iteration " << i;
    ASSERT_TRUE(same(*again, *command)) << "iteration " << i;
  }
  EXPECT_GT(decoded, 0);
}

TEST(KvStateMachineTest, PutsAreIdempotentPerClientAndSeq) {
  KvStateMachine kv;
  auto first = kv.apply(encode_command(put(1, 1, "k", "a")));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(kv.get("k"), "a");
  // A retried proposal of the same seq commits again: no effect.
  ASSERT_TRUE(kv.apply(encode_command(put(1, 1, "k", "b"))).has_value());
  EXPECT_EQ(kv.get("k"), "a");
  // The next seq applies.
  kv.apply(encode_command(put(1, 2, "k", "b")));
  EXPECT_EQ(kv.get("k"), "b");
  // An older seq of the same client (a late duplicate) does not.
  kv.apply(encode_command(put(1, 1, "k", "a")));
  EXPECT_EQ(kv.get("k"), "b");
  // Seqs are per client.
  kv.apply(encode_command(put(2, 1, "k", "c")));
  EXPECT_EQ(kv.get("k"), "c");
  // Seqs may skip; what counts is that they grow.
  kv.apply(encode_command(put(1, 10, "other", "x")));
  kv.apply(encode_command(put(1, 9, "other", "y")));
  EXPECT_EQ(kv.get("other"), "x");
}

TEST(KvStateMachineTest, APutWithSeqZeroTakesEffectOnce) {
  KvStateMachine kv;
  kv.apply(encode_command(put(1, 0, "k", "zero")));
  EXPECT_EQ(kv.get("k"), "zero");
  kv.apply(encode_command(put(1, 0, "k", "again")));
  EXPECT_EQ(kv.get("k"), "zero");
}

TEST(KvStateMachineTest, GetThroughTheLogObservesTheCurrentValue) {
  KvStateMachine kv;
  auto missing = kv.apply(encode_command(get(1, 1, "k")));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->kind, CommandKind::get);
  EXPECT_EQ(missing->value, "");
  kv.apply(encode_command(put(2, 1, "k", "one")));
  auto seen = kv.apply(encode_command(get(1, 2, "k")));
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->value, "one");
  EXPECT_EQ(seen->client, 1u);
  EXPECT_EQ(seen->seq, 2u);
  kv.apply(encode_command(put(2, 2, "k", "two")));
  // A get carrying a value in its encoding still reports what the state holds.
  KvCommand lying = get(1, 3, "k");
  lying.value = "stale";
  auto observed = kv.apply(encode_command(lying));
  ASSERT_TRUE(observed.has_value());
  EXPECT_EQ(observed->value, "two");
  // Gets do not change the state or the client's put seq.
  kv.apply(encode_command(get(2, 50, "k")));
  kv.apply(encode_command(put(2, 3, "k", "three")));
  EXPECT_EQ(kv.get("k"), "three");
}

TEST(KvStateMachineTest, SerializeRestoreRoundTrip) {
  KvStateMachine kv;
  std::string binary("a\0:b", 4);
  kv.apply(encode_command(put(1, 3, "k1", "v1")));
  kv.apply(encode_command(put(2, 8, binary, binary)));
  kv.apply(encode_command(put(3, 1, "", "empty key")));
  kv.apply(encode_command(put(4, 1, "empty value", "")));
  std::string data = kv.serialize();

  KvStateMachine copy;
  copy.apply(encode_command(put(7, 7, "to be replaced", "x")));
  Status s = copy.restore(data);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(copy.serialize(), data);
  EXPECT_EQ(copy.get("k1"), "v1");
  EXPECT_EQ(copy.get(binary), binary);
  EXPECT_EQ(copy.get(""), "empty key");
  EXPECT_EQ(copy.get("to be replaced"), "");
  // The idempotency table came along: client 1's seq 3 is a duplicate there too.
  copy.apply(encode_command(put(1, 3, "k1", "again")));
  EXPECT_EQ(copy.get("k1"), "v1");
  copy.apply(encode_command(put(1, 4, "k1", "next")));
  EXPECT_EQ(copy.get("k1"), "next");

  // An empty state round-trips, and empty data restores an empty state.
  KvStateMachine empty;
  KvStateMachine target;
  ASSERT_TRUE(target.restore(empty.serialize()).ok());
  EXPECT_EQ(target.serialize(), empty.serialize());
  ASSERT_TRUE(copy.restore("").ok());
  EXPECT_EQ(copy.serialize(), empty.serialize());
}

TEST(KvStateMachineTest, MalformedSnapshotIsDataLossAndChangesNothing) {
  KvStateMachine source;
  source.apply(encode_command(put(1, 1, "a", "1")));
  source.apply(encode_command(put(2, 5, "b", "22")));
  const std::string good = source.serialize();

  KvStateMachine kv;
  kv.apply(encode_command(put(9, 9, "mine", "keep")));
  const std::string before = kv.serialize();
  std::vector<std::string> bad = {"garbage",   good + "x",      "9:1",
                                  "1:21:a1:1", "99999999999:0", std::string("\xff\x00", 2)};
  for (size_t n = 1; n < good.size(); ++n) bad.push_back(good.substr(0, n));
  for (const std::string& data : bad) {
    Status s = kv.restore(data);
    ASSERT_FALSE(s.ok()) << "restored '" << data << "'";
    EXPECT_EQ(s.code(), ErrorCode::data_loss);
    ASSERT_EQ(kv.serialize(), before) << "'" << data << "'";
  }
  EXPECT_EQ(kv.get("mine"), "keep");
}

}  // namespace
}  // namespace nca::raft::sim
