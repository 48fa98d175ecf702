// tools/cli/verb_support.hpp: helpers shared by the verb files (verbs.cpp, persona_verbs.cpp,
// event_verbs.cpp): reading parsed option values, common option declarations and printing
// fragments. Pure functions apart from reading stdin (words_or_stdin).
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca::cli {

namespace po = boost::program_options;
using Strings = std::vector<std::string>;

// --- reading parsed values ---------------------------------------------------------------------

std::string text_of(const po::variables_map& values, const char* name);
Strings list_of(const po::variables_map& values, const char* name);
bool has(const po::variables_map& values, const char* name);
std::string join(const Strings& words);

// All of standard input without its trailing line breaks.
std::string read_stdin();

// Positional words joined by spaces; a single "-" reads standard input instead. invalid_argument
// "missing <what>" when the result is empty.
Result<std::string> words_or_stdin(const po::variables_map& values, const char* name,
                                   const char* what);

// A whole number within [min, max] from option `name`, named `flag` in messages.
Result<uint32_t> count_of(const po::variables_map& values, const char* name, const char* flag,
                          uint32_t min, uint32_t max);

// Fills a string map from repeated --meta key=value.
Status add_metadata(const po::variables_map& values,
                    google::protobuf::Map<std::string, std::string>* map);

// --- option declarations -----------------------------------------------------------------------

void declare_nothing(po::options_description& options, po::options_description& hidden,
                     po::positional_options_description& positional);
// One positional ID, stored as "id".
void declare_id(po::options_description& options, po::options_description& hidden,
                po::positional_options_description& positional);
// The ID positional, or invalid_argument "missing ID: <what>".
Result<std::string> required_id(const po::variables_map& values, const char* what);

// --- printing fragments ------------------------------------------------------------------------

std::string join_tags(const google::protobuf::RepeatedPtrField<std::string>& tags);  // "-" if none
std::string join_map(const google::protobuf::Map<std::string, std::string>& map);    // sorted k=v

}  // namespace nca::cli
