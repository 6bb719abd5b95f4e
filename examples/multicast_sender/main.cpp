// Multicast Sender: sends "Multicast message N" once a second to the group
// 239.255.43.21 (or ff12::2115), port 45454, as Qt's example does.
//
//   multicast_sender [GROUP] [INTERFACE] [COUNT]
//
// The default interface is the loopback interface "lo", so nothing leaves
// this machine; name a real interface to multicast on a network.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tether/event_loop.h"
#include "tether/network_interface.h"
#include "tether/timer.h"
#include "tether/udp_socket.h"

int main(int argc, char** argv) {
  const tether::HostAddress group(argc > 1 ? argv[1] : "239.255.43.21");
  const tether::NetworkInterface iface = tether::NetworkInterface::interfaceFromName(argc > 2 ? argv[2] : "lo");
  const int count = argc > 3 ? std::atoi(argv[3]) : 5;
  if (!group.isMulticast() || !iface.isValid()) {
    std::fprintf(stderr, "multicast_sender: need a multicast group and an existing interface\n");
    return 2;
  }
  tether::EventLoop loop;
  tether::UdpSocket socket;
  const bool v4 = group.protocol() == tether::NetworkLayerProtocol::IPv4Protocol;
  if (!socket.bind(tether::HostAddress(v4 ? tether::HostAddress::AnyIPv4 : tether::HostAddress::AnyIPv6), 0)) {
    std::fprintf(stderr, "multicast_sender: %s\n", socket.errorString().c_str());
    return 1;
  }
  socket.setMulticastInterface(iface);
  socket.setSocketOption(tether::SocketOption::MulticastTtlOption, 1);
  int sent = 0;
  tether::Timer timer;
  auto sendOne = [&] {
    const std::string message = "Multicast message " + std::to_string(++sent);
    if (socket.writeDatagram(message, group, 45454) < 0) {
      std::fprintf(stderr, "multicast_sender: %s\n", socket.errorString().c_str());
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
