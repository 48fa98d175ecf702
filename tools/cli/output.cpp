#include "tools/cli/output.hpp"

#include <google/protobuf/util/json_util.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <vector>

namespace nca::cli {

namespace {

constexpr size_t kDefaultContentWidth = 60;
constexpr size_t kMinContentWidth = 12;
constexpr char kGap[] = "  ";

std::string ansi(const std::string& code, const std::string& text) {
  return "\033[" + code + "m" + text + "\033[0m";
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::string pad(const std::string& text, size_t width, bool right) {
  size_t used = display_width(text);
  if (used >= width) return text;
  std::string fill(width - used, ' ');
  return right ? fill + text : text + fill;
}

}  // namespace

size_t display_width(const std::string& text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1B) {  // skip an ANSI escape sequence: ESC [ ... letter
      while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      continue;
    }
    if (!is_continuation(c)) ++width;
  }
  return width;
}

std::string one_line(const std::string& text, size_t width, bool keep_colour) {
  std::string flat;
  flat.reserve(text.size());
  bool space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f') {
      space = true;
      continue;
    }
    if (space && !flat.empty()) flat += ' ';
    space = false;
    if (c == '\033' && keep_colour) {
      // Our own colour codes (ESC [ digits/; m) pass; any other escape sequence is neutralised.
      size_t end = i + 1;
      if (end < text.size() && text[end] == '[') {
        ++end;
        while (end < text.size() &&
               (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == ';')) {
          ++end;
        }
        if (end < text.size() && text[end] == 'm') {
          flat.append(text, i, end - i + 1);
          i = end;
          continue;
        }
      }
    }
    // No control codes from data in a table: they could move the cursor or retitle the terminal.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    flat += c;
  }
  if (display_width(flat) <= width) return flat;
  if (width == 0) return std::string();
  // Keep width-1 code points, then the ellipsis.
  size_t kept = 0;
  size_t i = 0;
  for (; i < flat.size(); ++i) {
    if (!is_continuation(static_cast<unsigned char>(flat[i]))) {
      if (kept == width - 1) break;
      ++kept;
    }
  }
  return flat.substr(0, i) + "…";
}

std::string format_time_us(int64_t us) {
  if (us == 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm parts{};
  if (gmtime_r(&seconds, &parts) == nullptr) return std::to_string(us);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &parts);
  return text;
}

std::string format_fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string tier_name(pb::Tier tier) {
  switch (tier) {
    case pb::STM:
      return "STM";
    case pb::MTM:
      return "MTM";
    case pb::LTM:
      return "LTM";
    default:
      return "-";
  }
}

Output::Output(std::ostream& out, bool colour, int terminal_width)
    : out_(out), colour_(colour), terminal_width_(terminal_width) {}

Output Output::for_stdout(std::ostream& out) {
  bool tty = ::isatty(STDOUT_FILENO) == 1;
  int width = 0;
  if (tty) {
    winsize size{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) width = size.ws_col;
    if (width == 0) width = 80;
  }
  const char* term = std::getenv("TERM");
  const char* no_colour = std::getenv("NO_COLOR");
  bool colour = tty && (no_colour == nullptr || *no_colour == '\0') &&
                !(term != nullptr && std::string(term) == "dumb");
  return Output(out, colour, width);
}

void Output::table(const std::vector<Column>& columns,
                   const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(columns.size(), 0);
  size_t fixed = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    widths[c] = display_width(columns[c].header);
    if (columns[c].flexible) continue;
    for (const auto& row : rows) {
      if (c < row.size()) widths[c] = std::max(widths[c], display_width(row[c]));
    }
    fixed += widths[c] + (sizeof(kGap) - 1);
  }
  size_t flexible_width = kDefaultContentWidth;
  if (terminal_width_ > 0) {
    size_t total = static_cast<size_t>(terminal_width_);
    flexible_width = total > fixed + kMinContentWidth ? total - fixed - 1 : kMinContentWidth;
  }
  // Cells as they will be shown: one line each, the flexible column cut to its width.
  std::vector<std::vector<std::string>> shown;
  shown.reserve(rows.size());
  for (const auto& row : rows) {
    std::vector<std::string> cells(columns.size());
    for (size_t c = 0; c < columns.size() && c < row.size(); ++c) {
      // The flexible column holds user data (content) only; other cells may carry our colour codes.
      cells[c] = columns[c].flexible ? one_line(row[c], flexible_width, false)
                                     : one_line(row[c], std::string::npos, true);
      if (columns[c].flexible) widths[c] = std::max(widths[c], display_width(cells[c]));
    }
    shown.push_back(std::move(cells));
  }
  auto print_row = [&](const std::vector<std::string>& cells, bool header) {
    std::string text;
    for (size_t c = 0; c < columns.size(); ++c) {
      bool last = c + 1 == columns.size();
      // The last column is not padded, so lines carry no trailing blanks.
      std::string cell = last && !columns[c].right_aligned
                             ? cells[c]
                             : pad(cells[c], widths[c], columns[c].right_aligned);
      text += header ? bold(cell) : cell;
      if (!last) text += kGap;
    }
    out_ << text << '\n';
  };
  std::vector<std::string> headers;
  for (const auto& column : columns) headers.push_back(column.header);
  print_row(headers, true);
  for (const auto& row : shown) print_row(row, false);
}

void Output::fields(const Fields& fields) {
  size_t width = 0;
  for (const auto& field : fields) width = std::max(width, display_width(field.first));
  for (const auto& field : fields) {
    out_ << bold(pad(field.first, width, false)) << kGap << field.second << '\n';
  }
}

void Output::line(const std::string& text) { out_ << text << '\n'; }

std::string Output::bold(const std::string& text) const { return colour_ ? ansi("1", text) : text; }

std::string Output::dim(const std::string& text) const { return colour_ ? ansi("2", text) : text; }

std::string Output::tier(pb::Tier tier) const {
  std::string name = tier_name(tier);
  if (!colour_) return name;
  switch (tier) {
    case pb::STM:
      return ansi("33", name);
    case pb::MTM:
      return ansi("36", name);
    case pb::LTM:
      return ansi("32", name);
    default:
      return name;
  }
}

void Output::json(const google::protobuf::Message& message) {
  Result<std::string> text = stable_json(message, true);
  // Only invalid UTF-8 in a string field fails; the output is still one valid JSON document.
  out_ << (text.ok()
               ? *text
               : nlohmann::json{{"error", "reply cannot be shown as JSON: " + text.error().message}}
                     .dump())
       << '\n';
}

namespace {

using OrderedJson = nlohmann::ordered_json;
namespace gpb = google::protobuf;

void sort_keys(OrderedJson& object) {
  std::vector<std::pair<std::string, OrderedJson>> entries;
  for (auto& entry : object.items()) entries.emplace_back(entry.key(), std::move(entry.value()));
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  object = OrderedJson::object();
  for (auto& entry : entries) object[entry.first] = std::move(entry.second);
}

// Walks `value` (the JSON of a message of type `type`) and sorts the keys of its map fields, at
// every depth. Well-known types have their own JSON forms and no maps: they are left alone.
void sort_map_fields(OrderedJson& value, const gpb::Descriptor* type) {
  if (!value.is_object() || type->file()->name().rfind("google/protobuf/", 0) == 0) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const gpb::FieldDescriptor* field = type->field(i);
    auto found = value.find(field->name());
    if (found == value.end() || field->message_type() == nullptr) continue;
    if (field->is_map()) {
      if (!found->is_object()) continue;
      sort_keys(*found);
      const gpb::FieldDescriptor* mapped = field->message_type()->map_value();
      if (mapped->message_type() != nullptr) {
        for (auto& entry : found->items()) sort_map_fields(entry.value(), mapped->message_type());
      }
    } else if (field->is_repeated()) {
      if (!found->is_array()) continue;
      for (auto& element : *found) sort_map_fields(element, field->message_type());
    } else {
      sort_map_fields(*found, field->message_type());
    }
  }
}

}  // namespace

Result<std::string> stable_json(const google::protobuf::Message& message, bool include_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = include_defaults;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) return make_error(ErrorCode::invalid_argument, std::string(status.message()));
  OrderedJson document = OrderedJson::parse(text, nullptr, false);
  if (document.is_discarded()) {
    return make_error(ErrorCode::internal, "protobuf printed JSON that does not parse");
  }
  sort_map_fields(document, message.GetDescriptor());
  return document.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace nca::cli
