// nca: the command-line client. Every verb runs the same steps: split off the verb, parse its
// options together with the global ones, build the request (verbs.cpp), connect, call, print a
// table or JSON. Errors go to stderr as "nca: <code>: <message>" with a distinct exit code per kind
// (exit_codes.hpp). Verbs that stream (import, export) run themselves once connected.
#include <google/protobuf/stubs/logging.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nca/client.hpp"
#include "runtime/clock.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/exit_codes.hpp"
#include "tools/cli/output.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {
namespace {

constexpr char kDefaultAddress[] = "127.0.0.1:7420";

// Global options that take a value: needed to find the verb before the full parse.
const std::set<std::string> kGlobalsWithValue = {"--addr", "--tenant", "--token", "--timeout"};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

po::options_description global_options() {
  po::options_description options("Global options (before or after the verb)");
  options.add_options()  //
      ("addr", po::value<std::string>()->value_name("HOST:PORT"),
       "node address HOST:PORT, or several separated by commas, tried in order "
       "(default: $NCA_ADDR or 127.0.0.1:7420)")  //
      ("tenant", po::value<std::string>()->value_name("T"),
       "tenant (default: $NCA_TENANT or the node's default)")                                     //
      ("token", po::value<std::string>()->value_name("TOK"), "auth token (default: $NCA_TOKEN)")  //
      ("json", po::bool_switch(), "print the reply as one JSON document (for scripts)")           //
      ("timeout", po::value<std::string>()->default_value("10s")->value_name("D"),
       "deadline of the call, e.g. 500ms, 10s, 1m (default: $NCA_TIMEOUT or 10s)")  //
      ("help,h", po::bool_switch(), "show help");
  return options;
}

int usage_error(const std::string& message, const std::string& verb = "") {
  std::cerr << "nca: usage: " << message << "\n"
            << "Run 'nca " << (verb.empty() ? "" : verb + " ") << "--help' for usage.\n";
  return kExitUsage;
}

void print_global_help(std::ostream& out) {
  out << "nca: command-line client for neuroca, the memory runtime for LLM agents\n\n"
         "Usage: nca [global options] VERB [options] [arguments]\n\n"
      << global_options() << "\nVerbs:\n";
  size_t width = 0;
  for (const VerbSpec& verb : verbs()) width = std::max(width, std::string(verb.name).size());
  for (const VerbSpec& verb : verbs()) {
    std::string name = verb.name;
    out << "  " << name << std::string(width + 2 - name.size(), ' ') << verb.summary << "\n";
  }
  out << "\nExamples:\n";
  for (const VerbSpec& verb : verbs()) {
    std::istringstream lines(verb.examples);
    std::string line;
    std::getline(lines, line);
    out << "  " << line << "\n";
  }
  out << "\n"
      << kExitCodesHelp << "Run 'nca VERB --help' for a verb's options and more examples.\n";
}

void print_verb_help(const VerbSpec& verb, const po::options_description& options,
                     std::ostream& out) {
  out << "Usage: nca " << verb.synopsis << "\n\n" << verb.summary << "\n\n";
  if (!options.options().empty()) out << options << "\n";
  out << "Example" << (std::string(verb.examples).find('\n') == std::string::npos ? "" : "s")
      << ":\n";
  std::istringstream lines(verb.examples);
  std::string line;
  while (std::getline(lines, line)) out << "  " << line << "\n";
  out << "\n" << global_options() << "\n" << kExitCodesHelp;
}

// The verbs of one group ("persona", "event"), for `nca persona --help`.
void print_group_help(const std::string& group, std::ostream& out) {
  std::vector<const VerbSpec*> members = verbs_in_group(group);
  out << "Usage: nca " << group << " VERB [options] [arguments]\n\nVerbs:\n";
  size_t width = 0;
  for (const VerbSpec* verb : members) width = std::max(width, std::string(verb->name).size());
  for (const VerbSpec* verb : members) {
    std::string name = verb->name;
    out << "  " << name << std::string(width + 2 - name.size(), ' ') << verb->summary << "\n";
  }
  out << "\nExamples:\n";
  for (const VerbSpec* verb : members) {
    std::istringstream lines(verb->examples);
    std::string line;
    std::getline(lines, line);
    out << "  " << line << "\n";
  }
  out << "\n" << kExitCodesHelp << "Run 'nca " << group << " VERB --help' for a verb's options.\n";
}

// "create, get, list, ..." for a usage message.
std::string group_verb_words(const std::string& group) {
  std::string words;
  for (const VerbSpec* verb : verbs_in_group(group)) {
    words += (words.empty() ? "" : ", ") + std::string(verb->name).substr(group.size() + 1);
  }
  return words;
}

// Finds the verb: the first argument that is neither an option nor the value of a global option.
// Returns its index, or args.size() if there is none.
size_t find_verb_index(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return i + 1 < args.size() ? i + 1 : args.size();
    if (arg.empty() || arg[0] != '-') return i;
    if (kGlobalsWithValue.count(arg)) ++i;  // skip the value
  }
  return args.size();
}

std::vector<std::string> split_addresses(const std::string& text) {
  std::vector<std::string> addresses;
  std::string current;
  for (char c : text + ",") {
    if (c == ',') {
      if (!current.empty()) addresses.push_back(current);
      current.clear();
    } else if (c != ' ') {
      current += c;
    }
  }
  return addresses;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t verb_index = find_verb_index(args);
  if (verb_index == args.size()) {
    // No verb: only global options (e.g. --help) are valid.
    po::variables_map values;
    try {
      po::store(po::command_line_parser(args).options(global_options()).run(), values);
    } catch (const po::error& e) {
      return usage_error(e.what());
    }
    if (values["help"].as<bool>()) {
      print_global_help(std::cout);
      return kExitOk;
    }
    return usage_error("no verb given");
  }
  std::string verb_name = args[verb_index];
  std::vector<std::string> rest(args.begin(), args.begin() + static_cast<long>(verb_index));
  rest.insert(rest.end(), args.begin() + static_cast<long>(verb_index) + 1, args.end());

  if (verb_name == "help") {
    if (rest.empty()) {
      print_global_help(std::cout);
      return kExitOk;
    }
    verb_name = rest.front();
    if (is_verb_group(verb_name) && rest.size() > 1) verb_name += " " + rest[1];
    rest = {"--help"};
  } else if (is_verb_group(verb_name) && verb_index < rest.size() && !rest[verb_index].empty() &&
             rest[verb_index][0] != '-') {
    // A group's verb is its next word: `nca persona create ...`.
    verb_name += " " + rest[verb_index];
    rest.erase(rest.begin() + static_cast<long>(verb_index));
  }
  if (is_verb_group(verb_name)) {
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
        std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
      print_group_help(verb_name, std::cout);
      return kExitOk;
    }
    return usage_error(
        "'" + verb_name + "' needs a verb: " + group_verb_words(verb_name) + " (e.g. nca " +
            verb_name + " " +
            std::string(verbs_in_group(verb_name).front()->name).substr(verb_name.size() + 1) +
            " ...)",
        verb_name);
  }
  const VerbSpec* verb = find_verb(verb_name);
  size_t space = verb_name.find(' ');
  if (verb == nullptr && space != std::string::npos && is_verb_group(verb_name.substr(0, space))) {
    std::string group = verb_name.substr(0, space);
    return usage_error(
        "unknown verb '" + verb_name + "' (" + group + " verbs: " + group_verb_words(group) + ")",
        group);
  }
  if (verb == nullptr) {
    // A group is listed once, by its first word: "persona ...".
    std::string known;
    std::set<std::string> groups;
    for (const VerbSpec& candidate : verbs()) {
      std::string name = candidate.name;
      size_t space = name.find(' ');
      if (space != std::string::npos) {
        if (!groups.insert(name.substr(0, space)).second) continue;
        name = name.substr(0, space) + " ...";
      }
      known += (known.empty() ? "" : ", ") + name;
    }
    return usage_error("unknown verb '" + verb_name + "' (verbs: " + known + ")");
  }

  po::options_description verb_options(std::string("Options of ") + verb->name);
  po::options_description hidden;
  po::positional_options_description positional;
  verb->declare(verb_options, hidden, positional);
  po::options_description all;
  all.add(verb_options).add(hidden).add(global_options());
  po::variables_map values;
  try {
    auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(rest).options(all).positional(positional).style(style).run(),
              values);
    if (values["help"].as<bool>()) {
      print_verb_help(*verb, verb_options, std::cout);
      return kExitOk;
    }
    po::notify(values);
  } catch (const po::error& e) {
    return usage_error(e.what(), verb->name);
  }

  ClientOptions options;
  options.tenant =
      values.count("tenant") ? values["tenant"].as<std::string>() : env_or("NCA_TENANT", "");
  options.auth_token =
      values.count("token") ? values["token"].as<std::string>() : env_or("NCA_TOKEN", "");
  std::string timeout_text = values["timeout"].as<std::string>();
  if (values["timeout"].defaulted()) timeout_text = env_or("NCA_TIMEOUT", timeout_text);
  auto timeout = parse_duration(
      timeout_text, values["timeout"].defaulted() && std::getenv("NCA_TIMEOUT") != nullptr
                        ? "NCA_TIMEOUT"
                        : "--timeout");
  if (!timeout.ok()) return usage_error(timeout.error().message, verb->name);
  options.request_timeout = *timeout;
  options.connect_timeout = std::min(options.connect_timeout, *timeout);
  std::string address_text =
      values.count("addr") ? values["addr"].as<std::string>() : env_or("NCA_ADDR", kDefaultAddress);
  std::vector<std::string> addresses = split_addresses(address_text);
  if (addresses.empty()) return usage_error("--addr is empty", verb->name);

  Result<pb::Request> request = verb->build(values);
  if (!request.ok()) return usage_error(request.error().message, verb->name);
  if (verb->offline != nullptr) {
    int code = verb->offline(values, values["json"].as<bool>(), std::cout, std::cerr);
    std::cout.flush();
    return std::cout.good() || code != kExitOk ? code : kExitOther;
  }

  auto client = Client::connect(addresses, options);
  if (!client.ok()) return report(client.error(), false, std::cerr);
  if (verb->run != nullptr) {
    Output out = Output::for_stdout(std::cout);
    SystemClock clock;
    RunContext context{**client,
                       out,
                       std::cout,
                       std::cerr,
                       ::isatty(STDERR_FILENO) == 1,
                       values["json"].as<bool>(),
                       clock};
    int code = verb->run(values, context);
    std::cout.flush();
    return std::cout.good() || code != kExitOk ? code : kExitOther;
  }
  Result<pb::Response> response = (*client)->call(*request);
  if (!response.ok()) return report(response.error(), true, std::cerr);

  Output out = Output::for_stdout(std::cout);
  if (values["json"].as<bool>()) {
    out.json(reply_body(*response));
  } else {
    verb->print(*request, *response, out);
  }
  std::cout.flush();
  if (!std::cout.good()) return kExitOther;
  return verb->outcome != nullptr ? verb->outcome(*response) : kExitOk;
}

// libprotobuf logs to stderr when it serializes text that is not UTF-8 (a Latin-1 terminal, say).
// The node refuses such a request with an error that names the field, which the CLI prints; the
// library's own line before it would only say the same thing less clearly.
void quiet_protobuf(google::protobuf::LogLevel level, const char* file, int line,
                    const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    std::cerr << "nca: libprotobuf " << file << ":" << line << ": " << message << "\n";
  }
}

}  // namespace
}  // namespace nca::cli

int main(int argc, char** argv) {
  google::protobuf::SetLogHandler(&nca::cli::quiet_protobuf);
  try {
    return nca::cli::run(argc, argv);
  } catch (const std::exception& e) {
    // Bad input must never crash the CLI; whatever slipped through is reported like any error.
    std::cerr << "nca: internal: " << e.what() << "\n";
    return 1;
  }
}
