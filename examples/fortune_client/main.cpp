// Fortune Client: connects, reads one framed fortune, prints it.
//
//   fortune_client HOST PORT
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/fortune_protocol.h"
#include "tether/event_loop.h"
#include "tether/tcp_socket.h"
#include "tether/timer.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fortune_client HOST PORT\n");
    return 2;
  }
  tether::EventLoop loop;
  tether::TcpSocket socket;
  std::string received;
  int status = 1;

  socket.readyRead.connect([&] {
    received += socket.readAll();
    if (auto message = fortune::decode(received)) {
      std::printf("%s\n", message->text.c_str());
      status = 0;
      loop.quit();
    }
  });
  socket.errorOccurred.connect([&](tether::SocketError error) {
    if (error == tether::SocketError::RemoteHostClosedError && status == 0) return;
    std::fprintf(stderr, "fortune_client: %s\n", socket.errorString().c_str());
    loop.quit();
  });
  tether::Timer::singleShot(10000, &socket, [&] {
    std::fprintf(stderr, "fortune_client: no fortune within 10 s\n");
    loop.quit();
  });
  socket.connectToHost(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])));
  loop.exec();
  return status;
}
