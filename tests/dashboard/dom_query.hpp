// Test support: finds elements in a serialized DOM (what `chromium --dump-dom` prints) by their
// attributes. Deliberately small: start tags and their double-quoted attributes are all the
// dashboard test needs (the dashboard marks what it shows with ids and data-* attributes). Not a
// full HTML parser: it does not nest or read text content. Pure functions; thread-safe.
#pragma once

#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace nca::testing {

struct DomTag {
  std::string name;                          // lower case, e.g. "tr"
  std::map<std::string, std::string> attrs;  // entities in values are decoded (&quot; &amp; ...)
  size_t offset = 0;                         // where the tag starts in the document
};

inline std::string decode_entities(std::string s) {
  static const std::vector<std::pair<std::string, std::string>> kEntities = {
      {"&quot;", "\""}, {"&lt;", "<"},   {"&gt;", ">"},
      {"&#39;", "'"},   {"&nbsp;", " "}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }
  return s;
}

// Every start tag of `dom` in document order (comments are skipped).
inline std::vector<DomTag> parse_tags(const std::string& dom) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  };
  std::vector<DomTag> out;
  size_t i = 0;
  const size_t n = dom.size();
  while ((i = dom.find('<', i)) != std::string::npos) {
    if (dom.compare(i, 4, "<!--") == 0) {
      size_t end = dom.find("-->", i + 4);
      i = end == std::string::npos ? n : end + 3;
      continue;
    }
    if (i + 1 >= n || !std::isalpha(static_cast<unsigned char>(dom[i + 1]))) {
      ++i;
      continue;
    }
    DomTag tag;
    tag.offset = i;
    size_t j = i + 1;
    while (j < n && !is_space(dom[j]) && dom[j] != '>' && dom[j] != '/') {
      tag.name += static_cast<char>(std::tolower(static_cast<unsigned char>(dom[j++])));
    }
    while (j < n && dom[j] != '>') {
      if (is_space(dom[j]) || dom[j] == '/') {
        ++j;
        continue;
      }
      std::string name;
      while (j < n && !is_space(dom[j]) && dom[j] != '=' && dom[j] != '>' && dom[j] != '/') {
        name += dom[j++];
      }
      std::string value;
      if (j < n && dom[j] == '=') {
        ++j;
        if (j < n && (dom[j] == '"' || dom[j] == '\'')) {
          char quote = dom[j++];
          size_t end = dom.find(quote, j);
          if (end == std::string::npos) end = n;
          value = dom.substr(j, end - j);
          j = end + 1;
        } else {
          while (j < n && !is_space(dom[j]) && dom[j] != '>') value += dom[j++];
        }
      }
      tag.attrs[name] = decode_entities(value);
    }
    out.push_back(std::move(tag));
    i = j;
  }
  return out;
}

// The tags that have every attribute of `want` with exactly that value ("" matches presence only
// when the wanted value is "*").
inline std::vector<DomTag> find_tags(const std::vector<DomTag>& tags,
                                     const std::map<std::string, std::string>& want) {
  std::vector<DomTag> out;
  for (const auto& t : tags) {
    bool all = true;
    for (const auto& [k, v] : want) {
      auto it = t.attrs.find(k);
      if (it == t.attrs.end() || (v != "*" && it->second != v)) {
        all = false;
        break;
      }
    }
    if (all) out.push_back(t);
  }
  return out;
}

// The value of `attr` on the single tag matching `want`, or "<missing>" / "<N matches>" so a failed
// expectation prints what was found.
inline std::string attr_of(const std::vector<DomTag>& tags,
                           const std::map<std::string, std::string>& want,
                           const std::string& attr) {
  auto found = find_tags(tags, want);
  if (found.size() != 1) return "<" + std::to_string(found.size()) + " matches>";
  auto it = found[0].attrs.find(attr);
  return it == found[0].attrs.end() ? "<missing>" : it->second;
}

}  // namespace nca::testing
