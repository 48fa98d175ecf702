// http/metrics.hpp: a small Prometheus metrics registry and the text exposition format (0.0.4).
//
// MetricFamily/render_text are the pure part: a list of families (name, type, help, samples)
// becomes the text a scraper reads, with label values escaped and histogram series ordered as the
// format requires. MetricsRegistry keeps what must accumulate between scrapes (the HTTP request
// counter and latency histograms); figures that exist elsewhere (node counters, RocksDB, tiers) are
// read at scrape time into families of their own and rendered together. The registry is thread-safe
// (one mutex held only for map updates and the snapshot copy); it owns its data.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace nca::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { counter, gauge, histogram };

struct MetricSample {
  std::string suffix;  // "" for counters and gauges; "_bucket", "_sum", "_count" in a histogram
  Labels labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::gauge;
  std::string help;
  std::vector<MetricSample> samples;

  // Adds a sample without a suffix.
  MetricFamily& add(Labels labels, double value);
};

// A family of one sample without labels.
MetricFamily single(std::string name, MetricType type, std::string help, double value);

// Appends one histogram series to `family`: a cumulative _bucket per bound of `bounds` (ascending,
// seconds) and +Inf, from the non-cumulative `buckets` (bounds.size() + 1 counts), then _sum and
// _count, each with `base` labels. _count is the +Inf bucket's total, so the two always agree.
void add_histogram(MetricFamily& family, const Labels& base, const std::vector<double>& bounds,
                   const std::vector<uint64_t>& buckets, double sum);

// The exposition text of `families`, in order. Families without samples are left out (a HELP/TYPE
// without samples is legal, but carries nothing).
std::string render_text(const std::vector<MetricFamily>& families);

// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(const std::string& value);

// A value as the format writes it: integers without exponent, +Inf, -Inf, NaN.
std::string format_value(double value);

class MetricsRegistry {
 public:
  // Upper bounds of the latency histograms, in seconds.
  static const std::vector<double>& latency_buckets();

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // One finished HTTP request: `route` is its template ("/v1/memories/{id}") or "unmatched".
  void record_request(const std::string& route, const std::string& method, int status,
                      double seconds);

  // The accumulated families: nca_http_requests_total and nca_http_request_duration_seconds.
  std::vector<MetricFamily> snapshot() const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // non-cumulative counts per bucket, last = above every bound
    double sum = 0;                 // the count is the buckets' total
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
};

}  // namespace nca::http
