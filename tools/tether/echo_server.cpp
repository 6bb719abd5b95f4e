// `tether echo-server`: a TCP echo server (every byte a client sends comes
// back to it), many clients at once on one event loop. Prints "port N" first,
// then serves until SIGINT or SIGTERM, or until --count clients have come and
// gone.
//
// A client that sends without reading is slowed down, not buffered without
// limit: the server stops reading from it while 1 MiB of echo waits to be
// written, and TCP flow control does the rest.
#include <cstdint>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "command_support.h"
#include "commands.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

namespace tether::cli {

namespace {

constexpr std::int64_t kHighWater = 1 << 20;

struct EchoOptions {
  std::uint16_t port = 0;
  std::string address = "0.0.0.0";
  int count = 0;  // 0: until a signal
  bool json = false;
};

class EchoServer {
 public:
  EchoServer(EventLoop& loop, const EchoOptions& options, const Reporter& out)
      : loop_(loop), options_(options), out_(out) {
    server_.newConnection.connect([this] {
      while (TcpSocket* client = server_.nextPendingConnection()) accept(client);
    });
  }

  int start() {
    const HostAddress address = parseListenAddress(options_.address);
    if (address.isNull()) {
      out_.error("not an IP address: " + options_.address);
      return kExitUsage;
    }
    if (!server_.listen(address, options_.port)) {
      out_.error(fmt::format("cannot listen on {} port {}: {}", options_.address, options_.port, server_.errorString()));
      return kExitNetwork;
    }
    out_.print({{"event", "listening"}, {"address", options_.address}, {"port", server_.serverPort()}},
               fmt::format("port {}", server_.serverPort()));
    return kExitOk;
  }

 private:
  struct Connection {
    std::string peer;
    std::int64_t echoed = 0;
  };

  void accept(TcpSocket* client) {
    ++accepted_;
    ++active_;
    auto connection = std::make_shared<Connection>();
    connection->peer = fmt::format("{}:{}", client->peerAddress().toString(), client->peerPort());
    out_.print({{"event", "connected"}, {"peer", connection->peer}}, "connection from " + connection->peer);
    client->setReadBufferSize(kHighWater);
    auto echo = [client, connection] {
      if (client->bytesToWrite() >= kHighWater) return;  // resumed by bytesWritten
      const std::string bytes = client->readAll();
      connection->echoed += static_cast<std::int64_t>(bytes.size());
      client->write(bytes);
    };
    client->readyRead.connect(client, echo);
    client->bytesWritten.connect(client, [client, echo](std::int64_t) {
      if (client->bytesAvailable() > 0) echo();
    });
    client->disconnected.connect(client, [this, client, connection] {
      out_.print({{"event", "disconnected"}, {"peer", connection->peer}, {"bytes", connection->echoed}},
                 fmt::format("{} closed after {} bytes", connection->peer, connection->echoed));
      client->deleteLater();
      --active_;
      if (options_.count > 0 && accepted_ >= options_.count && active_ == 0) loop_.exit(kExitOk);
    });
    if (options_.count > 0 && accepted_ >= options_.count) server_.close();
  }

  EventLoop& loop_;
  const EchoOptions& options_;
  const Reporter& out_;
  TcpServer server_;
  int accepted_ = 0;
  int active_ = 0;
};

}  // namespace

void addEchoServerCommand(CLI::App& app) {
  auto options = std::make_shared<EchoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "echo-server",
      "A TCP echo server: every byte a client sends comes back. Prints \"port N\" first, then serves until SIGINT "
      "or SIGTERM, or until --count clients have come and gone.");
  cmd->add_option("-p,--port", options->port, "TCP port to listen on; 0 picks a free one (printed)")
      ->capture_default_str();
  cmd->add_option("-a,--address", options->address, "Address to listen on (0.0.0.0: every IPv4 and IPv6 address)")
      ->capture_default_str();
  cmd->add_option("-n,--count", options->count, "Exit after this many clients were served (0: serve until stopped)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", options->json, "Print events as JSON lines on stdout");
  cmd->callback([options] {
    const Reporter out("echo-server", options->json);
    EventLoop loop;
    // From before the first line: a script may signal as soon as it read it.
    const StopOnSignals stop([&loop](int) { loop.exit(kExitOk); });
    EchoServer server(loop, *options, out);
    if (const int status = server.start(); status != kExitOk) exitWith(status);
    if (const int status = loop.exec(); status != kExitOk) exitWith(status);
  });
}

}  // namespace tether::cli
