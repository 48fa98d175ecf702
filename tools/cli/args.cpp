#include "tools/cli/args.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace nca::cli {

namespace {

Error bad_value(const std::string& flag, const std::string& text, const std::string& expected) {
  return make_error(ErrorCode::invalid_argument, flag + " '" + text + "': expected " + expected);
}

// Parses a whole string as a finite double; false for trailing garbage, empty input, nan or inf.
bool to_double(const std::string& text, double* out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return false;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return false;
  *out = value;
  return true;
}

// Reads exactly `digits` decimal digits at text[*pos]; false if they are not there.
bool read_digits(const std::string& text, size_t* pos, int digits, int* out) {
  int value = 0;
  for (int i = 0; i < digits; ++i) {
    if (*pos >= text.size() || !std::isdigit(static_cast<unsigned char>(text[*pos]))) return false;
    value = value * 10 + (text[*pos] - '0');
    ++*pos;
  }
  *out = value;
  return true;
}

// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : kDays[month - 1];
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(const std::string& text, const std::string& flag) {
  const std::string expected = "a duration such as 500ms, 10s or 2m";
  size_t unit_at = text.size();
  while (unit_at > 0 && std::isalpha(static_cast<unsigned char>(text[unit_at - 1]))) --unit_at;
  std::string unit = text.substr(unit_at);
  double number = 0;
  if (!to_double(text.substr(0, unit_at), &number)) return bad_value(flag, text, expected);
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m") {
    ms_per_unit = 60'000;
  } else if (unit == "h") {
    ms_per_unit = 3'600'000;
  } else {
    return bad_value(flag, text, expected);
  }
  double ms = number * ms_per_unit;
  if (ms < 1 || ms > 24.0 * 3'600'000) {
    return bad_value(flag, text, "a duration between 1ms and 24h");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

Result<int64_t> parse_time_us(const std::string& text, const std::string& flag) {
  const std::string expected =
      "Unix seconds or an ISO 8601 time such as 2024-06-10 or 2024-06-10T08:30:00Z";
  bool numeric = !text.empty();
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') numeric = false;
  }
  if (numeric) {
    double seconds = 0;
    if (!to_double(text, &seconds) || seconds > 253402300799.0) {
      return bad_value(flag, text, expected);
    }
    return static_cast<int64_t>(std::llround(seconds * 1e6));
  }
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
  int64_t offset_minutes = 0;
  if (!read_digits(text, &pos, 4, &year) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, &pos, 2, &month) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, &pos, 2, &day)) {
    return bad_value(flag, text, expected);
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return bad_value(flag, text, "a valid calendar date");
  }
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') {
      return bad_value(flag, text, expected);
    }
    ++pos;
    if (!read_digits(text, &pos, 2, &hour) || pos >= text.size() || text[pos++] != ':' ||
        !read_digits(text, &pos, 2, &minute)) {
      return bad_value(flag, text, expected);
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!read_digits(text, &pos, 2, &second)) return bad_value(flag, text, expected);
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        int64_t scale = 100'000;
        size_t digits = 0;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
          micros += (text[pos] - '0') * scale;
          scale /= 10;
          ++pos;
          ++digits;
        }
        if (digits == 0) return bad_value(flag, text, expected);
      }
    }
    if (hour > 23 || minute > 59 || second > 60)
      return bad_value(flag, text, "a valid time of day");
    if (pos < text.size()) {
      char zone = text[pos++];
      if (zone == 'Z' || zone == 'z') {
        // UTC
      } else if (zone == '+' || zone == '-') {
        int zone_hours = 0, zone_minutes = 0;
        if (!read_digits(text, &pos, 2, &zone_hours)) return bad_value(flag, text, expected);
        if (pos < text.size() && text[pos] == ':') ++pos;
        if (!read_digits(text, &pos, 2, &zone_minutes) || zone_hours > 23 || zone_minutes > 59) {
          return bad_value(flag, text, expected);
        }
        offset_minutes = (zone == '+' ? 1 : -1) * (zone_hours * 60 + zone_minutes);
      } else {
        return bad_value(flag, text, expected);
      }
    }
  }
  if (pos != text.size()) return bad_value(flag, text, expected);
  int64_t seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1'000'000 + micros;
}

Result<pb::Tier> parse_tier(const std::string& text, const std::string& flag) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "stm") return pb::STM;
  if (lower == "mtm") return pb::MTM;
  if (lower == "ltm") return pb::LTM;
  return bad_value(flag, text, "stm, mtm or ltm");
}

Result<std::pair<std::string, std::string>> parse_key_value(const std::string& text,
                                                            const std::string& flag) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return bad_value(flag, text, "key=value");
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

Result<double> parse_number(const std::string& text, const std::string& flag, double min,
                            double max) {
  double value = 0;
  if (!to_double(text, &value) || value < min || value > max) {
    char range[96];
    std::snprintf(range, sizeof(range), "a number from %g to %g", min, max);
    return bad_value(flag, text, range);
  }
  return value;
}

}  // namespace nca::cli
