// tests/deploy/mini_yaml.hpp: reads the block-style YAML subset the files in deploy/ are written
// in, so the deploy test can find their settings without a YAML library.
//
// Supported: documents separated by "---"; block mappings and block sequences (a sequence may sit
// at its key's indentation, as compose files write them); "- key: value" items that open a
// mapping; plain, 'single' and "double"-quoted scalars; literal block scalars ("|", "|-", "|+");
// flow sequences of scalars ("[a, "b"]"); "{}" and "[]"; comments. Anything else (anchors,
// aliases, tags, folded scalars, non-empty flow mappings, bad indentation) is an error naming the
// line: a deploy file outside the subset fails the test rather than being half-read.
// Pure functions; thread-safe.
#pragma once

#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nca/result.hpp"

namespace nca::deploy_test {

struct YamlNode {
  enum class Kind { null, scalar, map, seq };
  Kind kind = Kind::null;
  std::string scalar;
  std::vector<std::pair<std::string, YamlNode>> map;  // in file order
  std::vector<YamlNode> seq;

  // The value under `key` of a mapping, or nullptr.
  const YamlNode* get(const std::string& key) const {
    for (const auto& [k, v] : map) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  // Follows keys through nested mappings; nullptr when one is missing.
  const YamlNode* at(std::initializer_list<const char*> path) const {
    const YamlNode* node = this;
    for (const char* key : path) {
      node = node == nullptr ? nullptr : node->get(key);
    }
    return node;
  }
  std::string text() const { return kind == Kind::scalar ? scalar : ""; }
};

namespace yaml_detail {

struct Line {
  int number = 0;     // 1-based, for messages
  size_t indent = 0;  // leading spaces
  std::string text;   // without the indentation; comments not yet stripped
};

inline Error parse_error(const std::string& origin, int line, const std::string& what) {
  return make_error(ErrorCode::invalid_argument,
                    origin + " line " + std::to_string(line) + ": " + what);
}

inline std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Removes a comment (" #..." or a line starting with "#") outside quotes.
inline std::string strip_comment(const std::string& s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return trim(s.substr(0, i));
    }
  }
  return trim(s);
}

inline bool is_blank_or_comment(const Line& line) { return strip_comment(line.text).empty(); }

// A quoted or plain scalar.
inline Result<std::string> scalar(const std::string& raw, const std::string& origin, int line) {
  std::string s = trim(raw);
  if (s.empty()) return s;
  char first = s[0];
  if (first == '&' || first == '*' || first == '!' || first == '>' || first == '%' ||
      first == '@' || first == '`') {
    return parse_error(origin, line, "'" + s + "' is outside the YAML subset this test reads");
  }
  if (first == '"') {
    std::string out;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] == '"') {
        if (i + 1 != s.size()) return parse_error(origin, line, "text after a closing quote");
        return out;
      }
      if (s[i] == '\\' && i + 1 < s.size()) {
        char e = s[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        out += s[i];
      }
    }
    return parse_error(origin, line, "unterminated double quote");
  }
  if (first == '\'') {
    std::string out;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] == '\'') {
        if (i + 1 < s.size() && s[i + 1] == '\'') {
          out += '\'';
          ++i;
          continue;
        }
        if (i + 1 != s.size()) return parse_error(origin, line, "text after a closing quote");
        return out;
      }
      out += s[i];
    }
    return parse_error(origin, line, "unterminated single quote");
  }
  return s;
}

// Where "key: value" splits: the first ':' outside quotes followed by a space or the end; npos when
// the text is not a mapping entry.
inline size_t key_colon(const std::string& s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if ((c == '"' || c == '\'') && i == 0) {
      quote = c;
    } else if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
      return i;
    } else if (c == ' ' && i + 1 < s.size() && s[i + 1] == '#') {
      return std::string::npos;
    }
  }
  return std::string::npos;
}

class Parser {
 public:
  Parser(std::vector<Line> lines, std::string origin)
      : lines_(std::move(lines)), origin_(std::move(origin)) {}

  Result<YamlNode> document() {
    skip_blank();
    if (pos_ >= lines_.size()) return YamlNode{};
    auto node = block(lines_[pos_].indent);
    if (!node) return node;
    skip_blank();
    if (pos_ < lines_.size()) {
      return parse_error(origin_, lines_[pos_].number, "unexpected indentation or content");
    }
    return node;
  }

 private:
  void skip_blank() {
    while (pos_ < lines_.size() && is_blank_or_comment(lines_[pos_])) ++pos_;
  }
  bool is_seq_item(const Line& line) const {
    return line.text == "-" || line.text.rfind("- ", 0) == 0;
  }

  Result<YamlNode> block(size_t indent) {
    skip_blank();
    const Line& line = lines_[pos_];
    if (line.indent != indent) return parse_error(origin_, line.number, "bad indentation");
    return is_seq_item(line) ? sequence(indent) : mapping(indent);
  }

  // The value after "key:" or "- ": inline, a block scalar, or a nested block on the next lines.
  Result<YamlNode> value(const std::string& inline_text, size_t parent_indent, int number,
                         bool allow_same_indent_seq) {
    std::string text = strip_comment(inline_text);
    YamlNode node;
    if (text.empty()) {
      skip_blank();
      if (pos_ < lines_.size()) {
        const Line& next = lines_[pos_];
        if (next.indent > parent_indent) return block(next.indent);
        if (allow_same_indent_seq && next.indent == parent_indent && is_seq_item(next)) {
          return sequence(parent_indent);
        }
      }
      return node;  // null
    }
    if (text == "|" || text == "|-" || text == "|+") return literal(text, parent_indent);
    if (text == "{}") {
      node.kind = YamlNode::Kind::map;
      return node;
    }
    if (text[0] == '{') {
      return parse_error(origin_, number, "flow mappings are outside the YAML subset");
    }
    if (text[0] == '[') return flow_sequence(text, number);
    auto s = scalar(text, origin_, number);
    if (!s) return s.error();
    node.kind = YamlNode::Kind::scalar;
    node.scalar = *s;
    return node;
  }

  Result<YamlNode> literal(const std::string& style, size_t parent_indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::scalar;
    size_t content_indent = std::string::npos;
    std::vector<std::string> raw;
    while (pos_ < lines_.size()) {
      const Line& line = lines_[pos_];
      bool blank = trim(line.text).empty();
      if (!blank && line.indent <= parent_indent) break;
      if (!blank && content_indent == std::string::npos) content_indent = line.indent;
      if (!blank && line.indent < content_indent) {
        return parse_error(origin_, line.number, "a block scalar line is indented less");
      }
      raw.push_back(blank ? "" : std::string(line.indent - content_indent, ' ') + line.text);
      ++pos_;
    }
    // Trailing blank lines: kept by "|+", one newline by "|", none by "|-".
    size_t kept = raw.size();
    while (kept > 0 && raw[kept - 1].empty()) --kept;
    for (size_t i = 0; i < kept; ++i) node.scalar += raw[i] + "\n";
    if (style == "|-" && !node.scalar.empty()) node.scalar.pop_back();
    if (style == "|+") {
      for (size_t i = kept; i < raw.size(); ++i) node.scalar += "\n";
    }
    return node;
  }

  Result<YamlNode> flow_sequence(const std::string& text, int number) {
    if (text.back() != ']')
      return parse_error(origin_, number, "a flow sequence must end the line");
    YamlNode node;
    node.kind = YamlNode::Kind::seq;
    std::string inner = trim(text.substr(1, text.size() - 2));
    if (inner.empty()) return node;
    std::string item;
    char quote = 0;
    auto flush = [&]() -> Status {
      auto s = scalar(item, origin_, number);
      if (!s) return s.error();
      if (s->empty() || s->front() == '[' || s->front() == '{') {
        return parse_error(origin_, number, "flow sequences hold scalars only");
      }
      YamlNode child;
      child.kind = YamlNode::Kind::scalar;
      child.scalar = *s;
      node.seq.push_back(std::move(child));
      item.clear();
      return {};
    };
    for (char c : inner) {
      if (quote != 0) {
        if (c == quote) quote = 0;
        item += c;
      } else if (c == '"' || c == '\'') {
        quote = c;
        item += c;
      } else if (c == ',') {
        if (auto st = flush(); !st) return st.error();
      } else {
        item += c;
      }
    }
    if (auto st = flush(); !st) return st.error();
    return node;
  }

  Result<YamlNode> mapping(size_t indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::map;
    while (true) {
      skip_blank();
      if (pos_ >= lines_.size()) break;
      const Line& line = lines_[pos_];
      if (line.indent < indent) break;
      if (line.indent > indent) return parse_error(origin_, line.number, "bad indentation");
      if (is_seq_item(line)) break;  // a sequence at this key's indentation ends the mapping
      size_t colon = key_colon(line.text);
      if (colon == std::string::npos) {
        return parse_error(origin_, line.number, "expected 'key: value'");
      }
      auto key = scalar(line.text.substr(0, colon), origin_, line.number);
      if (!key) return key.error();
      if (node.get(*key) != nullptr) {
        return parse_error(origin_, line.number, "duplicate key '" + *key + "'");
      }
      std::string rest = line.text.substr(colon + 1);
      int number = line.number;
      ++pos_;
      auto child = value(rest, indent, number, true);
      if (!child) return child;
      node.map.emplace_back(*key, std::move(*child));
    }
    return node;
  }

  Result<YamlNode> sequence(size_t indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::seq;
    while (true) {
      skip_blank();
      if (pos_ >= lines_.size()) break;
      Line& line = lines_[pos_];
      if (line.indent != indent || !is_seq_item(line)) {
        if (line.indent > indent) return parse_error(origin_, line.number, "bad indentation");
        break;
      }
      std::string rest = line.text.size() > 1 ? line.text.substr(2) : "";
      size_t lead = 0;
      while (lead < rest.size() && rest[lead] == ' ') ++lead;
      std::string item = rest.substr(lead);
      std::string bare = strip_comment(item);
      if (!bare.empty() && bare[0] != '[' && bare[0] != '"' && bare[0] != '\'' &&
          key_colon(bare) != std::string::npos) {
        // "- key: value" opens a mapping whose keys sit where "key" starts.
        line.indent = indent + 2 + lead;
        line.text = item;
        auto child = mapping(line.indent);
        if (!child) return child;
        node.seq.push_back(std::move(*child));
        continue;
      }
      int number = line.number;
      ++pos_;
      auto child = value(item, indent, number, false);
      if (!child) return child;
      node.seq.push_back(std::move(*child));
    }
    return node;
  }

  std::vector<Line> lines_;
  std::string origin_;
  size_t pos_ = 0;
};

}  // namespace yaml_detail

// Every document of `text`; `origin` names the file in messages.
inline Result<std::vector<YamlNode>> parse_yaml(const std::string& text,
                                                const std::string& origin) {
  using yaml_detail::Line;
  std::vector<std::vector<Line>> documents(1);
  int number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    std::string raw =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    size_t indent_end = raw.find_first_not_of(" \t");
    if (raw.substr(0, indent_end).find('\t') != std::string::npos) {
      return yaml_detail::parse_error(origin, number, "tab in indentation");
    }
    if (raw == "---" || raw.rfind("--- ", 0) == 0) {
      documents.emplace_back();
    } else {
      size_t indent = raw.find_first_not_of(' ');
      Line line;
      line.number = number;
      line.indent = indent == std::string::npos ? 0 : indent;
      line.text = indent == std::string::npos ? "" : raw.substr(indent);
      // Trailing spaces are never meaningful in this subset (block scalars trim them too).
      while (!line.text.empty() && line.text.back() == ' ') line.text.pop_back();
      documents.back().push_back(std::move(line));
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::vector<YamlNode> out;
  for (auto& lines : documents) {
    bool empty = true;
    for (const Line& line : lines) empty = empty && yaml_detail::is_blank_or_comment(line);
    if (empty) continue;
    yaml_detail::Parser parser(std::move(lines), origin);
    auto doc = parser.document();
    if (!doc) return doc.error();
    out.push_back(std::move(*doc));
  }
  return out;
}

}  // namespace nca::deploy_test
