// Test support: runs Debian's headless Chromium once against a URL, to dump the DOM after the
// page's scripts ran or to save a screenshot. Every run is bounded by coreutils `timeout` (the
// browser is killed when it overstays), uses its own profile directory (runs never share state),
// and sends its diagnostics to a log file so they do not mix with the DOM on stdout. Not
// thread-safe per instance.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace nca::testing {

struct BrowserRun {
  int exit_code = -1;  // 124: killed by the time limit
  std::string out;     // stdout: the DOM for dump_dom
  std::string log;     // where stderr went
};

class HeadlessBrowser {
 public:
  // The browser to use: $NCA_CHROMIUM if set, else the first of chromium, chromium-browser,
  // google-chrome on PATH. Empty when none is installed.
  static std::string find() {
    if (const char* env = std::getenv("NCA_CHROMIUM"); env != nullptr && *env != '\0') return env;
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
      size_t start = 0;
      while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
      }
    }
    return "";
  }

  // `binary` from find(); `work_dir` holds the profiles and logs.
  HeadlessBrowser(std::string binary, std::string work_dir)
      : binary_(std::move(binary)), work_dir_(std::move(work_dir)) {}

  // Loads `url`, lets the page run for `budget` of virtual time (which does not advance while
  // requests are pending, so the page's fetches all answer first), prints the DOM.
  BrowserRun dump_dom(const std::string& url, std::chrono::milliseconds budget) {
    return run({"--virtual-time-budget=" + std::to_string(budget.count()), "--dump-dom", url});
  }

  // Same, then saves a PNG of the viewport (`width` x `height`) to `png`.
  BrowserRun screenshot(const std::string& url, const std::string& png, int width, int height,
                        std::chrono::milliseconds budget) {
    return run({"--virtual-time-budget=" + std::to_string(budget.count()),
                "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                "--hide-scrollbars", "--screenshot=" + png, url});
  }

 private:
  static std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }

  BrowserRun run(const std::vector<std::string>& args) {
    int n = ++runs_;
    BrowserRun r;
    r.log = work_dir_ + "/chromium-" + std::to_string(n) + ".log";
    std::string profile = work_dir_ + "/chromium-profile-" + std::to_string(n);
    std::filesystem::create_directories(profile);
    std::string cmd = "timeout -k 5 " + std::to_string(kTimeLimitSeconds) + " " + quote(binary_) +
                      " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions" +
                      " --user-data-dir=" + quote(profile);
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " 2>" + quote(r.log);
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) return r;
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) r.out.append(buf, got);
    int status = pclose(f);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  static constexpr int kTimeLimitSeconds = 60;
  std::string binary_;
  std::string work_dir_;
  int runs_ = 0;
};

}  // namespace nca::testing
