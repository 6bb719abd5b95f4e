// qt5_server: the suite's protocols written with Qt 5's network module, the
// way a Qt application writes them: QTcpServer/QTcpSocket, QLocalServer/
// QLocalSocket and QUdpSocket with signals and slots, QCoreApplication's loop.
//
//   qt5_server [--mode echo|sink|close|udp] [--unix PATH] [--port P] [--cpu N]
//
// The same binary is measured twice: with Qt's default event dispatcher
// (GLib's) and with QT_NO_GLIB=1 in the environment (Qt's own UNIX
// dispatcher). Stream sockets are read with read() into one kReadSize
// buffer; datagrams with readDatagram() into a kReadSize buffer while
// hasPendingDatagrams().

#include "bench_server.hpp"

#include <QCoreApplication>
#include <QHostAddress>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUdpSocket>

#include <unistd.h>

#include <cstdio>
#include <vector>

namespace {

constexpr const char* kProg = "qt5_server";

template <typename Socket>
void serve_stream(Socket* socket, bench::ServerMode mode, bench::ServerStats& stats,
                  std::vector<char>& scratch) {
  if (mode == bench::ServerMode::Close) {
    socket->close();
    socket->deleteLater();
    return;
  }
  const bool echo = mode == bench::ServerMode::Echo;
  QObject::connect(socket, &Socket::readyRead, socket, [socket, echo, &stats, &scratch] {
    for (;;) {
      const qint64 n = socket->read(scratch.data(), static_cast<qint64>(scratch.size()));
      if (n <= 0) break;
      stats.bytes += static_cast<unsigned long long>(n);
      if (echo) socket->write(scratch.data(), n);
    }
  });
  QObject::connect(socket, &Socket::disconnected, socket, &QObject::deleteLater);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::ServerOptions opt = bench::parse_server_options(argc, argv, kProg);
  bench::prepare_server_process(opt, kProg);
  const int stop_fd = bench::make_stop_signalfd(kProg);
  int qt_argc = 1;
  QCoreApplication app(qt_argc, argv);
  QSocketNotifier stop(stop_fd, QSocketNotifier::Read);
  QObject::connect(&stop, &QSocketNotifier::activated, &app, &QCoreApplication::quit);

  bench::ServerStats stats;
  std::vector<char> scratch(bench::kReadSize);
  QTcpServer tcp;
  QLocalServer local;
  QUdpSocket udp;
  unsigned port = 0;
  if (opt.mode == bench::ServerMode::Udp) {
    if (!udp.bind(QHostAddress(QString::fromStdString(opt.host)), static_cast<quint16>(opt.port))) {
      std::fprintf(stderr, "%s: bind: %s\n", kProg, qPrintable(udp.errorString()));
      return 1;
    }
    QObject::connect(&udp, &QUdpSocket::readyRead, &udp, [&] {
      while (udp.hasPendingDatagrams()) {
        const qint64 n = udp.readDatagram(scratch.data(), static_cast<qint64>(scratch.size()));
        if (n < 0) break;
        stats.count_datagram(scratch.data(), static_cast<std::size_t>(n));
      }
    });
    port = udp.localPort();
  } else if (!opt.unix_path.empty()) {
    QLocalServer::removeServer(QString::fromStdString(opt.unix_path));
    local.setMaxPendingConnections(1 << 20);
    if (!local.listen(QString::fromStdString(opt.unix_path))) {
      std::fprintf(stderr, "%s: listen: %s\n", kProg, qPrintable(local.errorString()));
      return 1;
    }
    QObject::connect(&local, &QLocalServer::newConnection, &local, [&] {
      while (QLocalSocket* socket = local.nextPendingConnection()) {
        ++stats.accepted;
        serve_stream(socket, opt.mode, stats, scratch);
      }
    });
  } else {
    tcp.setMaxPendingConnections(1 << 20);
    if (!tcp.listen(QHostAddress(QString::fromStdString(opt.host)), static_cast<quint16>(opt.port))) {
      std::fprintf(stderr, "%s: listen: %s\n", kProg, qPrintable(tcp.errorString()));
      return 1;
    }
    QObject::connect(&tcp, &QTcpServer::newConnection, &tcp, [&] {
      while (QTcpSocket* socket = tcp.nextPendingConnection()) {
        ++stats.accepted;
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        serve_stream(socket, opt.mode, stats, scratch);
      }
    });
    port = tcp.serverPort();
  }
  bench::announce(opt, port);
  QCoreApplication::exec();
  tcp.close();
  local.close();
  bench::report_and_exit_line(stats);
  return 0;
}
