#include "tools/cli/verb_support.hpp"

#include <iostream>
#include <iterator>
#include <map>

#include "tools/cli/args.hpp"

namespace nca::cli {

std::string text_of(const po::variables_map& values, const char* name) {
  return values.count(name) ? values[name].as<std::string>() : std::string();
}

Strings list_of(const po::variables_map& values, const char* name) {
  return values.count(name) ? values[name].as<Strings>() : Strings();
}

bool has(const po::variables_map& values, const char* name) { return values.count(name) > 0; }

std::string join(const Strings& words) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

std::string read_stdin() {
  std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Result<std::string> words_or_stdin(const po::variables_map& values, const char* name,
                                   const char* what) {
  Strings words = list_of(values, name);
  std::string text = words.size() == 1 && words[0] == "-" ? read_stdin() : join(words);
  if (text.empty()) {
    return make_error(ErrorCode::invalid_argument, std::string("missing ") + what);
  }
  return text;
}

Result<uint32_t> count_of(const po::variables_map& values, const char* name, const char* flag,
                          uint32_t min, uint32_t max) {
  Result<double> number = parse_number(text_of(values, name), flag, min, max);
  if (!number.ok()) return number.error();
  if (*number != static_cast<double>(static_cast<uint32_t>(*number))) {
    return make_error(
        ErrorCode::invalid_argument,
        std::string(flag) + " '" + text_of(values, name) + "': expected a whole number");
  }
  return static_cast<uint32_t>(*number);
}

Status add_metadata(const po::variables_map& values,
                    google::protobuf::Map<std::string, std::string>* map) {
  for (const std::string& entry : list_of(values, "meta")) {
    auto pair = parse_key_value(entry, "--meta");
    if (!pair.ok()) return pair.error();
    (*map)[pair->first] = pair->second;
  }
  return {};
}

void declare_nothing(po::options_description&, po::options_description&,
                     po::positional_options_description&) {}

void declare_id(po::options_description&, po::options_description& hidden,
                po::positional_options_description& positional) {
  hidden.add_options()("id", po::value<std::string>());
  positional.add("id", 1);
}

Result<std::string> required_id(const po::variables_map& values, const char* what) {
  std::string id = text_of(values, "id");
  if (id.empty()) {
    return make_error(ErrorCode::invalid_argument, std::string("missing ID: ") + what);
  }
  return id;
}

std::string join_tags(const google::protobuf::RepeatedPtrField<std::string>& tags) {
  if (tags.empty()) return "-";
  std::string text;
  for (const std::string& tag : tags) text += (text.empty() ? "" : ", ") + tag;
  return text;
}

std::string join_map(const google::protobuf::Map<std::string, std::string>& map) {
  if (map.empty()) return "-";
  std::map<std::string, std::string> sorted(map.begin(), map.end());
  std::string text;
  for (const auto& entry : sorted) {
    text += (text.empty() ? "" : ", ") + entry.first + "=" + entry.second;
  }
  return text;
}

}  // namespace nca::cli
