#include "runtime/input_validation.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "runtime/ids.hpp"
#include "runtime/vector_math.hpp"

namespace nca {
namespace {

Error invalid_input(std::string msg) {
  return make_error(ErrorCode::invalid_argument, std::move(msg));
}

constexpr size_t kMaxTagBytes = 128;
constexpr size_t kMaxMetaKeyBytes = 128;
constexpr size_t kMaxMetaValueBytes = 4096;

Status validate_content(const std::string& content, const MemoryPolicy& policy,
                        std::string_view what) {
  if (content.empty()) return invalid_input(std::string(what) + " must not be empty");
  if (content.size() > policy.max_content_bytes) {
    return invalid_input(std::string(what) + " is " + std::to_string(content.size()) +
                         " bytes; memory.max-content-bytes allows " +
                         std::to_string(policy.max_content_bytes));
  }
  if (!is_valid_utf8(content)) return invalid_input(std::string(what) + " is not valid UTF-8");
  return {};
}

Status validate_embedding_field(google::protobuf::RepeatedField<float>* field,
                                const MemoryPolicy& policy, std::string_view what) {
  if (field->empty()) return {};
  // In place: a recall's query embedding is checked on every call, and a copy is an allocation.
  const size_t n = static_cast<size_t>(field->size());
  if (auto st = validate_embedding(field->data(), n, policy.dim, what); !st) return st;
  l2_normalize(field->mutable_data(), n);
  return {};
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t j = 1; j <= n; ++j) {
      unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong encodings, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

Status validate_tier(pb::Tier tier, bool allow_unspecified, std::string_view what) {
  if (tier == pb::STM || tier == pb::MTM || tier == pb::LTM) return {};
  if (tier == pb::TIER_UNSPECIFIED && allow_unspecified) return {};
  return invalid_input(std::string(what) + " must be one of stm, mtm, ltm (got " +
                       std::to_string(static_cast<int>(tier)) + ")");
}

Status validate_tags(const google::protobuf::RepeatedPtrField<std::string>& tags,
                     const MemoryPolicy& policy) {
  if (static_cast<size_t>(tags.size()) > policy.max_tags) {
    return invalid_input("too many tags: " + std::to_string(tags.size()) +
                         "; memory.max-tags allows " + std::to_string(policy.max_tags));
  }
  for (const auto& t : tags) {
    if (t.empty() || t.size() > kMaxTagBytes) {
      return invalid_input("tag '" + t.substr(0, 64) + "' must be 1.." +
                           std::to_string(kMaxTagBytes) + " bytes");
    }
    if (!is_valid_utf8(t)) return invalid_input("a tag is not valid UTF-8");
    for (unsigned char c : t) {
      if (c < 0x20)
        return invalid_input("tag '" + t.substr(0, 64) + "' contains a control character");
    }
  }
  return {};
}

Status validate_metadata(const google::protobuf::Map<std::string, std::string>& metadata,
                         const MemoryPolicy& policy) {
  if (metadata.size() > policy.max_metadata) {
    return invalid_input("too many metadata entries: " + std::to_string(metadata.size()) +
                         "; memory.max-metadata allows " + std::to_string(policy.max_metadata));
  }
  for (const auto& [k, v] : metadata) {
    if (k.empty() || k.size() > kMaxMetaKeyBytes) {
      return invalid_input("metadata key '" + k.substr(0, 64) + "' must be 1.." +
                           std::to_string(kMaxMetaKeyBytes) + " bytes");
    }
    if (v.size() > kMaxMetaValueBytes) {
      return invalid_input("metadata value of '" + k + "' is " + std::to_string(v.size()) +
                           " bytes; at most " + std::to_string(kMaxMetaValueBytes) +
                           " are allowed");
    }
    if (!is_valid_utf8(k) || !is_valid_utf8(v)) {
      return invalid_input("metadata entry '" + k.substr(0, 64) + "' is not valid UTF-8");
    }
  }
  return {};
}

bool is_limit_error(const Error& error) {
  return error.code == ErrorCode::invalid_argument &&
         error.message.find(" allows ") != std::string::npos;
}

Status validate_memory_input(pb::MemoryInput& in, const MemoryPolicy& policy) {
  if (!in.id().empty()) {
    if (auto st = validate_id(in.id(), "memory id"); !st) return st;
  }
  if (auto st = validate_content(in.content(), policy, "content"); !st) return st;
  if (auto st = validate_embedding_field(in.mutable_embedding(), policy, "embedding"); !st) {
    return st;
  }
  if (in.has_importance()) {
    double imp = in.importance();
    if (!std::isfinite(imp) || imp < 0 || imp > 1) {
      return invalid_input("importance must be a number in [0, 1] (got " + std::to_string(imp) +
                           ")");
    }
  } else {
    in.set_importance(policy.default_importance);
  }
  if (auto st = validate_tags(in.tags(), policy); !st) return st;
  if (auto st = validate_metadata(in.metadata(), policy); !st) return st;
  if (!in.session_id().empty()) {
    if (auto st = validate_id(in.session_id(), "session_id"); !st) return st;
  }
  if (auto st = validate_tier(in.tier(), true, "tier"); !st) return st;
  if (in.created_at_us() < 0) return invalid_input("created_at must not be before 1970");
  return {};
}

Status validate_recall(pb::RecallRequest& req, const MemoryPolicy& policy) {
  if (req.query().empty() && req.query_embedding().empty()) {
    return invalid_input("recall needs a query text or a query_embedding");
  }
  if (req.query().size() > policy.max_content_bytes) {
    return invalid_input("query is " + std::to_string(req.query().size()) +
                         " bytes; memory.max-content-bytes allows " +
                         std::to_string(policy.max_content_bytes));
  }
  if (!is_valid_utf8(req.query())) return invalid_input("query is not valid UTF-8");
  if (auto st = validate_embedding_field(req.mutable_query_embedding(), policy, "query_embedding");
      !st) {
    return st;
  }
  if (req.k() == 0) req.set_k(static_cast<uint32_t>(policy.default_k));
  if (req.k() > policy.max_k) {
    return invalid_input("k is " + std::to_string(req.k()) + "; recall.max-k allows " +
                         std::to_string(policy.max_k));
  }
  for (int t : req.tiers()) {
    if (auto st = validate_tier(static_cast<pb::Tier>(t), false, "tiers"); !st) return st;
  }
  const auto& f = req.filter();
  if (!std::isfinite(f.min_health()) || f.min_health() < 0 || f.min_health() > 100) {
    return invalid_input("filter.min_health must be in [0, 100]");
  }
  if (f.created_after_us() != 0 && f.created_before_us() != 0 &&
      f.created_after_us() > f.created_before_us()) {
    return invalid_input("filter.created_after is later than filter.created_before");
  }
  if (auto st = validate_tags(f.tags(), policy); !st) return st;
  if (auto st = validate_metadata(f.metadata(), policy); !st) return st;
  return {};
}

Status validate_update(pb::UpdateRequest& req, const MemoryPolicy& policy) {
  if (auto st = validate_id(req.id(), "memory id"); !st) return st;
  if (req.has_content()) {
    if (auto st = validate_content(req.content(), policy, "content"); !st) return st;
  } else if (!req.embedding().empty()) {
    return invalid_input("an embedding can only be given together with new content");
  }
  if (auto st = validate_embedding_field(req.mutable_embedding(), policy, "embedding"); !st) {
    return st;
  }
  if (req.has_importance()) {
    double imp = req.importance();
    if (!std::isfinite(imp) || imp < 0 || imp > 1) {
      return invalid_input("importance must be a number in [0, 1] (got " + std::to_string(imp) +
                           ")");
    }
  }
  if (req.has_tags()) {
    if (auto st = validate_tags(req.tags().tags(), policy); !st) return st;
  }
  if (req.has_metadata()) {
    if (auto st = validate_metadata(req.metadata().entries(), policy); !st) return st;
  }
  if (!req.has_content() && !req.has_tags() && !req.has_metadata() && !req.has_importance()) {
    return invalid_input("update changes nothing: give content, metadata, tags or importance");
  }
  return {};
}

}  // namespace nca
