// bench/bench_util.hpp: small helpers shared by nca-bench's subcommands: wall-clock timing,
// latency percentiles, the process's resident set size, a temporary directory that removes itself,
// and progress lines on stderr (stdout is reserved for the result: a table or one JSON object).
//
// Everything here is plain data or free functions without shared state; each object is owned by
// the subcommand that made it and used from one thread unless stated otherwise.
#pragma once

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nca::bench {

// The monotonic clock of the benchmarks' deadlines and durations.
using Clock = std::chrono::steady_clock;

// Monotonic stopwatch in microseconds, started on construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void restart() { start_ = std::chrono::steady_clock::now(); }
  double elapsed_us() const {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_)
        .count();
  }
  double elapsed_s() const { return elapsed_us() / 1e6; }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Latency samples in microseconds. percentile() uses the nearest-rank definition (p in [0,100]), so
// p99 of 1,000 samples is the 990th smallest; 0 for no samples.
class Latencies {
 public:
  void reserve(size_t n) { samples_.reserve(n); }
  void add(double us) { samples_.push_back(us); }
  size_t size() const { return samples_.size(); }
  const std::vector<double>& samples() const { return samples_; }
  double percentile(double p) const;
  double mean() const;

 private:
  std::vector<double> samples_;
};

// Resident set size of this process in bytes, from /proc/self/statm; 0 if it cannot be read.
uint64_t resident_bytes();

// CPU time (user + system, all threads) this process has used, in seconds (getrusage).
double self_cpu_seconds();
// CPU time (user + system) process `pid` has used, in seconds, from /proc/<pid>/stat (clock-tick
// resolution, 10 ms here); NaN when it cannot be read. The benchmarks sum it over the processes of
// a phase: on this 2-core machine the CPU a write costs, not the throughput of one run (which
// moves by 20% with the VM), is what decides how a cluster compares with one node.
double process_cpu_seconds(long pid);
// Context switches (voluntary and involuntary) the threads process `pid` has now have made, summed
// from /proc/<pid>/task/*/status; NaN when the process cannot be read. A thread that exited took
// its count with it, so over a phase this counts the long-lived threads (a node's scheduler
// workers, multiplexer, timer, Raft and RocksDB threads), which are the ones that hand work on:
// the number per call says how often a call's work crossed from one thread to a sleeping one.
double process_context_switches(long pid);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
// path() is empty if it could not be created.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One progress line on stderr, prefixed with the seconds since the program started.
void progress(const std::string& line);

// The machine, for the report: number of online CPUs and the CPU model name.
unsigned online_cpus();
std::string cpu_model();

// The 1-minute load average from /proc/loadavg (-1 if unreadable): on a shared machine, a load
// above the number of cores means the timings of this run are inflated by other processes.
double load_average_1m();

// One line of a benchmark's result table: the metric, its value, the baseline it is compared with,
// the target and whether it is met ("yes", "NO" or empty).
struct TableRow {
  std::string metric, value, baseline, target, met;
};

// Prints `rows` under a "metric value baseline target met?" header, columns sized to fit.
void print_rows(const std::vector<TableRow>& rows);

// Parses a subcommand's arguments against `desc`. On a parse error it prints the error and the
// options to stderr and sets *exit_code = 2; on --help it prints the options and sets 0; either way
// it returns nullopt. `name` is the subcommand ("recall", "raft", ...).
std::optional<boost::program_options::variables_map> parse_subcommand_args(
    const std::string& name, const boost::program_options::options_description& desc,
    const std::vector<std::string>& args, int* exit_code);

// "1,4,16" -> {1, 4, 16}: up to 16 distinct counts, each in 1..max_value, in the order given.
bool parse_count_list(const std::string& text, size_t max_value, std::vector<size_t>* out);

// A number for a JSON result, rounded to `decimals`; null for NaN (a metric that was not measured).
nlohmann::ordered_json json_number(double v, int decimals = 1);
// The same for a results table: fixed-point with `decimals`; "n/a" for NaN.
std::string table_number(double v, int decimals = 1);

// "machine: 2 x <cpu model>, load average 1.20 at start, 1.35 at end" (no newline), for the header
// of every results table.
std::string machine_line(double load_start, double load_end);

// The node logs through spdlog's default logger, which writes to stdout; stdout is the result's, so
// a subcommand that runs a node sends those logs to stderr (warnings and worse only).
void send_node_logs_to_stderr();

// Prints a subcommand's result, `json_text()` with --json or `print_table()` otherwise, then "done"
// on the progress stream; returns the exit code 0.
int print_result(bool json, const std::function<std::string()>& json_text,
                 const std::function<void()>& print_table);

}  // namespace nca::bench
