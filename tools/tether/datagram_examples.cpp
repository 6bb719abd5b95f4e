#include "datagram_examples.h"

#include <fmt/format.h>

#include "commands.h"
#include "tether/network_datagram.h"
#include "tether/network_interface.h"
#include "tether/udp_socket.h"

namespace tether::cli {

void addDatagramOptions(CLI::App* command, DatagramOptions& options, bool sender) {
  command->add_option("-p,--port", options.port,
                      sender ? "UDP port to send to" : "UDP port to receive on; 0 picks a free one (printed)")
      ->capture_default_str();
  command
      ->add_option("-n,--count", options.count,
                   sender ? "Datagrams to send, then exit (0: until SIGINT or SIGTERM)"
                          : "Exit after this many datagrams (0: until SIGINT or SIGTERM)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  if (sender) {
    command->add_option("-i,--interval", options.intervalMs, "Milliseconds between datagrams")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }
  command->add_flag("--json", options.json, "Print events as JSON lines on stdout");
}

// ------------------------------------------------------------ RepeatingSender

RepeatingSender::RepeatingSender(EventLoop& loop, const Reporter& out, const DatagramOptions& options,
                                 std::string prefix, Send send)
    : loop_(loop), out_(out), options_(options), prefix_(std::move(prefix)), send_(std::move(send)) {
  timer_.timeout.connect([this] {
    if (const auto status = sendNext()) {
      timer_.stop();
      loop_.exit(*status);
    }
  });
}

std::optional<int> RepeatingSender::start() {
  if (const auto status = sendNext()) return status;
  timer_.start(options_.intervalMs);
  return std::nullopt;
}

std::optional<int> RepeatingSender::sendNext() {
  const std::string payload = prefix_ + std::to_string(sent_ + 1);
  if (const std::string why = send_(payload); !why.empty()) {
    out_.error(why);
    return kExitNetwork;
  }
  ++sent_;
  out_.print({{"event", "sent"}, {"data", payload}, {"number", sent_}}, fmt::format("sent \"{}\"", payload));
  if (options_.count > 0 && sent_ >= options_.count) return kExitOk;
  return std::nullopt;
}

// ------------------------------------------------------------ DatagramPrinter

void DatagramPrinter::watch(UdpSocket& socket) {
  socket.readyRead.connect([this, &socket] { drain(socket); });
}

void DatagramPrinter::drain(UdpSocket& socket) {
  while (socket.hasPendingDatagrams()) {
    if (count_ > 0 && received_ >= count_) return;  // the rest are not ours to print
    const NetworkDatagram datagram = socket.receiveDatagram();
    if (!datagram.isValid()) return;
    ++received_;
    const std::string sender = datagram.senderAddress().toString();
    nlohmann::json event{{"event", "datagram"},
                         {"data", datagram.data()},
                         {"sender", sender},
                         {"senderPort", datagram.senderPort()},
                         {"destination", datagram.destinationAddress().toString()},
                         {"hopLimit", datagram.hopLimit()}};
    if (out_.json()) {
      event["interface"] = NetworkInterface::interfaceNameFromIndex(static_cast<int>(datagram.interfaceIndex()));
    }
    out_.print(event, fmt::format("Received datagram: \"{}\" from {}", printableText(datagram.data()),
                                  datagram.senderAddress().protocol() == NetworkLayerProtocol::IPv6Protocol
                                      ? fmt::format("[{}]:{}", sender, datagram.senderPort())
                                      : fmt::format("{}:{}", sender, datagram.senderPort())));
    if (count_ > 0 && received_ >= count_) {
      loop_.exit(kExitOk);
      return;
    }
  }
}

// ------------------------------------------------------------ stopping

int interruptedStatus(const Reporter& out, int done, int count, const char* what) {
  if (count == 0) return kExitOk;
  out.error(fmt::format("interrupted after {} of {} datagrams {}", done, count, what));
  return kExitFailed;
}

}  // namespace tether::cli
