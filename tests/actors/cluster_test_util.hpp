// Test support for cluster tests in one process: an actor-system configuration like a node's (its
// own middleman, work sharing, middleman heartbeats), so several "nodes" run side by side on
// loopback.
#pragma once

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <chrono>

namespace nca::testing {

class TransportCafConfig : public caf::actor_system_config {
 public:
  TransportCafConfig() {
    load<caf::io::middleman>();
    set("scheduler.policy", caf::atom("sharing"));
    set("scheduler.max-threads", size_t{2});
    set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(100)});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

}  // namespace nca::testing
