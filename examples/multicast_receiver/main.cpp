// Multicast Receiver: joins 239.255.43.21 (or ff12::2115) on port 45454 and
// prints every datagram, as Qt's example does.
//
//   multicast_receiver [GROUP] [INTERFACE] [COUNT]   (default interface "lo")
#include <cstdio>
#include <cstdlib>

#include "tether/event_loop.h"
#include "tether/network_interface.h"
#include "tether/udp_socket.h"

int main(int argc, char** argv) {
  const tether::HostAddress group(argc > 1 ? argv[1] : "239.255.43.21");
  const tether::NetworkInterface iface = tether::NetworkInterface::interfaceFromName(argc > 2 ? argv[2] : "lo");
  const int count = argc > 3 ? std::atoi(argv[3]) : 0;
  if (!group.isMulticast() || !iface.isValid()) {
    std::fprintf(stderr, "multicast_receiver: need a multicast group and an existing interface\n");
    return 2;
  }
  tether::EventLoop loop;
  tether::UdpSocket socket;
  const bool v4 = group.protocol() == tether::NetworkLayerProtocol::IPv4Protocol;
  if (!socket.bind(tether::HostAddress(v4 ? tether::HostAddress::AnyIPv4 : tether::HostAddress::AnyIPv6), 45454,
                   tether::ShareAddress) ||
      !socket.joinMulticastGroup(group, iface)) {
    std::fprintf(stderr, "multicast_receiver: %s\n", socket.errorString().c_str());
    return 1;
  }
  std::printf("Listening for multicast messages on %s port 45454 (%s)\n", group.toString().c_str(),
              iface.name().c_str());
  std::fflush(stdout);
  int received = 0;
  socket.readyRead.connect([&] {
    while (socket.hasPendingDatagrams()) {
      tether::NetworkDatagram datagram = socket.receiveDatagram();
      std::printf("Received datagram: \"%s\"\n", datagram.data().c_str());
      std::fflush(stdout);
      if (count > 0 && ++received == count) loop.quit();
    }
  });
  return loop.exec();
}
