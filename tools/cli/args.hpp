// tools/cli/args.hpp: parsers for the values users type on the `nca` command line.
//
// Each parser takes the text and the flag it came from (for the message) and returns the value or
// an invalid_argument Error that says what was expected, e.g. "--timeout '10x': expected a duration
// such as 500ms, 10s or 2m". The CLI turns these into usage errors (exit 2). Pure functions,
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::cli {

// "500ms", "10s", "1.5s", "2m", "1h"; a bare number is seconds. Must be positive.
Result<std::chrono::milliseconds> parse_duration(const std::string& text, const std::string& flag);

// A point in time as microseconds since the Unix epoch: Unix seconds ("1718000000",
// "1718000000.25") or ISO 8601 ("2024-06-10", "2024-06-10T08:30", "2024-06-10T08:30:00.5Z",
// "...+02:00"); a date or time without a zone is UTC.
Result<int64_t> parse_time_us(const std::string& text, const std::string& flag);

// "stm", "mtm", "ltm" in any case.
Result<pb::Tier> parse_tier(const std::string& text, const std::string& flag);

// "key=value" (the value may contain '=' and may be empty; the key may not).
Result<std::pair<std::string, std::string>> parse_key_value(const std::string& text,
                                                            const std::string& flag);

// A finite number within [min, max].
Result<double> parse_number(const std::string& text, const std::string& flag, double min,
                            double max);

}  // namespace nca::cli
