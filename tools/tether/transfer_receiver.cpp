#include "transfer_receiver.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "command_support.h"
#include "commands.h"
#include "tether/tcp_socket.h"
#include "transfer_session.h"

namespace tether::cli {

Receiver::Receiver(EventLoop& loop, ReceiveOptions options) : loop_(loop), options_(std::move(options)) {
  server_.newConnection.connect([this] { acceptConnections(); });
}

// Sessions still open end with the receiver (sessionOwner_ deletes them;
// their partial files stay for a resume).
Receiver::~Receiver() = default;

int Receiver::start() {
  std::string why;
  if (!directory_.open(options_.dir, &why)) {
    report({{"event", "error"}, {"reason", why}}, "tether receive: " + why, true);
    return kExitLocalFile;
  }
  const HostAddress address = parseListenAddress(options_.address);  // "0.0.0.0", "::", "any": everything
  if (address.isNull()) {
    report({{"event", "error"}, {"reason", "not an IP address: " + options_.address}},
           "tether receive: not an IP address: " + options_.address, true);
    return kExitUsage;
  }
  if (!server_.listen(address, options_.port)) {
    const std::string reason = fmt::format("cannot listen on {} port {}: {}", options_.address, options_.port,
                                           server_.errorString());
    report({{"event", "error"}, {"reason", reason}}, "tether receive: " + reason, true);
    return kExitNetwork;
  }
  // Printed even with --quiet: with port 0 it is the only way to learn the port.
  const nlohmann::json listening{
      {"event", "listening"}, {"address", options_.address}, {"port", server_.serverPort()}, {"dir", directory_.path()}};
  const std::string text = fmt::format("tether receive: listening on {} port {}, saving into {}", options_.address,
                                       server_.serverPort(), directory_.path());
  if (options_.json) {
    writeJsonLine(stdout, listening);
  } else {
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }
  return kExitOk;
}

void Receiver::report(const nlohmann::json& event, const std::string& text, bool error) {
  if (options_.json) {
    writeJsonLine(stdout, event);
    return;
  }
  if (error) {
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
  } else if (!options_.quiet) {
    std::fprintf(stdout, "%s\n", text.c_str());
    std::fflush(stdout);
  }
}

Progress::Style Receiver::progressStyle() const {
  const Progress::Style style = Progress::styleFor(options_.json, options_.quiet, STDERR_FILENO);
  // One bar on a terminal: the second transfer at a time reports in lines.
  if (style == Progress::Style::Bar && activeTransfers_ > 1) return Progress::Style::Lines;
  return style;
}

bool Receiver::claim(const std::string& relativePath) { return claimed_.insert(relativePath).second; }

void Receiver::release(const std::string& relativePath) { claimed_.erase(relativePath); }

void Receiver::acceptConnections() {
  while (TcpSocket* socket = server_.nextPendingConnection()) {
    if (static_cast<int>(sessions_.size()) >= options_.maxClients) {
      const std::string peer = socket->peerAddress().toString() + ":" + std::to_string(socket->peerPort());
      report({{"event", "connection-refused"}, {"peer", peer}, {"reason", "too many clients"}},
             fmt::format("refused connection from {}: {} clients already", peer, options_.maxClients), true);
      socket->abort();
      socket->deleteLater();
      continue;
    }
    sessions_.insert(new ReceiveSession(*this, socket, nextId_++, &sessionOwner_));
    if (options_.once) {
      server_.close();  // one connection, then exit
      return;
    }
  }
}

void Receiver::sessionEnded(ReceiveSession* session, bool failed) {
  sessions_.erase(session);
  if (options_.once) loop_.exit(failed ? kExitFailed : kExitOk);
}

// ------------------------------------------------------------ the command

void addReceiveCommand(CLI::App& app) {
  auto options = std::make_shared<ReceiveOptions>();
  CLI::App* cmd = app.add_subcommand(
      "receive",
      "Receive files: from `tether send` (SHA-256 verified, resumable, many files and directories) and from "
      "the Qt file-transfer client of seed 003 (told apart by their first bytes). Serves many senders at once.");
  cmd->add_option("-p,--port", options->port, "TCP port to listen on; 0 picks a free one (printed)")
      ->capture_default_str();
  cmd->add_option("-d,--dir", options->dir, "Directory to save into (created if missing)")->capture_default_str();
  cmd->add_option("-a,--address", options->address, "Address to listen on (0.0.0.0: every IPv4 and IPv6 address)")
      ->capture_default_str();
  cmd->add_flag("--overwrite", options->overwrite, "Replace files that exist (default: refuse them)");
  cmd->add_flag("--once", options->once,
                "Serve one connection, then exit (status 0 when all its files arrived)");
  cmd->add_flag("--json", options->json, "Print events and progress as JSON lines on stdout");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only the listening line and errors");
  cmd->add_flag("--no-fsync", options->noSync,
                "Do not fsync received files before publishing them (faster; a crash may lose them)");
  cmd->add_option("--max-clients", options->maxClients, "Connections served at once; more are refused")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--idle-timeout", options->idleTimeout,
                  "Seconds a connection may stay silent before it is dropped")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-size", options->maxFileSize, "Refuse files larger than this many bytes (0: no limit)")
      ->capture_default_str();
  cmd->callback([options] {
    options->sync = !options->noSync;
    EventLoop loop;
    int status = kExitOk;
    {
      Receiver receiver(loop, *options);
      status = receiver.start();
      if (status == kExitOk) {
        // SIGINT/SIGTERM: stop cleanly (exit 0). Transfers in progress end
        // as interrupted: native partial files stay for a resume.
        const StopOnSignals stop([&loop](int) { loop.exit(kStoppedBySignal); });
        status = loop.exec();
        if (status == kStoppedBySignal) status = kExitOk;
      }
    }
    if (status != kExitOk) exitWith(status);
  });
}

}  // namespace tether::cli
