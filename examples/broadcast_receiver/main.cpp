// Broadcast Receiver: listens on port 45454 and prints every datagram, as
// Qt's example does.
//
//   broadcast_receiver [COUNT]     (stops after COUNT datagrams; 0 = never)
#include <cstdio>
#include <cstdlib>

#include "tether/event_loop.h"
#include "tether/udp_socket.h"

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 0;
  tether::EventLoop loop;
  tether::UdpSocket socket;
  if (!socket.bind(tether::HostAddress(tether::HostAddress::AnyIPv4), 45454, tether::ShareAddress)) {
    std::fprintf(stderr, "broadcast_receiver: %s\n", socket.errorString().c_str());
    return 1;
  }
  std::printf("Listening for broadcast messages on port 45454\n");
  std::fflush(stdout);
  int received = 0;
  socket.readyRead.connect([&] {
    while (socket.hasPendingDatagrams()) {
      tether::NetworkDatagram datagram = socket.receiveDatagram();
      std::printf("Received datagram: \"%s\" from %s\n", datagram.data().c_str(),
                  datagram.senderAddress().toString().c_str());
      std::fflush(stdout);
      if (count > 0 && ++received == count) loop.quit();
    }
  });
  return loop.exec();
}
