// Routes the executable's operator new and delete to runtime/allocator (see its header), or to
// malloc when NEUROCA_ALLOCATOR=system is set at start. Linked into the executables only, never
// into the SDK library, and not into sanitizer builds (the sanitizers replace operator new).
//
// The aligned forms (std::align_val_t) are not replaced: libstdc++ pairs them with aligned_alloc
// and free, which stay consistent with each other.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "runtime/allocator/thread_cache_allocator.hpp"

namespace {

// Decided once, at the first allocation (before main), so that it never changes while blocks are
// live: deallocate() recognizes ours by address either way.
bool use_system() {
  static const bool system = [] {
    const char* v = std::getenv("NEUROCA_ALLOCATOR");
    return v != nullptr && std::strcmp(v, "system") == 0;
  }();
  return system;
}

void* allocate(size_t n) {
  if (use_system()) {
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  return nca::alloc::allocate(n);
}

void* allocate_nothrow(size_t n) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

namespace nca::alloc {
bool serves_operator_new() noexcept { return !use_system(); }
}  // namespace nca::alloc

void* operator new(size_t n) { return allocate(n); }
void* operator new[](size_t n) { return allocate(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n); }
void operator delete(void* p) noexcept { nca::alloc::deallocate(p); }
void operator delete[](void* p) noexcept { nca::alloc::deallocate(p); }
void operator delete(void* p, size_t) noexcept { nca::alloc::deallocate(p); }
void operator delete[](void* p, size_t) noexcept { nca::alloc::deallocate(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { nca::alloc::deallocate(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { nca::alloc::deallocate(p); }

// RocksDB (statically linked) asks malloc_usable_size() for the size of blocks it got from new[]
// (arena blocks, cached blocks): glibc's would read a malloc header that our blocks do not have.
extern "C" size_t malloc_usable_size(void* p) noexcept {
  if (p == nullptr) return 0;
  if (size_t ours = nca::alloc::usable_size(p); ours != 0) return ours;
  using Fn = size_t (*)(void*);
  static const Fn next = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "malloc_usable_size"));
  return next != nullptr ? next(p) : 0;
}
