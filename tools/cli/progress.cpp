#include "tools/cli/progress.hpp"

#include <algorithm>
#include <cstdio>

namespace nca::cli {

namespace {

constexpr TimeUs kRedrawUs = 100'000;
constexpr int kBarWidth = 20;
constexpr char kEraseLine[] = "\r\033[K";

std::string duration_text(double seconds) {
  char text[32];
  auto whole = static_cast<long long>(seconds + 0.5);
  if (whole < 60) {
    std::snprintf(text, sizeof(text), "%llds", whole);
  } else if (whole < 3600) {
    std::snprintf(text, sizeof(text), "%lldm%02llds", whole / 60, whole % 60);
  } else {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
  }
  return text;
}

}  // namespace

Progress::Progress(std::ostream& err, bool enabled, const Clock& clock, std::string unit)
    : err_(err),
      enabled_(enabled),
      clock_(clock),
      unit_(std::move(unit)),
      started_us_(clock.now_us()) {}

Progress::~Progress() { finish(); }

void Progress::set_total(uint64_t total) { total_ = total; }

std::string Progress::render(uint64_t count, uint64_t done, int64_t elapsed_us) const {
  double seconds = static_cast<double>(std::max<int64_t>(elapsed_us, 1)) / 1e6;
  char text[160];
  std::snprintf(text, sizeof(text), "%llu %s  %.0f/s", static_cast<unsigned long long>(count),
                unit_.c_str(), static_cast<double>(count) / seconds);
  std::string line = text;
  if (total_ > 0) {
    double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    int filled = static_cast<int>(fraction * kBarWidth);
    line += "  [" + std::string(static_cast<size_t>(filled), '#') +
            std::string(static_cast<size_t>(kBarWidth - filled), '.') + "]";
    std::snprintf(text, sizeof(text), "  %3.0f%%", fraction * 100);
    line += text;
    if (done > 0 && done < total_) {
      line += "  ETA " + duration_text(seconds * static_cast<double>(total_ - done) /
                                       static_cast<double>(done));
    }
  }
  return line;
}

void Progress::update(uint64_t count, uint64_t done) {
  count_ = count;
  done_ = done;
  if (!enabled_) return;
  TimeUs now = clock_.now_us();
  // The first draw also waits: a verb done within 100 ms shows no bar at all.
  if (now - (shown_ ? drawn_us_ : started_us_) < kRedrawUs) return;
  drawn_us_ = now;
  draw();
}

void Progress::draw() {
  err_ << kEraseLine << render(count_, done_, clock_.now_us() - started_us_) << std::flush;
  shown_ = true;
}

void Progress::message(const std::string& text) {
  if (enabled_ && shown_) err_ << kEraseLine;
  err_ << text << '\n';
  if (enabled_ && shown_) draw();
  err_.flush();
}

void Progress::finish() {
  if (enabled_ && shown_) err_ << kEraseLine << std::flush;
  enabled_ = false;
}

}  // namespace nca::cli
