// Echo round trip: an echo server and a client in one process and one event
// loop. The client sends messages of growing size (up to 1 MiB), checks that
// every byte comes back, and prints what happened.
//
//   echo [MESSAGES]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"
#include "tether/timer.h"

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 8;
  tether::EventLoop loop;

  tether::TcpServer server;
  if (!server.listen(tether::HostAddress(tether::HostAddress::LocalHost))) {
    std::fprintf(stderr, "echo: %s\n", server.errorString().c_str());
    return 1;
  }
  server.newConnection.connect([&] {
    while (tether::TcpSocket* peer = server.nextPendingConnection()) {
      peer->readyRead.connect([peer] { peer->write(peer->readAll()); });
      peer->disconnected.connect(peer, [peer] { peer->deleteLater(); });
    }
  });

  tether::TcpSocket client;
  int sent = 0;
  std::size_t size = 16;
  std::string expected;
  std::string received;
  std::size_t totalBytes = 0;
  int status = 1;
  const auto start = std::chrono::steady_clock::now();

  auto sendNext = [&] {
    expected.assign(size, '\0');
    for (std::size_t i = 0; i < size; ++i) expected[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(sent)) % 26);
    received.clear();
    client.write(expected);
  };
  client.connected.connect([&] {
    std::printf("echo: connected to %s:%u from port %u\n", client.peerAddress().toString().c_str(),
                client.peerPort(), client.localPort());
    sendNext();
  });
  client.readyRead.connect([&] {
    received += client.readAll();
    if (received.size() < expected.size()) return;
    if (received != expected) {
      std::fprintf(stderr, "echo: message %d came back different\n", sent + 1);
      loop.quit();
      return;
    }
    totalBytes += received.size();
    std::printf("echo: message %d, %zu bytes, echoed back intact\n", sent + 1, received.size());
    if (++sent == messages) {
      const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::printf("echo: %d round trips, %zu bytes verified in %.1f ms\n", sent, totalBytes, ms);
      status = 0;
      client.disconnectFromHost();
      return;
    }
    size = size * 8 > (1u << 20) ? (1u << 20) : size * 8;
    sendNext();
  });
  client.disconnected.connect([&] { loop.quit(); });
  client.errorOccurred.connect([&](tether::SocketError) {
    if (status != 0) {
      std::fprintf(stderr, "echo: %s\n", client.errorString().c_str());
      loop.quit();
    }
  });
  tether::Timer::singleShot(20000, &client, [&] {
    std::fprintf(stderr, "echo: timed out\n");
    loop.quit();
  });
  client.connectToHost("localhost", server.serverPort());
  loop.exec();
  return status;
}
