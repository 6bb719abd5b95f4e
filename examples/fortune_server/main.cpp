// Fortune Server: every client that connects gets one fortune, framed as
// Qt's Fortune Server frames it, and is then disconnected.
//
//   fortune_server [PORT]        (default 0: the system picks; printed)
#include <cstdio>
#include <cstdlib>
#include <random>

#include "common/fortune_protocol.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  tether::EventLoop loop;
  tether::TcpServer server;
  if (!server.listen(tether::HostAddress(tether::HostAddress::LocalHost), port)) {
    std::fprintf(stderr, "fortune_server: %s\n", server.errorString().c_str());
    return 1;
  }
  std::printf("The server is running on port %u.\n", server.serverPort());
  std::fflush(stdout);

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<std::size_t> pick(0, std::size(fortune::kFortunes) - 1);
  server.newConnection.connect([&] {
    while (tether::TcpSocket* client = server.nextPendingConnection()) {
      // Delete the socket once it is closed: the seeds' deleteLater pattern.
      client->disconnected.connect(client, [client] { client->deleteLater(); });
      client->write(fortune::encode(fortune::kFortunes[pick(random)]));
      client->disconnectFromHost();
    }
  });
  return loop.exec();
}
