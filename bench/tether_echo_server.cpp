// tether_echo_server: the ping-pong echo server written with tether's public
// API, the way an application would write it (TcpServer, TcpSocket signals).
//
//   tether_echo_server [--port P] [--cpu N] [--host A]
//
// Same protocol as raw_epoll_echo_server: prints "port N" first, runs until
// SIGTERM/SIGINT, then prints "cpu_us N".
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bench_common.hpp"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"
#include "tether/timer.h"

using namespace bench;

namespace {

volatile std::sig_atomic_t stopRequested = 0;
void onSignal(int) { stopRequested = 1; }

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int cpu = -1;
  std::string host = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string_view value = argv[i + 1];
    if (flag == "--port") port = static_cast<int>(parse_int(value).value_or(0));
    else if (flag == "--cpu") cpu = static_cast<int>(parse_int(value).value_or(-1));
    else if (flag == "--host") host = std::string(value);
    else {
      std::fprintf(stderr, "tether_echo_server: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (cpu >= 0 && !pin_to_cpu(cpu, "tether_echo_server")) return 1;
  raise_nofile(65536);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);

  tether::EventLoop loop;
  tether::TcpServer server;
  server.setMaxPendingConnections(1 << 20);
  server.setListenBacklogSize(4096);  // as the raw server: SOMAXCONN
  if (!server.listen(tether::HostAddress(host), static_cast<std::uint16_t>(port))) {
    std::fprintf(stderr, "tether_echo_server: listen: %s\n", server.errorString().c_str());
    return 1;
  }
  std::vector<char> scratch(256 * 1024);
  server.newConnection.connect([&] {
    while (tether::TcpSocket* socket = server.nextPendingConnection()) {
      socket->setSocketOption(tether::SocketOption::LowDelayOption, 1);
      socket->readyRead.connect([socket, &scratch] {
        for (;;) {
          const std::int64_t n = socket->read(scratch.data(), static_cast<std::int64_t>(scratch.size()));
          if (n <= 0) break;
          socket->write(scratch.data(), n);
        }
      });
      socket->disconnected.connect(socket, [socket] { socket->deleteLater(); });
    }
  });

  // Signals arrive asynchronously; a coarse timer notices the request.
  tether::Timer stopCheck;
  stopCheck.timeout.connect([&] {
    if (stopRequested) loop.quit();
  });
  stopCheck.start(20);

  std::printf("port %u\n", server.serverPort());
  std::fflush(stdout);
  loop.exec();
  std::printf("cpu_us %lld\n", self_cpu_us());
  std::fflush(stdout);
  return 0;
}
