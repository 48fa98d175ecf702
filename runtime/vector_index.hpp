// runtime/vector_index.hpp: the approximate nearest-neighbour index of one persona and tier.
//
// VectorIndex wraps an hnswlib 0.6.2 HierarchicalNSW graph over the inner-product space. While it
// holds fewer than `exact_below` vectors it keeps them in a flat array instead and searches by an
// exact scan (hnswlib's SIMD inner product): an insert is then a copy, not a graph search with
// ef_construction candidates, and a scan of a thousand vectors costs about what a graph search
// does. The graph is built from the flat vectors when the count reaches exact_below; a rebuild that
// leaves fewer than exact_below / 2 returns to the flat form. The caller
// L2-normalises every vector, so the inner product is the cosine similarity. Labels are uint64
// chosen by the caller (the runtime maps them to item ids); upsert of an existing label replaces
// its vector.
//
// Thread-safety: every method may be called from any thread. hnswlib 0.6.2 is not safe for a search
// concurrent with an insert, so mutations of the graph run under an exclusive lock and searches
// under a shared lock; writers are additionally serialised among themselves, so a rebuild can
// construct the new graph while searches continue on the old one and only the swap is exclusive.
// Nothing here does I/O under a lock except save(), which writes hnswlib's payload to the page
// cache under the shared lock (searches continue; writers wait) and checksums and fsyncs after
// releasing it.
//
// Deletion marks the element deleted in the graph (it stays in memory and still routes searches).
// When deleted elements exceed `rebuild_deleted_ratio` of the stored ones, the graph is rebuilt
// from the live vectors, which reclaims their memory and keeps search quality. Capacity doubles
// when full.
//
// The graph is created lazily on the first insert: hnswlib allocates a fixed ~2.6 MB of update
// locks per graph, and most persona tiers start empty.
//
// Errors are values: hnswlib's exceptions (std::runtime_error, std::bad_alloc) are caught here and
// returned as Status. load() verifies a checksum over the whole payload and the payload's structure
// before handing it to hnswlib, so a corrupt file is a data_loss error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "nca/result.hpp"

namespace nca {

class VectorIndex {
 public:
  struct Options {
    size_t dim = 384;
    size_t m = 16;                 // hnswlib M: links per node per layer (2*M on layer 0)
    size_t ef_construction = 200;  // candidate list size while inserting
    size_t ef_search = 100;  // candidate list size while searching (raised to k when k is larger)
    size_t initial_capacity = 1024;
    double rebuild_deleted_ratio = 0.2;
    // Below this many vectors: a flat array and exact search (0: always the HNSW graph).
    size_t exact_below = 0;
    uint64_t seed = 100;  // level generator seed: the same inserts build the same graph
  };

  struct Hit {
    uint64_t label;
    float similarity;  // inner product with the query; for normalised vectors the cosine
  };

  struct Loaded;

  explicit VectorIndex(const Options& options);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Inserts `vec` (dim floats) under `label`, replacing the vector of an existing label (also one
  // that was removed and not yet rebuilt away). invalid_argument, with the index unchanged, for a
  // null vector, a NaN or infinite value, or dim 0; resource_exhausted when memory runs out.
  Status upsert(uint64_t label, const float* vec);

  // Same for many, under one lock and with at most one resize. labels[i] goes with vecs[i]; a label
  // repeated in the batch ends with its last vector. On a size mismatch or a bad vector nothing
  // changes.
  Status upsert_batch(const std::vector<uint64_t>& labels, const std::vector<const float*>& vecs);

  // Marks `label` deleted; false if it is absent (or already removed). May rebuild the graph.
  bool remove(uint64_t label);

  // The k most similar live vectors, best first. k larger than size() returns everything live.
  // The candidate list is max(ef_search, k).
  std::vector<Hit> search(const float* query, size_t k) const;

  // Same, keeping only labels for which accept(label) is true. hnswlib 0.6.2 has no filter, so this
  // over-fetches (2k, 4k, ... up to size()) until k hits are accepted or every live vector was
  // seen. `accept` runs under the shared lock: it must not call back into this index.
  std::vector<Hit> search(const float* query, size_t k,
                          const std::function<bool(uint64_t)>& accept) const;

  bool contains(uint64_t label) const;
  size_t size() const;      // live vectors
  size_t deleted() const;   // marked deleted, still in the graph (always 0 in the flat form)
  size_t capacity() const;  // elements the graph holds before it must grow (0 in the flat form)
  bool is_exact() const;    // in the flat form: searches are exact scans
  size_t dim() const { return options_.dim; }
  const Options& options() const { return options_; }
  std::vector<uint64_t> labels() const;  // live labels, in no particular order
  std::optional<std::vector<float>> vector_of(uint64_t label) const;
  size_t memory_bytes() const;  // estimate of resident bytes of the graph and its bookkeeping

  // Writes the index to `path` atomically: a temp file in the same directory, fsynced, renamed over
  // `path`, directory fsynced. The file holds a header (magic, format version, dim, m, applied_seq,
  // count, payload length, CRC-32 of the payload) and hnswlib's own saveIndex payload (version 1)
  // or, in the flat form, each vector's label and floats (version 2).
  // `applied_seq` is the caller's last applied log index, returned by load() so it can replay from
  // there.
  Status save(const std::string& path, uint64_t applied_seq) const;

  // Reads a file written by save(). not_found if it does not exist; data_loss (with what was wrong)
  // for bad magic, version, dimension or M different from `options`, truncation, checksum mismatch
  // or an inconsistent graph. Never throws, never crashes on a damaged file.
  static Result<Loaded> load(const std::string& path, const Options& options);

 private:
  struct Graph;  // hnswlib lives only in vector_index.cpp (its header defines non-inline symbols)
  struct Flat;

  Status upsert_locked(const std::vector<uint64_t>& labels, const std::vector<const float*>& vecs);
  Status upsert_flat_locked(const std::vector<uint64_t>& labels,
                            const std::vector<const float*>& vecs);
  std::vector<Hit> search_flat(const float* query, size_t k,
                               const std::function<bool(uint64_t)>& accept) const;
  static Result<Loaded> load_flat(int fd, const std::string& path, const Options& options,
                                  uint64_t applied_seq, uint64_t count, uint64_t payload_len,
                                  uint32_t payload_crc);
  void maybe_rebuild_locked();
  static size_t memory_of(const Graph& graph);
  static std::unique_ptr<Graph> new_graph(const Options& options, size_t capacity);
  // save() and load() without the catch-all that turns std::bad_alloc into an error.
  Status save_unguarded(const std::string& path, uint64_t applied_seq) const;
  static Result<Loaded> load_unguarded(const std::string& path, const Options& options);

  // std::shared_mutex on glibc prefers readers: under steady searches a writer could wait forever.
  // A writer holds the gate while it waits for the readers inside to leave, so new readers queue
  // behind it. Meets the SharedMutex requirements (std::unique_lock / std::shared_lock work).
  class WriterFirstSharedMutex {
   public:
    void lock() {
      std::lock_guard<std::mutex> gate(gate_);
      rw_.lock();
    }
    void unlock() { rw_.unlock(); }
    void lock_shared() {
      std::lock_guard<std::mutex> gate(gate_);
      rw_.lock_shared();
    }
    void unlock_shared() { rw_.unlock_shared(); }

   private:
    std::mutex gate_;
    std::shared_mutex rw_;
  };

  Options options_;
  // Serialises writers (upsert, remove, rebuild) so a rebuild can read the old graph without
  // blocking searches. Always taken before graph_mu_.
  std::mutex writer_mu_;
  // Shared by searches and readers of the graph, exclusive for any mutation of the graph.
  mutable WriterFirstSharedMutex graph_mu_;
  std::unique_ptr<Graph> graph_;  // null until the first insert, and in the flat form
  std::unique_ptr<Flat> flat_;    // the flat form; never both set
};

struct VectorIndex::Loaded {
  std::unique_ptr<VectorIndex> index;
  uint64_t applied_seq = 0;
};

}  // namespace nca
