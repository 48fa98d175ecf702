// tools/fuzz/targets.hpp: the fuzz targets, as plain functions of a byte string.
//
// Each feeds arbitrary bytes to one boundary where input from outside enters a node:
//   request  — a client's wire envelope: protobuf decoding, the credential checks (JWT, API key,
//              role, tenant) and the input validators the api and persona actors run;
//   http     — an HTTP request: route matching of a path, then the JSON body mapped to a request
//              for every API route;
//   config   — an INI config file: parsing, every key set through the schema, validation;
//   records  — bytes read back from RocksDB or a peer: stored records of every kind, Raft frames
//              (decoded, then stepped into a Raft member whose Readies are saved), and key
//              prefixes.
// A target returns normally for every input; a crash, sanitizer report or hang is the bug. The
// libFuzzer entry points (tools/fuzz/*_fuzzer.cpp, `make fuzz`) and the CI regression test
// (tests/fuzz) call the same functions. Thread-safe: no state between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nca::fuzz {

void request(std::string_view bytes);
void http(std::string_view bytes);
void config(std::string_view bytes);
void records(std::string_view bytes);

struct Target {
  const char* name;
  void (*run)(std::string_view);
};
inline constexpr Target kTargets[] = {
    {"request", request}, {"http", http}, {"config", config}, {"records", records}};

}  // namespace nca::fuzz
