// A program outside the tether tree, built against the installed package:
// a TCP round trip on loopback through the installed headers and library.
#include <tether/event_loop.h>
#include <tether/tcp_server.h>
#include <tether/tcp_socket.h>
#include <tether/timer.h>

#include <cstdio>
#include <string>

int main() {
  tether::EventLoop loop;
  tether::TcpServer server;
  if (!server.listen(tether::HostAddress(tether::HostAddress::LocalHost))) return 1;
  server.newConnection.connect([&] {
    tether::TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] { peer->write(peer->readAll()); });
  });
  tether::TcpSocket client;
  std::string echoed;
  client.readyRead.connect([&] {
    echoed += client.readAll();
    if (echoed.size() >= 5) loop.quit();
  });
  tether::Timer::singleShot(10000, [&] { loop.exit(1); });
  client.connectToHost("127.0.0.1", server.serverPort());
  client.write("hello");
  const int rc = loop.exec();
  std::printf("%s: %s\n", echoed == "hello" && rc == 0 ? "round trip ok" : "round trip FAILED", echoed.c_str());
  return echoed == "hello" && rc == 0 ? 0 : 1;
}
