// runtime/bm25_index.cpp: see bm25_index.hpp.
#include "runtime/bm25_index.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/tokenizer.hpp"

namespace nca {
namespace {

Bm25Index::Options sanitized(Bm25Index::Options o) {
  const Bm25Index::Options defaults;
  if (std::isnan(o.k1)) o.k1 = defaults.k1;
  if (std::isnan(o.b)) o.b = defaults.b;
  o.k1 = std::clamp(o.k1, 0.0, std::numeric_limits<double>::max());
  o.b = std::clamp(o.b, 0.0, 1.0);
  return o;
}

bool better(const Bm25Index::Hit& x, const Bm25Index::Hit& y) {
  return x.score > y.score || (x.score == y.score && x.doc < y.doc);
}

}  // namespace

Status Bm25Index::check_options(const Options& options) {
  if (!std::isfinite(options.k1) || options.k1 < 0) {
    return make_error(
        ErrorCode::invalid_argument,
        "bm25 k1 must be a finite number >= 0 (typical: 1.2), got " + std::to_string(options.k1));
  }
  if (!(options.b >= 0 && options.b <= 1)) {
    return make_error(ErrorCode::invalid_argument,
                      "bm25 b must be in [0, 1] (typical: 0.75), got " + std::to_string(options.b));
  }
  return Status{};
}

Bm25Index::Bm25Index() : Bm25Index(Options{}) {}

Bm25Index::Bm25Index(const Options& options) : options_(sanitized(options)) {}

uint32_t Bm25Index::intern(const std::string& term) {
  auto it = term_ids_.find(term);
  if (it != term_ids_.end()) return it->second;
  uint32_t id;
  if (!free_term_ids_.empty()) {
    id = free_term_ids_.back();
    free_term_ids_.pop_back();
    terms_[id].term = term;
  } else {
    id = static_cast<uint32_t>(terms_.size());
    terms_.push_back(TermPostings{term, {}});
  }
  term_ids_.emplace(term, id);
  return id;
}

uint32_t Bm25Index::allocate_slot() {
  if (!free_slots_.empty()) {
    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

void Bm25Index::add(uint64_t doc, std::string_view text) {
  remove(doc);
  std::vector<std::string> tokens = tokenize(text);
  std::sort(tokens.begin(), tokens.end());
  const uint32_t slot_id = allocate_slot();
  Slot& slot = slots_[slot_id];
  slot.doc = doc;
  // A text long enough to overflow 32 bits cannot reach here (items are at most 64 KiB), but the
  // length saturates rather than wraps if one ever does.
  slot.length =
      static_cast<uint32_t>(std::min<size_t>(tokens.size(), std::numeric_limits<uint32_t>::max()));
  slot.terms.clear();
  for (size_t i = 0; i < tokens.size();) {
    size_t j = i + 1;
    while (j < tokens.size() && tokens[j] == tokens[i]) ++j;
    const auto tf = static_cast<uint32_t>(j - i);
    const uint32_t term = intern(tokens[i]);
    auto& postings = terms_[term].postings;
    slot.terms.push_back(DocTerm{term, tf, static_cast<uint32_t>(postings.size())});
    postings.push_back(Posting{slot_id, tf});
    i = j;
  }
  std::sort(slot.terms.begin(), slot.terms.end(),
            [](const DocTerm& x, const DocTerm& y) { return x.term < y.term; });
  slot.terms.shrink_to_fit();
  total_length_ += slot.length;
  docs_.emplace(doc, slot_id);
}

void Bm25Index::remove_posting(uint32_t term, uint32_t pos) {
  auto& postings = terms_[term].postings;
  if (pos + 1 != postings.size()) {
    postings[pos] = postings.back();
    // The moved posting belongs to another document: point its entry at the new place.
    auto& moved_terms = slots_[postings[pos].slot].terms;
    auto it = std::lower_bound(moved_terms.begin(), moved_terms.end(), term,
                               [](const DocTerm& t, uint32_t id) { return t.term < id; });
    it->pos = pos;
  }
  postings.pop_back();
  if (postings.empty()) {
    term_ids_.erase(terms_[term].term);
    std::string().swap(terms_[term].term);
    std::vector<Posting>().swap(postings);
    free_term_ids_.push_back(term);
  }
}

bool Bm25Index::remove(uint64_t doc) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return false;
  const uint32_t slot_id = it->second;
  Slot& slot = slots_[slot_id];
  for (const DocTerm& t : slot.terms) remove_posting(t.term, t.pos);
  total_length_ -= slot.length;
  std::vector<DocTerm>().swap(slot.terms);
  slot.length = 0;
  free_slots_.push_back(slot_id);
  docs_.erase(it);
  return true;
}

size_t Bm25Index::document_frequency(std::string_view term) const {
  auto it = term_ids_.find(std::string(term));
  return it == term_ids_.end() ? 0 : terms_[it->second].postings.size();
}

double Bm25Index::average_document_length() const {
  return docs_.empty() ? 0.0
                       : static_cast<double>(total_length_) / static_cast<double>(docs_.size());
}

std::vector<Bm25Index::Hit> Bm25Index::search(std::string_view query, size_t k,
                                              const std::function<bool(uint64_t)>& accept) const {
  std::vector<Hit> hits;
  if (k == 0 || docs_.empty()) return hits;
  std::vector<std::string> terms = tokenize(query);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());

  std::vector<const TermPostings*> matched;
  size_t total_postings = 0;
  for (const auto& term : terms) {
    auto it = term_ids_.find(term);
    if (it == term_ids_.end()) continue;
    matched.push_back(&terms_[it->second]);
    total_postings += terms_[it->second].postings.size();
  }
  if (matched.empty()) return hits;

  const double n = static_cast<double>(docs_.size());
  const double avgdl = average_document_length();  // > 0: some document holds a matched term
  const double k1 = options_.k1;
  const double b = options_.b;
  // Every contribution is > 0 (idf > 0 because df <= N, and tf >= 1), so a zero entry means
  // "not touched yet".
  std::vector<double> scores(slots_.size(), 0.0);
  std::vector<uint32_t> touched;
  touched.reserve(std::min(total_postings, docs_.size()));
  for (const TermPostings* t : matched) {
    const double df = static_cast<double>(t->postings.size());
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const Posting& p : t->postings) {
      const double tf = p.tf;
      const double length = slots_[p.slot].length;
      const double norm = k1 * (1.0 - b + b * length / avgdl);
      double& score = scores[p.slot];
      if (score == 0) touched.push_back(p.slot);
      score += idf * tf * (k1 + 1.0) / (tf + norm);
    }
  }

  hits.reserve(touched.size());
  for (uint32_t slot : touched) {
    const uint64_t doc = slots_[slot].doc;
    if (!accept || accept(doc)) hits.push_back(Hit{doc, scores[slot]});
  }
  const size_t top = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(top), hits.end(),
                    better);
  hits.resize(top);
  return hits;
}

size_t Bm25Index::memory_bytes() const {
  // Hash-table nodes are estimated as their payload plus a next pointer and a cached hash.
  constexpr size_t kNodeOverhead = 2 * sizeof(void*);
  size_t bytes = sizeof(*this);
  bytes += terms_.capacity() * sizeof(TermPostings);
  for (const auto& t : terms_) {
    bytes += t.postings.capacity() * sizeof(Posting);
    // The term text lives twice (here and as the map key); short strings need no heap.
    if (t.term.capacity() > 15) bytes += 2 * (t.term.capacity() + 1);
  }
  bytes += term_ids_.bucket_count() * sizeof(void*) +
           term_ids_.size() * (sizeof(std::pair<const std::string, uint32_t>) + kNodeOverhead);
  bytes += free_term_ids_.capacity() * sizeof(uint32_t);
  bytes += docs_.bucket_count() * sizeof(void*) +
           docs_.size() * (sizeof(std::pair<const uint64_t, uint32_t>) + kNodeOverhead);
  bytes += slots_.capacity() * sizeof(Slot) + free_slots_.capacity() * sizeof(uint32_t);
  for (const auto& slot : slots_) bytes += slot.terms.capacity() * sizeof(DocTerm);
  return bytes;
}

}  // namespace nca
