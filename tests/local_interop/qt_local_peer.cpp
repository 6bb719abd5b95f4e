// The Qt peer of the local-socket interop test (built against Qt 5 and Qt
// 6): a QLocalServer or a QLocalSocket on a name given on the command line,
// so that the test can show that tether and Qt find each other by name.
//
//   qt_local_peer server <name> [abstract]
//       listens; prints "listening <fullServerName>"; answers one line with
//       "qt heard: <line>", hangs up, prints "served" and exits.
//   qt_local_peer client <name> [abstract]
//       connects; prints "connected <fullServerName>"; sends "hello from
//       qt\n"; prints "received <all it got until the server hung up>".
//
// "abstract": Linux's abstract namespace (Qt 6.2 and later only).
// Exit status 0 on success; 1 with "error <text>" on a failure; 2 on timeout.
#include <QCoreApplication>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTimer>

#include <cstdio>
#include <cstdlib>

namespace {

void say(const QByteArray& line) {
  std::fwrite(line.constData(), 1, static_cast<std::size_t>(line.size()), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int runServer(QCoreApplication& app, const QString& name, bool abstract) {
  QLocalServer server;
#if QT_VERSION >= QT_VERSION_CHECK(6, 2, 0)
  if (abstract) server.setSocketOptions(QLocalServer::AbstractNamespaceOption);
#else
  if (abstract) {
    say("error no abstract namespace before Qt 6.2");
    return 1;
  }
#endif
  if (!server.listen(name)) {
    say("error " + server.errorString().toUtf8());
    return 1;
  }
  say("listening " + server.fullServerName().toUtf8());
  QObject::connect(&server, &QLocalServer::newConnection, [&] {
    QLocalSocket* socket = server.nextPendingConnection();
    auto* line = new QByteArray;
    QObject::connect(socket, &QLocalSocket::readyRead, [socket, line] {
      *line += socket->readAll();
      if (!line->endsWith('\n')) return;
      socket->write("qt heard: " + *line);
      socket->disconnectFromServer();
    });
    QObject::connect(socket, &QLocalSocket::disconnected, [&app, line] {
      delete line;
      say("served");
      app.exit(0);
    });
  });
  return app.exec();
}

int runClient(const QString& name, bool abstract) {
  QLocalSocket socket;
#if QT_VERSION >= QT_VERSION_CHECK(6, 2, 0)
  if (abstract) socket.setSocketOptions(QLocalSocket::AbstractNamespaceOption);
#else
  if (abstract) {
    say("error no abstract namespace before Qt 6.2");
    return 1;
  }
#endif
  socket.connectToServer(name);
  if (!socket.waitForConnected(5000)) {
    say("error " + socket.errorString().toUtf8());
    return 1;
  }
  say("connected " + socket.fullServerName().toUtf8());
  socket.write("hello from qt\n");
  if (!socket.waitForBytesWritten(5000)) {
    say("error " + socket.errorString().toUtf8());
    return 1;
  }
  QByteArray received;
  while (socket.state() == QLocalSocket::ConnectedState && socket.waitForReadyRead(5000)) received += socket.readAll();
  received += socket.readAll();
  say("received " + received);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  if (argc < 3 || argc > 4) {
    say("error usage: qt_local_peer server|client <name> [abstract]");
    return 1;
  }
  const bool abstract = argc == 4 && QByteArray(argv[3]) == "abstract";
  QTimer::singleShot(10000, [] {
    say("timeout");
    std::exit(2);
  });
  const QString mode = QString::fromLocal8Bit(argv[1]);
  const QString name = QString::fromLocal8Bit(argv[2]);
  return mode == "server" ? runServer(app, name, abstract) : runClient(name, abstract);
}
