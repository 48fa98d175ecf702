// tools/cli/output.hpp: how `nca` prints: aligned tables and field lists for people, one JSON
// document for scripts.
//
// Output writes to one stream. Tables size every column to its widest cell except one flexible
// column (the content), which gets what is left of the terminal width on a TTY, or 60 characters
// otherwise; text cut short ends in "…". Colour (ANSI) is used only when the Output was made for a
// colour terminal. Widths count UTF-8 code points, and cuts never split one. Not thread-safe; one
// per command.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::cli {

// "key value" lines for Output::fields, in the order shown.
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Column {
  std::string header;
  bool right_aligned = false;
  bool flexible = false;  // at most one: takes the remaining width and truncates
};

class Output {
 public:
  // `terminal_width` is 0 when stdout is not a terminal.
  Output(std::ostream& out, bool colour, int terminal_width);

  // For stdout: colour only on a TTY, without a non-empty NO_COLOR (no-color.org) and not with
  // TERM=dumb; width from the terminal.
  static Output for_stdout(std::ostream& out);

  void table(const std::vector<Column>& columns, const std::vector<std::vector<std::string>>& rows);
  // "key   value" lines with the keys aligned.
  void fields(const Fields& fields);
  void line(const std::string& text);

  // Decorations; identity when colour is off.
  std::string bold(const std::string& text) const;
  std::string dim(const std::string& text) const;
  std::string tier(pb::Tier tier) const;  // "STM"/"MTM"/"LTM", coloured

  // One JSON document (stable_json with defaults included) and a newline.
  void json(const google::protobuf::Message& message);

 private:
  std::ostream& out_;
  bool colour_;
  int terminal_width_;
};

// The message in protobuf's JSON mapping with proto field names, on one line, with the keys of
// every map field sorted (protobuf prints maps in hash order, which differs from run to run): the
// same message always gives the same text. `include_defaults` also prints fields left at their
// default. Fails (invalid_argument) only for invalid UTF-8 in a string field.
Result<std::string> stable_json(const google::protobuf::Message& message, bool include_defaults);

// Helpers shared by the verb printers.
std::string format_time_us(int64_t us);  // "2024-06-10 08:30:00" UTC, "-" for 0
std::string format_fixed(double value, int decimals);
std::string tier_name(pb::Tier tier);           // plain "STM"/"MTM"/"LTM"/"-"
size_t display_width(const std::string& text);  // UTF-8 code points, ANSI escapes excluded
// Collapses whitespace runs (newlines included) to one space, replaces control characters with '?'
// (keeping colour escape codes if `keep_colour`) and cuts to `width` code points, ending in "…".
std::string one_line(const std::string& text, size_t width, bool keep_colour = false);

}  // namespace nca::cli
