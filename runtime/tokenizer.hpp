// runtime/tokenizer.hpp: the word tokenizer of the lexical (BM25) half of hybrid recall.
//
// tokenize() turns text into index terms: ASCII letters are lower-cased; every byte that is not an
// ASCII letter or digit separates tokens, except bytes >= 0x80, which are word characters so that
// UTF-8 words ("café", "東京") survive intact (they are not case-folded or normalised: the lexical
// index matches non-ASCII words byte for byte and leaves fuzzier matching to the vector index).
// Single-byte tokens are dropped unless they are a digit ("5" matters in "room 5"); English stop
// words are dropped; the rest go through a light stemmer.
//
// The stemmer is Porter's steps 1a, 1b and 1c (plurals, -ed, -ing, final y), applied only to
// tokens made of ASCII letters alone and longer than two letters, with one deliberate change to
// stay conservative: a final -s is kept after "s", "u" or "i" and in words of three letters or less
// ("glass", "status", "analysis", "gas" are not plurals). It conflates inflections, not
// derivations: "allergies" and "allergy" meet ("allergi"), "allergic" stays apart; "hiking",
// "hiked" and "hike" meet ("hike"); "running" and "run" meet. It is deterministic and has no state.
//
// Documents and queries use the same function: a query term matches an index term exactly when
// both come from the same surface word forms.
//
// Thread-safety: pure functions over their arguments; the stop-word list is a constant table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nca {

// The index terms of `text`, in order of appearance, duplicates kept (term frequency matters).
std::vector<std::string> tokenize(std::string_view text);

// True if `lowercase_word` is in the built-in English stop-word list.
bool is_stop_word(std::string_view lowercase_word);

// The stem of one lower-cased token, as tokenize() computes it; tokens with a digit, a non-ASCII
// byte, or of two bytes or less come back unchanged.
std::string stem(std::string_view lowercase_word);

}  // namespace nca
