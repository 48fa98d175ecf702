// runtime/allocator/thread_cache_allocator.hpp: the executables' allocator for C++ objects.
//
// Why: on the event path every message, protobuf and string is allocated on one thread and freed
// on another (CAF mailboxes, the group committer, the SDK's threads). glibc's malloc caches only
// blocks of up to 1,032 bytes per thread and never moves freed blocks back to the thread that
// allocates, so a producer thread misses its cache on every allocation and takes the arena's slow
// path, and blocks above 1 KB (a 384-float embedding) always do. That was a quarter of the CPU per
// event (docs/benchmarks.md, session 31).
//
// Design (the usual one: tcmalloc, jemalloc): requests of up to kMaxSmall bytes are rounded to one
// of about 85 size classes (16-byte steps up to 1 KB, then four per power of two). Each thread
// keeps a free list per class; a thread that frees more than two batches of a class hands one
// batch to the class's central list, and a thread whose list is empty takes a batch from there
// (or carves one from a fresh 2 MiB region). Moving whole batches is what makes the
// producer/consumer pattern cheap: one lock per batch, not per block. A region serves one class,
// and a byte per 2 MiB of address space records which (0: not ours), so freeing needs no header
// and a pointer from malloc is told apart and handed back to free(). Larger requests go to malloc.
//
// Contract: allocate() returns 16-byte aligned memory of at least the requested size or throws
// std::bad_alloc; deallocate() accepts any pointer from allocate() (on any thread) or from malloc.
// Freed memory is kept for reuse by the process and never returned to the kernel: the resident
// size stays at its peak. The node's memory guard subtracts stats().free_bytes from it.
// Thread-safe. A thread's cache goes to the central lists when the thread exits; fork() is safe
// (the central locks are taken around it). One caveat is glibc's: a thread's first allocation
// registers its exit flush (a thread_local destructor, under glibc's loader lock), so a child
// forked by a thread that never allocated here can block in its first allocation if another
// thread was registering at the fork. In the executables the forking thread has allocated (operator
// new is this allocator).
//
// The executables (nca-node, nca-bench, nca-raft-sim and the test binaries; not the CLI) route
// operator new and delete here (operator_new.cpp) unless NEUROCA_ALLOCATOR=system is set when they
// start, and then use malloc (so an operator's LD_PRELOADed jemalloc or tcmalloc takes over). The
// SDK library does not: a user's process keeps its own allocator. Sanitizer builds link only this
// file, so its own tests still run under AddressSanitizer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nca::alloc {

// Requests above this go to malloc.
constexpr size_t kMaxSmall = 32768;
// Small objects are carved from regions of this size, each serving one size class.
constexpr size_t kRegionBytes = size_t{2} << 20;

void* allocate(size_t n);
void deallocate(void* p) noexcept;

// Whether `p` lies in one of the allocator's regions.
bool owns(const void* p) noexcept;
// The usable size of a block of ours (its class's size); 0 for any other pointer.
size_t usable_size(const void* p) noexcept;
// The size a request of `n` bytes (1..kMaxSmall) is rounded up to.
size_t class_size_for(size_t n) noexcept;

struct Stats {
  uint64_t regions = 0;              // 2 MiB regions carved so far
  uint64_t central_free_blocks = 0;  // blocks waiting in the central lists
  uint64_t free_bytes = 0;           // their bytes: resident, but free for reuse
};
Stats stats() noexcept;
// Blocks waiting in the central list of the class that serves requests of `n` bytes.
uint64_t central_free_blocks(size_t n) noexcept;

// Whether this process's operator new is served here (see above), and the allocator's name for
// reports: "thread-cache" or "system".
bool serves_operator_new() noexcept;
const char* name() noexcept;

}  // namespace nca::alloc
