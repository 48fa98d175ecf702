// config/source.hpp: where a configuration value came from.
//
// Sources are ordered by precedence: a value from a later enumerator overrides one from an earlier
// one (command line > environment > file > default).
#pragma once

namespace nca::config {

enum class Source { default_value, file, environment, command_line };

inline const char* to_string(Source source) {
  switch (source) {
    case Source::default_value:
      return "default";
    case Source::file:
      return "file";
    case Source::environment:
      return "environment";
    case Source::command_line:
      return "command line";
  }
  return "unknown";
}

}  // namespace nca::config
