#include "tools/cli/memory_line.hpp"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

#include "nca/uuid_v7.hpp"
#include "runtime/crypto.hpp"
#include "tools/cli/output.hpp"

namespace nca::cli {

namespace {

constexpr char kPersonaKey[] = "persona_id";
// A MemoryInput line nests three deep (line, metadata, value); far deeper input is refused before
// parsing, since printing it again would recurse once per level.
constexpr int kMaxDepth = 16;

Error invalid(const std::string& message) {
  return make_error(ErrorCode::invalid_argument, message);
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
// as "column 9: syntax error ...": the caller names the line.
std::string parse_error_text(const std::string& what) {
  std::string text = what;
  size_t bracket = text.find("] ");
  if (text.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos) {
    text = text.substr(bracket + 2);
  }
  for (const char* prefix : {"parse error at line 1, ", "parse error: ", "parse error "}) {
    if (text.rfind(prefix, 0) == 0) {
      text = text.substr(std::string(prefix).size());
      break;
    }
  }
  return text;
}

// The MemoryInput field a key names (proto or JSON name), or null.
const google::protobuf::FieldDescriptor* input_field(const std::string& key) {
  const google::protobuf::Descriptor* type = pb::MemoryInput::descriptor();
  if (const auto* field = type->FindFieldByName(key)) return field;
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == key) return type->field(i);
  }
  return nullptr;
}

std::string field_names() {
  std::string names = kPersonaKey;
  const google::protobuf::Descriptor* type = pb::MemoryInput::descriptor();
  for (int i = 0; i < type->field_count(); ++i) names += ", " + type->field(i)->name();
  return names;
}

// protobuf's "(importance): invalid value "high" for type TYPE_DOUBLE" as
// ""importance": invalid value "high" (expected a number)".
std::string readable_parse_error(std::string message) {
  if (message.size() > 2 && message[0] == '(') {
    size_t close = message.find("): ");
    if (close != std::string::npos) {
      message = "\"" + message.substr(1, close - 1) + "\": " + message.substr(close + 3);
    }
  }
  static const std::pair<const char*, const char*> kTypes[] = {
      {" for type TYPE_DOUBLE", " (expected a number)"},
      {" for type TYPE_FLOAT", " (expected a number)"},
      {" for type TYPE_INT64", " (expected an integer)"},
      {" for type TYPE_INT32", " (expected an integer)"},
      {" for type TYPE_UINT64", " (expected a whole number)"},
      {" for type TYPE_UINT32", " (expected a whole number)"},
      {" for type TYPE_STRING", " (expected a string)"},
      {" for type type.googleapis.com/nca.pb.Tier", " (expected STM, MTM or LTM)"},
  };
  for (const auto& [type, expected] : kTypes) {
    size_t at = message.find(type);
    if (at != std::string::npos) message.replace(at, std::string(type).size(), expected);
  }
  return message;
}

// Whether the arrays and objects of `text` nest deeper than kMaxDepth (brackets inside strings do
// not count).
bool too_deep(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<MemoryLine> parse_memory_line(const std::string& text, const std::string& persona) {
  if (too_deep(text)) {
    return invalid("arrays and objects nest deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return invalid("not valid JSON: " + parse_error_text(e.what()));
  }
  if (!document.is_object()) {
    return invalid(std::string("expected a JSON object, got ") + document.type_name());
  }
  MemoryLine line;
  line.persona_id = persona;
  bool has_content = false;
  for (auto entry = document.begin(); entry != document.end();) {
    const std::string& key = entry.key();
    if (key == kPersonaKey) {
      if (!entry->is_string() && !entry->is_null()) {
        return invalid("\"persona_id\" must be a string, got " + std::string(entry->type_name()));
      }
      if (persona.empty() && entry->is_string()) line.persona_id = entry->get<std::string>();
      entry = document.erase(entry);
      continue;
    }
    const google::protobuf::FieldDescriptor* field = input_field(key);
    if (field == nullptr) {
      return invalid("unknown field \"" + key + "\" (a line holds " + field_names() + ")");
    }
    if (field->name() == "content") {
      if (!entry->is_string()) {
        return invalid("\"content\" must be a string, got " + std::string(entry->type_name()));
      }
      has_content = !entry->get<std::string>().empty();
    }
    if (field->name() == "tier" && entry->is_string()) {
      // Tiers as the CLI's flags spell them ("ltm") are accepted too.
      std::string upper = entry->get<std::string>();
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      *entry = upper;
    }
    ++entry;
  }
  if (line.persona_id.empty()) {
    return invalid("no \"persona_id\" (name the persona on the line, or give --persona)");
  }
  if (!has_content) return invalid("\"content\" is missing or empty");
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), &line.memory,
      options);
  if (!status.ok()) return invalid(readable_parse_error(std::string(status.message())));
  if (line.memory.id().empty()) {
    line.memory.set_id(derived_memory_id(line.persona_id, line.memory));
    line.derived_id = true;
  }
  return line;
}

std::string derived_memory_id(const std::string& persona, const pb::MemoryInput& memory) {
  // Ids never contain NUL, so the fields cannot run into each other; content goes last.
  std::string identity = persona;
  identity += '\0';
  identity += memory.session_id();
  identity += '\0';
  identity += std::to_string(memory.created_at_us());
  identity += '\0';
  identity += memory.content();
  std::array<uint8_t, 32> hash = sha256(identity);
  uint64_t ms =
      memory.created_at_us() > 0 ? static_cast<uint64_t>(memory.created_at_us()) / 1000 : 0;
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x80 | (hash[0] & 0x0F));  // version 8
  b[7] = hash[1];
  b[8] = static_cast<unsigned char>(0x80 | (hash[2] & 0x3F));  // variant 10
  for (int i = 9; i < 16; ++i) b[i] = hash[static_cast<size_t>(i - 6)];
  return uuid_text(b);
}

Result<std::string> format_memory_line(const pb::MemoryItem& item,
                                       const google::protobuf::RepeatedField<float>& embedding) {
  pb::MemoryInput input;
  input.set_id(item.id());
  input.set_content(item.content());
  *input.mutable_embedding() = embedding;
  input.set_importance(item.importance());
  *input.mutable_metadata() = item.metadata();
  *input.mutable_tags() = item.tags();
  input.set_session_id(item.session_id());
  input.set_tier(item.tier());
  input.set_created_at_us(item.created_at_us());
  Result<std::string> fields = stable_json(input, false);
  if (!fields.ok()) return invalid("memory " + item.id() + ": " + fields.error().message);
  std::string line =
      "{\"persona_id\":" + nlohmann::json(item.persona_id())
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // `fields` is "{...}": splice its members in after persona_id.
  if (fields->size() > 2)
    line += "," + fields->substr(1);
  else
    line += "}";
  return line;
}

}  // namespace nca::cli
