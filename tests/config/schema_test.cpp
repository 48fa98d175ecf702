#include "config/schema.hpp"

#include "tests/config/test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace nca::config {
namespace {

using test_support::other_value;

// The defaults the design asks for, written out independently of settings.hpp.
const std::map<std::string, std::string>& expected_defaults() {
  static const std::map<std::string, std::string> m = {
      {"node.id", ""},
      {"node.data-dir", "./data"},
      {"node.listen", "127.0.0.1:7420"},
      {"node.dev", "false"},
      {"http.listen", "127.0.0.1:7480"},
      {"http.max-body", "8MiB"},
      {"http.timeout", "10s"},
      {"http.threads", "16"},
      {"cluster.seeds", ""},
      {"cluster.voters", "3"},
      {"cluster.shards", "64"},
      {"cluster.replication-factor", "3"},
      {"cluster.dead-after", "30s"},
      {"cluster.heartbeat-interval", "500ms"},
      {"cluster.rebalance-moves", "4"},
      {"cluster.read-consistency", "linearizable"},
      {"cluster.fault-injection", "false"},
      {"cluster.follower-index-refresh", "10s"},
      {"cluster.leader-return-delay", "3s"},
      {"cluster.join-secret", ""},
      {"cluster.advertise", ""},
      {"raft.tick", "100ms"},
      {"raft.election-ticks", "10"},
      {"raft.heartbeat-ticks", "1"},
      {"raft.max-batch", "256"},
      {"raft.snapshot-entries", "10000"},
      {"memory.dim", "384"},
      {"memory.stm-ttl", "3h"},
      {"memory.mtm-ttl", "14d"},
      {"memory.ltm-ttl", "0"},
      {"memory.stm-capacity", "1000"},
      {"memory.mtm-capacity", "10000"},
      {"memory.ltm-capacity", "0"},
      {"memory.working-size", "100"},
      {"memory.archive-retention", "30d"},
      {"memory.max-content-bytes", "64KiB"},
      {"memory.max-batch", "1000"},
      {"memory.default-importance", "0.5"},
      {"memory.max-tags", "64"},
      {"memory.max-metadata", "64"},
      {"health.initial-base", "40"},
      {"health.initial-scale", "40"},
      {"health.decay-stm", "0.05"},
      {"health.decay-mtm", "0.01"},
      {"health.decay-ltm", "0.001"},
      {"health.promote", "80"},
      {"health.demote", "20"},
      {"health.reinforce", "0.2"},
      {"lymphatic.interval", "5m"},
      {"lymphatic.batch-size", "100"},
      {"lymphatic.merge-threshold", "0.95"},
      {"lymphatic.enabled", "true"},
      {"tubules.threshold", "0.05"},
      {"tubules.consolidate", "0.7"},
      {"tubules.max-connections", "50"},
      {"tubules.session-strength", "0.3"},
      {"tubules.hebbian-rate", "0.1"},
      {"tubules.decay", "0.01"},
      {"tubules.spread-min", "0.2"},
      {"tubules.spread-factor", "0.5"},
      {"tubules.session-window", "2"},
      {"annealing.schedule", "adaptive"},
      {"annealing.intensity", "0.5"},
      {"annealing.max-temperature", "1.5"},
      {"recall.default-k", "10"},
      {"recall.max-k", "1000"},
      {"recall.mode", "hybrid"},
      {"recall.spread", "true"},
      {"recall.rrf-k", "60"},
      {"recall.health-weight", "0.15"},
      {"recall.overfetch", "4"},
      {"recall.vector-weight", "0.3"},
      {"recall.lexical-weight", "1"},
      {"index.m", "16"},
      {"index.ef-construction", "200"},
      {"index.ef-search", "100"},
      {"index.rebuild-deleted-ratio", "0.2"},
      {"index.initial-capacity", "1024"},
      {"index.exact-below", "1024"},  // docs/architecture.md, "Small tiers are searched exactly"
      {"index.stm-exact-below", "8192"},
      {"index.save-interval", "10s"},
      {"actors.idle-timeout", "1m"},
      {"actors.request-timeout", "10s"},
      {"embedder.kind", "hashing"},
      {"embedder.url", ""},
      {"embedder.model", ""},
      {"embedder.api-key", ""},
      {"embedder.timeout", "10s"},
      {"embedder.retries", "3"},
      {"embedder.batch-size", "64"},
      {"events.lease", "1m"},
      {"events.max-attempts", "5"},
      {"events.default-capacity", "4"},
      {"events.aging", "30s"},
      {"events.max-wait", "30s"},
      {"events.retention", "7d"},
      {"events.max-batch", "1000"},
      {"events.max-payload-bytes", "262144"},
      {"events.memory-delay", "50ms"},
      {"auth.enabled", "false"},
      {"auth.api-keys-file", ""},
      {"auth.jwt-secret", ""},
      {"tls.enabled", "false"},
      {"tls.listen", "127.0.0.1:7421"},
      {"tls.cert", ""},
      {"tls.key", ""},
      {"tls.ca", ""},
      {"tls.passphrase", ""},
      {"log.level", "info"},
      {"log.format", "text"},
      {"scheduler.policy", "sharing"},
      {"scheduler.threads", "0"},
      {"storage.sync", "true"},
      {"storage.block-cache", "256MiB"},
      {"storage.write-buffer", "64MiB"},
      {"limits.request-bytes", "16MiB"},
      {"limits.personas-per-tenant", "100000"},
      {"limits.memories-per-persona", "10000000"},
      {"limits.rate-per-tenant", "0"},
      {"limits.burst-per-tenant", "1000"},
      {"limits.events-per-tenant", "1000000"},
      {"limits.memory-high", "0"},
  };
  return m;
}

// "section.key": lower-case letters, then a dot, then lower-case letters, digits and dashes.
bool well_formed_key(const std::string& key) {
  size_t dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= key.size()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    bool ok = i < dot ? (c >= 'a' && c <= 'z')
                      : i == dot || (c >= 'a' && c <= 'z') ||
                            (i > dot + 1 && ((c >= '0' && c <= '9') || c == '-'));
    if (!ok) return false;
  }
  return key.back() != '-';
}

TEST(Schema, KeysAndEnvironmentNamesAreUniqueAndWellFormed) {
  std::set<std::string> keys, envs;
  const std::set<std::string> types = {"string",   "bool", "int",  "double",
                                       "duration", "size", "list", "enum"};
  for (const KeySpec& spec : schema()) {
    EXPECT_TRUE(keys.insert(spec.key).second) << "duplicate key " << spec.key;
    EXPECT_TRUE(envs.insert(spec.env_name).second) << "duplicate env name " << spec.env_name;
    EXPECT_TRUE(well_formed_key(spec.key)) << spec.key;
    EXPECT_EQ(spec.env_name, env_name_for(spec.key));
    EXPECT_TRUE(types.count(spec.type)) << spec.key << " has type " << spec.type;
    EXPECT_FALSE(spec.help.empty()) << spec.key;
    EXPECT_EQ(find_key(spec.key), &spec);
  }
  EXPECT_EQ(env_name_for("memory.stm-ttl"), "NCA_MEMORY_STM_TTL");
  EXPECT_EQ(env_name_for("cluster.replication-factor"), "NCA_CLUSTER_REPLICATION_FACTOR");
  EXPECT_EQ(find_key("memory.stm_ttl"), nullptr);
  EXPECT_FALSE(well_formed_key("memory.stm_ttl"));
  EXPECT_FALSE(well_formed_key("memory"));
  EXPECT_TRUE(well_formed_key("memory.stm-ttl"));
}

TEST(Schema, HasExactlyTheDesignedKeysWithTheDesignedDefaults) {
  std::set<std::string> seen;
  for (const KeySpec& spec : schema()) {
    seen.insert(spec.key);
    auto it = expected_defaults().find(spec.key);
    ASSERT_NE(it, expected_defaults().end()) << "key not in the design: " << spec.key;
    EXPECT_EQ(spec.default_text, it->second) << spec.key;
  }
  for (const auto& [key, value] : expected_defaults()) {
    EXPECT_TRUE(seen.count(key)) << "designed key missing from the schema: " << key;
  }
}

TEST(Schema, SeedNamesMapOntoKeys) {
  const std::map<std::string, std::string> seeds = {
      {"EMBEDDING_DIMENSION", "memory.dim"},
      {"STM_TTL", "memory.stm-ttl"},
      {"MTM_TTL", "memory.mtm-ttl"},
      {"LTM_TTL", "memory.ltm-ttl"},
      {"STM_CAPACITY", "memory.stm-capacity"},
      {"MTM_CAPACITY", "memory.mtm-capacity"},
      {"LTM_CAPACITY", "memory.ltm-capacity"},
      {"WORKING_MEMORY_CAPACITY", "memory.working-size"},
      {"HEALTH_DECAY_RATE_STM", "health.decay-stm"},
      {"HEALTH_DECAY_RATE_MTM", "health.decay-mtm"},
      {"HEALTH_DECAY_RATE_LTM", "health.decay-ltm"},
      {"PROMOTION_THRESHOLD", "health.promote"},
      {"DEMOTION_THRESHOLD", "health.demote"},
      {"LYMPHATIC_INTERVAL", "lymphatic.interval"},
      {"LYMPHATIC_BATCH_SIZE", "lymphatic.batch-size"},
      {"CONSOLIDATION_SIMILARITY_THRESHOLD", "lymphatic.merge-threshold"},
      {"TUBULE_PRUNE_THRESHOLD", "tubules.threshold"},
      {"TUBULE_MAX_CONNECTIONS", "tubules.max-connections"},
      {"TUBULE_DECAY_RATE", "tubules.decay"},
      {"ANNEALING_SCHEDULE", "annealing.schedule"},
      {"ANNEALING_INTENSITY", "annealing.intensity"},
  };
  std::map<std::string, std::string> found;
  for (const KeySpec& spec : schema()) {
    if (!spec.seed_name.empty()) found[spec.seed_name] = spec.key;
  }
  EXPECT_EQ(found, seeds);
}

TEST(Schema, DefaultsStructMatchesDefaultTexts) {
  Settings s = defaults();
  EXPECT_TRUE(s == Settings{});
  for (const KeySpec& spec : schema()) {
    Result<std::string> text = get(s, spec.key);
    ASSERT_TRUE(text.ok()) << spec.key;
    EXPECT_EQ(*text, spec.default_text) << spec.key;
    // Setting the default text explicitly changes nothing.
    Settings t = defaults();
    ASSERT_TRUE(set(t, spec.key, spec.default_text).ok()) << spec.key;
    EXPECT_TRUE(t == s) << spec.key;
  }
  EXPECT_EQ(s.memory.stm_ttl, 3 * kUsPerHour);
  EXPECT_EQ(s.memory.mtm_ttl, 14 * kUsPerDay);
  EXPECT_EQ(s.http.max_body, 8u << 20);
  EXPECT_EQ(s.node.data_dir, "./data");
}

TEST(Schema, EveryKeyIsBoundToItsOwnField) {
  const Settings base = defaults();
  for (const KeySpec& spec : schema()) {
    Settings s = base;
    std::string value = other_value(spec);
    Status st = set(s, spec.key, value);
    ASSERT_TRUE(st.ok()) << spec.key << " = " << value << ": " << st.error().message;
    EXPECT_FALSE(s == base) << spec.key << " did not change anything";
    for (const KeySpec& other : schema()) {
      if (other.key == spec.key) continue;
      EXPECT_EQ(*get(s, other.key), *get(base, other.key))
          << "setting " << spec.key << " changed " << other.key;
    }
  }
}

TEST(Schema, SetParsesEveryType) {
  Settings s = defaults();
  ASSERT_TRUE(set(s, "node.id", "node-a").ok());
  EXPECT_EQ(s.node.id, "node-a");
  ASSERT_TRUE(set(s, "node.dev", "yes").ok());
  EXPECT_TRUE(s.node.dev);
  ASSERT_TRUE(set(s, "lymphatic.enabled", "off").ok());
  EXPECT_FALSE(s.lymphatic.enabled);
  ASSERT_TRUE(set(s, "cluster.shards", "128").ok());
  EXPECT_EQ(s.cluster.shards, 128);
  ASSERT_TRUE(set(s, "health.decay-stm", "0.25").ok());
  EXPECT_DOUBLE_EQ(s.health.decay_stm, 0.25);
  ASSERT_TRUE(set(s, "memory.stm-ttl", "90m").ok());
  EXPECT_EQ(s.memory.stm_ttl, 90 * 60 * kUsPerSecond);
  ASSERT_TRUE(set(s, "memory.ltm-ttl", "0").ok());  // 0 allowed here: no TTL
  EXPECT_EQ(s.memory.ltm_ttl, 0);
  ASSERT_TRUE(set(s, "http.max-body", "1MiB").ok());
  EXPECT_EQ(s.http.max_body, 1u << 20);
  ASSERT_TRUE(set(s, "cluster.seeds", "10.0.0.1:7420, 10.0.0.2:7420").ok());
  EXPECT_EQ(s.cluster.seeds, (std::vector<std::string>{"10.0.0.1:7420", "10.0.0.2:7420"}));
  ASSERT_TRUE(set(s, "annealing.schedule", "Progressive").ok());
  EXPECT_EQ(s.annealing.schedule, "progressive");
  ASSERT_TRUE(set(s, "log.level", "debug").ok());
  EXPECT_EQ(s.log.level, "debug");
}

struct BadValue {
  const char* key;
  const char* value;
  const char* reason;
};

TEST(Schema, SetRejectsWrongTypesAndRangesNamingKeyValueAndSource) {
  const BadValue cases[] = {
      {"node.dev", "maybe", "not a boolean"},
      {"http.threads", "four", "not an integer"},
      {"http.threads", "0", "out of range (allowed 1..256)"},
      {"http.threads", "257", "out of range (allowed 1..256)"},
      {"health.decay-stm", "fast", "not a number"},
      {"health.decay-stm", "11", "out of range (allowed 0..10)"},
      {"memory.default-importance", "-0.1", "out of range (allowed 0..1)"},
      {"memory.stm-ttl", "abc", "not a duration (use e.g. 500ms, 30s, 5m, 3h, 14d)"},
      {"memory.stm-ttl", "0", "out of range (allowed > 0)"},
      {"memory.max-content-bytes", "lots", "not a size"},
      {"memory.max-content-bytes", "17MiB", "out of range (allowed 1..16MiB)"},
      {"memory.max-content-bytes", "0", "out of range"},
      {"annealing.schedule", "random", "not one of fixed, adaptive, progressive"},
      {"recall.mode", "semantic", "not one of vector, lexical, hybrid"},
      {"cluster.replication-factor", "8", "out of range (allowed 1..7)"},
      {"memory.dim", "4", "out of range (allowed 8..4096)"},
      {"node.id", "a\nb", "line break"},
  };
  for (const BadValue& c : cases) {
    Settings s = defaults();
    Status st = set(s, c.key, c.value, Source::environment);
    ASSERT_FALSE(st.ok()) << c.key << " = " << c.value;
    EXPECT_EQ(st.code(), ErrorCode::invalid_argument);
    const std::string& m = st.error().message;
    EXPECT_NE(m.find(std::string("config: ") + c.key + " = "), std::string::npos) << m;
    if (std::string(c.value).find('\n') == std::string::npos) {
      EXPECT_NE(m.find(std::string("\"") + c.value + "\""), std::string::npos) << m;
    }
    EXPECT_NE(m.find("from environment"), std::string::npos) << m;
    EXPECT_NE(m.find(c.reason), std::string::npos) << m;
    EXPECT_TRUE(s == defaults()) << "a failed set changed the settings: " << c.key;
  }
}

// A key whose help gives 0 a meaning ("0: never") must accept 0: cluster.follower-index-refresh
// documented "0: never" while its range refused it.
TEST(Schema, EveryNumberWhoseHelpGivesZeroAMeaningAcceptsZero) {
  size_t checked = 0;
  for (const KeySpec& k : schema()) {
    if (k.help.find("0:") == std::string::npos) continue;
    if (k.type != "int" && k.type != "double" && k.type != "duration" && k.type != "size") continue;
    Settings s = defaults();
    Status st = set(s, k.key, "0", Source::environment);
    EXPECT_TRUE(st.ok()) << k.key << ": " << (st.ok() ? "" : st.error().message);
    ++checked;
  }
  EXPECT_GE(checked, 7u);  // the keys of this kind when the test was written
}

TEST(Schema, SetRejectsUnknownKeysWithASuggestion) {
  Settings s = defaults();
  Status st = set(s, "memory.stm_ttl", "3h", Source::file);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::invalid_argument);
  EXPECT_NE(st.error().message.find("unknown key \"memory.stm_ttl\""), std::string::npos);
  EXPECT_NE(st.error().message.find("from file"), std::string::npos);
  EXPECT_NE(st.error().message.find("did you mean memory.stm-ttl?"), std::string::npos);
  EXPECT_EQ(closest_key("totally.unrelated-thing"), "");
  EXPECT_EQ(get(s, "nope.nope").code(), ErrorCode::not_found);
}

TEST(Schema, SecretValuesAreNotEchoedInErrors) {
  Settings s = defaults();
  Status st = set(s, "auth.jwt-secret", "hunter2\nmore");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message.find("hunter2"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("auth.jwt-secret"), std::string::npos);
}

TEST(Schema, ValidateChecksCrossKeyRules) {
  EXPECT_TRUE(validate(defaults()).ok());
  struct Case {
    std::vector<std::pair<const char*, const char*>> values;
    const char* expected;
  };
  const Case cases[] = {
      {{{"health.demote", "90"}},
       "health.demote = 90 (command line) must be below "
       "health.promote = 80 (default)"},
      {{{"raft.heartbeat-ticks", "10"}}, "raft.heartbeat-ticks = 10"},
      {{{"cluster.heartbeat-interval", "1m"}}, "cluster.heartbeat-interval = 1m"},
      {{{"recall.default-k", "1000"}, {"recall.max-k", "10"}}, "recall.default-k = 1000"},
      {{{"tubules.threshold", "0.8"}}, "tubules.threshold = 0.8"},
      {{{"embedder.kind", "http"}}, "embedder.kind = http (command line) requires embedder.url"},
      {{{"tls.enabled", "true"}, {"tls.cert", "c.pem"}}, "requires tls.cert, tls.key and tls.ca"},
      {{{"tls.enabled", "true"}, {"tls.cert", "c.pem"}, {"tls.key", "k.pem"}},
       "requires tls.cert, tls.key and tls.ca"},
      {{{"tls.enabled", "true"},
        {"tls.cert", "c.pem"},
        {"tls.key", "k.pem"},
        {"tls.ca", "ca.pem"},
        {"tls.listen", "127.0.0.1:7420"}},
       "must differ from node.listen"},
      {{{"tls.listen", "nowhere"}}, "tls.listen"},
      {{{"node.listen", "localhost"}}, "node.listen = \"localhost\" (command line): not host:port"},
      {{{"http.listen", "127.0.0.1:70000"}}, "http.listen = \"127.0.0.1:70000\""},
      {{{"cluster.advertise", "a:b"}}, "cluster.advertise = \"a:b\""},
      {{{"cluster.seeds", "a:1, nope"}}, "seed \"nope\" is not host:port"},
  };
  for (const Case& c : cases) {
    Settings s = defaults();
    std::map<std::string, Source> sources;
    for (const auto& [key, value] : c.values) {
      ASSERT_TRUE(set(s, key, value).ok()) << key;
      sources[key] = Source::command_line;
    }
    Status st = validate(s, sources);
    ASSERT_FALSE(st.ok()) << c.expected;
    EXPECT_EQ(st.code(), ErrorCode::invalid_argument);
    EXPECT_NE(st.error().message.find(c.expected), std::string::npos) << st.error().message;
  }
  // Each problem gets its own line.
  Settings s = defaults();
  ASSERT_TRUE(set(s, "health.demote", "95").ok());
  ASSERT_TRUE(set(s, "embedder.kind", "http").ok());
  Status st = validate(s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("health.demote"), std::string::npos);
  EXPECT_NE(st.error().message.find("\nconfig: embedder.kind"), std::string::npos);
  // And a satisfied rule passes.
  ASSERT_TRUE(set(s, "health.demote", "10").ok());
  ASSERT_TRUE(set(s, "embedder.url", "http://127.0.0.1:8080").ok());
  EXPECT_TRUE(validate(s).ok());
}

// --- docs/configuration.md is generated from the schema -------------------------------------

std::string cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

std::string code_or_empty(const std::string& text) {
  return text.empty() ? "(empty)" : "`" + text + "`";
}

// The key table of docs/configuration.md, one section per group.
std::string markdown_key_table() {
  std::string out;
  std::string section;
  for (const KeySpec& spec : schema()) {
    std::string this_section = spec.key.substr(0, spec.key.find('.'));
    if (this_section != section) {
      section = this_section;
      out += "\n### " + section + "\n\n";
      out += "| Key | Type | Default | Allowed | Environment | NCA name | Meaning |\n";
      out += "| --- | --- | --- | --- | --- | --- | --- |\n";
    }
    out += "| `" + spec.key + "` | " + spec.type + " | " + cell(code_or_empty(spec.default_text)) +
           " | " + cell(spec.range) + " | `" + spec.env_name + "` | " +
           (spec.seed_name.empty() ? "" : "`" + spec.seed_name + "`") + " | " + cell(spec.help) +
           (spec.secret ? " (secret)" : "") + " |\n";
  }
  return out + "\n";
}

TEST(Docs, ConfigurationMarkdownHasTheSchemaTable) {
  const std::string path = std::string(NCA_SOURCE_DIR) + "/docs/configuration.md";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  const std::string begin = "<!-- keys:begin (generated from config/schema.cpp) -->\n";
  const std::string end = "<!-- keys:end -->";
  size_t b = doc.find(begin);
  size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "marker missing: " << begin;
  ASSERT_NE(e, std::string::npos) << "marker missing: " << end;
  ASSERT_LT(b, e);
  std::string table = markdown_key_table();
  std::string current = doc.substr(b + begin.size(), e - b - begin.size());
  const char* update = std::getenv("NEUROCA_UPDATE_DOCS");
  if (current != table && update != nullptr && std::string(update) == "1") {
    std::ofstream out(path, std::ios::trunc);
    out << doc.substr(0, b + begin.size()) << table << doc.substr(e);
    ASSERT_TRUE(out.good());
    doc = doc.substr(0, b + begin.size()) + table + doc.substr(e);
    current = table;
  }
  EXPECT_EQ(current, table) << "docs/configuration.md is out of date; regenerate its key table "
                               "with NEUROCA_UPDATE_DOCS=1 nca_config_tests --gtest_filter=Docs.*";
  for (const KeySpec& spec : schema()) {
    EXPECT_NE(doc.find("`" + spec.key + "`"), std::string::npos) << spec.key;
    EXPECT_NE(doc.find("`" + spec.env_name + "`"), std::string::npos) << spec.env_name;
  }
}

}  // namespace
}  // namespace nca::config
