// nca-node: runs one neuroca node. `nca-node --dev` for a laptop; `nca-node --config node.ini` for a
// cluster member; `--help` lists every configuration key.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "actors/node.hpp"
#include "config/loader.hpp"

extern char** environ;

namespace {

void setup_logging(const nca::config::Settings& s) {
  spdlog::set_level(spdlog::level::from_str(s.log.level));
  if (s.log.format == "json") {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%v"})");
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
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
  const auto& settings = loaded->settings;
  setup_logging(settings);

  // Block the shutdown signals before any thread starts, so every thread inherits the mask and only
  // sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (settings.node.dev) {
    spdlog::warn("dev mode: one node, data in {}, NO AUTHENTICATION — do not expose {} beyond this "
                 "machine",
                 settings.node.data_dir, settings.node.listen);
  }
  auto node = nca::actors::Node::start(settings);
  if (!node) {
    spdlog::error("cannot start: {}", node.error().message);
    return 1;
  }
  std::printf("nca-node listening on %s (port %u)\n", settings.node.listen.c_str(),
              static_cast<unsigned>((*node)->port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down: saving indices", sig == SIGINT ? "SIGINT" : "SIGTERM");
  auto st = (*node)->stop();
  node->reset();
  spdlog::info("stopped cleanly");
  return st ? 0 : 1;
}
