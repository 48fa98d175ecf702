// config/schema.hpp: the one table of configuration keys.
//
// Every key a node understands is described here once: its name ("section.key"), type, allowed
// range, default, environment variable name, the NCA reference's name for it (seed_name) and a help
// line. The loader, --help, --print-config, docs/configuration.md and the tests are all driven by
// this table, so a key added here is parsed, validated, documented and rendered everywhere. The
// table is immutable after first use; every function here is thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "config/source.hpp"
#include "nca/result.hpp"

namespace nca::config {

struct KeySpec {
  std::string key;           // "memory.stm-ttl"
  std::string type;          // string | bool | int | double | duration | size | list | enum
  std::string default_text;  // canonical text of the default ("3h", "8MiB", "" for empty)
  std::string env_name;      // "NCA_MEMORY_STM_TTL"
  std::string seed_name;     // the NCA reference's variable ("STM_TTL"), or empty
  std::string help;          // one line: what the key means
  std::string range;         // allowed values in words ("1..256", "fixed, adaptive, progressive")
  bool secret = false;       // a credential: render() can redact it
};

// Every key, in documentation order (grouped by section).
const std::vector<KeySpec>& schema();

// The spec of `key`, or nullptr if there is no such key.
const KeySpec* find_key(const std::string& key);

// "NCA_" + upper-case key with '.' and '-' turned into '_'.
std::string env_name_for(const std::string& key);

// The closest known key to a misspelt one (for "did you mean"), or empty if nothing is close.
std::string closest_key(const std::string& key);

// Settings with every key at its default.
Settings defaults();

// Sets one key from text as if it came from `source`: the type and range are checked, the cross-key
// rules are not (see validate()). On error `s` is unchanged and the message names the key, value
// and source.
Status set(Settings& s, const std::string& key, const std::string& value,
           Source source = Source::command_line);

// Same as set(), with the origin spelt out for the message ("environment variable NCA_X",
// "/etc/nca/node.ini line 3", "command line (--x)").
Status set_from(Settings& s, const std::string& key, const std::string& value,
                const std::string& origin);

// The canonical text of a key's current value (what render() writes); not_found for an unknown key.
Result<std::string> get(const Settings& s, const std::string& key);

// Cross-key rules (e.g. health.demote < health.promote, listen addresses are host:port). `sources`
// (key -> source; missing keys count as defaults) is used only to say where offending values came
// from. All violations are reported, one per line.
Status validate(const Settings& s, const std::map<std::string, Source>& sources = {});

}  // namespace nca::config
