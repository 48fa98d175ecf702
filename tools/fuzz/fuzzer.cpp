// The libFuzzer entry point of one target (tools/fuzz/targets.hpp), chosen at build time with
// NCA_FUZZ_TARGET: one executable per target, built by `make fuzz` with clang.
#include <cstddef>
#include <cstdint>

#include "tools/fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nca::fuzz::NCA_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
