// tools/cli/verbs.hpp: the one table of `nca` verbs.
//
// Each VerbSpec says everything about one verb: its help (synopsis, summary, examples), how its
// options and positional arguments are declared, how the parsed values become an nca::pb::Request,
// and how a successful Response is printed for people (scripts get --json, generic over every
// verb). main.cpp drives every verb through the same steps; adding a verb is adding one row and its
// three functions. Verbs about personas and events come in groups: their names are two words
// ("persona create", "event next"), typed as two words on the command line, and their rows live in
// persona_verbs.cpp and event_verbs.cpp. Verbs that make many calls and stream (import, export)
// set `run` instead of `print`: main.cpp still calls `build` first, to reject bad options before
// connecting, then hands them the connected client. The table is immutable; the functions are pure
// apart from writing to the Output (and `-` arguments reading stdin) and, for `run`, the calls
// they make and the files they read or write.
#pragma once

#include <boost/program_options.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "nca/client.hpp"
#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"
#include "tools/cli/output.hpp"

namespace nca::cli {

namespace po = boost::program_options;

// What a verb with its own `run` gets besides its options.
struct RunContext {
  Client& client;
  Output& out;               // stdout for people: summaries
  std::ostream& out_stream;  // stdout itself: data such as JSONL
  std::ostream& err;         // stderr: progress and per-line messages
  bool err_is_terminal;      // whether to draw progress on stderr
  bool json;                 // --json: summaries as one JSON document
  const Clock& clock;
};

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
  // Prints a successful reply for people (null when `run` is set).
  void (*print)(const pb::Request& request, const pb::Response& response, Output& out);
  // Set for verbs that make their own calls: runs the verb and returns the exit code. `build` has
  // validated the options already; its request is not sent.
  int (*run)(const po::variables_map& values, RunContext& context) = nullptr;
  // Set for verbs whose successful reply can still report refused items (a batch): the exit code
  // for the reply (kExitOk when every item was taken).
  int (*outcome)(const pb::Response& response) = nullptr;
  // Set for verbs that need no node (`nca auth ...`): runs instead of connecting; `json` is --json.
  int (*offline)(const po::variables_map& values, bool json, std::ostream& out,
                 std::ostream& err) = nullptr;
};

// Every verb: the single-word ones, then the persona and event groups.
const std::vector<VerbSpec>& verbs();
const VerbSpec* find_verb(const std::string& name);

// "persona" and "event": names that need a second word. verbs_in_group lists the group's verbs in
// table order (none for a name that is not a group).
bool is_verb_group(const std::string& name);
std::vector<const VerbSpec*> verbs_in_group(const std::string& group);

// The rows of the two groups (persona_verbs.cpp, event_verbs.cpp) and of the JSONL transfer verbs
// (import_verb.cpp, export_verb.cpp).
const std::vector<VerbSpec>& persona_verbs();
const std::vector<VerbSpec>& event_verbs();
const std::vector<VerbSpec>& auth_verbs();
const VerbSpec& import_verb();
const VerbSpec& export_verb();
const VerbSpec& backup_verb();
// `nca restore --from DIR` (backup_verbs.cpp): the restore verb's other form.
int restore_from_backup(const po::variables_map& values, RunContext& context);

// The reply's body message (e.g. the RecallReply), or the whole Response if it has none: what
// --json prints.
const google::protobuf::Message& reply_body(const pb::Response& response);

}  // namespace nca::cli
