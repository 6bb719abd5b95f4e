// Local Fortune Server (seed 002): listens on a local socket name and gives
// every client one fortune, framed as a quint16 size and a QString in a
// QDataStream at version Qt_4_0, then disconnects.
//
//   local_fortune_server [NAME]      (default "fortune")
#include <cstdio>
#include <random>
#include <string>

#include "common/fortune_protocol.h"
#include "tether/data_stream.h"
#include "tether/event_loop.h"
#include "tether/local_server.h"
#include "tether/local_socket.h"

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "fortune";
  tether::EventLoop loop;
  tether::LocalServer server;
  if (!server.listen(name)) {
    std::fprintf(stderr, "local_fortune_server: %s\n", server.errorString().c_str());
    return 1;
  }
  std::printf("The server is running on name %s (%s).\n", server.serverName().c_str(),
              server.fullServerName().c_str());
  std::fflush(stdout);

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<std::size_t> pick(0, std::size(fortune::kFortunes) - 1);
  server.newConnection.connect([&] {
    while (tether::LocalSocket* client = server.nextPendingConnection()) {
      // The seed's framing: reserve the size, write the text, patch the size.
      std::string block;
      tether::DataStream out(&block, tether::IODevice::WriteOnly);
      out.setVersion(tether::DataStream::Qt_4_0);
      out << std::uint16_t{0} << tether::asQString(std::string_view(fortune::kFortunes[pick(random)]));
      const auto size = static_cast<std::uint16_t>(block.size() - sizeof(std::uint16_t));
      block[0] = static_cast<char>(size >> 8);
      block[1] = static_cast<char>(size & 0xff);
      client->disconnected.connect(client, [client] { client->deleteLater(); });
      client->write(block);
      client->flush();
      client->disconnectFromServer();
    }
  });
  const int rc = loop.exec();
  tether::LocalServer::removeServer(name);
  return rc;
}
