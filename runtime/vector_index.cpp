#include "runtime/vector_index.hpp"

// hnswlib.h defines non-inline functions and globals (cpuid, AVXCapable, the SIMD dispatch
// pointers): it must be included by exactly one translation unit of a binary, and this is it.
#include "runtime/hnswlib_sanitizer.hpp"  // first: it chooses hnswlib's kernels

#include <hnswlib/hnswlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <unordered_set>

#include "storage/crc32.hpp"

namespace nca {
namespace {

using Hnsw = hnswlib::HierarchicalNSW<float>;

// ---- file format
// --------------------------------------------------------------------------------- A 64-byte
// little-endian header, then hnswlib's saveIndex payload (native layout, x86-64; version 1) or the
// flat form's vectors, each a u64 label and dim floats (version 2).
constexpr char kMagic[8] = {'N', 'C', 'A', 'V', 'E', 'C', 'I', 'X'};
constexpr uint32_t kGraphVersion = 1;
constexpr uint32_t kFlatVersion = 2;
constexpr size_t kHeaderSize = 64;
// hnswlib 0.6.2's saveIndex header: 6 size_t, int maxlevel, uint32 entry point, 3 size_t, double
// mult, size_t ef_construction.
constexpr size_t kHnswHeaderSize = 6 * 8 + 4 + 4 + 3 * 8 + 8 + 8;
constexpr size_t kCopyChunk = 1 << 20;

struct FileHeader {
  uint32_t version = kGraphVersion;
  uint64_t dim = 0;
  uint64_t m = 0;
  uint64_t applied_seq = 0;
  uint64_t count = 0;  // live vectors
  uint64_t payload_len = 0;
  uint32_t payload_crc = 0;
};

// Continues a CRC-32 (IEEE): pass 0 to start, the previous result to continue.
uint32_t crc32_update(uint32_t crc, const unsigned char* p, size_t n) {
  return storage::crc32_ieee_extend(crc, p, n);
}

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Layout: magic[8] version u32, header_size u32, dim, m, applied_seq, count, payload_len (u64
// each), payload_crc u32, header_crc u32 (CRC of the 60 bytes before it).
std::array<unsigned char, kHeaderSize> encode_header(const FileHeader& h) {
  std::array<unsigned char, kHeaderSize> b{};
  std::memcpy(b.data(), kMagic, 8);
  put_u32(&b[8], h.version);
  put_u32(&b[12], static_cast<uint32_t>(kHeaderSize));
  put_u64(&b[16], h.dim);
  put_u64(&b[24], h.m);
  put_u64(&b[32], h.applied_seq);
  put_u64(&b[40], h.count);
  put_u64(&b[48], h.payload_len);
  put_u32(&b[56], h.payload_crc);
  put_u32(&b[60], crc32_update(0, b.data(), 60));
  return b;
}

Error data_loss(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::data_loss,
                    "vector index file " + path + ": " + what + "; rebuild the index from storage");
}

Result<FileHeader> decode_header(const unsigned char* b, const std::string& path) {
  if (std::memcmp(b, kMagic, 8) != 0)
    return data_loss(path, "not a neuroca vector index (bad magic)");
  if (get_u32(&b[60]) != crc32_update(0, b, 60)) return data_loss(path, "header checksum mismatch");
  const uint32_t version = get_u32(&b[8]);
  if (version != kGraphVersion && version != kFlatVersion) {
    return data_loss(path, "format version " + std::to_string(version) + ", this build reads " +
                               std::to_string(kGraphVersion) + " and " +
                               std::to_string(kFlatVersion));
  }
  if (get_u32(&b[12]) != kHeaderSize) return data_loss(path, "unexpected header size");
  FileHeader h;
  h.version = version;
  h.dim = get_u64(&b[16]);
  h.m = get_u64(&b[24]);
  h.applied_seq = get_u64(&b[32]);
  h.count = get_u64(&b[40]);
  h.payload_len = get_u64(&b[48]);
  h.payload_crc = get_u32(&b[56]);
  return h;
}

// ---- small POSIX helpers
// -------------------------------------------------------------------------
std::string errno_text(int err) { return std::strerror(err); }

Error io_error(const std::string& what, const std::string& path, int err) {
  const ErrorCode code =
      (err == ENOSPC || err == EDQUOT) ? ErrorCode::resource_exhausted : ErrorCode::internal;
  return make_error(code, what + " " + path + ": " + errno_text(err));
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // close() reports deferred write errors (e.g. on NFS), so callers that wrote check it.
  int close_checked() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_ = -1;
};

// Removes a file when it goes out of scope unless released.
class TempFile {
 public:
  TempFile() = default;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  // Creates a unique file next to `base`; returns its open descriptor or -1 (errno set).
  int create(const std::string& base, const char* suffix) {
    std::string templ = base + suffix + "-XXXXXX";
    const int fd = ::mkstemp(templ.data());
    if (fd >= 0) path_ = templ;
    return fd;
  }
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

bool write_all(int fd, const unsigned char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads up to n bytes; returns bytes read (short only at end of file) or -1.
ssize_t read_full(int fd, unsigned char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

void fsync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  // Best effort: some filesystems refuse fsync on directories; the rename itself already happened.
  if (fd.get() >= 0) ::fsync(fd.get());
}

// Walks the link-list section of an hnswlib payload as it streams by: after the level-0 block, each
// element has a uint32 byte count followed by that many bytes. It checks every count is a whole
// number of levels and that the last list ends exactly at the end of the payload, so loadIndex
// never reads past the file or allocates a size that was not written.
class LinkListWalker {
 public:
  LinkListWalker(uint64_t first_offset, uint64_t elements, uint64_t bytes_per_level,
                 uint64_t max_level)
      : next_(first_offset),
        remaining_(elements),
        bytes_per_level_(bytes_per_level),
        max_level_(max_level) {}

  // `data` holds payload bytes [offset, offset + n). Returns an error text, or empty.
  std::string feed(uint64_t offset, const unsigned char* data, size_t n) {
    const uint64_t end = offset + n;
    while (remaining_ > 0 && next_ < end) {
      while (have_ < 4 && next_ + have_ < end) {
        if (next_ + have_ < offset) return "internal walk error";
        size_bytes_[have_] = data[next_ + have_ - offset];
        ++have_;
      }
      if (have_ < 4) break;  // the count straddles into the next chunk
      const uint64_t size = get_u32(size_bytes_);
      if (size % bytes_per_level_ != 0) return "a link list has a size that is not whole levels";
      if (size / bytes_per_level_ > max_level_) return "a link list is deeper than the graph";
      next_ += 4 + size;
      have_ = 0;
      --remaining_;
    }
    return {};
  }

  bool complete_at(uint64_t payload_len) const { return remaining_ == 0 && next_ == payload_len; }

 private:
  uint64_t next_;
  uint64_t remaining_;
  uint64_t bytes_per_level_;
  uint64_t max_level_;
  unsigned char size_bytes_[4] = {0, 0, 0, 0};
  size_t have_ = 0;
};

struct HnswFileHeader {
  uint64_t offset_level0, max_elements, count, size_data_per_element, label_offset, offset_data;
  int32_t max_level;
  uint32_t entry_point;
  uint64_t max_m, max_m0, m;
  double mult;
  uint64_t ef_construction;
};

HnswFileHeader parse_hnsw_header(const unsigned char* p) {
  HnswFileHeader h{};
  size_t o = 0;
  auto u64 = [&] {
    const uint64_t v = get_u64(p + o);
    o += 8;
    return v;
  };
  h.offset_level0 = u64();
  h.max_elements = u64();
  h.count = u64();
  h.size_data_per_element = u64();
  h.label_offset = u64();
  h.offset_data = u64();
  h.max_level = static_cast<int32_t>(get_u32(p + o));
  o += 4;
  h.entry_point = get_u32(p + o);
  o += 4;
  h.max_m = u64();
  h.max_m0 = u64();
  h.m = u64();
  const uint64_t mult_bits = u64();
  std::memcpy(&h.mult, &mult_bits, sizeof(double));
  h.ef_construction = u64();
  return h;
}

// The graph's own description must agree with the options and with the file's length before hnswlib
// sees it: hnswlib trusts every field.
std::string check_hnsw_header(const HnswFileHeader& h, const FileHeader& file, size_t dim) {
  const uint64_t links0 = h.max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  if (h.offset_level0 != 0) return "graph header: unexpected level-0 offset";
  if (h.m != file.m || h.max_m != h.m || h.max_m0 != 2 * h.m) return "graph header: M disagrees";
  if (h.offset_data != links0) return "graph header: data offset disagrees with M";
  if (h.label_offset != h.offset_data + dim * sizeof(float)) return "graph header: wrong dimension";
  if (h.size_data_per_element != h.label_offset + sizeof(hnswlib::labeltype)) {
    return "graph header: element size disagrees";
  }
  if (h.count > (file.payload_len - kHnswHeaderSize) / h.size_data_per_element) {
    return "graph header: more elements than the file holds";
  }
  if (h.count < file.count) return "graph header: fewer elements than the header's live count";
  if (h.count > 0 && (h.entry_point >= h.count || h.max_level < 0 || h.max_level > 1000)) {
    return "graph header: bad entry point or level";
  }
  if (!(h.mult > 0.0) || !std::isfinite(h.mult)) return "graph header: bad level multiplier";
  if (h.ef_construction == 0) return "graph header: bad ef_construction";
  return {};
}

// After loadIndex: every link must point at an element that exists on that level, and labels must
// be unique, or a search could read out of bounds.
std::string check_loaded_graph(const Hnsw& g, uint64_t live_count) {
  const size_t n = g.cur_element_count;
  if (g.label_lookup_.size() != n) return "duplicate labels in the graph";
  if (n - g.num_deleted_ != live_count) return "live count disagrees with the header";
  if (n == 0) return {};
  if (g.enterpoint_node_ >= n || g.element_levels_[g.enterpoint_node_] != g.maxlevel_) {
    return "bad entry point";
  }
  for (size_t i = 0; i < n; ++i) {
    const int levels = g.element_levels_[i];
    if (levels < 0 || levels > g.maxlevel_) return "element deeper than the graph";
    for (int level = 0; level <= levels; ++level) {
      hnswlib::linklistsizeint* list =
          g.get_linklist_at_level(static_cast<hnswlib::tableint>(i), level);
      const size_t count = g.getListCount(list);
      if (count > (level == 0 ? g.maxM0_ : g.maxM_)) return "link list longer than M allows";
      const auto* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
      for (size_t j = 0; j < count; ++j) {
        if (ids[j] >= n || g.element_levels_[ids[j]] < level) return "link to a missing element";
      }
    }
  }
  return {};
}

size_t payload_size_of(const Hnsw& g) {
  size_t size = kHnswHeaderSize + g.cur_element_count * g.size_data_per_element_;
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    size += sizeof(unsigned int);
    if (g.element_levels_[i] > 0) size += g.size_links_per_element_ * g.element_levels_[i];
  }
  return size;
}

}  // namespace

// The space must outlive the graph: hnswlib keeps a pointer to its dimension.
struct VectorIndex::Graph {
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<Hnsw> hnsw;

  size_t live() const { return hnsw->cur_element_count - hnsw->num_deleted_; }

  // Internal id of a live label, or nothing.
  std::optional<hnswlib::tableint> find_live(uint64_t label) const {
    auto it = hnsw->label_lookup_.find(label);
    if (it == hnsw->label_lookup_.end() || hnsw->isMarkedDeleted(it->second)) return std::nullopt;
    return it->second;
  }
};

// The flat form: vectors packed slot after slot; a removal moves the last slot into the hole.
struct VectorIndex::Flat {
  explicit Flat(size_t d) : dim(d), space(d) {}

  size_t dim;
  hnswlib::InnerProductSpace space;  // for hnswlib's SIMD inner product
  std::vector<float> data;
  std::vector<uint64_t> labels;
  std::unordered_map<uint64_t, size_t> slot_of;

  size_t live() const { return labels.size(); }
  const float* at(size_t slot) const { return data.data() + slot * dim; }

  void put(uint64_t label, const float* vec) {
    auto it = slot_of.find(label);
    if (it != slot_of.end()) {
      std::memcpy(data.data() + it->second * dim, vec, dim * sizeof(float));
      return;
    }
    slot_of.emplace(label, labels.size());
    labels.push_back(label);
    data.insert(data.end(), vec, vec + dim);
  }

  bool erase(uint64_t label) {
    auto it = slot_of.find(label);
    if (it == slot_of.end()) return false;
    const size_t slot = it->second;
    const size_t last = labels.size() - 1;
    slot_of.erase(it);
    if (slot != last) {
      std::memcpy(data.data() + slot * dim, at(last), dim * sizeof(float));
      labels[slot] = labels[last];
      slot_of[labels[slot]] = slot;
    }
    labels.pop_back();
    data.resize(last * dim);
    return true;
  }
};

namespace {

VectorIndex::Options sanitize(VectorIndex::Options o) {
  // hnswlib needs M >= 2 (its level multiplier is 1/ln M) and stores the level-0 link count in 16
  // bits.
  o.m = std::clamp<size_t>(o.m, 2, 1000);
  o.ef_construction = std::max<size_t>(o.ef_construction, 1);
  o.ef_search = std::max<size_t>(o.ef_search, 1);
  o.initial_capacity = std::max<size_t>(o.initial_capacity, 1);
  if (!(o.rebuild_deleted_ratio > 0.0) || !(o.rebuild_deleted_ratio <= 1.0)) {
    o.rebuild_deleted_ratio = 0.2;
  }
  return o;
}

Status check_vector(const float* vec, size_t dim) {
  if (dim == 0) return make_error(ErrorCode::invalid_argument, "vector index has dimension 0");
  if (vec == nullptr) return make_error(ErrorCode::invalid_argument, "null vector given to index");
  // One NaN would make every comparison through that node false and quietly bend the graph.
  for (size_t i = 0; i < dim; ++i) {
    if (!std::isfinite(vec[i])) {
      return make_error(ErrorCode::invalid_argument,
                        "vector has a non-finite value at position " + std::to_string(i));
    }
  }
  return Status();
}

Error hnsw_error(const char* what, const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return make_error(ErrorCode::resource_exhausted,
                      std::string(what) + ": out of memory growing the vector index");
  }
  return make_error(ErrorCode::internal, std::string(what) + ": hnswlib: " + e.what());
}

// True when the stored vector at `id` equals `vec` bit for bit: replays re-upsert unchanged
// vectors, and re-linking a node in the graph is the most expensive thing an upsert can do.
bool same_vector(const Hnsw& g, hnswlib::tableint id, const float* vec) {
  return std::memcmp(g.getDataByInternalId(id), vec, g.data_size_) == 0;
}

}  // namespace

VectorIndex::VectorIndex(const Options& options) : options_(sanitize(options)) {}

// May throw std::bad_alloc / std::runtime_error; callers convert.
std::unique_ptr<VectorIndex::Graph> VectorIndex::new_graph(const Options& o, size_t capacity) {
  auto graph = std::make_unique<Graph>();
  graph->space = std::make_unique<hnswlib::InnerProductSpace>(o.dim);
  graph->hnsw =
      std::make_unique<Hnsw>(graph->space.get(), capacity, o.m, o.ef_construction, o.seed);
  graph->hnsw->setEf(o.ef_search);
  return graph;
}

VectorIndex::~VectorIndex() = default;

Status VectorIndex::upsert(uint64_t label, const float* vec) {
  return upsert_batch({label}, {vec});
}

Status VectorIndex::upsert_batch(const std::vector<uint64_t>& labels,
                                 const std::vector<const float*>& vecs) {
  if (labels.size() != vecs.size()) {
    return make_error(ErrorCode::invalid_argument,
                      "upsert_batch got " + std::to_string(labels.size()) + " labels and " +
                          std::to_string(vecs.size()) + " vectors; they must pair up");
  }
  for (const float* v : vecs) {
    Status s = check_vector(v, options_.dim);
    if (!s.ok()) return s;
  }
  if (labels.empty()) return Status();
  std::lock_guard<std::mutex> writer(writer_mu_);
  return upsert_locked(labels, vecs);
}

Status VectorIndex::upsert_locked(const std::vector<uint64_t>& labels,
                                  const std::vector<const float*>& vecs) {
  if (!graph_ && options_.exact_below > 0) return upsert_flat_locked(labels, vecs);
  try {
    // Labels the graph does not hold yet decide the growth; count each once.
    std::unordered_set<uint64_t> fresh;
    for (uint64_t label : labels) {
      if (!graph_ || graph_->hnsw->label_lookup_.count(label) == 0) fresh.insert(label);
    }
    if (!graph_) {
      // A graph nobody can see yet is filled without any lock, then published.
      auto graph = new_graph(options_, std::max(options_.initial_capacity, fresh.size()));
      for (size_t i = 0; i < labels.size(); ++i) graph->hnsw->addPoint(vecs[i], labels[i]);
      std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
      graph_ = std::move(graph);
      return Status();
    }
    Hnsw& g = *graph_->hnsw;
    std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
    const size_t needed = g.cur_element_count + fresh.size();
    if (needed > g.max_elements_) g.resizeIndex(std::max(needed, 2 * g.max_elements_));
    for (size_t i = 0; i < labels.size(); ++i) {
      // hnswlib 0.6.2's addPoint on a known label unmarks it if deleted and re-links it in place
      // (updatePoint with neighbour-update probability 1), so an upsert never adds a second
      // element.
      auto it = g.label_lookup_.find(labels[i]);
      if (it != g.label_lookup_.end() && same_vector(g, it->second, vecs[i])) {
        if (g.isMarkedDeleted(it->second)) g.unmarkDelete(labels[i]);
        continue;
      }
      g.addPoint(vecs[i], labels[i]);
    }
    return Status();
  } catch (const std::exception& e) {
    return hnsw_error("vector index upsert", e);
  }
}

Status VectorIndex::upsert_flat_locked(const std::vector<uint64_t>& labels,
                                       const std::vector<const float*>& vecs) {
  try {
    std::unordered_set<uint64_t> fresh;
    for (uint64_t label : labels) {
      if (!flat_ || flat_->slot_of.count(label) == 0) fresh.insert(label);
    }
    const size_t live = flat_ ? flat_->live() : 0;
    if (live + fresh.size() < options_.exact_below) {
      auto grown = flat_ ? nullptr : std::make_unique<Flat>(options_.dim);
      std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
      if (grown) flat_ = std::move(grown);
      for (size_t i = 0; i < labels.size(); ++i) flat_->put(labels[i], vecs[i]);
      return Status();
    }
    // The graph is built from the flat vectors and the new ones while searches go on over the flat
    // form (only this writer changes it), then swapped in.
    auto graph = new_graph(options_, std::max(options_.initial_capacity, live + fresh.size()));
    if (flat_) {
      for (size_t slot = 0; slot < live; ++slot) {
        graph->hnsw->addPoint(flat_->at(slot), flat_->labels[slot]);
      }
    }
    for (size_t i = 0; i < labels.size(); ++i) graph->hnsw->addPoint(vecs[i], labels[i]);
    std::unique_ptr<Flat> retired;
    {
      std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
      graph_ = std::move(graph);
      retired = std::move(flat_);
    }
    return Status();
  } catch (const std::exception& e) {
    return hnsw_error("vector index upsert", e);
  }
}

bool VectorIndex::remove(uint64_t label) {
  std::lock_guard<std::mutex> writer(writer_mu_);
  if (flat_) {
    std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
    return flat_->erase(label);
  }
  if (!graph_ || !graph_->find_live(label)) return false;
  {
    std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
    try {
      graph_->hnsw->markDelete(label);
    } catch (const std::exception&) {
      return false;  // unreachable after find_live, kept so no exception leaves this boundary
    }
  }
  maybe_rebuild_locked();
  return true;
}

void VectorIndex::maybe_rebuild_locked() {
  const Hnsw& old = *graph_->hnsw;
  if (static_cast<double>(old.num_deleted_) <=
      options_.rebuild_deleted_ratio * static_cast<double>(old.cur_element_count)) {
    return;
  }
  std::unique_ptr<Graph> rebuilt;
  const size_t live = graph_->live();
  if (options_.exact_below > 0 && live < options_.exact_below / 2) {
    // Few enough left for the flat form again (the margin keeps a tier at the threshold from
    // flipping between the forms).
    std::unique_ptr<Flat> flat;
    try {
      std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
      flat = std::make_unique<Flat>(options_.dim);
      for (size_t i = 0; i < old.cur_element_count; ++i) {
        const auto id = static_cast<hnswlib::tableint>(i);
        if (old.isMarkedDeleted(id)) continue;
        flat->put(old.getExternalLabel(id),
                  reinterpret_cast<const float*>(old.getDataByInternalId(id)));
      }
    } catch (const std::exception&) {
      return;
    }
    std::unique_ptr<Graph> retired;
    {
      std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
      retired = std::move(graph_);
      flat_ = std::move(flat);
    }
    return;
  }
  if (live > 0) {
    try {
      // Only this thread mutates (it holds writer_mu_), so searches continue on the old graph while
      // the new one is built; the shared lock documents that reading it is safe.
      std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
      rebuilt = new_graph(options_, std::max(options_.initial_capacity, 2 * live));
      for (size_t i = 0; i < old.cur_element_count; ++i) {
        const auto id = static_cast<hnswlib::tableint>(i);
        if (old.isMarkedDeleted(id)) continue;
        rebuilt->hnsw->addPoint(old.getDataByInternalId(id), old.getExternalLabel(id));
      }
    } catch (const std::exception&) {
      return;  // keep serving from the old graph; the next removal tries again
    }
  }
  std::unique_ptr<Graph> retired;
  {
    std::unique_lock<WriterFirstSharedMutex> exclusive(graph_mu_);
    retired = std::move(graph_);
    graph_ = std::move(rebuilt);
  }
  // `retired` is freed here, outside the lock.
}

std::vector<VectorIndex::Hit> VectorIndex::search_flat(
    const float* query, size_t k, const std::function<bool(uint64_t)>& accept) const {
  std::vector<Hit> hits;
  const auto dist = flat_->space.get_dist_func();
  void* param = flat_->space.get_dist_func_param();
  hits.reserve(flat_->live());
  for (size_t slot = 0; slot < flat_->live(); ++slot) {
    const uint64_t label = flat_->labels[slot];
    if (accept && !accept(label)) continue;
    hits.push_back(Hit{label, 1.0f - dist(query, flat_->at(slot), param)});
  }
  const size_t n = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n), hits.end(),
                    [](const Hit& a, const Hit& b) {
                      return a.similarity != b.similarity ? a.similarity > b.similarity
                                                          : a.label < b.label;
                    });
  hits.resize(n);
  return hits;
}

std::vector<VectorIndex::Hit> VectorIndex::search(const float* query, size_t k) const {
  std::vector<Hit> hits;
  if (query == nullptr || k == 0) return hits;
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) return search_flat(query, k, nullptr);
  if (!graph_) return hits;
  try {
    auto found = graph_->hnsw->searchKnn(query, std::min(k, graph_->live()));  // worst first
    hits.resize(found.size());
    for (size_t i = hits.size(); i-- > 0;) {
      hits[i] = Hit{found.top().second, 1.0f - found.top().first};
      found.pop();
    }
  } catch (const std::exception&) {
    hits.clear();
  }
  return hits;
}

std::vector<VectorIndex::Hit> VectorIndex::search(
    const float* query, size_t k, const std::function<bool(uint64_t)>& accept) const {
  if (!accept) return search(query, k);
  std::vector<Hit> hits;
  if (query == nullptr || k == 0) return hits;
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) return search_flat(query, k, accept);
  if (!graph_) return hits;
  const size_t live = graph_->live();
  size_t fetch = std::min(k, live);
  try {
    // Bounded: fetch doubles each round and stops at the number of live vectors.
    while (true) {
      auto found = graph_->hnsw->searchKnn(query, fetch);
      std::vector<Hit> all(found.size());
      for (size_t i = all.size(); i-- > 0;) {
        all[i] = Hit{found.top().second, 1.0f - found.top().first};
        found.pop();
      }
      hits.clear();
      for (const Hit& h : all) {
        if (hits.size() == k) break;
        if (accept(h.label)) hits.push_back(h);
      }
      if (hits.size() == k || fetch >= live) break;
      fetch = std::min(live, 2 * fetch);
    }
  } catch (const std::exception&) {
    hits.clear();
  }
  return hits;
}

bool VectorIndex::contains(uint64_t label) const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) return flat_->slot_of.count(label) > 0;
  return graph_ && graph_->find_live(label).has_value();
}

size_t VectorIndex::size() const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) return flat_->live();
  return graph_ ? graph_->live() : 0;
}

bool VectorIndex::is_exact() const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  return flat_ != nullptr || (!graph_ && options_.exact_below > 0);
}

size_t VectorIndex::deleted() const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  return graph_ ? graph_->hnsw->num_deleted_ : 0;
}

size_t VectorIndex::capacity() const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  return graph_ ? graph_->hnsw->max_elements_ : 0;
}

std::vector<uint64_t> VectorIndex::labels() const {
  std::vector<uint64_t> out;
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) return flat_->labels;
  if (!graph_) return out;
  out.reserve(graph_->live());
  for (const auto& [label, id] : graph_->hnsw->label_lookup_) {
    if (!graph_->hnsw->isMarkedDeleted(id)) out.push_back(label);
  }
  return out;
}

std::optional<std::vector<float>> VectorIndex::vector_of(uint64_t label) const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) {
    auto it = flat_->slot_of.find(label);
    if (it == flat_->slot_of.end()) return std::nullopt;
    return std::vector<float>(flat_->at(it->second), flat_->at(it->second) + options_.dim);
  }
  if (!graph_) return std::nullopt;
  auto id = graph_->find_live(label);
  if (!id) return std::nullopt;
  const auto* data = reinterpret_cast<const float*>(graph_->hnsw->getDataByInternalId(*id));
  return std::vector<float>(data, data + options_.dim);
}

size_t VectorIndex::memory_of(const Graph& graph) {
  const Hnsw& g = *graph.hnsw;
  // Untouched capacity of the element block is not resident (malloc maps it lazily), but the
  // per-slot mutex, level and link-list pointer arrays are.
  size_t bytes = g.cur_element_count * g.size_data_per_element_;
  bytes += g.max_elements_ * (sizeof(std::mutex) + sizeof(int) + sizeof(char*));
  bytes += g.link_list_update_locks_.size() * sizeof(std::mutex);
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    if (g.element_levels_[i] > 0) bytes += g.size_links_per_element_ * g.element_levels_[i] + 1;
  }
  // Hash map node (key, value, next pointer, allocator overhead) plus its bucket.
  bytes += g.label_lookup_.size() * 32 + g.label_lookup_.bucket_count() * sizeof(void*);
  // One visited list (2 bytes per slot) per concurrent search; count one.
  bytes += g.max_elements_ * sizeof(hnswlib::vl_type);
  return bytes;
}

size_t VectorIndex::memory_bytes() const {
  std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
  if (flat_) {
    return flat_->data.capacity() * sizeof(float) + flat_->labels.capacity() * sizeof(uint64_t) +
           flat_->slot_of.size() * 32 + flat_->slot_of.bucket_count() * sizeof(void*);
  }
  return graph_ ? memory_of(*graph_) : 0;
}

Status VectorIndex::save(const std::string& path, uint64_t applied_seq) const {
  try {
    return save_unguarded(path, applied_seq);
  } catch (const std::exception& e) {
    return hnsw_error("vector index save", e);
  }
}

Status VectorIndex::save_unguarded(const std::string& path, uint64_t applied_seq) const {
  FileHeader header;
  header.dim = options_.dim;
  header.m = options_.m;
  header.applied_seq = applied_seq;

  TempFile payload_file;
  std::vector<unsigned char> flat_payload;
  {
    // hnswlib writes its payload into the page cache under the shared lock (searches continue,
    // writers wait); checksumming, copying and fsync happen after it is released.
    std::shared_lock<WriterFirstSharedMutex> shared(graph_mu_);
    if (flat_) {
      header.version = kFlatVersion;
      header.count = flat_->live();
      const size_t vec_bytes = options_.dim * sizeof(float);
      flat_payload.resize(header.count * (sizeof(uint64_t) + vec_bytes));
      unsigned char* p = flat_payload.data();
      for (size_t slot = 0; slot < flat_->live(); ++slot) {
        put_u64(p, flat_->labels[slot]);
        std::memcpy(p + sizeof(uint64_t), flat_->at(slot), vec_bytes);
        p += sizeof(uint64_t) + vec_bytes;
      }
      header.payload_len = flat_payload.size();
    } else if (graph_) {
      Fd fd(payload_file.create(path, ".payload"));
      if (fd.get() < 0) return io_error("cannot create a temp file next to", path, errno);
      fd.reset();
      try {
        graph_->hnsw->saveIndex(payload_file.path());
      } catch (const std::exception& e) {
        return hnsw_error("vector index save", e);
      }
      header.count = graph_->live();
      header.payload_len = payload_size_of(*graph_->hnsw);
    }
  }

  TempFile out_file;
  Fd out(out_file.create(path, ".tmp"));
  if (out.get() < 0) return io_error("cannot create a temp file next to", path, errno);
  std::array<unsigned char, kHeaderSize> placeholder{};
  if (!write_all(out.get(), placeholder.data(), placeholder.size())) {
    return io_error("cannot write", out_file.path(), errno);
  }

  if (header.version == kFlatVersion) {
    header.payload_crc = crc32_update(0, flat_payload.data(), flat_payload.size());
    if (!write_all(out.get(), flat_payload.data(), flat_payload.size())) {
      return io_error("cannot write", out_file.path(), errno);
    }
  } else if (header.payload_len > 0) {
    Fd in(::open(payload_file.path().c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return io_error("cannot reopen", payload_file.path(), errno);
    // hnswlib's ofstream reports no errors: a short payload (disk full) shows up as a wrong length.
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return io_error("cannot stat", payload_file.path(), errno);
    if (static_cast<uint64_t>(st.st_size) != header.payload_len) {
      return make_error(ErrorCode::resource_exhausted,
                        "vector index save to " + path + ": hnswlib wrote " +
                            std::to_string(st.st_size) + " bytes, expected " +
                            std::to_string(header.payload_len) + " (is the disk full?)");
    }
    std::vector<unsigned char> buf(kCopyChunk);
    uint32_t crc = 0;
    uint64_t copied = 0;
    while (copied < header.payload_len) {
      const ssize_t r = read_full(in.get(), buf.data(), buf.size());
      if (r < 0) return io_error("cannot read", payload_file.path(), errno);
      if (r == 0) break;
      crc = crc32_update(crc, buf.data(), static_cast<size_t>(r));
      if (!write_all(out.get(), buf.data(), static_cast<size_t>(r))) {
        return io_error("cannot write", out_file.path(), errno);
      }
      copied += static_cast<uint64_t>(r);
    }
    if (copied != header.payload_len) {
      return make_error(ErrorCode::internal, "vector index save to " + path +
                                                 ": the payload changed length while copying");
    }
    header.payload_crc = crc;
  }

  const auto encoded = encode_header(header);
  if (::pwrite(out.get(), encoded.data(), encoded.size(), 0) != static_cast<ssize_t>(kHeaderSize)) {
    return io_error("cannot write", out_file.path(), errno);
  }
  if (::fsync(out.get()) != 0) return io_error("cannot fsync", out_file.path(), errno);
  if (out.close_checked() != 0) return io_error("cannot close", out_file.path(), errno);
  if (::rename(out_file.path().c_str(), path.c_str()) != 0) {
    return io_error("cannot rename the temp file onto", path, errno);
  }
  out_file.release();
  fsync_parent_dir(path);
  return Status();
}

Result<VectorIndex::Loaded> VectorIndex::load(const std::string& path, const Options& options) {
  try {
    return load_unguarded(path, options);
  } catch (const std::exception& e) {
    return hnsw_error("vector index load", e);
  }
}

Result<VectorIndex::Loaded> VectorIndex::load_unguarded(const std::string& path,
                                                        const Options& raw) {
  const Options options = sanitize(raw);
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) {
      return make_error(ErrorCode::not_found, "vector index file " + path + " does not exist");
    }
    return io_error("cannot open vector index file", path, errno);
  }
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return io_error("cannot stat", path, errno);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < kHeaderSize) {
    return data_loss(path, "truncated: " + std::to_string(file_size) +
                               " bytes, the header alone is " + std::to_string(kHeaderSize));
  }
  std::array<unsigned char, kHeaderSize> raw_header{};
  if (read_full(in.get(), raw_header.data(), kHeaderSize) != static_cast<ssize_t>(kHeaderSize)) {
    return io_error("cannot read", path, errno);
  }
  auto decoded = decode_header(raw_header.data(), path);
  if (!decoded.ok()) return decoded.error();
  const FileHeader header = *decoded;
  if (header.dim != options.dim) {
    return data_loss(path, "index has dimension " + std::to_string(header.dim) +
                               "; this node's memory.dim is " + std::to_string(options.dim));
  }
  if (header.version == kGraphVersion && header.m != options.m) {
    return data_loss(path, "index was built with M=" + std::to_string(header.m) +
                               "; the options ask for M=" + std::to_string(options.m));
  }
  if (file_size != kHeaderSize + header.payload_len) {
    return data_loss(path, file_size < kHeaderSize + header.payload_len
                               ? "truncated: " + std::to_string(file_size) + " bytes, expected " +
                                     std::to_string(kHeaderSize + header.payload_len)
                               : "unexpected bytes after the payload");
  }

  if (header.version == kFlatVersion) {
    return load_flat(in.get(), path, options, header.applied_seq, header.count, header.payload_len,
                     header.payload_crc);
  }
  Loaded loaded;
  loaded.applied_seq = header.applied_seq;
  loaded.index = std::make_unique<VectorIndex>(options);
  if (header.payload_len == 0) {
    if (header.count != 0) return data_loss(path, "header counts vectors but has no payload");
    return Result<Loaded>(std::move(loaded));
  }
  if (header.payload_len < kHnswHeaderSize)
    return data_loss(path, "payload shorter than its header");

  // Stream the payload into a temp file (hnswlib 0.6.2 loads only from a path), checksumming and
  // walking its structure on the way; hnswlib sees it only once both agree.
  std::vector<unsigned char> buf(kCopyChunk);
  TempFile payload_file;
  Fd out(payload_file.create(path, ".load"));
  if (out.get() < 0) return io_error("cannot create a temp file next to", path, errno);
  uint32_t crc = 0;
  uint64_t offset = 0;
  std::optional<HnswFileHeader> graph_header;
  std::optional<LinkListWalker> walker;
  while (offset < header.payload_len) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buf.size(), header.payload_len - offset));
    const ssize_t r = read_full(in.get(), buf.data(), want);
    if (r < 0) return io_error("cannot read", path, errno);
    if (static_cast<size_t>(r) != want) return data_loss(path, "file shrank while reading");
    crc = crc32_update(crc, buf.data(), want);
    if (!graph_header) {
      // The first chunk always holds the graph header (kCopyChunk > kHnswHeaderSize).
      graph_header = parse_hnsw_header(buf.data());
      const std::string bad = check_hnsw_header(*graph_header, header, options.dim);
      if (!bad.empty()) return data_loss(path, bad);
      const uint64_t links =
          graph_header->max_m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
      walker.emplace(kHnswHeaderSize + graph_header->count * graph_header->size_data_per_element,
                     graph_header->count, links, static_cast<uint64_t>(graph_header->max_level));
    }
    const std::string bad = walker->feed(offset, buf.data(), want);
    if (!bad.empty()) return data_loss(path, bad);
    if (!write_all(out.get(), buf.data(), want)) {
      return io_error("cannot write", payload_file.path(), errno);
    }
    offset += want;
  }
  if (crc != header.payload_crc) return data_loss(path, "payload checksum mismatch");
  if (!walker->complete_at(header.payload_len)) {
    return data_loss(path, "graph link lists do not fill the payload exactly");
  }
  if (out.close_checked() != 0) return io_error("cannot close", payload_file.path(), errno);

  auto graph = std::make_unique<Graph>();
  try {
    graph->space = std::make_unique<hnswlib::InnerProductSpace>(options.dim);
    // The path-less constructor leaves every field uninitialised; set the ones the destructor and
    // loadIndex's counters read before anything can throw.
    graph->hnsw = std::make_unique<Hnsw>(graph->space.get());
  } catch (const std::exception& e) {
    return hnsw_error("vector index load", e);
  }
  Hnsw& g = *graph->hnsw;
  g.cur_element_count = 0;
  g.num_deleted_ = 0;
  g.data_level0_memory_ = nullptr;
  g.linkLists_ = nullptr;
  g.visited_list_pool_ = nullptr;
  g.metric_distance_computations = 0;
  g.metric_hops = 0;
  try {
    const size_t capacity = std::max<size_t>(options.initial_capacity, graph_header->count);
    g.loadIndex(payload_file.path(), graph->space.get(), capacity);
  } catch (const std::exception& e) {
    // loadIndex may stop between reading the count and sizing the level array; the destructor walks
    // element_levels_ up to the count.
    if (g.element_levels_.size() < g.cur_element_count) g.cur_element_count = 0;
    return hnsw_error("vector index load", e);
  }
  const std::string bad = check_loaded_graph(g, header.count);
  if (!bad.empty()) return data_loss(path, bad);
  g.ef_construction_ = std::max(options.ef_construction, g.M_);
  g.setEf(options.ef_search);
  g.level_generator_.seed(options.seed + g.cur_element_count);
  g.update_probability_generator_.seed(options.seed + g.cur_element_count + 1);
  if (graph->live() > 0) loaded.index->graph_ = std::move(graph);
  return Result<Loaded>(std::move(loaded));
}

// The flat form's payload is small (below exact_below vectors): read whole, checked, then inserted
// through upsert_batch, which validates every vector and picks the form the options ask for now.
Result<VectorIndex::Loaded> VectorIndex::load_flat(int fd, const std::string& path,
                                                   const Options& options, uint64_t applied_seq,
                                                   uint64_t count, uint64_t payload_len,
                                                   uint32_t payload_crc) {
  const uint64_t record = sizeof(uint64_t) + options.dim * sizeof(float);
  if (count > payload_len / record || count * record != payload_len) {
    return data_loss(path, "flat payload of " + std::to_string(payload_len) +
                               " bytes does not hold " + std::to_string(count) + " vectors");
  }
  std::vector<unsigned char> payload(static_cast<size_t>(payload_len));
  if (read_full(fd, payload.data(), payload.size()) != static_cast<ssize_t>(payload.size())) {
    return data_loss(path, "file shrank while reading");
  }
  if (crc32_update(0, payload.data(), payload.size()) != payload_crc) {
    return data_loss(path, "payload checksum mismatch");
  }
  std::vector<uint64_t> labels(count);
  std::vector<std::vector<float>> vecs(count, std::vector<float>(options.dim));
  std::vector<const float*> ptrs(count);
  std::unordered_set<uint64_t> seen;
  for (uint64_t i = 0; i < count; ++i) {
    const unsigned char* p = payload.data() + i * record;
    labels[i] = get_u64(p);
    if (!seen.insert(labels[i]).second) {
      return data_loss(path, "label " + std::to_string(labels[i]) + " appears twice");
    }
    std::memcpy(vecs[i].data(), p + sizeof(uint64_t), options.dim * sizeof(float));
    ptrs[i] = vecs[i].data();
  }
  Loaded loaded;
  loaded.applied_seq = applied_seq;
  loaded.index = std::make_unique<VectorIndex>(options);
  if (auto s = loaded.index->upsert_batch(labels, ptrs); !s.ok()) {
    if (s.error().code == ErrorCode::invalid_argument) return data_loss(path, s.error().message);
    return s.error();
  }
  return Result<Loaded>(std::move(loaded));
}

}  // namespace nca
