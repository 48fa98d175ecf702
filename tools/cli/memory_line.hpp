// tools/cli/memory_line.hpp: one line of the JSONL files that `nca export` writes and `nca import`
// reads.
//
// A line is one JSON object: a MemoryInput in protobuf's JSON mapping (proto or JSON field names:
// "id", "content", "importance", "metadata", "tags", "session_id", "tier", "created_at_us",
// "embedding") plus "persona_id", the persona it belongs to. Export writes every field needed to
// import the memory again (embedding only when asked), persona_id first, compact, map keys sorted,
// so exporting the same memories twice gives the same bytes.
//
// A line without an id gets a derived one (derived_memory_id), so importing the same file again
// names the same memories and the node skips them instead of storing duplicates. Pure functions,
// thread-safe.
#pragma once

#include <string>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::cli {

struct MemoryLine {
  std::string persona_id;
  pb::MemoryInput memory;  // id filled in: the line's own or the derived one
  bool derived_id = false;
};

// Parses one line. A non-empty `persona` is the persona of every line (the line's persona_id is
// then ignored); otherwise the line must name one. invalid_argument with a message that names the
// problem (bad JSON with its column, an unknown or mistyped field, no persona, no content); the
// caller adds the line number.
Result<MemoryLine> parse_memory_line(const std::string& text, const std::string& persona);

// The id of a memory that came without one: a UUIDv8 (RFC 9562) whose first 48 bits are
// created_at in milliseconds (0 when not given), so derived ids sort by time like the node's
// UUIDv7 ids, and whose other 74 free bits come from SHA-256 of persona, session id, created_at
// and content. The same memory in the same persona always gets the same id; identical lines
// (those four fields equal) are one memory.
std::string derived_memory_id(const std::string& persona, const pb::MemoryInput& memory);

// The export line of a stored item, without a trailing newline; `embedding` is written when not
// empty. invalid_argument only for content or metadata that is not valid UTF-8.
Result<std::string> format_memory_line(const pb::MemoryItem& item,
                                       const google::protobuf::RepeatedField<float>& embedding);

}  // namespace nca::cli
