#include "config/ini.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>

#include "config/values.hpp"

namespace nca::config {
namespace {

// Config files are small; anything bigger is a mistake (a wrong path), not a config.
constexpr size_t kMaxFileBytes = 4 << 20;

Error syntax_error(const std::string& origin, int line, const std::string& what) {
  return make_error(ErrorCode::invalid_argument,
                    "config: " + origin + " line " + std::to_string(line) + ": " + what);
}

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// Reads the value part after '='. Sets `error` on a malformed quoted value.
std::string read_value(std::string_view raw, std::string& error) {
  std::string_view t = trim(raw);
  if (!t.empty() && t[0] == '"') {
    std::string out;
    size_t i = 1;
    for (; i < t.size(); ++i) {
      char c = t[i];
      if (c == '\\' && i + 1 < t.size() && (t[i + 1] == '"' || t[i + 1] == '\\')) {
        out += t[++i];
      } else if (c == '"') {
        break;
      } else {
        out += c;
      }
    }
    if (i >= t.size()) {
      error = "unterminated quoted value (a closing \" is missing)";
      return {};
    }
    std::string_view rest = trim(t.substr(i + 1));
    if (!rest.empty() && rest[0] != ';' && rest[0] != '#') {
      error = "unexpected text after the closing quote";
      return {};
    }
    return out;
  }
  // Unquoted: a comment starts at ';' or '#' at the start or after whitespace.
  size_t end = raw.size();
  for (size_t i = 0; i < raw.size(); ++i) {
    if ((raw[i] == ';' || raw[i] == '#') &&
        (i == 0 || std::isspace(static_cast<unsigned char>(raw[i - 1])))) {
      end = i;
      break;
    }
  }
  return std::string(trim(raw.substr(0, end)));
}

}  // namespace

Result<std::vector<IniEntry>> parse_ini(const std::string& text, const std::string& origin) {
  std::vector<IniEntry> entries;
  std::map<std::string, int> first_line;
  std::string section;
  std::string_view rest = text;
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 byte order mark
  int line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    if (line.find('\0') != std::string_view::npos) {
      return syntax_error(origin, line_no, "contains a NUL byte (not a text file?)");
    }
    std::string_view t = trim(line);
    if (t.empty() || t[0] == ';' || t[0] == '#') continue;
    if (t[0] == '[') {
      size_t close = t.find(']');
      if (close == std::string_view::npos) {
        return syntax_error(origin, line_no, "section header without ']'");
      }
      std::string_view after = trim(t.substr(close + 1));
      if (!after.empty() && after[0] != ';' && after[0] != '#') {
        return syntax_error(origin, line_no, "unexpected text after the section header");
      }
      std::string_view name = trim(t.substr(1, close - 1));
      if (name.empty()) return syntax_error(origin, line_no, "empty section name");
      for (char c : name) {
        if (!is_key_char(c)) {
          return syntax_error(origin, line_no, "bad section name \"" + std::string(name) + "\"");
        }
      }
      section = std::string(name);
      continue;
    }
    size_t eq = t.find('=');
    if (eq == std::string_view::npos) {
      return syntax_error(
          origin, line_no,
          "expected \"key = value\" or \"[section]\", got \"" + std::string(t) + "\"");
    }
    std::string_view name = trim(t.substr(0, eq));
    if (name.empty()) return syntax_error(origin, line_no, "a key is missing before '='");
    for (char c : name) {
      if (!is_key_char(c)) {
        return syntax_error(origin, line_no, "bad key name \"" + std::string(name) + "\"");
      }
    }
    // `t` is trimmed, so the value part is taken from the untrimmed line to see leading blanks.
    size_t eq_in_line = line.find('=');
    std::string error;
    std::string value = read_value(line.substr(eq_in_line + 1), error);
    if (!error.empty()) return syntax_error(origin, line_no, error);
    std::string key = section.empty() ? std::string(name) : section + "." + std::string(name);
    auto [it, inserted] = first_line.emplace(key, line_no);
    if (!inserted) {
      return make_error(ErrorCode::invalid_argument,
                        "config: duplicate key \"" + key + "\" = \"" + value + "\" in " + origin +
                            " line " + std::to_string(line_no) + " (first set on line " +
                            std::to_string(it->second) + ")");
    }
    entries.push_back(IniEntry{key, std::move(value), line_no});
  }
  return entries;
}

Result<std::vector<IniEntry>> read_ini_file(const std::string& path) {
  auto fail = [&path](const std::string& why) -> Error {
    return make_error(ErrorCode::invalid_argument,
                      "config: cannot read config file \"" + path + "\": " + why);
  };
  if (path.empty()) return fail("empty path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail("is a directory");
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  if (static_cast<size_t>(st.st_size) > kMaxFileBytes) return fail("larger than 4 MiB");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return fail(std::strerror(errno));
  std::string text;
  char buf[8192];
  bool too_big = false;
  while (true) {
    size_t n = std::fread(buf, 1, sizeof buf, f);
    text.append(buf, n);
    if (text.size() > kMaxFileBytes) {
      too_big = true;
      break;
    }
    if (n < sizeof buf) break;
  }
  bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (too_big) return fail("larger than 4 MiB");
  if (read_error) return fail("read error");
  return parse_ini(text, path);
}

std::string ini_quote(const std::string& value) {
  bool needs_quotes = value.empty() || value.find_first_of(";#\"\\=") != std::string::npos ||
                      std::isspace(static_cast<unsigned char>(value.front())) ||
                      std::isspace(static_cast<unsigned char>(value.back()));
  if (!needs_quotes) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace nca::config
