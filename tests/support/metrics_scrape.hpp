// tests/support/metrics_scrape.hpp: reading a running nca-node's /metrics from outside, for tests
// and benchmarks that start real node processes with `--http.listen 127.0.0.1:0`: the port the node
// logged, and the samples of one scrape.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "runtime/httplib.hpp"

namespace nca::testing {

// The HTTP port in the last "nca-node http on 127.0.0.1:P" line of a node's log (a restarted node
// appends to the same log), or nullopt before the node has logged one.
inline std::optional<int> logged_http_port(const std::string& log_path) {
  static const std::regex kLine(R"(nca-node http on 127\.0\.0\.1:(\d+))");
  std::ifstream in(log_path);
  std::optional<int> port;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {  // bounded by the file
    if (std::regex_search(line, m, kLine)) port = std::stoi(m[1]);
  }
  return port;
}

// The samples of one GET /metrics on 127.0.0.1:`port`, by their text before the value
// ("nca_shards_led", "nca_cluster_peers{state=\"alive\"}"); empty when the node does not answer.
inline std::map<std::string, double> scrape_metrics(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  auto r = client.Get("/metrics");
  if (!r || r->status != 200) return {};
  std::map<std::string, double> out;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

// A sample of a scrape, or `missing` when it is not there.
inline double sample(const std::map<std::string, double>& scrape, const std::string& key,
                     double missing = -1) {
  auto it = scrape.find(key);
  return it == scrape.end() ? missing : it->second;
}

}  // namespace nca::testing
