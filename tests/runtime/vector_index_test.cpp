#include "runtime/vector_index.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <set>
#include <thread>
#include <unordered_set>

#include "runtime/vector_math.hpp"

namespace nca {
namespace {

namespace fs = std::filesystem;

// Vectors drawn around a few random centres, then normalised: closer to real embeddings than
// uniform noise, and hard enough that a broken graph shows in recall.
std::vector<std::vector<float>> clustered_vectors(size_t n, size_t dim, size_t clusters,
                                                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<std::vector<float>> centres(clusters, std::vector<float>(dim));
  for (auto& c : centres) {
    for (auto& x : c) x = normal(rng);
    l2_normalize(c);
  }
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out) {
    const auto& c = centres[pick(rng)];
    for (size_t d = 0; d < dim; ++d) v[d] = c[d] + 0.35f * normal(rng);
    l2_normalize(v);
  }
  return out;
}

std::vector<uint64_t> brute_force(const std::vector<std::vector<float>>& data,
                                  const std::vector<bool>& live, const std::vector<float>& query,
                                  size_t k) {
  std::vector<std::pair<float, uint64_t>> scored;
  for (size_t i = 0; i < data.size(); ++i) {
    if (!live.empty() && !live[i]) continue;
    scored.emplace_back(dot(data[i].data(), query.data(), query.size()), i);
  }
  const size_t top = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + top, scored.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<uint64_t> labels;
  for (size_t i = 0; i < top; ++i) labels.push_back(scored[i].second);
  return labels;
}

double recall_at(const VectorIndex& index, const std::vector<std::vector<float>>& data,
                 const std::vector<bool>& live, const std::vector<std::vector<float>>& queries,
                 size_t k) {
  size_t found = 0, wanted = 0;
  for (const auto& q : queries) {
    const auto truth = brute_force(data, live, q, k);
    std::set<uint64_t> truth_set(truth.begin(), truth.end());
    for (const auto& hit : index.search(q.data(), k)) found += truth_set.count(hit.label);
    wanted += truth.size();
  }
  return wanted == 0 ? 1.0 : static_cast<double>(found) / static_cast<double>(wanted);
}

VectorIndex::Options small_options(size_t dim) {
  VectorIndex::Options o;
  o.dim = dim;
  o.initial_capacity = 64;
  return o;
}

class IndexTempDir {
 public:
  IndexTempDir() {
    std::string templ = (fs::temp_directory_path() / "nca-vector-index-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~IndexTempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Independent bitwise CRC-32 (IEEE), used to forge files whose checksum is right but whose graph
// lies.
uint32_t crc32_bitwise(const std::string& s, size_t from, size_t len) {
  uint32_t c = 0xffffffffu;
  for (size_t i = from; i < from + len; ++i) {
    c ^= static_cast<unsigned char>(s[i]);
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}

void put_u32_le(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Rewrites payload and header checksums after a deliberate edit.
void reseal(std::string& file) {
  put_u32_le(file, 56, crc32_bitwise(file, 64, file.size() - 64));
  put_u32_le(file, 60, crc32_bitwise(file, 0, 60));
}

TEST(VectorIndexTest, RecallAt10AgainstBruteForce) {
  const uint64_t seed = 20240611;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::cout << "[ seed     ] " << seed << std::endl;
  const size_t dim = 64;
  const auto data = clustered_vectors(5000, dim, 40, seed);
  const auto queries = clustered_vectors(200, dim, 40, seed);  // same centres, fresh points
  VectorIndex index(small_options(dim));
  std::vector<uint64_t> labels(data.size());
  std::vector<const float*> vecs(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    labels[i] = i;
    vecs[i] = data[i].data();
  }
  ASSERT_TRUE(index.upsert_batch(labels, vecs).ok());
  EXPECT_EQ(index.size(), 5000u);
  const double recall = recall_at(index, data, {}, queries, 10);
  std::cout << "[ recall@10] " << recall << std::endl;
  EXPECT_GE(recall, 0.95);

  // Hits come best first with the true inner product as similarity.
  const auto hits = index.search(queries[0].data(), 10);
  ASSERT_EQ(hits.size(), 10u);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].similarity, hits[i].similarity);
  for (const auto& h : hits) {
    EXPECT_NEAR(h.similarity, dot(data[h.label].data(), queries[0].data(), dim), 1e-4);
  }
}

TEST(VectorIndexTest, EmptyIndexAnswersNothing) {
  VectorIndex index(small_options(8));
  std::vector<float> q(8, 0.f);
  q[0] = 1.f;
  EXPECT_TRUE(index.search(q.data(), 5).empty());
  EXPECT_TRUE(index.search(q.data(), 5, [](uint64_t) { return true; }).empty());
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.capacity(), 0u);
  EXPECT_EQ(index.memory_bytes(), 0u);
  EXPECT_FALSE(index.remove(1));
  EXPECT_FALSE(index.contains(1));
  EXPECT_FALSE(index.vector_of(1).has_value());
  EXPECT_TRUE(index.labels().empty());
}

TEST(VectorIndexTest, UpsertReplacesTheVectorOfALabel) {
  const size_t dim = 32;
  const auto data = clustered_vectors(300, dim, 5, 7);
  VectorIndex index(small_options(dim));
  for (size_t i = 0; i < data.size(); ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());

  // Label 5 takes the vector of a point far from its old one.
  const std::vector<float> old_vec = data[5];
  std::vector<float> new_vec(dim);
  for (size_t d = 0; d < dim; ++d) new_vec[d] = -old_vec[d];
  ASSERT_TRUE(index.upsert(5, new_vec.data()).ok());

  EXPECT_EQ(index.size(), 300u);
  EXPECT_EQ(index.deleted(), 0u);
  ASSERT_TRUE(index.vector_of(5).has_value());
  EXPECT_EQ(*index.vector_of(5), new_vec);
  const auto near_new = index.search(new_vec.data(), 1);
  ASSERT_EQ(near_new.size(), 1u);
  EXPECT_EQ(near_new[0].label, 5u);
  EXPECT_NEAR(near_new[0].similarity, 1.0f, 1e-5);
  // Its old position no longer answers for it.
  for (const auto& hit : index.search(old_vec.data(), 10)) EXPECT_NE(hit.label, 5u);

  // Many replacements keep the graph searchable: every label finds its new vector.
  std::vector<std::vector<float>> moved = data;
  const auto fresh = clustered_vectors(150, dim, 5, 8);
  for (size_t i = 0; i < 150; ++i) {
    moved[i * 2] = fresh[i];
    ASSERT_TRUE(index.upsert(i * 2, fresh[i].data()).ok());
  }
  moved[5] = new_vec;
  EXPECT_EQ(index.size(), 300u);
  size_t self_found = 0;
  for (size_t i = 0; i < moved.size(); ++i) {
    const auto hits = index.search(moved[i].data(), 1);
    if (!hits.empty() && hits[0].label == i) ++self_found;
  }
  EXPECT_GE(self_found, 297u);
}

TEST(VectorIndexTest, UpsertRevivesARemovedLabel) {
  const size_t dim = 16;
  const auto data = clustered_vectors(100, dim, 3, 11);
  VectorIndex::Options o = small_options(dim);
  o.rebuild_deleted_ratio = 1.0;  // never rebuild: the removed element stays in the graph
  VectorIndex index(o);
  for (size_t i = 0; i < data.size(); ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());
  ASSERT_TRUE(index.remove(3));
  ASSERT_TRUE(index.remove(4));
  EXPECT_EQ(index.deleted(), 2u);
  EXPECT_FALSE(index.contains(3));
  EXPECT_FALSE(index.remove(3));  // already removed

  ASSERT_TRUE(index.upsert(3, data[3].data()).ok());   // same vector: only unmarked
  ASSERT_TRUE(index.upsert(4, data[50].data()).ok());  // new vector
  EXPECT_EQ(index.deleted(), 0u);
  EXPECT_EQ(index.size(), 100u);
  EXPECT_TRUE(index.contains(3));
  EXPECT_EQ(*index.vector_of(4), data[50]);
  const auto hits = index.search(data[3].data(), 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].label, 3u);
}

TEST(VectorIndexTest, RemoveAndRebuildKeepResultsAndCountsRight) {
  const uint64_t seed = 99;
  SCOPED_TRACE("seed " + std::to_string(seed));
  const size_t dim = 32, n = 2000;
  const auto data = clustered_vectors(n, dim, 20, seed);
  const auto queries = clustered_vectors(100, dim, 20, seed + 1);
  VectorIndex index(small_options(dim));
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());

  std::vector<bool> live(n, true);
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  size_t removed = 0;
  bool saw_rebuild = false;
  size_t previous_deleted = 0;
  for (size_t i = 0; i < n / 2; ++i) {  // remove half: crosses the 20% threshold more than once
    ASSERT_TRUE(index.remove(order[i]));
    live[order[i]] = false;
    ++removed;
    EXPECT_EQ(index.size(), n - removed);
    if (index.deleted() < previous_deleted) saw_rebuild = true;
    previous_deleted = index.deleted();
    // Never more deleted than the ratio allows after a removal.
    EXPECT_LE(static_cast<double>(index.deleted()),
              0.2 * static_cast<double>(index.size() + index.deleted()) + 1e-9);
  }
  EXPECT_TRUE(saw_rebuild);
  EXPECT_FALSE(index.remove(order[0]));
  EXPECT_FALSE(index.remove(n + 10));

  const auto labels = index.labels();
  EXPECT_EQ(labels.size(), n - removed);
  for (uint64_t l : labels) EXPECT_TRUE(live[l]);
  for (const auto& q : queries) {
    for (const auto& hit : index.search(q.data(), 20)) EXPECT_TRUE(live[hit.label]);
  }
  EXPECT_GE(recall_at(index, data, live, queries, 10), 0.95);

  // Removing everything drops the graph entirely.
  for (size_t i = n / 2; i < n; ++i) ASSERT_TRUE(index.remove(order[i]));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.deleted(), 0u);
  EXPECT_EQ(index.memory_bytes(), 0u);
  EXPECT_TRUE(index.search(queries[0].data(), 5).empty());
  ASSERT_TRUE(index.upsert(1, data[1].data()).ok());
  EXPECT_EQ(index.size(), 1u);
}

TEST(VectorIndexTest, GrowsPastItsInitialCapacity) {
  const size_t dim = 16;
  const auto data = clustered_vectors(1000, dim, 10, 5);
  VectorIndex::Options o = small_options(dim);
  o.initial_capacity = 16;
  VectorIndex index(o);
  ASSERT_TRUE(index.upsert(0, data[0].data()).ok());
  EXPECT_EQ(index.capacity(), 16u);
  const size_t small_memory = index.memory_bytes();
  for (size_t i = 1; i < data.size(); ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());
  EXPECT_EQ(index.size(), 1000u);
  EXPECT_GE(index.capacity(), 1000u);
  EXPECT_LE(index.capacity(), 2048u);  // doubling, not one slot at a time or wildly more
  EXPECT_GT(index.memory_bytes(), small_memory);
  for (size_t i = 0; i < data.size(); i += 97) {
    const auto hits = index.search(data[i].data(), 1);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].label, i);
  }
  // One batch that overflows resizes once to fit.
  VectorIndex batch_index(o);
  std::vector<uint64_t> labels;
  std::vector<const float*> vecs;
  for (size_t i = 0; i < 100; ++i) {
    labels.push_back(1000 + i);
    vecs.push_back(data[i].data());
  }
  ASSERT_TRUE(batch_index.upsert_batch(labels, vecs).ok());
  EXPECT_EQ(batch_index.size(), 100u);
  EXPECT_EQ(batch_index.capacity(), 100u);
  ASSERT_TRUE(batch_index.upsert_batch({5000, 5001}, {data[200].data(), data[201].data()}).ok());
  EXPECT_EQ(batch_index.capacity(), 200u);
}

TEST(VectorIndexTest, BatchRejectsBadInputWithoutChanges) {
  const size_t dim = 8;
  const auto data = clustered_vectors(10, dim, 2, 3);
  VectorIndex index(small_options(dim));
  ASSERT_TRUE(index.upsert(1, data[1].data()).ok());
  auto st = index.upsert_batch({2, 3}, {data[2].data()});
  EXPECT_EQ(st.code(), ErrorCode::invalid_argument);
  st = index.upsert_batch({2, 3}, {data[2].data(), nullptr});
  EXPECT_EQ(st.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(index.upsert(4, nullptr).code(), ErrorCode::invalid_argument);
  std::vector<float> nan_vec = data[4];
  nan_vec[3] = std::nanf("");
  EXPECT_EQ(index.upsert_batch({4, 5}, {data[5].data(), nan_vec.data()}).code(),
            ErrorCode::invalid_argument);
  nan_vec[3] = INFINITY;
  EXPECT_EQ(index.upsert(4, nan_vec.data()).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_FALSE(index.contains(2));
  // A label repeated in one batch ends with its last vector.
  ASSERT_TRUE(index.upsert_batch({7, 7}, {data[7].data(), data[8].data()}).ok());
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(*index.vector_of(7), data[8]);
  EXPECT_TRUE(index.upsert_batch({}, {}).ok());
}

TEST(VectorIndexTest, FilteredSearchOverFetchesUntilEnoughAccepted) {
  const size_t dim = 32, n = 1500;
  const auto data = clustered_vectors(n, dim, 10, 21);
  VectorIndex index(small_options(dim));
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());
  const auto& q = data[0];
  // Only every 50th label passes: the nearest 10 of the graph are mostly rejected.
  std::vector<bool> passes(n);
  for (size_t i = 0; i < n; ++i) passes[i] = i % 50 == 0;
  size_t calls = 0;
  const auto hits = index.search(q.data(), 10, [&](uint64_t l) {
    ++calls;
    return l % 50 == 0;
  });
  ASSERT_EQ(hits.size(), 10u);
  for (const auto& h : hits) EXPECT_EQ(h.label % 50, 0u);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].similarity, hits[i].similarity);
  const auto truth = brute_force(data, passes, q, 10);
  std::set<uint64_t> truth_set(truth.begin(), truth.end());
  size_t agree = 0;
  for (const auto& h : hits) agree += truth_set.count(h.label);
  EXPECT_GE(agree, 9u);
  EXPECT_GT(calls, 10u);

  // A filter nobody passes ends after seeing every vector, with nothing.
  EXPECT_TRUE(index.search(q.data(), 5, [](uint64_t) { return false; }).empty());
  // Fewer acceptable labels than k: all of them.
  const auto few = index.search(q.data(), 10, [](uint64_t l) { return l < 3; });
  EXPECT_EQ(few.size(), 3u);
  // k beyond size returns every live vector.
  EXPECT_EQ(index.search(q.data(), n + 100).size(), n);
}

TEST(VectorIndexTest, SameSeedAndInsertsBuildTheSameGraph) {
  const size_t dim = 16;
  const auto data = clustered_vectors(500, dim, 5, 31);
  VectorIndex a(small_options(dim)), b(small_options(dim));
  for (size_t i = 0; i < data.size(); ++i) {
    ASSERT_TRUE(a.upsert(i, data[i].data()).ok());
    ASSERT_TRUE(b.upsert(i, data[i].data()).ok());
  }
  for (size_t i = 0; i < 50; ++i) {
    const auto ha = a.search(data[i * 3].data(), 10);
    const auto hb = b.search(data[i * 3].data(), 10);
    ASSERT_EQ(ha.size(), hb.size());
    for (size_t j = 0; j < ha.size(); ++j) EXPECT_EQ(ha[j].label, hb[j].label);
  }
}

class VectorIndexFileTest : public ::testing::Test {
 protected:
  static constexpr size_t kDim = 32;
  void SetUp() override {
    data_ = clustered_vectors(800, kDim, 8, 41);
    index_ = std::make_unique<VectorIndex>(options());
    for (size_t i = 0; i < data_.size(); ++i) {
      ASSERT_TRUE(index_->upsert(i + 1000, data_[i].data()).ok());
    }
    // A few removals below the rebuild threshold: deleted elements must survive the round trip.
    for (size_t i = 0; i < 40; ++i) ASSERT_TRUE(index_->remove(i + 1000));
    ASSERT_EQ(index_->deleted(), 40u);
    path_ = dir_.file("persona.ltm.hnsw");
    ASSERT_TRUE(index_->save(path_, 42).ok());
  }
  static VectorIndex::Options options() { return small_options(kDim); }

  void expect_data_loss(const std::string& bytes, const std::string& what) {
    SCOPED_TRACE(what);
    const std::string damaged = dir_.file("damaged.hnsw");
    write_bytes(damaged, bytes);
    auto loaded = VectorIndex::load(damaged, options());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.code(), ErrorCode::data_loss) << loaded.error().to_string();
    EXPECT_NE(loaded.error().message.find(damaged), std::string::npos);
  }

  IndexTempDir dir_;
  std::vector<std::vector<float>> data_;
  std::unique_ptr<VectorIndex> index_;
  std::string path_;
};

TEST_F(VectorIndexFileTest, RoundTripKeepsSeqContentsAndResults) {
  auto loaded = VectorIndex::load(path_, options());
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->applied_seq, 42u);
  VectorIndex& copy = *loaded->index;
  EXPECT_EQ(copy.size(), index_->size());
  EXPECT_EQ(copy.deleted(), 40u);
  auto a = copy.labels(), b = index_->labels();
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  EXPECT_FALSE(copy.contains(1000));
  EXPECT_EQ(*copy.vector_of(1500), data_[500]);
  for (size_t i = 0; i < data_.size(); i += 13) {
    const auto ha = copy.search(data_[i].data(), 10);
    const auto hb = index_->search(data_[i].data(), 10);
    ASSERT_EQ(ha.size(), hb.size());
    for (size_t j = 0; j < ha.size(); ++j) {
      EXPECT_EQ(ha[j].label, hb[j].label);
      EXPECT_FLOAT_EQ(ha[j].similarity, hb[j].similarity);
    }
  }
  // The loaded index keeps working: inserts, removals, growth.
  const auto more = clustered_vectors(300, kDim, 8, 43);
  for (size_t i = 0; i < more.size(); ++i) ASSERT_TRUE(copy.upsert(i + 5000, more[i].data()).ok());
  EXPECT_EQ(copy.size(), 760u + 300u);
  EXPECT_TRUE(copy.remove(5000));
  EXPECT_EQ(copy.search(more[7].data(), 1).at(0).label, 5007u);
  // No temp files are left behind.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(VectorIndexFileTest, SaveOverwritesAndEmptyIndexRoundTrips) {
  ASSERT_TRUE(index_->save(path_, 43).ok());
  auto again = VectorIndex::load(path_, options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->applied_seq, 43u);

  VectorIndex empty(options());
  const std::string empty_path = dir_.file("empty.hnsw");
  ASSERT_TRUE(empty.save(empty_path, 7).ok());
  auto loaded = VectorIndex::load(empty_path, options());
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->applied_seq, 7u);
  EXPECT_EQ(loaded->index->size(), 0u);
  ASSERT_TRUE(loaded->index->upsert(1, data_[0].data()).ok());
  EXPECT_EQ(loaded->index->size(), 1u);
}

TEST_F(VectorIndexFileTest, MissingFileIsNotFound) {
  auto loaded = VectorIndex::load(dir_.file("nope.hnsw"), options());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.code(), ErrorCode::not_found);
}

TEST_F(VectorIndexFileTest, SaveIntoMissingDirectoryFails) {
  const auto st = index_->save(dir_.file("no/such/dir/x.hnsw"), 1);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("no/such/dir"), std::string::npos);
}

TEST_F(VectorIndexFileTest, TruncatedFilesAreDataLoss) {
  const std::string good = read_bytes(path_);
  ASSERT_GT(good.size(), 1000u);
  for (size_t keep : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, size_t{100}, good.size() / 2,
                      good.size() - 1}) {
    expect_data_loss(good.substr(0, keep), "truncated to " + std::to_string(keep));
  }
  expect_data_loss(good + "x", "trailing byte");
}

TEST_F(VectorIndexFileTest, FlippedBitsAreDataLoss) {
  const std::string good = read_bytes(path_);
  const uint64_t seed = 5150;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<size_t> positions = {0, 9, 20, 33, 45, 50, 57, 61, 64, 70, 100, 200, good.size() - 1};
  std::uniform_int_distribution<size_t> anywhere(0, good.size() - 1);
  for (int i = 0; i < 40; ++i) positions.push_back(anywhere(rng));
  for (size_t pos : positions) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ (1 << (pos % 8)));
    expect_data_loss(bad, "bit flipped at byte " + std::to_string(pos));
  }
  std::string garbage(good.size(), '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  expect_data_loss(garbage, "random bytes");
}

TEST_F(VectorIndexFileTest, ForgedButChecksummedGraphsAreDataLoss) {
  const std::string good = read_bytes(path_);
  {
    // A link to an element that does not exist, with every checksum recomputed: hnswlib would read
    // out of bounds on the first search that followed it.
    std::string bad = good;
    const size_t first_link = 64 + 96 + 4;  // payload, graph header, element 0's link count
    put_u32_le(bad, first_link, 0x7fffffffu);
    reseal(bad);
    expect_data_loss(bad, "link out of range");
  }
  {
    std::string bad = good;
    put_u32_le(bad, 64 + 16, 0xffffffu);  // element count far beyond the file
    reseal(bad);
    expect_data_loss(bad, "element count too large");
  }
  {
    std::string bad = good;
    bad[40] = static_cast<char>(bad[40] + 1);  // header's live count no longer matches
    reseal(bad);
    expect_data_loss(bad, "live count lies");
  }
}

TEST_F(VectorIndexFileTest, WrongDimensionOrMIsDataLoss) {
  VectorIndex::Options other = options();
  other.dim = kDim * 2;
  auto loaded = VectorIndex::load(path_, other);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.code(), ErrorCode::data_loss);
  EXPECT_NE(loaded.error().message.find("dimension 32"), std::string::npos)
      << loaded.error().message;
  other = options();
  other.m = 32;
  loaded = VectorIndex::load(path_, other);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.code(), ErrorCode::data_loss);
  EXPECT_NE(loaded.error().message.find("M=16"), std::string::npos) << loaded.error().message;
}

// ---- the flat (exact) form of small indices ----------------------------------------------------

VectorIndex::Options exact_options(size_t dim, size_t exact_below) {
  VectorIndex::Options o = small_options(dim);
  o.exact_below = exact_below;
  return o;
}

TEST(VectorIndexExactTest, BelowTheThresholdSearchIsExactAndFiltersApply) {
  const auto data = clustered_vectors(300, 24, 6, 77);
  const auto queries = clustered_vectors(40, 24, 6, 78);
  VectorIndex index(exact_options(24, 1000));
  for (size_t i = 0; i < data.size(); ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());
  EXPECT_TRUE(index.is_exact());
  EXPECT_EQ(index.size(), 300u);
  EXPECT_EQ(index.capacity(), 0u);
  EXPECT_EQ(index.deleted(), 0u);
  for (const auto& q : queries) {
    const auto hits = index.search(q.data(), 10);
    ASSERT_EQ(hits.size(), 10u);
    const auto truth = brute_force(data, {}, q, 10);
    for (size_t j = 0; j < 10; ++j) EXPECT_EQ(hits[j].label, truth[j]);
    for (size_t j = 1; j < hits.size(); ++j) {
      EXPECT_GE(hits[j - 1].similarity, hits[j].similarity);
    }
    EXPECT_NEAR(hits[0].similarity, dot(data[truth[0]].data(), q.data(), 24), 1e-5);
  }
  // The filter sees every label and only accepted ones come back, still exactly ranked.
  const auto even = index.search(queries[0].data(), 5, [](uint64_t l) { return l % 2 == 0; });
  ASSERT_EQ(even.size(), 5u);
  std::vector<bool> live(data.size());
  for (size_t i = 0; i < data.size(); i += 2) live[i] = true;
  const auto truth = brute_force(data, live, queries[0], 5);
  for (size_t j = 0; j < 5; ++j) EXPECT_EQ(even[j].label, truth[j]);
  // k above the count returns everything.
  EXPECT_EQ(index.search(queries[0].data(), 1000).size(), 300u);
}

TEST(VectorIndexExactTest, UpsertReplacesAndRemoveMovesTheLastSlot) {
  const auto data = clustered_vectors(20, 16, 2, 5);
  VectorIndex index(exact_options(16, 100));
  for (size_t i = 0; i < 10; ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());
  ASSERT_TRUE(index.upsert(3, data[15].data()).ok());  // replace: no second entry
  EXPECT_EQ(index.size(), 10u);
  EXPECT_EQ(*index.vector_of(3), data[15]);
  EXPECT_TRUE(index.remove(0));  // the last slot (label 9) moves into slot 0
  EXPECT_FALSE(index.remove(0));
  EXPECT_FALSE(index.contains(0));
  EXPECT_TRUE(index.contains(9));
  EXPECT_EQ(*index.vector_of(9), data[9]);
  EXPECT_EQ(index.search(data[9].data(), 1).at(0).label, 9u);
  EXPECT_EQ(index.search(data[15].data(), 1).at(0).label, 3u);
  auto labels = index.labels();
  std::sort(labels.begin(), labels.end());
  EXPECT_EQ(labels, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  ASSERT_TRUE(index.upsert(0, data[0].data()).ok());  // a removed label comes back
  EXPECT_EQ(index.search(data[0].data(), 1).at(0).label, 0u);
  EXPECT_GT(index.memory_bytes(), 10u * 16u * sizeof(float));
}

TEST(VectorIndexExactTest, BuildsTheGraphAtTheThresholdAndReturnsAfterARebuild) {
  const auto data = clustered_vectors(400, 24, 6, 91);
  VectorIndex index(exact_options(24, 200));
  for (size_t i = 0; i < 199; ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());
  EXPECT_TRUE(index.is_exact());
  ASSERT_TRUE(index.upsert(199, data[199].data()).ok());  // the 200th vector: the graph is built
  EXPECT_FALSE(index.is_exact());
  EXPECT_EQ(index.size(), 200u);
  EXPECT_GE(index.capacity(), 200u);
  // A batch crossing the threshold in one call keeps every vector.
  VectorIndex batch(exact_options(24, 200));
  std::vector<uint64_t> labels;
  std::vector<const float*> vecs;
  for (size_t i = 0; i < 300; ++i) {
    labels.push_back(i);
    vecs.push_back(data[i].data());
  }
  ASSERT_TRUE(batch.upsert_batch(labels, vecs).ok());
  EXPECT_FALSE(batch.is_exact());
  EXPECT_EQ(batch.size(), 300u);
  for (size_t i = 0; i < 300; i += 37) EXPECT_EQ(batch.search(data[i].data(), 1).at(0).label, i);
  // Rebuilds (each after 20% of the elements are deleted) keep the graph while 100 or more stay;
  // the first one below half the threshold returns to the flat form, contents intact. From 300,
  // rebuilds leave 239, 191, 152, 121, then 96.
  size_t removed = 0;
  while (!batch.is_exact() && removed < 300) ASSERT_TRUE(batch.remove(removed++));
  EXPECT_EQ(removed, 204u);
  EXPECT_EQ(batch.size(), 96u);
  EXPECT_EQ(batch.deleted(), 0u);
  for (size_t i = removed; i < 300; i += 9) {
    EXPECT_EQ(batch.search(data[i].data(), 1).at(0).label, i);
  }
}

TEST(VectorIndexExactTest, FlatFilesRoundTripAndDamageIsDataLoss) {
  IndexTempDir dir;
  const auto data = clustered_vectors(50, 16, 3, 12);
  VectorIndex index(exact_options(16, 100));
  for (size_t i = 0; i < data.size(); ++i) ASSERT_TRUE(index.upsert(i + 7, data[i].data()).ok());
  const std::string path = dir.file("flat.hnsw");
  ASSERT_TRUE(index.save(path, 9).ok());
  auto loaded = VectorIndex::load(path, exact_options(16, 100));
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->applied_seq, 9u);
  EXPECT_TRUE(loaded->index->is_exact());
  EXPECT_EQ(loaded->index->size(), 50u);
  EXPECT_EQ(*loaded->index->vector_of(20), data[13]);
  // Options that now want a graph for this many vectors get one, with the same contents.
  auto as_graph = VectorIndex::load(path, exact_options(16, 10));
  ASSERT_TRUE(as_graph.ok()) << as_graph.error().to_string();
  EXPECT_FALSE(as_graph->index->is_exact());
  EXPECT_EQ(as_graph->index->size(), 50u);
  EXPECT_EQ(as_graph->index->search(data[30].data(), 1).at(0).label, 37u);

  const std::string good = read_bytes(path);
  const std::string damaged = dir.file("damaged.hnsw");
  auto expect_loss = [&](const std::string& bytes, const std::string& what) {
    SCOPED_TRACE(what);
    write_bytes(damaged, bytes);
    auto r = VectorIndex::load(damaged, exact_options(16, 100));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), ErrorCode::data_loss) << r.error().to_string();
  };
  for (size_t keep : {size_t{0}, size_t{64}, size_t{70}, good.size() - 1}) {
    expect_loss(good.substr(0, keep), "truncated to " + std::to_string(keep));
  }
  for (size_t pos : {size_t{8}, size_t{40}, size_t{64}, size_t{64 + 8 + 3}, good.size() - 1}) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
    expect_loss(bad, "bit flipped at byte " + std::to_string(pos));
  }
  // A different M does not matter to the flat form; a different dimension does.
  VectorIndex::Options other_m = exact_options(16, 100);
  other_m.m = 8;
  EXPECT_TRUE(VectorIndex::load(path, other_m).ok());
  auto wrong_dim = VectorIndex::load(path, exact_options(32, 100));
  ASSERT_FALSE(wrong_dim.ok());
  EXPECT_EQ(wrong_dim.code(), ErrorCode::data_loss);
}

// Parameter: exact_below. 0 is the graph throughout; 400 starts flat with the 300 stable vectors
// and builds the graph while readers search.
class VectorIndexConcurrencyTest : public ::testing::TestWithParam<size_t> {};

TEST_P(VectorIndexConcurrencyTest, ReadersAndOneWriterStaySane) {
  const uint64_t seed = 777;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::cout << "[ seed     ] " << seed << std::endl;
  const size_t dim = 32;
  const size_t stable = 300, churn = 1500;
  const auto data = clustered_vectors(stable + churn, dim, 10, seed);
  VectorIndex::Options o = small_options(dim);
  o.initial_capacity = 32;  // the writer resizes while readers search
  o.exact_below = GetParam();
  VectorIndex index(o);
  // Stable labels are never touched by the writer: every reader must always find them.
  for (size_t i = 0; i < stable; ++i) ASSERT_TRUE(index.upsert(i, data[i].data()).ok());

  std::atomic<bool> writer_done{false};
  std::atomic<size_t> failures{0};
  std::atomic<size_t> self_misses{0};
  std::atomic<size_t> searches{0};
  std::thread writer([&] {
    std::mt19937_64 rng(seed);
    for (size_t i = stable; i < stable + churn; ++i) {
      if (!index.upsert(i, data[i].data()).ok()) failures.fetch_add(1);
      if (i % 3 == 0 && i > stable) index.remove(i - 1);  // enough to force rebuilds
      if (i % 7 == 0) {                                   // and in-place replacements
        const size_t target = stable + rng() % (i - stable + 1);
        if (!index.upsert(target, data[rng() % data.size()].data()).ok()) failures.fetch_add(1);
      }
    }
    writer_done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(seed + 1 + r);
      // Bounded: stops when the writer is done, or after a fixed number of rounds regardless.
      for (int round = 0; round < 200000 && !writer_done.load(); ++round) {
        const size_t target = rng() % stable;
        const auto hits = (round % 4 == 0) ? index.search(data[target].data(), 10,
                                                          [](uint64_t l) { return l % 2 == 0; })
                                           : index.search(data[target].data(), 10);
        searches.fetch_add(1);
        std::set<uint64_t> seen;
        for (size_t j = 0; j < hits.size(); ++j) {
          const bool sane = hits[j].similarity <= 1.001f && hits[j].similarity >= -1.001f &&
                            hits[j].label < stable + churn &&
                            (j == 0 || hits[j - 1].similarity >= hits[j].similarity) &&
                            seen.insert(hits[j].label).second;
          if (!sane) failures.fetch_add(1);
        }
        const bool wants_target = round % 4 != 0 || target % 2 == 0;
        if (wants_target && (hits.empty() || hits[0].label != target)) self_misses.fetch_add(1);
        if (index.size() < stable || !index.contains(target)) failures.fetch_add(1);
        if (round % 16 == 0) {
          const auto v = index.vector_of(target);
          if (!v || *v != data[target]) failures.fetch_add(1);
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  std::cout << "[ searches ] " << searches.load() << ", self misses " << self_misses.load()
            << std::endl;
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_LE(self_misses.load(), searches.load() / 100 + 1);
  EXPECT_GE(index.size(), stable);
  for (size_t i = 0; i < stable; ++i) EXPECT_TRUE(index.contains(i));
  EXPECT_FALSE(index.is_exact());
}

INSTANTIATE_TEST_SUITE_P(GraphAndFlatStart, VectorIndexConcurrencyTest,
                         ::testing::Values(size_t{0}, size_t{400}));

}  // namespace
}  // namespace nca
