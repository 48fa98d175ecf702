// runtime/tokenizer.cpp: see tokenizer.hpp.
#include "runtime/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace nca {
namespace {

// Sorted, so lookup is a binary search; the static_assert below keeps it sorted.
constexpr std::array<std::string_view, 76> kStopWords = {
    "a",     "about", "after", "all",   "also",  "am",      "an",   "and",   "any",   "are",
    "as",    "at",    "be",    "been",  "being", "but",     "by",   "can",   "could", "did",
    "do",    "does",  "for",   "from",  "had",   "has",     "have", "he",    "her",   "him",
    "his",   "how",   "i",     "if",    "in",    "into",    "is",   "it",    "its",   "me",
    "my",    "of",    "on",    "or",    "our",   "she",     "so",   "than",  "that",  "the",
    "their", "them",  "then",  "there", "these", "they",    "this", "those", "to",    "was",
    "we",    "were",  "what",  "when",  "where", "which",   "who",  "whom",  "why",   "will",
    "with",  "would", "you",   "your",  "yours", "yourself"};

constexpr bool strictly_sorted(const std::array<std::string_view, kStopWords.size()>& words) {
  for (size_t i = 1; i < words.size(); ++i) {
    if (!(words[i - 1] < words[i])) return false;
  }
  return true;
}
static_assert(strictly_sorted(kStopWords), "kStopWords must be sorted for binary search");

bool is_ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_ascii_lower_word(std::string_view w) {
  return std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Porter's consonant test: y is a consonant at the start or after a vowel.
bool is_consonant(const std::string& w, size_t i) {
  switch (w[i]) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
      return false;
    case 'y':
      return i == 0 || !is_consonant(w, i - 1);
    default:
      return true;
  }
}

// Porter's measure m of w[0, len): the number of vowel-consonant sequences.
int measure(const std::string& w, size_t len) {
  int m = 0;
  size_t i = 0;
  while (i < len && is_consonant(w, i)) ++i;
  while (i < len) {
    while (i < len && !is_consonant(w, i)) ++i;
    if (i >= len) break;
    while (i < len && is_consonant(w, i)) ++i;
    ++m;
  }
  return m;
}

bool has_vowel(const std::string& w, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (!is_consonant(w, i)) return true;
  }
  return false;
}

bool ends_with(const std::string& w, std::string_view suffix) {
  return w.size() >= suffix.size() &&
         std::string_view(w).substr(w.size() - suffix.size()) == suffix;
}

bool ends_double_consonant(const std::string& w) {
  size_t n = w.size();
  return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

// Porter's *o: the word ends consonant-vowel-consonant and the last consonant is not w, x or y.
bool ends_cvc(const std::string& w) {
  size_t n = w.size();
  if (n < 3) return false;
  if (!is_consonant(w, n - 3) || is_consonant(w, n - 2) || !is_consonant(w, n - 1)) return false;
  char c = w[n - 1];
  return c != 'w' && c != 'x' && c != 'y';
}

void step_1a(std::string& w) {
  if (ends_with(w, "sses")) {
    w.resize(w.size() - 2);
  } else if (ends_with(w, "ies")) {
    w.resize(w.size() - 2);
  } else if (ends_with(w, "s") && w.size() > 3) {
    char before = w[w.size() - 2];
    // Conservative deviation from Porter: "-ss", "-us", "-is" are rarely plurals.
    if (before != 's' && before != 'u' && before != 'i') w.pop_back();
  }
}

void step_1b(std::string& w) {
  if (ends_with(w, "eed")) {
    if (measure(w, w.size() - 3) > 0) w.pop_back();
    return;
  }
  size_t cut = 0;
  if (ends_with(w, "ed") && has_vowel(w, w.size() - 2)) {
    cut = 2;
  } else if (ends_with(w, "ing") && has_vowel(w, w.size() - 3)) {
    cut = 3;
  }
  if (cut == 0) return;
  w.resize(w.size() - cut);
  if (ends_with(w, "at") || ends_with(w, "bl") || ends_with(w, "iz")) {
    w.push_back('e');
  } else if (ends_double_consonant(w)) {
    char c = w.back();
    if (c != 'l' && c != 's' && c != 'z') w.pop_back();
  } else if (measure(w, w.size()) == 1 && ends_cvc(w)) {
    w.push_back('e');
  }
}

void step_1c(std::string& w) {
  if (ends_with(w, "y") && has_vowel(w, w.size() - 1)) w.back() = 'i';
}

void emit(std::string& token, std::vector<std::string>& out) {
  if (token.empty() || is_stop_word(token)) return;
  std::string term = stem(token);
  bool single_digit = term.size() == 1 && term[0] >= '0' && term[0] <= '9';
  if (term.size() > 1 || single_digit) out.push_back(std::move(term));
}

}  // namespace

bool is_stop_word(std::string_view lowercase_word) {
  return std::binary_search(kStopWords.begin(), kStopWords.end(), lowercase_word);
}

std::string stem(std::string_view lowercase_word) {
  std::string w(lowercase_word);
  if (w.size() <= 2 || !is_ascii_lower_word(w)) return w;
  step_1a(w);
  step_1b(w);
  step_1c(w);
  return w;
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::string token;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || is_ascii_alnum(c)) {
      token.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else {
      emit(token, out);
      token.clear();
    }
  }
  emit(token, out);
  return out;
}

}  // namespace nca
