#include "config/loader.hpp"

#include <boost/program_options.hpp>
#include <cctype>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "config/ini.hpp"
#include "config/values.hpp"

namespace nca::config {
namespace po = boost::program_options;
namespace {

// One --key value from the command line, in order of appearance.
struct Assignment {
  std::string key;
  std::string value;
  std::string option;  // as the user wrote it, for messages ("--dev", "--memory.stm-ttl")
};

struct CommandLine {
  bool help = false;
  bool version = false;
  bool print_config = false;
  bool check_config = false;
  bool has_config = false;
  std::string config_file;
  std::vector<Assignment> assignments;
  std::vector<std::string> errors;
};

std::string quoted(const std::string& s) { return quote_for_message(s); }

// A value we do not know the key of may still be a credential: judge by the name.
bool looks_secret(const std::string& name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"SECRET", "KEY", "PASS", "TOKEN"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string did_you_mean(const std::string& key) {
  std::string hint = closest_key(key);
  return hint.empty() ? "" : " (did you mean " + hint + "?)";
}

po::options_description command_line_options() {
  po::options_description desc;
  desc.add_options()("help,h", "")("version", "")("print-config", "")("check-config", "")(
      "dev", "")("config", po::value<std::string>(), "");
  for (const KeySpec& spec : schema()) {
    desc.add_options()(spec.key.c_str(), po::value<std::string>(), "");
  }
  return desc;
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  std::vector<std::string> args;
  for (int i = 1; i < argc && argv != nullptr; ++i) {
    if (argv[i] == nullptr) continue;
    std::string arg = argv[i];
    // Boost rejects "--key=" (an empty adjacent value); it means "set key to the empty string".
    if (arg.size() > 3 && arg.compare(0, 2, "--") == 0 && arg.find('=') == arg.size() - 1) {
      args.push_back(arg.substr(0, arg.size() - 1));
      args.emplace_back();
    } else {
      args.push_back(std::move(arg));
    }
  }
  // No guessing of abbreviated options: "--memory.stm" must not silently mean "--memory.stm-ttl".
  namespace style = po::command_line_style;
  const int kStyle = style::allow_long | style::long_allow_adjacent | style::long_allow_next |
                     style::allow_short | style::short_allow_next | style::allow_dash_for_short;
  po::parsed_options parsed(nullptr);
  try {
    parsed = po::command_line_parser(args)
                 .options(command_line_options())
                 .style(kStyle)
                 .allow_unregistered()
                 .run();
  } catch (const po::error& e) {
    cl.errors.push_back(std::string("config: command line: ") + e.what());
    return cl;
  }
  std::vector<std::string> positional;
  bool any_unknown = false;
  for (const po::option& opt : parsed.options) {
    if (opt.unregistered || opt.string_key.empty() || opt.position_key >= 0) {
      std::string token = opt.original_tokens.empty() ? opt.string_key : opt.original_tokens[0];
      bool is_option = opt.position_key < 0 && token.size() > 1 && token[0] == '-';
      if (!is_option) {
        for (const std::string& t : opt.original_tokens) positional.push_back(t);
        if (opt.original_tokens.empty()) {
          for (const std::string& v : opt.value) positional.push_back(v);
        }
        continue;
      }
      any_unknown = true;
      std::string name = token.substr(token.find_first_not_of('-'));
      std::string shown_value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        shown_value = " = " + (looks_secret(name) ? "(hidden)" : quoted(name.substr(eq + 1)));
        name = name.substr(0, eq);
      }
      cl.errors.push_back("config: unknown key " + quoted(name) + shown_value +
                          " on the command line (" + token.substr(0, token.find('=')) + ")" +
                          did_you_mean(name));
      continue;
    }
    const std::string& key = opt.string_key;
    std::string value = opt.value.empty() ? std::string() : opt.value.front();
    if (key == "help") {
      cl.help = true;
    } else if (key == "version") {
      cl.version = true;
    } else if (key == "print-config") {
      cl.print_config = true;
    } else if (key == "check-config") {
      cl.check_config = true;
    } else if (key == "dev") {
      cl.assignments.push_back({"node.dev", "true", "--dev"});
    } else if (key == "config") {
      cl.has_config = true;
      cl.config_file = value;
    } else {
      cl.assignments.push_back({key, value, "--" + key});
    }
  }
  // After an unknown option its value shows up as a stray word; reporting that too would be noise.
  if (!any_unknown) {
    for (const std::string& word : positional) {
      cl.errors.push_back("config: unexpected argument " + quoted(word) +
                          " on the command line (options are --key value or --key=value)");
    }
  }
  return cl;
}

// Environment variable name -> key, for every key.
const std::map<std::string, std::string>& keys_by_env_name() {
  static const std::map<std::string, std::string> by_env = [] {
    std::map<std::string, std::string> m;
    for (const KeySpec& spec : schema()) m.emplace(spec.env_name, spec.key);
    return m;
  }();
  return by_env;
}

std::string closest_env_name(const std::string& name) {
  // Env names map one-to-one onto keys; reuse the key suggestion on the lower-cased name.
  std::string guess;
  for (char c : name.substr(4)) {
    guess += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // The first '_' is usually the section separator.
  size_t dash = guess.find('-');
  if (dash != std::string::npos) guess[dash] = '.';
  std::string key = closest_key(guess);
  return key.empty() ? "" : env_name_for(key);
}

// Appends `text` indented and wrapped at `width`, breaking only after `separator` (so "env: NCA_X"
// stays on one line when the separator is "; ").
void wrap(std::string& out, const std::string& text, size_t indent, size_t width,
          const std::string& separator = " ") {
  size_t column = indent;
  out += std::string(indent, ' ');
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = text.find(separator, pos);
    size_t end = next == std::string::npos ? text.size() : next + separator.size();
    std::string piece = text.substr(pos, end - pos);
    pos = end;
    // A trailing separator never needs to fit on the line.
    size_t visible = piece.size();
    while (visible > 0 && piece[visible - 1] == ' ') --visible;
    if (column > indent && column + visible > width) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += "\n" + std::string(indent, ' ');
      column = indent;
    }
    out += piece;
    column += piece.size();
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out += '\n';
}

std::string section_of(const std::string& key) { return key.substr(0, key.find('.')); }

}  // namespace

Result<Loaded> load(int argc, const char* const* argv,
                    const std::map<std::string, std::string>& env) {
  CommandLine cl = parse_command_line(argc, argv);
  Loaded loaded;
  loaded.settings = defaults();
  for (const KeySpec& spec : schema()) loaded.sources[spec.key] = Source::default_value;
  // Help and version must work even when the rest of the configuration is broken.
  if (cl.help || cl.version) {
    loaded.action = cl.help ? Action::help : Action::version;
    return loaded;
  }
  if (cl.print_config) {
    loaded.action = Action::print_config;
  } else if (cl.check_config) {
    loaded.action = Action::check_config;
  }
  std::vector<std::string> errors = std::move(cl.errors);

  // File.
  bool config_from_env = false;
  if (cl.has_config) {
    loaded.config_file = cl.config_file;
  } else if (auto it = env.find(kConfigFileEnv); it != env.end()) {
    loaded.config_file = it->second;
    cl.has_config = true;
    config_from_env = true;
  }
  Settings& s = loaded.settings;
  if (cl.has_config) {
    Result<std::vector<IniEntry>> entries = read_ini_file(loaded.config_file);
    if (!entries) {
      // When the file itself could not be read, say where its path came from.
      std::string named_by;
      if (entries.error().message.rfind("config: cannot read", 0) == 0) {
        named_by = config_from_env
                       ? " (named by environment variable " + std::string(kConfigFileEnv) + ")"
                       : " (named by --config)";
      }
      errors.push_back(entries.error().message + named_by);
    } else {
      for (const IniEntry& entry : *entries) {
        std::string where = loaded.config_file + " line " + std::to_string(entry.line);
        if (find_key(entry.key) == nullptr) {
          errors.push_back("config: unknown key " + quoted(entry.key) + " in " + where +
                           did_you_mean(entry.key));
          continue;
        }
        Status st = set_from(s, entry.key, entry.value, where);
        if (!st) {
          errors.push_back(st.error().message);
          continue;
        }
        loaded.sources[entry.key] = Source::file;
      }
    }
  }

  // Environment.
  const auto& by_env = keys_by_env_name();
  for (const auto& [name, value] : env) {
    if (name.compare(0, 4, "NCA_") != 0 || name == kConfigFileEnv) continue;
    if (is_client_env(name)) continue;
    auto it = by_env.find(name);
    if (it == by_env.end()) {
      std::string hint = closest_env_name(name);
      errors.push_back("config: unknown key for environment variable " + name + "=" +
                       (looks_secret(name) ? "(hidden)" : quoted(value)) +
                       ": no configuration key has this name" +
                       (hint.empty() ? "" : " (did you mean " + hint + "?)"));
      continue;
    }
    Status st = set_from(s, it->second, value, "environment variable " + name);
    if (!st) {
      errors.push_back(st.error().message);
      continue;
    }
    loaded.sources[it->second] = Source::environment;
  }

  // Command line, in order: a repeated key's last value wins.
  for (const Assignment& a : cl.assignments) {
    Status st = set_from(s, a.key, a.value, "command line (" + a.option + ")");
    if (!st) {
      errors.push_back(st.error().message);
      continue;
    }
    loaded.sources[a.key] = Source::command_line;
  }

  if (!errors.empty()) {
    std::string message;
    for (const std::string& e : errors) message += (message.empty() ? "" : "\n") + e;
    return make_error(ErrorCode::invalid_argument, message);
  }

  // Dev mode keeps its data next to the user unless told otherwise.
  if (s.node.dev && loaded.sources["node.data-dir"] == Source::default_value) {
    s.node.data_dir = "./data";
  }

  Status valid = validate(s, loaded.sources);
  if (!valid) return valid.error();
  return loaded;
}

std::map<std::string, std::string> environment_from(char** environ) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const char* eq = std::strchr(*entry, '=');
    if (eq == nullptr) continue;
    env.emplace(std::string(static_cast<const char*>(*entry), eq), std::string(eq + 1));
  }
  return env;
}

std::string help_text(const std::string& program) {
  std::string out;
  out += "Usage: " + program + " [--config FILE] [--dev] [--KEY VALUE | --KEY=VALUE]...\n";
  out += "       " + program + " --print-config | --check-config | --version | --help\n\n";
  out += "Options:\n";
  out += "  --config FILE     read settings from an INI file (or set " +
         std::string(kConfigFileEnv) + "=FILE)\n";
  out += "  --dev             single-node development mode, data in ./data (= --node.dev true)\n";
  out += "  --print-config    print the effective configuration and where each value came from\n";
  out += "  --check-config    check the configuration and exit (status 0 when it is valid)\n";
  out += "  --version         print the version and exit\n";
  out += "  -h, --help        print this help and exit\n\n";
  out += "Every key below can be given as --KEY VALUE on the command line, as the environment\n";
  out += "variable shown (NCA_ + key in upper case, '.' and '-' as '_'), or in the config file\n";
  out += "([section] then key = value). Precedence: command line > environment > config file >\n";
  out +=
      "defaults. Durations: 500ms, 30s, 5m, 3h, 14d or plain seconds. Sizes: 64KiB, 8MiB, 1GiB\n";
  out += "or bytes. Lists: comma-separated. Booleans: true/false, 1/0, yes/no, on/off.\n";
  std::string section;
  for (const KeySpec& spec : schema()) {
    if (section_of(spec.key) != section) {
      section = section_of(spec.key);
      out += "\n[" + section + "]\n";
    }
    std::string line = "  --" + spec.key + " <" + spec.type + ">";
    out += line + "\n";
    std::string facts = "default: " + (spec.default_text.empty() ? "\"\"" : spec.default_text);
    if (!spec.range.empty() && spec.type != "bool" && spec.type != "list") {
      facts += "; allowed: " + spec.range;
    }
    facts += "; env: " + spec.env_name;
    if (!spec.seed_name.empty()) facts += "; NCA name: " + spec.seed_name;
    wrap(out, spec.help, 6, 100);
    wrap(out, "(" + facts + ")", 6, 100, "; ");
  }
  return out;
}

std::string render(const Settings& s, const std::map<std::string, Source>& sources,
                   bool redact_secrets) {
  std::string out =
      "; neuroca effective configuration: every key, then where its value came from\n"
      "; (default, file, environment or command line). Usable as a --config file.\n";
  std::string section;
  for (const KeySpec& spec : schema()) {
    if (section_of(spec.key) != section) {
      section = section_of(spec.key);
      out += "\n[" + section + "]\n";
    }
    std::string value = *get(s, spec.key);
    if (redact_secrets && spec.secret && !value.empty()) value = "<redacted>";
    auto it = sources.find(spec.key);
    Source source = it == sources.end() ? Source::default_value : it->second;
    out += spec.key.substr(section.size() + 1) + " = " + ini_quote(value) + "  ; " +
           to_string(source) + "\n";
  }
  return out;
}

}  // namespace nca::config
