#include "runtime/allocator/thread_cache_allocator.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <new>

namespace nca::alloc {
namespace {

// Nothing here may allocate with operator new (it would call back into this file): the tables live
// in mmap'ed memory, and the only library calls are mmap, madvise, pthread_atfork and std::mutex.

constexpr size_t kRegionShift = 21;
constexpr size_t kRegionSize = size_t{1} << kRegionShift;
static_assert(kRegionSize == kRegionBytes);
// User-space addresses on x86-64 and AArch64 (4-level tables) fit in 47 bits; a pointer above that
// is not one of ours (mmap gives higher addresses only when asked for them).
constexpr size_t kAddressBits = 47;
constexpr size_t kMapEntries = size_t{1} << (kAddressBits - kRegionShift);
constexpr int kSmallClasses = 64;                    // 16, 32, ..., 1024 bytes
constexpr int kClasses = 1 + kSmallClasses + 5 * 4;  // then four per power of two up to 32 KiB
// A batch moved between a thread and the central list holds about this many bytes.
constexpr size_t kBatchBytes = 32768;

constexpr size_t size_of_class(int c) {
  if (c <= kSmallClasses) return static_cast<size_t>(c) * 16;
  const int k = c - kSmallClasses - 1;
  const size_t base = size_t{1024} << (k / 4);
  return base + base / 4 * static_cast<size_t>(k % 4 + 1);
}

inline int class_of(size_t n) {
  if (n <= 1024) return n == 0 ? 1 : static_cast<int>((n + 15) >> 4);
  const int b = 63 - __builtin_clzll(n - 1);  // 2^b < n <= 2^(b+1), b in 10..14
  const size_t base = size_t{1} << b;
  const int sub = static_cast<int>((n - base + (base >> 2) - 1) >> (b - 2));  // 1..4
  return kSmallClasses + 1 + (b - 10) * 4 + sub - 1;
}

constexpr uint32_t compute_batch(int c) {
  const size_t n = kBatchBytes / size_of_class(c);
  return static_cast<uint32_t>(n < 2 ? 2 : (n > 64 ? 64 : n));
}

// Looked up on every free that fills a cache: a table rather than a division.
struct BatchTable {
  uint32_t of[kClasses] = {};
  constexpr BatchTable() {
    for (int c = 1; c < kClasses; ++c) of[c] = compute_batch(c);
  }
};
constexpr BatchTable kBatch;

inline uint32_t batch_of_class(int c) { return kBatch.of[c]; }

struct Node {
  Node* next;
  Node* next_batch;  // only in the first node of a full batch on a central list
};

// A class's blocks that no thread holds: whole batches (O(1) to move) and loose blocks (from
// threads that exited, or freed while their thread was exiting).
struct Central {
  std::mutex mu;
  Node* batches = nullptr;
  size_t batch_count = 0;
  Node* loose = nullptr;
  size_t loose_count = 0;
  char* carve = nullptr;
  char* carve_end = nullptr;
};

struct Globals {
  uint8_t* region_class;  // kMapEntries bytes, reserved (untouched pages cost nothing)
  Central central[kClasses];
  uint64_t regions = 0;  // atomic: the classes carve under their own locks
};

void lock_all();
void unlock_all();

Globals& globals() {
  static Globals* g = [] {
    void* mem =
        mmap(nullptr, sizeof(Globals), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* map = mmap(nullptr, kMapEntries, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    // The first allocation runs before main: there is no caller to report to.
    if (mem == MAP_FAILED || map == MAP_FAILED) std::abort();
    auto* made = new (mem) Globals;
    made->region_class = static_cast<uint8_t*>(map);
    // A child forked while another thread held a central lock would wait for it forever.
    pthread_atfork(lock_all, unlock_all, unlock_all);
    return made;
  }();
  return *g;
}

void lock_all() {
  for (auto& c : globals().central) c.mu.lock();
}

void unlock_all() {
  for (auto& c : globals().central) c.mu.unlock();
}

inline int class_of_pointer(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  if ((a >> kAddressBits) != 0) return 0;
  return __atomic_load_n(&globals().region_class[a >> kRegionShift], __ATOMIC_RELAXED);
}

// A fresh region for class c, aligned to its size so that a pointer's region is its high bits.
char* new_region(int c) {
  const size_t len = kRegionSize * 2;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + kRegionSize - 1) & ~(kRegionSize - 1);
  if (aligned > start) munmap(p, aligned - start);
  if (start + len > aligned + kRegionSize) {
    munmap(reinterpret_cast<void*>(aligned + kRegionSize), start + len - aligned - kRegionSize);
  }
  if ((aligned >> kAddressBits) != 0) {
    munmap(reinterpret_cast<void*>(aligned), kRegionSize);
    return nullptr;
  }
  // A region is exactly a huge page's size and alignment: with transparent huge pages set to
  // "always" the kernel would back each class's first region with 2 MiB at its first byte.
  madvise(reinterpret_cast<void*>(aligned), kRegionSize, MADV_NOHUGEPAGE);
  __atomic_store_n(&globals().region_class[aligned >> kRegionShift], static_cast<uint8_t>(c),
                   __ATOMIC_RELAXED);
  __atomic_fetch_add(&globals().regions, 1, __ATOMIC_RELAXED);
  return reinterpret_cast<char*>(aligned);
}

struct Taken {
  Node* head = nullptr;
  uint32_t count = 0;
};

// Up to one batch of class c: a whole batch, else loose blocks, else newly carved ones.
Taken take_from_central(int c) {
  Central& cl = globals().central[c];
  const uint32_t want = batch_of_class(c);
  Taken t;
  std::lock_guard<std::mutex> lock(cl.mu);
  if (cl.batches != nullptr) {
    t.head = cl.batches;
    cl.batches = t.head->next_batch;
    cl.batch_count--;
    t.count = want;
    return t;
  }
  if (cl.loose != nullptr) {
    Node* last = cl.loose;
    t.count = 1;
    while (t.count < want && last->next != nullptr) {  // bounded by want
      last = last->next;
      t.count++;
    }
    t.head = cl.loose;
    cl.loose = last->next;
    cl.loose_count -= t.count;
    last->next = nullptr;
    return t;
  }
  const size_t size = size_of_class(c);
  for (uint32_t i = 0; i < want; ++i) {
    if (cl.carve == nullptr || cl.carve + size > cl.carve_end) {
      char* region = new_region(c);
      if (region == nullptr) break;
      cl.carve = region;
      cl.carve_end = region + kRegionSize;
    }
    auto* n = reinterpret_cast<Node*>(cl.carve);
    cl.carve += size;
    n->next = t.head;
    t.head = n;
    t.count++;
  }
  return t;
}

// `head` starts a list of exactly one batch of class c.
void give_batch_to_central(int c, Node* head) {
  Central& cl = globals().central[c];
  std::lock_guard<std::mutex> lock(cl.mu);
  head->next_batch = cl.batches;
  cl.batches = head;
  cl.batch_count++;
}

// The list at `head` holds `count` (fewer than a batch, or any count at a thread's exit) blocks of
// class c.
void give_loose_to_central(int c, Node* head, size_t count) {
  Node* last = head;
  while (last->next != nullptr) last = last->next;  // bounded by count, walked outside the lock
  Central& cl = globals().central[c];
  std::lock_guard<std::mutex> lock(cl.mu);
  last->next = cl.loose;
  cl.loose = head;
  cl.loose_count += count;
}

// Ends the list at `first` after `batch` blocks; returns the rest.
Node* cut_batch(Node* first, uint32_t batch) {
  Node* last = first;
  for (uint32_t i = 1; i < batch; ++i) last = last->next;  // bounded by one batch
  Node* rest = last->next;
  last->next = nullptr;
  return rest;
}

// Zero-initialized (no constructor to run): usable from a thread's first allocation on.
struct ThreadCache {
  Node* head[kClasses];
  uint32_t count[kClasses];
  // kFresh until the thread first allocates or frees here, which arms the flush at its exit;
  // kExiting once that flush ran: from then on frees go straight to the central lists.
  uint8_t state;
};
constexpr uint8_t kFresh = 0;
constexpr uint8_t kArmed = 1;
constexpr uint8_t kExiting = 2;

thread_local ThreadCache cache;

// Hands the cache to the central lists as whole batches (which the next taker gets without a walk)
// and one loose remainder per class.
void flush_thread_cache() {
  for (int c = 1; c < kClasses; ++c) {
    const uint32_t batch = batch_of_class(c);
    while (cache.count[c] >= batch) {  // bounded by the cache's count
      Node* first = cache.head[c];
      cache.head[c] = cut_batch(first, batch);
      cache.count[c] -= batch;
      give_batch_to_central(c, first);
    }
    if (cache.head[c] != nullptr) give_loose_to_central(c, cache.head[c], cache.count[c]);
    cache.head[c] = nullptr;
    cache.count[c] = 0;
  }
  cache.state = kExiting;
}

struct ExitFlush {
  ~ExitFlush() { flush_thread_cache(); }
};
thread_local ExitFlush exit_flush;

// Arms the exit flush: constructing the thread_local registers its destructor for this thread.
void arm_exit_flush() {
  cache.state = kArmed;
  (void)&exit_flush;
}

void* allocate_slow(int c) {
  if (cache.state == kFresh) arm_exit_flush();
  Taken t = take_from_central(c);
  if (t.head == nullptr) throw std::bad_alloc();
  Node* n = t.head;
  if (cache.state == kExiting) {
    // A thread past its exit flush keeps nothing: the rest goes back.
    if (n->next != nullptr) give_loose_to_central(c, n->next, t.count - 1);
    return n;
  }
  cache.head[c] = n->next;
  __builtin_prefetch(n->next);
  cache.count[c] = t.count - 1;
  return n;
}

}  // namespace

void* allocate(size_t n) {
  if (n > kMaxSmall) {
    void* p = std::malloc(n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  const int c = class_of(n);
  Node* head = cache.head[c];
  if (__builtin_expect(head != nullptr, 1)) {
    Node* next = head->next;
    cache.head[c] = next;
    cache.count[c]--;
    // Blocks from other threads are cold: fetching the next one now hides the miss that reading
    // its link would otherwise cost the next allocation (a prefetch of null is harmless).
    __builtin_prefetch(next);
    return head;
  }
  return allocate_slow(c);
}

void deallocate(void* p) noexcept {
  if (p == nullptr) return;
  const int c = class_of_pointer(p);
  if (c == 0) {
    std::free(p);
    return;
  }
  auto* n = static_cast<Node*>(p);
  if (__builtin_expect(cache.state != kArmed, 0)) {
    if (cache.state == kExiting) {
      n->next = nullptr;
      give_loose_to_central(c, n, 1);
      return;
    }
    // A thread that only frees (a consumer) must hand its cache back at exit too.
    arm_exit_flush();
  }
  n->next = cache.head[c];
  cache.head[c] = n;
  const uint32_t batch = batch_of_class(c);
  if (++cache.count[c] < 2 * batch) return;
  // Two batches held: one goes to the central list. The block just freed stays (it is the one
  // most likely in this core's cache); the batch is the blocks after it.
  Node* first = n->next;
  n->next = cut_batch(first, batch);
  cache.count[c] -= batch;
  give_batch_to_central(c, first);
}

bool owns(const void* p) noexcept { return p != nullptr && class_of_pointer(p) != 0; }

size_t usable_size(const void* p) noexcept {
  if (p == nullptr) return 0;
  const int c = class_of_pointer(p);
  return c == 0 ? 0 : size_of_class(c);
}

size_t class_size_for(size_t n) noexcept { return n > kMaxSmall ? 0 : size_of_class(class_of(n)); }

Stats stats() noexcept {
  Stats s;
  Globals& g = globals();
  for (int c = 1; c < kClasses; ++c) {
    std::lock_guard<std::mutex> lock(g.central[c].mu);
    const uint64_t blocks = g.central[c].batch_count * batch_of_class(c) + g.central[c].loose_count;
    s.central_free_blocks += blocks;
    s.free_bytes += blocks * size_of_class(c);
  }
  s.regions = __atomic_load_n(&g.regions, __ATOMIC_RELAXED);
  return s;
}

uint64_t central_free_blocks(size_t n) noexcept {
  if (n > kMaxSmall) return 0;
  const int c = class_of(n);
  Central& cl = globals().central[c];
  std::lock_guard<std::mutex> lock(cl.mu);
  return cl.batch_count * batch_of_class(c) + cl.loose_count;
}

// operator_new.cpp, when linked, replaces these.
__attribute__((weak)) bool serves_operator_new() noexcept { return false; }

const char* name() noexcept { return serves_operator_new() ? "thread-cache" : "system"; }

}  // namespace nca::alloc
