// `tether fortune-server`: Qt's Fortune Server example over TCP and the
// Local Fortune Server of seed 002 over local sockets, in either framing
// (fortune_protocol.h). Every client gets one fortune and is disconnected, as
// with Qt's; the server runs until SIGINT or SIGTERM, or until --count clients
// were served.
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command_support.h"
#include "commands.h"
#include "fortune_protocol.h"
#include "tether/event_loop.h"
#include "tether/local_server.h"
#include "tether/local_socket.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

namespace tether::cli {

namespace {

struct ServerOptions {
  std::uint16_t port = 0;
  std::string address = "0.0.0.0";
  std::string local;
  std::string framingText = "qt4";
  FortuneFraming framing = FortuneFraming::Qt4;
  int count = 0;  // 0: until a signal
  std::vector<std::string> fortunes;
  bool json = false;
};

class FortuneServer {
 public:
  FortuneServer(EventLoop& loop, const ServerOptions& options, const Reporter& out)
      : loop_(loop), options_(options), out_(out), random_(std::random_device{}()) {
    for (const std::string& f : options_.fortunes) blocks_.push_back(encodeFortune(f, options_.framing));
  }

  // Listens and prints the first line; returns an exit status (0: serving).
  int start() {
    if (options_.local.empty()) return startTcp();
    return startLocal();
  }

  int served() const { return served_; }

 private:
  int startTcp() {
    const HostAddress address = parseListenAddress(options_.address);
    if (address.isNull()) {
      out_.error("not an IP address: " + options_.address);
      return kExitUsage;
    }
    tcp_ = std::make_unique<TcpServer>();
    tcp_->newConnection.connect([this] {
      while (TcpSocket* client = tcp_->nextPendingConnection()) {
        const std::string peer = fmt::format("{}:{}", client->peerAddress().toString(), client->peerPort());
        client->disconnected.connect(client, [this, client] { connectionEnded(client); });
        client->write(nextBlock(peer));
        client->disconnectFromHost();
        if (reachedCount()) tcp_->close();
      }
    });
    if (!tcp_->listen(address, options_.port)) {
      out_.error(fmt::format("cannot listen on {} port {}: {}", options_.address, options_.port, tcp_->errorString()));
      return kExitNetwork;
    }
    out_.print({{"event", "listening"},
                {"address", options_.address},
                {"port", tcp_->serverPort()},
                {"framing", framingName(options_.framing)}},
               fmt::format("port {}", tcp_->serverPort()));
    return kExitOk;
  }

  int startLocal() {
    local_ = std::make_unique<LocalServer>();
    local_->newConnection.connect([this] {
      while (LocalSocket* client = local_->nextPendingConnection()) {
        client->disconnected.connect(client, [this, client] { connectionEnded(client); });
        client->write(nextBlock("a local client"));
        client->flush();
        client->disconnectFromServer();
        if (reachedCount()) local_->close();
      }
    });
    if (!local_->listen(options_.local)) {
      // A socket file left by a server that died is replaced; a live
      // server's is not.
      if (local_->serverError() != SocketError::AddressInUseError || serverIsAlive(options_.local) ||
          !LocalServer::removeServer(options_.local) || !local_->listen(options_.local)) {
        out_.error(fmt::format("cannot listen on local name {}: {}", options_.local, local_->errorString()));
        return kExitNetwork;
      }
    }
    out_.print({{"event", "listening"},
                {"name", options_.local},
                {"path", local_->fullServerName()},
                {"framing", framingName(options_.framing)}},
               "name " + options_.local);
    return kExitOk;
  }

  static bool serverIsAlive(const std::string& name) {
    LocalSocket probe;
    probe.connectToServer(name);
    const bool alive = probe.state() != LocalSocket::UnconnectedState;
    probe.abort();
    return alive;
  }

  const std::string& nextBlock(const std::string& peer) {
    ++served_;
    ++active_;
    std::uniform_int_distribution<std::size_t> pick(0, blocks_.size() - 1);
    const std::size_t index = pick(random_);
    out_.print({{"event", "served"}, {"peer", peer}, {"fortune", options_.fortunes[index]}},
               fmt::format("sent \"{}\" to {}", printableText(options_.fortunes[index]), peer));
    return blocks_[index];
  }

  bool reachedCount() const { return options_.count > 0 && served_ >= options_.count; }

  void connectionEnded(Object* client) {
    client->deleteLater();
    --active_;
    if (reachedCount() && active_ == 0) loop_.exit(kExitOk);
  }

  EventLoop& loop_;
  const ServerOptions& options_;
  const Reporter& out_;
  std::mt19937 random_;
  std::vector<std::string> blocks_;
  std::unique_ptr<TcpServer> tcp_;
  std::unique_ptr<LocalServer> local_;
  int served_ = 0;
  int active_ = 0;
};

}  // namespace

void addFortuneServerCommand(CLI::App& app) {
  auto options = std::make_shared<ServerOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fortune-server",
      "Serve fortunes as Qt's Fortune Server (TCP) and Local Fortune Server (--local) do: every client gets one "
      "fortune and is disconnected. Prints \"port N\" (or \"name NAME\") first, then serves until SIGINT or "
      "SIGTERM, or until --count clients were served.");
  auto* port = cmd->add_option("-p,--port", options->port, "TCP port to listen on; 0 picks a free one (printed)")
                   ->capture_default_str();
  auto* address = cmd->add_option("-a,--address", options->address,
                                  "Address to listen on (0.0.0.0: every IPv4 and IPv6 address)")
                      ->capture_default_str();
  cmd->add_option("--local", options->local,
                  "Serve on this local socket name instead of TCP (Qt's names: a path, or a file in $TMPDIR or /tmp)")
      ->excludes(port)
      ->excludes(address);
  addFramingOption(cmd, options->framingText,
                   "qt4: quint16 size + QString at Qt_4_0 (Qt's examples, seed 002); qt5: a bare QString at Qt_5_10 "
                   "(Qt 5's Fortune Server)");
  cmd->add_option("-n,--count", options->count, "Exit after serving this many clients (0: serve until stopped)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--fortune", options->fortunes, "A fortune to serve instead of Qt's seven (repeat for more)");
  cmd->add_flag("--json", options->json, "Print events as JSON lines on stdout");
  cmd->callback([options] {
    const Reporter out("fortune-server", options->json);
    options->framing = *framingFromName(options->framingText);
    if (options->fortunes.empty()) options->fortunes.assign(std::begin(kQtFortunes), std::end(kQtFortunes));
    for (const std::string& f : options->fortunes) {
      if (options->framing == FortuneFraming::Qt4 && utf16Length(f) > kMaxQt4FortuneUnits)
        out.fail(fmt::format("a qt4 fortune holds at most {} UTF-16 units (its size is a quint16)", kMaxQt4FortuneUnits),
                 kExitUsage);
    }
    EventLoop loop;
    // From before the first line: a script may signal as soon as it read it.
    const StopOnSignals stop([&loop](int) { loop.exit(kExitOk); });
    FortuneServer server(loop, *options, out);
    if (const int status = server.start(); status != kExitOk) exitWith(status);
    const int status = loop.exec();
    out.print({{"event", "stopped"}, {"served", server.served()}}, "");
    if (status != kExitOk) exitWith(status);
  });
}

}  // namespace tether::cli
