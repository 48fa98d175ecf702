// runtime/protobuf_log.hpp: libprotobuf's own log lines, routed.
//
// libprotobuf writes to stderr by itself, once per refused string field with invalid UTF-8, for
// example. A client could flood a node's output with such requests, past spdlog's level and JSON
// format, and the client learned only that its bytes "do not parse". Once
// install_protobuf_log_handler() has run, every line libprotobuf logs goes to spdlog at debug
// level and is kept, per thread, until take_protobuf_error() reads it: code that just saw a parse
// fail on this thread can name the cause ("String field 'nca.pb.MemoryInput.content' contains
// invalid UTF-8 data when parsing a protocol buffer").
//
// Thread-safety: install is idempotent and thread-safe (the handler is process-wide, as
// libprotobuf's is); take reads and clears the calling thread's last line only. The node installs
// it when it starts; the SDK never does, so an application keeps its own handler.
#pragma once

#include <string>

namespace nca {

void install_protobuf_log_handler();

// The last line libprotobuf logged on this thread since the previous call (its first sentence),
// or "" if none.
std::string take_protobuf_error();

}  // namespace nca
