// config/ini.hpp: reads the INI dialect of neuroca config files, keeping line numbers.
//
//   ; comment                # comment too
//   [memory]                 keys below are "memory.<key>"
//   stm-ttl = 3h             inline comments start at " ;" or " #"
//   join-secret = "a;b#c"    double quotes keep everything; \" and \\ escape inside them
//   memory.dim = 384         a dotted key before any section is taken as is
//
// The reader checks syntax and duplicate keys only; whether a key exists is the loader's business.
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <vector>

#include "nca/result.hpp"

namespace nca::config {

struct IniEntry {
  std::string key;    // "section.key"
  std::string value;  // unquoted, trimmed
  int line = 0;       // 1-based
};

// Parses `text`; `origin` names the file in messages ("/etc/nca/node.ini").
Result<std::vector<IniEntry>> parse_ini(const std::string& text, const std::string& origin);

// Reads and parses a file; a missing, unreadable or non-regular file is an error naming the path.
Result<std::vector<IniEntry>> read_ini_file(const std::string& path);

// `value` written so parse_ini reads it back unchanged (quoted when needed).
std::string ini_quote(const std::string& value);

}  // namespace nca::config
