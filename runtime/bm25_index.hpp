// runtime/bm25_index.hpp: the in-memory lexical index of one persona, the BM25 half of recall.
//
// Bm25Index maps caller-chosen uint64 document ids (the runtime maps them to item ids, as it does
// for VectorIndex labels) to the terms tokenize() finds in their text, and ranks documents for a
// query with Okapi BM25:
//
//   score(D, Q) = sum over distinct terms t of Q present in D of
//                 idf(t) * tf(t, D) * (k1 + 1) / (tf(t, D) + k1 * (1 - b + b * |D| / avgdl))
//   idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
//
// N is the number of documents (documents with no terms count too), |D| the number of terms of D,
// avgdl the mean |D|, df(t) the number of documents containing t. A term repeated in the query
// counts once. This idf is always positive, so every document sharing a term with the query has a
// positive score.
//
// Statistics are exact under any sequence of add, replace and remove: N, df and the total length
// are integers kept in step with the postings, so an index equals, score for score, one built
// freshly from the documents it holds.
//
// Layout: each document gets a dense slot; per term, a posting vector of (slot, tf); per slot, the
// doc id, its length and its (term, tf, position in that term's postings) entries, so remove()
// deletes each posting in O(log) by swapping the last posting into its place. search() scores
// term-at-a-time over the postings of the query's terms only, accumulating into an array indexed
// by slot, and selects the top k with a partial sort. Freed slots and term ids are reused. On the
// development machine 100k documents of 40 terms index in a few seconds, take about 100 MB, and
// a five-term query costs well under a millisecond.
//
// No persistence: the index is rebuilt from the items in RocksDB when a persona starts.
// Tokenizing is microseconds per item, so a rebuild costs about as much as reading the items,
// which the runtime does anyway; a second on-disk format would only add a way to disagree with
// the store.
//
// Thread-safety: none. One owner (the persona's actor) calls every method; a const method may run
// concurrently only with other const methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nca/result.hpp"

namespace nca {

class Bm25Index {
 public:
  struct Options {
    double k1 = 1.2;  // term-frequency saturation: larger lets repeated terms count longer
    double b = 0.75;  // length normalisation: 0 ignores document length, 1 fully normalises
  };

  struct Hit {
    uint64_t doc;
    double score;
  };

  // invalid_argument unless k1 is finite and >= 0 and b is in [0, 1]. The constructor replaces an
  // out-of-range value by the nearest valid one (a NaN by the default) so that it never fails;
  // configuration code calls this first to report such values to the user.
  static Status check_options(const Options& options);

  Bm25Index();
  explicit Bm25Index(const Options& options);

  // Indexes `text` under `doc`, replacing whatever `doc` held before.
  void add(uint64_t doc, std::string_view text);

  // Removes `doc`; false if it is absent.
  bool remove(uint64_t doc);

  // The k best-scoring documents that share a term with `query` and for which `accept` (if set)
  // returns true, best first; equal scores are ordered by lower doc id. Fewer than k when fewer
  // match; empty for k == 0 or a query without terms. `accept` runs once per matching document,
  // so it should be cheap (a tier or tag lookup, not I/O).
  std::vector<Hit> search(std::string_view query, size_t k,
                          const std::function<bool(uint64_t)>& accept = {}) const;

  bool contains(uint64_t doc) const { return docs_.count(doc) != 0; }
  size_t size() const { return docs_.size(); }
  size_t term_count() const { return term_ids_.size(); }
  // df of the (already tokenized, stemmed) term; 0 if unknown.
  size_t document_frequency(std::string_view term) const;
  double average_document_length() const;
  // An estimate of the heap memory held, for metrics and capacity planning.
  size_t memory_bytes() const;
  const Options& options() const { return options_; }

 private:
  // Documents live in dense slots so that postings are 8 bytes and search can accumulate scores
  // in an array indexed by slot instead of a hash map keyed by doc id.
  struct Posting {
    uint32_t slot;
    uint32_t tf;
  };
  struct TermPostings {
    std::string term;
    std::vector<Posting> postings;
  };
  struct DocTerm {
    uint32_t term;  // index into terms_
    uint32_t tf;
    uint32_t pos;  // index of this document's posting in terms_[term].postings
  };
  struct Slot {
    uint64_t doc = 0;
    uint32_t length = 0;
    std::vector<DocTerm> terms;  // sorted by term
  };

  uint32_t intern(const std::string& term);
  uint32_t allocate_slot();
  void remove_posting(uint32_t term, uint32_t pos);

  Options options_;
  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<TermPostings> terms_;
  std::vector<uint32_t> free_term_ids_;          // ids of terms whose postings became empty
  std::unordered_map<uint64_t, uint32_t> docs_;  // doc -> slot
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  uint64_t total_length_ = 0;
};

}  // namespace nca
