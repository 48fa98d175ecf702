// tools/cli/verbs.hpp: the one table of `nca` verbs.
//
// Each VerbSpec says everything about one verb: its help (synopsis, summary, examples), how its
// options and positional arguments are declared, how the parsed values become an nca::pb::Request,
// and how a successful Response is printed for people (scripts get --json, generic over every
// verb). main.cpp drives every verb through the same steps; adding a verb is adding one row and its
// three functions. The table is immutable; the functions are pure apart from writing to the Output
// (and `remember -` reading stdin).
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

const std::vector<VerbSpec>& verbs();
const VerbSpec* find_verb(const std::string& name);

// The reply's body message (e.g. the RecallReply), or the whole Response if it has none: what
// --json prints.
const google::protobuf::Message& reply_body(const pb::Response& response);

}  // namespace nca::cli
