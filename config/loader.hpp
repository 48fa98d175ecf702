// config/loader.hpp: builds a node's Settings from its three sources.
//
// Precedence, highest first: command line > environment (NCA_<KEY>) > INI file (--config FILE, or
// the NCA_CONFIG variable) > defaults. Every source is checked completely: an unknown key, a value
// of the wrong type or out of range, an unreadable file, a duplicate key in the file or a broken
// cross-key rule stops start-up with ErrorCode::invalid_argument and a message (one line per
// problem) that names the key, the offending value and where it came from. load() reads only what
// it is given (argv, an environment map, the named file) and keeps no state; it is thread-safe.
#pragma once

#include <map>
#include <string>

#include "config/schema.hpp"
#include "config/settings.hpp"
#include "config/source.hpp"
#include "nca/result.hpp"

namespace nca::config {

// What the program was asked to do. For help and version nothing else is read or checked.
enum class Action { run, help, print_config, check_config, version };

struct Loaded {
  Settings settings;
  Action action = Action::run;
  std::string config_file;                // the INI file read, or empty
  std::map<std::string, Source> sources;  // every key -> where its value came from
};

// The environment variable that names the config file when --config is not given.
inline constexpr const char* kConfigFileEnv = "NCA_CONFIG";

// Variables of the `nca` CLI and the SDK (NCA_ADDR, NCA_TENANT, NCA_TOKEN, NCA_TIMEOUT): not node keys,
// and ignored by the node so that one shell can run both.
inline bool is_client_env(const std::string& name) {
  return name == "NCA_ADDR" || name == "NCA_TENANT" || name == "NCA_TOKEN" || name == "NCA_TIMEOUT";
}

// argv as given to main (argv[0] is skipped). `env` maps variable names to values: main passes
// environment_from(environ), tests their own. Variables not starting with NCA_ are ignored.
// Command line: --KEY VALUE, --KEY=VALUE, --config FILE, --dev (= --node.dev true), --help/-h,
// --print-config, --check-config, --version. A key repeated on the command line: the last one wins.
Result<Loaded> load(int argc, const char* const* argv,
                    const std::map<std::string, std::string>& env);

// "NAME=VALUE" entries of a null-terminated environment block (environ) as a map.
std::map<std::string, std::string> environment_from(char** environ);

// Usage, the command-line flags, precedence rules, then every key with its type, default,
// environment name, seed name and help, grouped by section.
std::string help_text(const std::string& program);

// The settings as an INI file: one [section] per group, each key followed by "; <source>" (keys
// missing from `sources` count as defaults). Loading the text as a config file gives back the same
// Settings. With redact_secrets, non-empty credentials (KeySpec::secret) are written as
// "<redacted>" instead (then the round trip does not hold for them).
std::string render(const Settings& s, const std::map<std::string, Source>& sources,
                   bool redact_secrets = false);

}  // namespace nca::config
