// tools/cli/verbs.hpp: the one table of `nca` verbs.
//
// Each VerbSpec says everything about one verb: its help (synopsis, summary, examples), how its
// options and positional arguments are declared, how the parsed values become an nca::pb::Request,
// and how a successful Response is printed for people (scripts get --json, generic over every
// verb). main.cpp drives every verb through the same steps; adding a verb is adding one row and its
// three functions. Verbs about personas and events come in groups: their names are two words
// ("persona create", "event next"), typed as two words on the command line, and their rows live in
// persona_verbs.cpp and event_verbs.cpp. The table is immutable; the functions are pure apart from
// writing to the Output (and `-` arguments reading stdin).
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "tools/cli/output.hpp"

namespace nca::cli {

namespace po = boost::program_options;

struct VerbSpec {
  const char* name;
  const char* synopsis;  // usage after "nca ", e.g. "get ID"
  const char* summary;   // one line
  const char* examples;  // full command lines, one per line
  // Adds the verb's options (not the global ones) to `options`, and its positional arguments to
  // `hidden` (not shown in help) and `positional`.
  void (*declare)(po::options_description& options, po::options_description& hidden,
                  po::positional_options_description& positional);
  // Builds the request; invalid_argument for a bad or missing value (a usage error).
  Result<pb::Request> (*build)(const po::variables_map& values);
  // Prints a successful reply for people.
  void (*print)(const pb::Request& request, const pb::Response& response, Output& out);
};

// Every verb: the single-word ones, then the persona and event groups.
const std::vector<VerbSpec>& verbs();
const VerbSpec* find_verb(const std::string& name);

// "persona" and "event": names that need a second word. verbs_in_group lists the group's verbs in
// table order (none for a name that is not a group).
bool is_verb_group(const std::string& name);
std::vector<const VerbSpec*> verbs_in_group(const std::string& group);

// The rows of the two groups (persona_verbs.cpp, event_verbs.cpp).
const std::vector<VerbSpec>& persona_verbs();
const std::vector<VerbSpec>& event_verbs();

// The reply's body message (e.g. the RecallReply), or the whole Response if it has none: what
// --json prints.
const google::protobuf::Message& reply_body(const pb::Response& response);

}  // namespace nca::cli
