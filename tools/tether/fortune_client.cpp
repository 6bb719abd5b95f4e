// `tether fortune`: Qt's Blocking Fortune Client over TCP, and the Local
// Fortune Client of seed 002 over local sockets, in either framing
// (fortune_protocol.h): waitFor*() against one deadline, no event loop.
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "command_support.h"
#include "commands.h"
#include "fortune_protocol.h"
#include "tether/local_socket.h"
#include "tether/tcp_socket.h"

namespace tether::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct ClientOptions {
  std::string destination;  // HOST:PORT
  std::string local;
  std::string framingText = "qt4";
  FortuneFraming framing = FortuneFraming::Qt4;
  int timeoutMs = 10000;
  bool json = false;
};

int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Reads one fortune from a connected socket (TcpSocket or LocalSocket)
// before `deadline`. Returns the exit status; prints the fortune or the error.
template <class Socket>
int receiveFortune(Socket& socket, const ClientOptions& options, const std::string& peer, Clock::time_point deadline,
                   const Reporter& out) {
  for (;;) {
    const FortuneRead read = readFortune(socket, options.framing);
    if (read.status == FortuneRead::Complete) {
      out.print({{"event", "fortune"}, {"text", read.text}, {"peer", peer}, {"framing", framingName(options.framing)}},
                printableText(read.text));
      return kExitOk;
    }
    if (read.status == FortuneRead::Malformed) {
      out.error(fmt::format("{} sent no {} fortune: {}", peer, framingName(options.framing), read.error));
      return kExitFailed;
    }
    if (socket.state() != Socket::ConnectedState) {
      out.error(fmt::format("{} closed the connection before a whole {} fortune arrived ({} bytes)", peer,
                            framingName(options.framing), socket.bytesAvailable()));
      return kExitFailed;
    }
    if (remainingMs(deadline) > 0 && socket.waitForReadyRead(remainingMs(deadline))) continue;
    if (socket.state() != Socket::ConnectedState) continue;  // read what came, then report the end
    if (remainingMs(deadline) == 0 || socket.error() == Socket::SocketTimeoutError) {
      out.error(fmt::format("no fortune from {} within {} ms", peer, options.timeoutMs));
      return kExitFailed;
    }
    out.error(fmt::format("cannot read from {}: {}", peer, socket.errorString()));
    return kExitFailed;
  }
}

int fetchFortune(const ClientOptions& options, const Reporter& out) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options.timeoutMs);
  if (!options.local.empty()) {
    LocalSocket socket;
    socket.connectToServer(options.local);
    if (!socket.waitForConnected(remainingMs(deadline))) {
      const bool missing = socket.error() == LocalSocket::ServerNotFoundError;
      out.error(fmt::format("cannot connect to local name {}: {}", options.local,
                            missing ? "no server is listening on it" : socket.errorString()));
      return kExitNetwork;
    }
    return receiveFortune(socket, options, options.local, deadline, out);
  }
  std::string host;
  std::uint16_t port = 0;
  if (!parseHostPort(options.destination, host, port)) {
    out.error(fmt::format("not a destination: {} (expected HOST:PORT)", options.destination));
    return kExitUsage;
  }
  TcpSocket socket;
  socket.connectToHost(host, port);
  if (!socket.waitForConnected(remainingMs(deadline))) {
    out.error(fmt::format("cannot connect to {}: {}", options.destination, socket.errorString()));
    return kExitNetwork;
  }
  return receiveFortune(socket, options, options.destination, deadline, out);
}

}  // namespace

void addFortuneCommand(CLI::App& app) {
  auto options = std::make_shared<ClientOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fortune",
      "Fetch one fortune and print it, as Qt's Fortune Client (HOST:PORT) and Local Fortune Client (--local) do; "
      "works with `tether fortune-server` and with Qt's servers.");
  auto* destination = cmd->add_option("destination", options->destination, "The server, as HOST:PORT");
  cmd->add_option("--local", options->local, "Fetch from this local socket name instead of TCP")
      ->excludes(destination);
  addFramingOption(cmd, options->framingText, "qt4 (Qt's examples, seed 002) or qt5 (Qt 5's Fortune Server)");
  cmd->add_option("-t,--timeout", options->timeoutMs, "Milliseconds to wait for the connection and the fortune")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", options->json, "Print the fortune (or the error) as a JSON line");
  cmd->callback([options] {
    const Reporter out("fortune", options->json);
    options->framing = *framingFromName(options->framingText);
    if (options->destination.empty() && options->local.empty())
      out.fail("give the server as HOST:PORT or --local NAME", kExitUsage);
    if (const int status = fetchFortune(*options, out); status != kExitOk) exitWith(status);
  });
}

}  // namespace tether::cli
