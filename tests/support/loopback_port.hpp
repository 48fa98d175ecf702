// tests/support/loopback_port.hpp: a loopback TCP port that is free right now (bound by the OS on
// port 0, read back, released). For tests that must know an address before anything listens on
// it, or want one where nothing listens; another process may take it in between, so use it only
// where a clash would fail the test loudly.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace nca::testing {

inline uint16_t unused_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("unused_loopback_port: cannot bind a loopback socket");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A random first port for `span` consecutive fixed ports (scripts that number their nodes' ports),
// below the kernel's ephemeral range, so no outgoing connection of this machine can hold one of
// them (ports the OS hands to client sockets are what made fixed ports from a wider range collide).
inline int fixed_port_base(int span, uint64_t random) {
  int ephemeral_low = 32768;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    int lo = 0, hi = 0;
    if (std::fscanf(f, "%d %d", &lo, &hi) == 2 && lo > 12000) ephemeral_low = lo;
    std::fclose(f);
  }
  const int first = 10000;
  const int room = ephemeral_low - first - span - 1;
  return first + static_cast<int>(random % static_cast<uint64_t>(room));
}

}  // namespace nca::testing
