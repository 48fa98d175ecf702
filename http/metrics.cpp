#include "http/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>

namespace nca::http {
namespace {

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void append_labels(std::string& out, const Labels& labels) {
  if (labels.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  out += '}';
}

}  // namespace

MetricFamily single(std::string name, MetricType type, std::string help, double value) {
  MetricFamily f{std::move(name), type, std::move(help), {}};
  f.add({}, value);
  return f;
}

void add_histogram(MetricFamily& family, const Labels& base, const std::vector<double>& bounds,
                   const std::vector<uint64_t>& buckets, double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    Labels l = base;
    l.emplace_back("le", i < bounds.size() ? format_value(bounds[i]) : "+Inf");
    family.samples.push_back({"_bucket", std::move(l), static_cast<double>(cumulative)});
  }
  family.samples.push_back({"_sum", base, sum});
  family.samples.push_back({"_count", base, static_cast<double>(cumulative)});
}

MetricFamily& MetricFamily::add(Labels labels, double value) {
  samples.push_back(MetricSample{"", std::move(labels), value});
  return *this;
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", value);
    return buf;
  }
  // The shortest text that reads back as the same double (0.0001, not 0.00010000000000000001).
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

std::string render_text(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) {
    if (f.samples.empty()) continue;
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + type_name(f.type) + "\n";
    for (const auto& s : f.samples) {
      out += f.name;
      out += s.suffix;
      append_labels(out, s.labels);
      out += ' ';
      out += format_value(s.value);
      out += '\n';
    }
  }
  return out;
}

const std::vector<double>& MetricsRegistry::latency_buckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10,    30};
  return kBuckets;
}

void MetricsRegistry::record_request(const std::string& route, const std::string& method,
                                     int status, double seconds) {
  const auto& bounds = latency_buckets();
  size_t bucket = 0;
  while (bucket < bounds.size() && seconds > bounds[bucket]) ++bucket;
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{route, method, status}]++;
  auto& h = latency_[{route, method}];
  if (h.buckets.empty()) h.buckets.assign(bounds.size() + 1, 0);
  h.buckets[bucket]++;
  h.sum += seconds;
}

std::vector<MetricFamily> MetricsRegistry::snapshot() const {
  MetricFamily requests{"nca_http_requests_total",
                        MetricType::counter,
                        "HTTP requests answered, by route template, method and status.",
                        {}};
  MetricFamily latency{"nca_http_request_duration_seconds",
                       MetricType::histogram,
                       "Time from reading an HTTP request to its reply, by route template.",
                       {}};
  const auto& bounds = latency_buckets();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    requests.add({{"route", route}, {"method", method}, {"status", std::to_string(status)}},
                 static_cast<double>(n));
  }
  for (const auto& [key, h] : latency_) {
    add_histogram(latency, {{"route", key.first}, {"method", key.second}}, bounds, h.buckets,
                  h.sum);
  }
  return {std::move(requests), std::move(latency)};
}

}  // namespace nca::http
