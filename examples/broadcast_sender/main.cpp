// Broadcast Sender: sends "Broadcast message N" once a second, as Qt's
// example does, to port 45454.
//
//   broadcast_sender [ADDRESS] [COUNT]
//
// The default address is the loopback broadcast address 127.255.255.255, so
// nothing leaves this machine; pass e.g. 255.255.255.255 to broadcast on the
// local network as Qt's example does.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tether/event_loop.h"
#include "tether/timer.h"
#include "tether/udp_socket.h"

int main(int argc, char** argv) {
  const tether::HostAddress target(argc > 1 ? argv[1] : "127.255.255.255");
  const int count = argc > 2 ? std::atoi(argv[2]) : 5;
  if (target.isNull()) {
    std::fprintf(stderr, "broadcast_sender: not an address: %s\n", argv[1]);
    return 2;
  }
  tether::EventLoop loop;
  tether::UdpSocket socket;
  int sent = 0;
  tether::Timer timer;
  auto sendOne = [&] {
    const std::string message = "Broadcast message " + std::to_string(++sent);
    if (socket.writeDatagram(message, target, 45454) < 0) {
      std::fprintf(stderr, "broadcast_sender: %s\n", socket.errorString().c_str());
      loop.exit(1);
      return;
    }
    std::printf("Now sending datagram %d\n", sent);
    std::fflush(stdout);
    if (sent == count) loop.quit();
  };
  timer.timeout.connect(sendOne);
  timer.start(1000);
  sendOne();
  return loop.exec();
}
