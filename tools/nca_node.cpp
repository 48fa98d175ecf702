// nca-node: runs one neuroca node. `nca-node --dev` for a laptop; `nca-node --config node.ini` for
// a cluster member; `--help` lists every configuration key.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "actors/node.hpp"
#include "config/loader.hpp"
#include "http/http_gateway.hpp"
#include "http/logging.hpp"

extern char** environ;

namespace {

// A node asked to pick its own port (node.listen port 0, as tests and throwaway nodes do) picks its
// HTTP port too unless http.listen was set: otherwise two such nodes would fight over the default
// HTTP port.
nca::config::Settings with_http_port(const nca::config::Loaded& loaded) {
  nca::config::Settings s = loaded.settings;
  auto it = loaded.sources.find("http.listen");
  bool http_default =
      it == loaded.sources.end() || it->second == nca::config::Source::default_value;
  auto node = nca::actors::parse_host_port(s.node.listen, "node.listen");
  auto http = nca::actors::parse_host_port(s.http.listen, "http.listen");
  if (http_default && node && node->second == 0 && http) {
    s.http.listen = http->first + ":0";
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  auto loaded = nca::config::load(argc, argv, nca::config::environment_from(environ));
  if (!loaded) {
    std::fprintf(stderr, "nca-node: %s\n", loaded.error().message.c_str());
    return 2;
  }
  switch (loaded->action) {
    case nca::config::Action::help:
      std::cout << nca::config::help_text("nca-node");
      return 0;
    case nca::config::Action::version:
      std::cout << "nca-node " << NCA_VERSION_STRING << "\n";
      return 0;
    case nca::config::Action::print_config:
      std::cout << nca::config::render(loaded->settings, loaded->sources, true);
      return 0;
    case nca::config::Action::check_config:
      std::cout << "configuration OK"
                << (loaded->config_file.empty() ? "" : " (" + loaded->config_file + ")") << "\n";
      return 0;
    case nca::config::Action::run:
      break;
  }
  const nca::config::Settings settings = with_http_port(*loaded);
  if (auto logging = nca::http::configure_logging(settings.log); !logging) {
    std::fprintf(stderr, "nca-node: %s\n", logging.error().message.c_str());
    return 2;
  }

  // Block the shutdown signals before any thread starts, so every thread inherits the mask and only
  // sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (settings.node.dev) {
    spdlog::warn("dev mode: one node, data in {}", settings.node.data_dir);
  }
  if (!settings.auth.enabled) {
    spdlog::warn(
        "NO AUTHENTICATION (auth.enabled = false): every client may read and change every "
        "tenant's data; do not expose {} or the HTTP port beyond this machine",
        settings.node.listen);
  }
  auto node = nca::actors::Node::start(settings);
  if (!node) {
    spdlog::error("cannot start: {}", node.error().message);
    return 1;
  }
  std::printf("nca-node listening on %s (port %u)\n", settings.node.listen.c_str(),
              static_cast<unsigned>((*node)->port()));
  std::fflush(stdout);
  std::unique_ptr<nca::http::HttpGateway> gateway;
  if (!settings.http.listen.empty()) {
    auto started = nca::http::HttpGateway::start(settings, **node);
    if (!started) {
      spdlog::error("cannot start the HTTP API: {}", started.error().message);
      (void)(*node)->stop();
      return 1;
    }
    gateway = std::move(*started);
    std::printf("nca-node http on %s (http port %u)\n", gateway->address().c_str(),
                static_cast<unsigned>(gateway->port()));
    std::fflush(stdout);
  }

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  if (gateway) {
    // HTTP first: requests in flight finish (up to http.timeout) while the node still serves them.
    gateway->stop(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::microseconds(settings.http.timeout)));
    gateway.reset();
  }
  spdlog::info("saving indices and closing storage");
  auto st = (*node)->stop();
  node->reset();
  spdlog::info("stopped cleanly");
  return st ? 0 : 1;
}
