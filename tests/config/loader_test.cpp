#include "config/loader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.hpp"  // the umbrella header compiles on its own
#include "tests/config/test_support.hpp"

namespace nca::config {
namespace {

using test_support::error_of;
using test_support::other_value;
using test_support::run_load;
using test_support::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Loader, NothingGivenMeansDefaults) {
  Result<Loaded> r = run_load({});
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_TRUE(r->settings == defaults());
  EXPECT_EQ(r->action, Action::run);
  EXPECT_EQ(r->config_file, "");
  EXPECT_EQ(r->sources.size(), schema().size());
  for (const auto& [key, source] : r->sources) EXPECT_EQ(source, Source::default_value) << key;

  // argc 0 and a null argv are tolerated too.
  Result<Loaded> empty = load(0, nullptr, {});
  ASSERT_TRUE(empty.ok()) << error_of(empty);
  EXPECT_TRUE(empty->settings == defaults());
}

TEST(Loader, EachLayerWinsOverTheOneBelow) {
  TempDir dir;
  std::string file = dir.write("node.ini", "[memory]\nstm-ttl = 1h\nmtm-ttl = 2d\n");
  const std::map<std::string, std::string> env = {{"NCA_MEMORY_STM_TTL", "2h"}};

  Result<Loaded> defaults_only = run_load({});
  ASSERT_TRUE(defaults_only.ok()) << error_of(defaults_only);
  EXPECT_EQ(defaults_only->settings.memory.stm_ttl, 3 * kUsPerHour);
  EXPECT_EQ(defaults_only->sources.at("memory.stm-ttl"), Source::default_value);

  Result<Loaded> from_file = run_load({"--config", file});
  ASSERT_TRUE(from_file.ok()) << error_of(from_file);
  EXPECT_EQ(from_file->settings.memory.stm_ttl, 1 * kUsPerHour);
  EXPECT_EQ(from_file->sources.at("memory.stm-ttl"), Source::file);
  EXPECT_EQ(from_file->config_file, file);

  Result<Loaded> from_env = run_load({"--config", file}, env);
  ASSERT_TRUE(from_env.ok()) << error_of(from_env);
  EXPECT_EQ(from_env->settings.memory.stm_ttl, 2 * kUsPerHour);
  EXPECT_EQ(from_env->sources.at("memory.stm-ttl"), Source::environment);
  // The file's other key is still in force.
  EXPECT_EQ(from_env->settings.memory.mtm_ttl, 2 * kUsPerDay);
  EXPECT_EQ(from_env->sources.at("memory.mtm-ttl"), Source::file);

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--config", file, "--memory.stm-ttl", "4h"},
        std::vector<std::string>{"--memory.stm-ttl=4h", "--config=" + file}}) {
    Result<Loaded> from_cli = run_load(args, env);
    ASSERT_TRUE(from_cli.ok()) << error_of(from_cli);
    EXPECT_EQ(from_cli->settings.memory.stm_ttl, 4 * kUsPerHour);
    EXPECT_EQ(from_cli->sources.at("memory.stm-ttl"), Source::command_line);
    EXPECT_EQ(from_cli->sources.at("memory.mtm-ttl"), Source::file);
    EXPECT_EQ(from_cli->sources.at("memory.ltm-ttl"), Source::default_value);
  }
}

TEST(Loader, ConfigFileCanBeNamedByTheEnvironmentButTheCommandLineWins) {
  TempDir dir;
  std::string a = dir.write("a.ini", "[http]\nthreads = 7\n");
  std::string b = dir.write("b.ini", "[http]\nthreads = 9\n");
  Result<Loaded> by_env = run_load({}, {{"NCA_CONFIG", a}});
  ASSERT_TRUE(by_env.ok()) << error_of(by_env);
  EXPECT_EQ(by_env->settings.http.threads, 7);
  EXPECT_EQ(by_env->config_file, a);
  Result<Loaded> by_cli = run_load({"--config", b}, {{"NCA_CONFIG", a}});
  ASSERT_TRUE(by_cli.ok()) << error_of(by_cli);
  EXPECT_EQ(by_cli->settings.http.threads, 9);
  EXPECT_EQ(by_cli->config_file, b);
}

TEST(Loader, ActionsFromFlags) {
  EXPECT_EQ(run_load({"--help"})->action, Action::help);
  EXPECT_EQ(run_load({"-h"})->action, Action::help);
  EXPECT_EQ(run_load({"--version"})->action, Action::version);
  EXPECT_EQ(run_load({"--print-config"})->action, Action::print_config);
  EXPECT_EQ(run_load({"--check-config"})->action, Action::check_config);
  // Help and version work even when the configuration is broken.
  Result<Loaded> help =
      run_load({"--help", "--config", "/nonexistent/x.ini"}, {{"NCA_MEMORY_STM_TTL", "abc"}});
  ASSERT_TRUE(help.ok()) << error_of(help);
  EXPECT_EQ(help->action, Action::help);
  // Checking a broken configuration fails like starting with it.
  Result<Loaded> check = run_load({"--check-config"}, {{"NCA_MEMORY_STM_TTL", "abc"}});
  EXPECT_FALSE(check.ok());
}

TEST(Loader, DevFlagAndDataDir) {
  Result<Loaded> dev = run_load({"--dev"});
  ASSERT_TRUE(dev.ok()) << error_of(dev);
  EXPECT_TRUE(dev->settings.node.dev);
  EXPECT_EQ(dev->sources.at("node.dev"), Source::command_line);
  EXPECT_EQ(dev->settings.node.data_dir, "./data");

  Result<Loaded> explicit_dir = run_load({"--dev", "--node.data-dir", "/var/lib/nca"});
  ASSERT_TRUE(explicit_dir.ok()) << error_of(explicit_dir);
  EXPECT_EQ(explicit_dir->settings.node.data_dir, "/var/lib/nca");

  Result<Loaded> dev_env = run_load({}, {{"NCA_NODE_DEV", "yes"}});
  ASSERT_TRUE(dev_env.ok()) << error_of(dev_env);
  EXPECT_TRUE(dev_env->settings.node.dev);
}

TEST(Loader, RepeatedCommandLineKeyLastWins) {
  Result<Loaded> r = run_load({"--http.threads", "2", "--http.threads=3"});
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_EQ(r->settings.http.threads, 3);
}

TEST(Loader, EveryTypeFromEachSource) {
  TempDir dir;
  std::string file = dir.write("all.ini",
                               "[node]\nid = n1\ndev = on\n"
                               "[http]\nmax-body = 1MiB\n"
                               "[cluster]\nseeds = 10.0.0.1:7420, 10.0.0.2:7420\n"
                               "[health]\ndecay-stm = 0.5\n");
  Result<Loaded> r =
      run_load({"--config", file, "--annealing.schedule", "fixed", "--raft.tick=50ms"},
               {{"NCA_CLUSTER_SHARDS", "32"}, {"NCA_STORAGE_SYNC", "false"}});
  ASSERT_TRUE(r.ok()) << error_of(r);
  const Settings& s = r->settings;
  EXPECT_EQ(s.node.id, "n1");
  EXPECT_TRUE(s.node.dev);
  EXPECT_EQ(s.http.max_body, 1u << 20);
  EXPECT_EQ(s.cluster.seeds, (std::vector<std::string>{"10.0.0.1:7420", "10.0.0.2:7420"}));
  EXPECT_DOUBLE_EQ(s.health.decay_stm, 0.5);
  EXPECT_EQ(s.cluster.shards, 32);
  EXPECT_FALSE(s.storage.sync);
  EXPECT_EQ(s.annealing.schedule, "fixed");
  EXPECT_EQ(s.raft.tick, 50'000);
}

// --- errors ----------------------------------------------------------------------------------

TEST(LoaderErrors, UnknownKeyOnTheCommandLine) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--memory.stm_ttl", "3h"},
                                               std::vector<std::string>{"--memory.stm_ttl=3h"}}) {
    Result<Loaded> r = run_load(args);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
    const std::string m = error_of(r);
    EXPECT_TRUE(contains(m, "config: unknown key \"memory.stm_ttl\"")) << m;
    EXPECT_TRUE(contains(m, "on the command line (--memory.stm_ttl")) << m;
    EXPECT_TRUE(contains(m, "did you mean memory.stm-ttl?")) << m;
    EXPECT_FALSE(contains(m, "unexpected argument")) << m;
  }
  EXPECT_TRUE(contains(error_of(run_load({"--memory.stm_ttl=3h"})), "\"memory.stm_ttl\" = \"3h\""));
  // Abbreviations are not guessed.
  Result<Loaded> prefix = run_load({"--memory.stm", "3h"});
  ASSERT_FALSE(prefix.ok());
  EXPECT_TRUE(contains(error_of(prefix), "unknown key \"memory.stm\"")) << error_of(prefix);
  Result<Loaded> short_flag = run_load({"-x"});
  ASSERT_FALSE(short_flag.ok());
  EXPECT_TRUE(contains(error_of(short_flag), "-x")) << error_of(short_flag);
}

TEST(LoaderErrors, UnknownKeyInTheEnvironment) {
  Result<Loaded> r = run_load({}, {{"NCA_MEMORY_STMTTL", "3h"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
  const std::string m = error_of(r);
  EXPECT_TRUE(contains(m, "environment variable NCA_MEMORY_STMTTL=\"3h\"")) << m;
  EXPECT_TRUE(contains(m, "unknown key")) << m;
  EXPECT_TRUE(contains(m, "did you mean NCA_MEMORY_STM_TTL?")) << m;
}

TEST(LoaderErrors, UnknownCredentialLikeNamesDoNotEchoTheirValue) {
  Result<Loaded> env = run_load({}, {{"NCA_AUTH_JWT_SECRETT", "hunter2"}});
  ASSERT_FALSE(env.ok());
  EXPECT_FALSE(contains(error_of(env), "hunter2")) << error_of(env);
  EXPECT_TRUE(contains(error_of(env), "NCA_AUTH_JWT_SECRETT=(hidden)")) << error_of(env);
  Result<Loaded> cli = run_load({"--embedder.apikey=hunter2"});
  ASSERT_FALSE(cli.ok());
  EXPECT_FALSE(contains(error_of(cli), "hunter2")) << error_of(cli);
}

TEST(LoaderErrors, UnknownKeyInTheFileNamesFileAndLine) {
  TempDir dir;
  std::string file = dir.write("node.ini", "; my node\n[memory]\nstm_ttl = 3h\n");
  Result<Loaded> r = run_load({"--config", file});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
  const std::string m = error_of(r);
  EXPECT_TRUE(contains(m, "config: unknown key \"memory.stm_ttl\" in " + file + " line 3")) << m;
  EXPECT_TRUE(contains(m, "did you mean memory.stm-ttl?")) << m;
}

TEST(LoaderErrors, WrongTypeFromEachSourceNamesKeyValueAndSource) {
  Result<Loaded> env = run_load({}, {{"NCA_MEMORY_STM_TTL", "abc"}});
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(error_of(env),
            "config: memory.stm-ttl = \"abc\" from environment variable NCA_MEMORY_STM_TTL: not a "
            "duration (use e.g. 500ms, 30s, 5m, 3h, 14d)");

  Result<Loaded> cli = run_load({"--http.threads", "many"});
  ASSERT_FALSE(cli.ok());
  EXPECT_EQ(error_of(cli),
            "config: http.threads = \"many\" from command line (--http.threads): not an integer");

  TempDir dir;
  std::string file = dir.write("node.ini", "[log]\nlevel = loud\n");
  Result<Loaded> from_file = run_load({"--config", file});
  ASSERT_FALSE(from_file.ok());
  EXPECT_EQ(error_of(from_file), "config: log.level = \"loud\" from " + file +
                                     " line 2: not one of trace, debug, info, warn, error, off");
}

TEST(LoaderErrors, OutOfRange) {
  TempDir dir;
  std::string file = dir.write("node.ini", "[cluster]\nreplication-factor = 9\n");
  Result<Loaded> r = run_load({"--config", file});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_of(r), "config: cluster.replication-factor = \"9\" from " + file +
                             " line 2: out of range (allowed 1..7)");
  Result<Loaded> env = run_load({}, {{"NCA_MEMORY_DEFAULT_IMPORTANCE", "1.5"}});
  ASSERT_FALSE(env.ok());
  EXPECT_TRUE(contains(error_of(env),
                       "memory.default-importance = \"1.5\" from environment "
                       "variable NCA_MEMORY_DEFAULT_IMPORTANCE: out of range"));
}

TEST(LoaderErrors, MissingOrUnreadableConfigFile) {
  TempDir dir;
  std::string missing = dir.path() + "/missing.ini";
  Result<Loaded> r = run_load({"--config", missing});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(error_of(r), "config: cannot read config file \"" + missing +
                             "\": No such file or directory (named by --config)");

  Result<Loaded> by_env = run_load({}, {{"NCA_CONFIG", missing}});
  ASSERT_FALSE(by_env.ok());
  EXPECT_TRUE(contains(error_of(by_env), "named by environment variable NCA_CONFIG"));

  Result<Loaded> a_dir = run_load({"--config", dir.path()});
  ASSERT_FALSE(a_dir.ok());
  EXPECT_TRUE(contains(error_of(a_dir), "is a directory")) << error_of(a_dir);

  Result<Loaded> no_value = run_load({"--config"});
  ASSERT_FALSE(no_value.ok());
  EXPECT_TRUE(contains(error_of(no_value), "config")) << error_of(no_value);
}

TEST(LoaderErrors, DuplicateKeyInTheFile) {
  TempDir dir;
  std::string file = dir.write("node.ini", "[memory]\nstm-ttl = 3h\n\n[memory]\nstm-ttl = 4h\n");
  Result<Loaded> r = run_load({"--config", file});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_of(r), "config: duplicate key \"memory.stm-ttl\" = \"4h\" in " + file +
                             " line 5 (first set on line 2)");
  // The same key as a dotted top-level key and inside its section is a duplicate too.
  std::string mixed = dir.write("mixed.ini", "memory.dim = 128\n[memory]\ndim = 256\n");
  Result<Loaded> m = run_load({"--config", mixed});
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(contains(error_of(m), "duplicate key \"memory.dim\"")) << error_of(m);
}

TEST(LoaderErrors, CrossKeyRuleNamesBothKeysValuesAndSources) {
  TempDir dir;
  std::string file = dir.write("node.ini", "[health]\ndemote = 85\n");
  Result<Loaded> r = run_load({"--config", file});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(error_of(r),
            "config: health.demote = 85 (file) must be below health.promote = 80 (default)");

  Result<Loaded> http = run_load({"--embedder.kind", "http"});
  ASSERT_FALSE(http.ok());
  EXPECT_TRUE(
      contains(error_of(http), "embedder.kind = http (command line) requires embedder.url"));
  Result<Loaded> http_ok =
      run_load({"--embedder.kind", "http"}, {{"NCA_EMBEDDER_URL", "http://127.0.0.1:8080"}});
  EXPECT_TRUE(http_ok.ok()) << error_of(http_ok);

  Result<Loaded> listen = run_load({}, {{"NCA_HTTP_LISTEN", "127.0.0.1:99999"}});
  ASSERT_FALSE(listen.ok());
  EXPECT_TRUE(contains(error_of(listen), "http.listen = \"127.0.0.1:99999\" (environment)"))
      << error_of(listen);
}

TEST(LoaderErrors, AllProblemsAreReportedTogether) {
  TempDir dir;
  std::string file = dir.write("node.ini", "[memory]\nbogus = 1\n");
  Result<Loaded> r =
      run_load({"--config", file, "--http.threads", "0"}, {{"NCA_LOG_LEVEL", "loud"}});
  ASSERT_FALSE(r.ok());
  const std::string m = error_of(r);
  EXPECT_TRUE(contains(m, "memory.bogus")) << m;
  EXPECT_TRUE(contains(m, "NCA_LOG_LEVEL")) << m;
  EXPECT_TRUE(contains(m, "http.threads")) << m;
}

TEST(LoaderErrors, MalformedCommandLine) {
  Result<Loaded> missing_value = run_load({"--memory.stm-ttl"});
  ASSERT_FALSE(missing_value.ok());
  EXPECT_TRUE(contains(error_of(missing_value), "memory.stm-ttl")) << error_of(missing_value);

  Result<Loaded> stray = run_load({"--dev", "extra"});
  ASSERT_FALSE(stray.ok());
  EXPECT_TRUE(contains(error_of(stray), "unexpected argument \"extra\"")) << error_of(stray);

  Result<Loaded> flag_value = run_load({"--dev=false"});
  ASSERT_FALSE(flag_value.ok());

  Result<Loaded> after_dashes = run_load({"--", "--dev"});
  ASSERT_FALSE(after_dashes.ok());
  EXPECT_TRUE(contains(error_of(after_dashes), "unexpected argument \"--dev\""))
      << error_of(after_dashes);
}

TEST(Loader, EmptyValueAfterEqualsSetsTheEmptyString) {
  Result<Loaded> r = run_load({"--cluster.seeds=", "--node.id="},
                              {{"NCA_CLUSTER_SEEDS", "10.0.0.1:7420"}, {"NCA_NODE_ID", "x"}});
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_TRUE(r->settings.cluster.seeds.empty());
  EXPECT_EQ(r->settings.node.id, "");
  EXPECT_EQ(r->sources.at("node.id"), Source::command_line);
  Result<Loaded> bad = run_load({"--memory.stm-ttl="});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(error_of(bad), "memory.stm-ttl = \"\" from command line")) << error_of(bad);
}

TEST(Loader, EnvironmentWithoutThePrefixIsIgnored) {
  Result<Loaded> r = run_load({}, {{"PATH", "/usr/bin"},
                                   {"HOME", "/root"},
                                   {"MEMORY_STM_TTL", "abc"},
                                   {"nca_memory_stm_ttl", "abc"},
                                   {"NCAMEMORY_STM_TTL", "abc"},
                                   {"XNCA_MEMORY_STM_TTL", "abc"},
                                   {"STM_TTL", "abc"}});
  ASSERT_TRUE(r.ok()) << error_of(r);
  EXPECT_TRUE(r->settings == defaults());
}

TEST(Loader, EnvironmentFromEnvironBlock) {
  std::string a = "NCA_HTTP_THREADS=8", b = "PLAIN=x=y", c = "NOEQUALS";
  char* block[] = {a.data(), b.data(), c.data(), nullptr};
  std::map<std::string, std::string> env = environment_from(block);
  EXPECT_EQ(env.size(), 2u);
  EXPECT_EQ(env.at("NCA_HTTP_THREADS"), "8");
  EXPECT_EQ(env.at("PLAIN"), "x=y");
  EXPECT_TRUE(environment_from(nullptr).empty());
}

// --- help and render -------------------------------------------------------------------------

TEST(Loader, HelpListsEveryKeyWithItsEnvironmentNameAndDefault) {
  const std::string help = help_text("nca-node");
  EXPECT_TRUE(contains(help, "Usage: nca-node"));
  EXPECT_TRUE(contains(help, "--config FILE"));
  EXPECT_TRUE(contains(help, "--print-config"));
  EXPECT_TRUE(contains(help, "Precedence: command line > environment > config file"));
  for (const KeySpec& spec : schema()) {
    EXPECT_TRUE(contains(help, "--" + spec.key + " <" + spec.type + ">")) << spec.key;
    EXPECT_TRUE(contains(help, "env: " + spec.env_name)) << spec.key;
    if (!spec.seed_name.empty()) {
      EXPECT_TRUE(contains(help, spec.seed_name)) << spec.key;
    }
  }
  EXPECT_TRUE(contains(help, "default: 3h"));
  EXPECT_TRUE(contains(help, "NCA name: STM_TTL"));
}

TEST(Loader, RenderRoundTripsThroughAConfigFile) {
  // Every key away from its default, plus strings that need quoting.
  Settings s = defaults();
  std::map<std::string, Source> sources;
  for (const KeySpec& spec : schema()) {
    ASSERT_TRUE(set(s, spec.key, other_value(spec)).ok()) << spec.key;
    sources[spec.key] = Source::environment;
  }
  s.health.demote = 10;  // keep the cross-key rules satisfied
  s.health.promote = 90;
  s.raft.heartbeat_ticks = 1;
  s.raft.election_ticks = 2;
  s.recall.default_k = 1;
  s.tubules.threshold = 0.01;
  s.tubules.consolidate = 0.9;
  s.cluster.heartbeat_interval = 1000;
  s.node.listen = "127.0.0.1:1";
  s.http.listen = "[::1]:2";
  s.cluster.advertise = "";
  s.embedder.url = "http://127.0.0.1:8080/v1";
  s.node.id = " spaced ; with # comment chars and \"quotes\" and \\ ";
  s.cluster.join_secret = "a;b#c=d";
  s.tls.passphrase = "";
  s.health.decay_stm = 0.1 + 0.2;  // not exactly representable in short decimal
  ASSERT_TRUE(validate(s).ok()) << validate(s).error().message;

  std::string text = render(s, sources);
  EXPECT_TRUE(contains(text, "[memory]\n"));
  EXPECT_TRUE(contains(text, "; environment\n"));
  TempDir dir;
  std::string file = dir.write("rendered.ini", text);
  Result<Loaded> r = run_load({"--config", file});
  ASSERT_TRUE(r.ok()) << error_of(r) << "\n" << text;
  EXPECT_TRUE(r->settings == s) << text;
  EXPECT_EQ(r->settings.node.id, s.node.id);
  for (const KeySpec& spec : schema()) {
    EXPECT_EQ(r->sources.at(spec.key), Source::file) << spec.key;
  }

  // Defaults render and load back as well.
  std::string file2 = dir.write("defaults.ini", render(defaults(), {}));
  Result<Loaded> d = run_load({"--config", file2});
  ASSERT_TRUE(d.ok()) << error_of(d);
  EXPECT_TRUE(d->settings == defaults());
}

TEST(Loader, RenderShowsSourcesAndCanRedactSecrets) {
  Result<Loaded> r = run_load({"--memory.stm-ttl", "2h"},
                              {{"NCA_AUTH_JWT_SECRET", "s3cret"}, {"NCA_HTTP_THREADS", "8"}});
  ASSERT_TRUE(r.ok()) << error_of(r);
  std::string text = render(r->settings, r->sources);
  EXPECT_TRUE(contains(text, "stm-ttl = 2h  ; command line\n")) << text;
  EXPECT_TRUE(contains(text, "threads = 8  ; environment\n")) << text;
  EXPECT_TRUE(contains(text, "mtm-ttl = 14d  ; default\n")) << text;
  EXPECT_TRUE(contains(text, "jwt-secret = s3cret  ; environment\n")) << text;
  std::string redacted = render(r->settings, r->sources, /*redact_secrets=*/true);
  EXPECT_FALSE(contains(redacted, "s3cret"));
  EXPECT_TRUE(contains(redacted, "jwt-secret = <redacted>  ; environment\n")) << redacted;
  EXPECT_TRUE(contains(redacted, "api-key = \"\"  ; default\n")) << redacted;
}

}  // namespace
}  // namespace nca::config

namespace nca::config {
namespace {

TEST(Docs, TheExampleConfigFileLoads) {
  std::ifstream in(std::string(NCA_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string doc = buf.str();
  size_t b = doc.find("```ini\n");
  ASSERT_NE(b, std::string::npos);
  b += 7;
  size_t e = doc.find("```", b);
  ASSERT_NE(e, std::string::npos);
  test_support::TempDir dir;
  std::string file = dir.write("example.ini", doc.substr(b, e - b));
  Result<Loaded> r = test_support::run_load({"--config", file});
  ASSERT_TRUE(r.ok()) << test_support::error_of(r);
  EXPECT_EQ(r->settings.node.id, "node-a");
  EXPECT_EQ(r->settings.memory.stm_ttl, 3 * kUsPerHour);
  EXPECT_EQ(r->settings.cluster.join_secret, "s3cret;#with specials");
  EXPECT_EQ(r->settings.cluster.seeds.size(), 2u);
}

}  // namespace
}  // namespace nca::config

namespace nca::config {
namespace {

using test_support::error_of;
using test_support::run_load;

TEST(Loader, ClientVariablesAreIgnoredButOtherUnknownNcaVariablesAreErrors) {
  Result<Loaded> r = run_load({}, {{"NCA_ADDR", "127.0.0.1:7420"}, {"NCA_TENANT", "acme"},
                                   {"NCA_TOKEN", "t"}, {"NCA_TIMEOUT", "5s"}});
  ASSERT_TRUE(r.ok()) << error_of(r);
  Result<Loaded> bad = run_load({}, {{"NCA_ADRESS", "x"}});
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace nca::config
