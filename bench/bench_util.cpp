#include "bench/bench_util.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iomanip>

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>
#include <thread>

namespace nca::bench {

double Latencies::percentile(double p) const {
  if (samples_.empty()) return 0;
  std::vector<double> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t idx = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(idx, sorted.size() - 1)];
}

double Latencies::mean() const {
  if (samples_.empty()) return 0;
  return std::accumulate(samples_.begin(), samples_.end(), 0.0) /
         static_cast<double>(samples_.size());
}

uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  long page = sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

double self_cpu_seconds() {
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) != 0) return NAN;
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double process_cpu_seconds(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return NAN;
  // The command name (field 2) may hold spaces; fields 14 and 15 follow its closing parenthesis.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return NAN;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  double utime = NAN, stime = NAN;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  if (std::isnan(stime) || ticks <= 0) return NAN;
  return (utime + stime) / static_cast<double>(ticks);
}

double process_context_switches(long pid) {
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  std::filesystem::directory_iterator it(tasks, ec);
  if (ec) return NAN;
  double sum = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return NAN;
    std::ifstream status(it->path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      // "voluntary_ctxt_switches:\t12" and "nonvoluntary_ctxt_switches:\t3"
      if (line.find("ctxt_switches:") == std::string::npos) continue;
      sum += std::strtod(line.c_str() + line.find(':') + 1, nullptr);
    }
  }
  return sum;
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void progress(const std::string& line) {
  static const auto start = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "[%7.1fs] ", s);
  std::cerr << stamp << line << std::endl;
}

unsigned online_cpus() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : std::thread::hardware_concurrency();
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto first = line.find_first_not_of(" \t", colon + 1);
        return first == std::string::npos ? std::string() : line.substr(first);
      }
    }
  }
  return "unknown";
}

double load_average_1m() {
  std::ifstream loadavg("/proc/loadavg");
  double one = -1;
  if (!(loadavg >> one)) return -1;
  return one;
}

void print_rows(const std::vector<TableRow>& rows) {
  std::vector<size_t> w = {6, 5, 8, 6};
  for (const auto& x : rows) {
    w[0] = std::max(w[0], x.metric.size());
    w[1] = std::max(w[1], x.value.size());
    w[2] = std::max(w[2], x.baseline.size());
    w[3] = std::max(w[3], x.target.size());
  }
  auto line = [&](const TableRow& x) {
    std::cout << std::left << std::setw(static_cast<int>(w[0])) << x.metric << "  " << std::right
              << std::setw(static_cast<int>(w[1])) << x.value << "  " << std::left
              << std::setw(static_cast<int>(w[2])) << x.baseline << "  "
              << std::setw(static_cast<int>(w[3])) << x.target << "  " << x.met << "\n";
  };
  line({"metric", "value", "baseline", "target", "met?"});
  for (const auto& x : rows) line(x);
}

std::optional<boost::program_options::variables_map> parse_subcommand_args(
    const std::string& name, const boost::program_options::options_description& desc,
    const std::vector<std::string>& args, int* exit_code) {
  namespace po = boost::program_options;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "nca-bench " << name << ": " << e.what() << "\n" << desc;
    *exit_code = 2;
    return std::nullopt;
  }
  if (vm.count("help") > 0) {
    std::cout << desc;
    *exit_code = 0;
    return std::nullopt;
  }
  return vm;
}

bool parse_count_list(const std::string& text, size_t max_value, std::vector<size_t>* out) {
  out->clear();
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
        part.size() > 6) {
      return false;
    }
    size_t c = std::stoul(part);
    if (c < 1 || c > max_value) return false;
    if (std::find(out->begin(), out->end(), c) == out->end()) out->push_back(c);
  }
  return !out->empty() && out->size() <= 16;
}

std::string machine_line(double load_start, double load_end) {
  std::ostringstream out;
  out << "machine: " << online_cpus() << " x " << cpu_model() << ", load average " << std::fixed
      << std::setprecision(2) << load_start << " at start, " << load_end << " at end";
  return out.str();
}

void send_node_logs_to_stderr() {
  auto logger = spdlog::stderr_logger_mt("nca-bench");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);
}

int print_result(bool json, const std::function<std::string()>& json_text,
                 const std::function<void()>& print_table) {
  if (json) {
    std::cout << json_text() << std::endl;
  } else {
    print_table();
  }
  progress("done");
  return 0;
}

std::string table_number(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << v;
  return out.str();
}

nlohmann::ordered_json json_number(double v, int decimals) {
  if (std::isnan(v)) return nullptr;
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

}  // namespace nca::bench
