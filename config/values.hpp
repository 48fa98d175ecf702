// config/values.hpp: text <-> value conversions for the configuration's scalar types.
//
// The parsers accept what an operator would type and reject everything else with a short reason (no
// key or source in it: the caller adds those). The formatters produce the canonical text, which the
// parsers read back to the same value (render() relies on that for its round trip). All functions
// are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nca/result.hpp"
#include "runtime/clock.hpp"

namespace nca::config {

// true/false, 1/0, yes/no, on/off; case-insensitive.
Result<bool> parse_bool(const std::string& text);
// A decimal integer, optionally signed.
Result<int64_t> parse_int(const std::string& text);
// A finite decimal number (123, 0.5, 1e-3).
Result<double> parse_double(const std::string& text);
// One or more <number><unit> parts (units us, ms, s, m, h, d; e.g. 500ms, 3h, 1h30m, 1.5s) or a
// plain number of seconds. Never negative. Returns microseconds.
Result<TimeUs> parse_duration(const std::string& text);
// A number of bytes, optionally with a unit: B; KiB, MiB, GiB, TiB (and K, M, G, T: also powers of
// 1024); KB, MB, GB, TB (powers of 1000). Case-insensitive.
Result<uint64_t> parse_size(const std::string& text);
// `s` without leading and trailing whitespace (config files and values).
std::string_view trim(std::string_view s);
// Comma-separated items, each trimmed; empty items are dropped.
std::vector<std::string> parse_list(const std::string& text);

// Canonical texts: the largest unit that represents the value exactly ("3h", "500ms", "0").
std::string format_duration(TimeUs us);
std::string format_size(uint64_t bytes);  // "8MiB", "1000", "0"
std::string format_double(double value);  // shortest text that parses back to the same double
std::string format_list(const std::vector<std::string>& items);  // "a, b"

// `value` in double quotes for an error message: control characters escaped, long values cut.
std::string quote_for_message(const std::string& value);

// A listen/peer address "host:port" or "[ipv6]:port" with port 0..65535; the reason on failure.
Status check_host_port(const std::string& text);

}  // namespace nca::config
