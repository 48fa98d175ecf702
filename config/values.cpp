#include "config/values.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace nca::config {
namespace {

constexpr const char* kDurationHint = "not a duration (use e.g. 500ms, 30s, 5m, 3h, 14d)";
constexpr const char* kSizeHint = "not a size (use e.g. 64KiB, 8MiB, 1GiB or a number of bytes)";

// Durations above this are certainly typos; the bound also keeps every sum exact in a double.
constexpr double kMaxDurationUs = 1000.0 * 366 * 24 * 3600 * 1e6;  // about 1000 years
constexpr double kMaxSizeBytes = 9.2e18;                           // below 2^63

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads an unsigned decimal number "12", "1.5", ".5" at s[pos]; advances pos. No sign, no exponent.
bool read_unsigned_decimal(std::string_view s, size_t& pos, double& out) {
  size_t start = pos;
  bool digits = false;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    ++pos;
    digits = true;
  }
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      ++pos;
      digits = true;
    }
  }
  if (!digits) {
    pos = start;
    return false;
  }
  std::string_view number = s.substr(start, pos - start);
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), out);
  return ec == std::errc() && ptr == number.data() + number.size();
}

}  // namespace

std::string_view trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

Result<bool> parse_bool(const std::string& text) {
  std::string t = lower(trim(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return make_error(ErrorCode::invalid_argument,
                    "not a boolean (use true/false, 1/0, yes/no, on/off)");
}

Result<int64_t> parse_int(const std::string& text) {
  std::string_view t = trim(text);
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ptr != t.data() + t.size()) {
    return make_error(ErrorCode::invalid_argument, "not an integer");
  }
  if (ec == std::errc::result_out_of_range) {
    return make_error(ErrorCode::invalid_argument, "integer too large");
  }
  if (ec != std::errc()) return make_error(ErrorCode::invalid_argument, "not an integer");
  return value;
}

Result<double> parse_double(const std::string& text) {
  std::string_view t = trim(text);
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  double value = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(value)) {
    return make_error(ErrorCode::invalid_argument, "not a number");
  }
  return value;
}

Result<TimeUs> parse_duration(const std::string& text) {
  std::string_view t = trim(text);
  if (t.empty()) return make_error(ErrorCode::invalid_argument, kDurationHint);
  double total_us = 0;
  size_t pos = 0;
  double number = 0;
  // A plain number is seconds.
  if (read_unsigned_decimal(t, pos, number) && pos == t.size()) {
    total_us = number * 1e6;
  } else {
    pos = 0;
    int parts = 0;
    while (pos < t.size() && parts < 16) {
      ++parts;
      if (!read_unsigned_decimal(t, pos, number)) {
        return make_error(ErrorCode::invalid_argument, kDurationHint);
      }
      while (pos < t.size() && t[pos] == ' ') ++pos;
      size_t unit_start = pos;
      while (pos < t.size() && std::isalpha(static_cast<unsigned char>(t[pos]))) ++pos;
      std::string unit = lower(t.substr(unit_start, pos - unit_start));
      double scale = 0;
      if (unit == "us")
        scale = 1;
      else if (unit == "ms")
        scale = 1e3;
      else if (unit == "s")
        scale = 1e6;
      else if (unit == "m")
        scale = 60e6;
      else if (unit == "h")
        scale = 3600e6;
      else if (unit == "d")
        scale = 86400e6;
      else
        return make_error(ErrorCode::invalid_argument, kDurationHint);
      total_us += number * scale;
      while (pos < t.size() && t[pos] == ' ') ++pos;
    }
    if (pos != t.size()) return make_error(ErrorCode::invalid_argument, kDurationHint);
  }
  if (!(total_us <= kMaxDurationUs)) {
    return make_error(ErrorCode::invalid_argument, "duration too long (at most 1000 years)");
  }
  return static_cast<TimeUs>(std::llround(total_us));
}

Result<uint64_t> parse_size(const std::string& text) {
  std::string_view t = trim(text);
  size_t pos = 0;
  double number = 0;
  if (!read_unsigned_decimal(t, pos, number)) {
    return make_error(ErrorCode::invalid_argument, kSizeHint);
  }
  std::string unit = lower(trim(t.substr(pos)));
  double scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "k" || unit == "kib")
    scale = 1024.0;
  else if (unit == "m" || unit == "mib")
    scale = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb")
    scale = 1e3;
  else if (unit == "mb")
    scale = 1e6;
  else if (unit == "gb")
    scale = 1e9;
  else if (unit == "tb")
    scale = 1e12;
  else
    return make_error(ErrorCode::invalid_argument, kSizeHint);
  double bytes = number * scale;
  if (!(bytes <= kMaxSizeBytes)) return make_error(ErrorCode::invalid_argument, "size too large");
  if (scale == 1 && std::floor(number) != number) {
    return make_error(ErrorCode::invalid_argument, "not a whole number of bytes");
  }
  return static_cast<uint64_t>(std::llround(bytes));
}

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> items;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return items;
}

std::string format_duration(TimeUs us) {
  if (us == 0) return "0";
  struct Unit {
    TimeUs scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {kUsPerDay, "d"},    {kUsPerHour, "h"}, {60 * kUsPerSecond, "m"},
      {kUsPerSecond, "s"}, {1000, "ms"},      {1, "us"}};
  for (const Unit& unit : kUnits) {
    if (us % unit.scale == 0) return std::to_string(us / unit.scale) + unit.name;
  }
  return std::to_string(us) + "us";
}

std::string format_size(uint64_t bytes) {
  if (bytes == 0) return "0";
  static constexpr const char* kUnits[] = {"TiB", "GiB", "MiB", "KiB"};
  int shift = 40;
  for (const char* unit : kUnits) {
    uint64_t scale = 1ull << shift;
    if (bytes % scale == 0) return std::to_string(bytes / scale) + unit;
    shift -= 10;
  }
  return std::to_string(bytes);
}

std::string format_double(double value) {
  // to_chars without a format gives the shortest text that reads back to the same double.
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "0";
  return std::string(buf, ptr);
}

std::string format_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string quote_for_message(const std::string& value) {
  std::string out = "\"";
  size_t shown = 0;
  for (char c : value) {
    if (++shown > 120) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += "\\x";
      const char* hex = "0123456789abcdef";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Status check_host_port(const std::string& text) {
  std::string_view t = text;
  std::string_view host;
  std::string_view port;
  if (!t.empty() && t[0] == '[') {
    size_t close = t.find(']');
    if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') {
      return make_error(ErrorCode::invalid_argument, "not host:port (IPv6 as [addr]:port)");
    }
    host = t.substr(1, close - 1);
    port = t.substr(close + 2);
  } else {
    size_t colon = t.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error(ErrorCode::invalid_argument, "not host:port (e.g. 127.0.0.1:7420)");
    }
    host = t.substr(0, colon);
    port = t.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return make_error(ErrorCode::invalid_argument, "not host:port (write IPv6 as [addr]:port)");
    }
  }
  if (host.empty()) {
    return make_error(ErrorCode::invalid_argument, "not host:port: the host is empty");
  }
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == ',') {
      return make_error(ErrorCode::invalid_argument, "not host:port: bad character in host");
    }
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return make_error(ErrorCode::invalid_argument, "not host:port: the port must be 0..65535");
  }
  return {};
}

}  // namespace nca::config
