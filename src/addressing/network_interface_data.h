// What a NetworkInterface snapshot holds, and the platform scan that fills it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tether/network_interface.h"

namespace tether::detail {

struct NetworkInterfaceData {
  int index = 0;
  int mtu = 0;
  NetworkInterface::InterfaceFlags flags = 0;
  NetworkInterface::InterfaceType type = NetworkInterface::Unknown;
  std::string name;
  std::string hardwareAddress;
  std::vector<NetworkAddressEntry> addressEntries;
};

// Lists the interfaces of the calling thread's network namespace with their
// addresses, as the kernel reports them: no broadcast is computed and the
// eligibility of addresses on interfaces that are down is not adjusted yet.
// Empty if the system cannot be asked.
std::vector<NetworkInterfaceData> scanNetworkInterfaces();

// The link-layer address bytes as Qt prints them: upper-case hex pairs
// joined by ':'.
std::string formatHardwareAddress(const unsigned char* bytes, std::size_t size);

}  // namespace tether::detail
