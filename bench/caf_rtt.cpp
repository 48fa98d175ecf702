#include "bench/caf_rtt.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <memory>
#include <set>

#include "proto/wire.hpp"

namespace nca::bench {
namespace {

class RttSystemConfig : public caf::actor_system_config {
 public:
  RttSystemConfig() {
    load<caf::io::middleman>();
    set("scheduler.policy", caf::atom("sharing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

caf::behavior echo_actor(caf::event_based_actor*) {
  return {
      [](wire::envelope_atom, uint32_t method,
         std::string& bytes) -> caf::result<uint32_t, std::string> {
        return {method, std::move(bytes)};
      },
  };
}

}  // namespace

Result<Latencies> measure_caf_rtt(const CafRttOptions& options) {
  constexpr auto kTimeout = std::chrono::seconds(5);
  RttSystemConfig server_cfg;
  caf::actor_system server{server_cfg};
  auto echo = server.spawn(echo_actor);
  auto port = caf::io::publish(echo, 0, "127.0.0.1", true);
  if (!port) {
    return make_error(ErrorCode::unavailable,
                      "cannot publish the echo actor on loopback: " + server.render(port.error()));
  }

  RttSystemConfig client_cfg;
  caf::actor_system client{client_cfg};
  caf::scoped_actor self{client};
  caf::actor remote;
  std::string failure;
  self->request(client.middleman().actor_handle(), kTimeout, caf::connect_atom::value,
                std::string("127.0.0.1"), *port)
      .receive([&](caf::node_id&, caf::strong_actor_ptr& ptr,
                   std::set<std::string>&) { remote = caf::actor_cast<caf::actor>(ptr); },
               [&](caf::error& e) { failure = client.render(e); });
  if (!remote) {
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
    return make_error(ErrorCode::unavailable,
                      "cannot connect to the echo actor on 127.0.0.1:" + std::to_string(*port) +
                          ": " + (failure.empty() ? "no actor behind the port" : failure));
  }

  const std::string payload(options.payload_bytes, 'x');
  Latencies lat;
  lat.reserve(options.round_trips);
  for (size_t i = 0; i < options.warmup + options.round_trips && failure.empty(); ++i) {
    Stopwatch sw;
    self->request(remote, kTimeout, wire::envelope_atom::value, uint32_t{13}, payload)
        .receive(
            [&](uint32_t, const std::string& bytes) {
              if (bytes.size() != payload.size()) failure = "echo returned a different payload";
            },
            [&](caf::error& e) { failure = client.render(e); });
    if (i >= options.warmup) lat.add(sw.elapsed_us());
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  if (!failure.empty()) {
    return make_error(ErrorCode::unavailable, "CAF round trip failed: " + failure);
  }
  return lat;
}

}  // namespace nca::bench
