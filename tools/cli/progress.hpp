// tools/cli/progress.hpp: a one-line progress display on a terminal, for long verbs (import,
// export).
//
// Progress redraws one line of stderr in place ("\r", erase line): the count done, the rate, and,
// when the total is known, a bar, the percentage and the time left. It redraws at most every
// 100 ms whatever the update rate. A disabled Progress (stderr is not a terminal) prints nothing,
// so pipes and logs get no control codes. message() prints a line above the bar (a per-line error)
// without garbling it. Time comes from the Clock given, so the figures can be tested. Not
// thread-safe; one per command.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "runtime/clock.hpp"

namespace nca::cli {

class Progress {
 public:
  // `unit` names what is counted ("lines", "memories"). The clock must outlive the Progress.
  Progress(std::ostream& err, bool enabled, const Clock& clock, std::string unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The amount of work in the units of update()'s `done` (e.g. bytes of a file); 0 = unknown.
  void set_total(uint64_t total);

  // `count` items so far (shown with the rate); `done` of the total (for the bar and the ETA).
  void update(uint64_t count, uint64_t done);

  // Prints `text` and a newline on a line of its own (stderr), then redraws the bar.
  void message(const std::string& text);

  // Erases the bar; later updates are ignored. Also done by the destructor.
  void finish();

  // The line drawn after `elapsed_us`, e.g. "1200 lines  850/s  [#####...............]  24%  ETA
  // 4s" (bar, percentage and ETA only with a total).
  std::string render(uint64_t count, uint64_t done, int64_t elapsed_us) const;

 private:
  void draw();

  std::ostream& err_;
  bool enabled_;
  const Clock& clock_;
  std::string unit_;
  TimeUs started_us_;
  TimeUs drawn_us_ = 0;
  uint64_t total_ = 0;
  uint64_t count_ = 0;
  uint64_t done_ = 0;
  bool shown_ = false;
};

}  // namespace nca::cli
