// tests/config/test_support.hpp: helpers shared by the config tests.
//
// TempDir creates a fresh directory with mkdtemp and removes it (recursively) when it goes out of
// scope. run_load() calls nca::config::load() with "nca-node" as argv[0]. Not thread-safe; test use
// only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace nca::config::test_support {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nca-config-XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const char* made = ::mkdtemp(buf.data());
    EXPECT_NE(made, nullptr) << "mkdtemp failed";
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `text` to <dir>/<name> and returns the full path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    EXPECT_TRUE(out.good()) << "cannot write " << file;
    return file;
  }

 private:
  std::string path_;
};

inline Result<Loaded> run_load(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& env = {}) {
  std::vector<const char*> argv{"nca-node"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return load(static_cast<int>(argv.size() - 1), argv.data(), env);
}

// The error message of a failed load, or a marker that makes any expectation on it fail.
inline std::string error_of(const Result<Loaded>& r) {
  return r.ok() ? std::string("<load succeeded>") : r.error().message;
}

// A valid value for `spec` that differs from its default.
inline std::string other_value(const KeySpec& spec) {
  if (spec.type == "bool") return spec.default_text == "true" ? "false" : "true";
  if (spec.type == "string") return "other:1";
  if (spec.type == "list") return "h1:1, h2:2";
  if (spec.type == "enum") {
    // range is "a, b, c": take the first that is not the default.
    std::stringstream ss(spec.range);
    std::string choice;
    while (std::getline(ss, choice, ',')) {
      while (!choice.empty() && choice.front() == ' ') choice.erase(0, 1);
      if (choice != spec.default_text) return choice;
    }
    return "";
  }
  // Numeric kinds: the range's lower bound ("1..256", ">= 0 (0 = none)", "1KiB..1GiB"), or a value
  // inside the range when the lower bound is the default.
  std::string lo;
  if (spec.range.rfind(">= ", 0) == 0) {
    lo = spec.range.substr(3, spec.range.find(' ', 3) - 3);
  } else if (spec.range.find("..") != std::string::npos) {
    lo = spec.range.substr(0, spec.range.find(".."));
  }
  if (!lo.empty() && lo != spec.default_text) return lo;
  if (spec.type == "int") return std::to_string(std::stoll(lo) + 1);
  if (spec.type == "double") return "0.0625";
  if (spec.type == "duration") return "7s";
  return "3MiB";
}

}  // namespace nca::config::test_support
