// runtime/hnswlib_sanitizer.hpp: include right before <hnswlib/hnswlib.h>, wherever that is
// included.
//
// hnswlib 0.6.2's SSE path prefetches the neighbour after the last one of a link list, reading one
// id past the list (upstream nmslib/hnswlib issues 107 and 578): harmless in practice (the read
// stays inside the malloc chunk and only feeds a prefetch) but reported by AddressSanitizer, so
// sanitised builds use hnswlib's plain scalar path. Every user of hnswlib in a binary must agree,
// or the node and a benchmark's raw baseline would measure different kernels.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
