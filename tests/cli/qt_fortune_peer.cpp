// A headless Qt 5 fortune server and client, the other end of the
// `tether fortune-server` / `tether fortune` interop tests. It follows Qt's
// Fortune Server and Fortune Client examples (TCP) and the Local Fortune
// Server and Client of seed 002 (QLocalServer/QLocalSocket):
//
//   qt4  quint16 block size + QString, QDataStream::Qt_4_0; the client reads
//        the size, waits for the block, then reads the QString
//   qt5  the QString alone, QDataStream::Qt_5_10; the client reads it in a
//        QDataStream transaction (Qt 5's Fortune Client)
//
// Usage:
//   qt_fortune_peer server tcp|local qt4|qt5 [NAME] FORTUNE
//       serves FORTUNE to one client, then exits 0; prints "port N" (TCP,
//       port picked by the system, listening on 127.0.0.1) or "name NAME"
//   qt_fortune_peer client tcp qt4|qt5 HOST PORT
//   qt_fortune_peer client local qt4|qt5 NAME
//       prints the fortune and exits 0; 1 on an error or after 10 s
#include <QByteArray>
#include <QCoreApplication>
#include <QDataStream>
#include <QHostAddress>
#include <QLocalServer>
#include <QLocalSocket>
#include <QString>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <cstdio>

namespace {

int fail(const QString& why) {
  std::fprintf(stderr, "qt_fortune_peer: %s\n", why.toUtf8().constData());
  return 1;
}

QByteArray fortuneBlock(const QString& fortune, bool qt5) {
  QByteArray block;
  QDataStream out(&block, QIODevice::WriteOnly);
  if (qt5) {
    // Qt 5's Fortune Server.
    out.setVersion(QDataStream::Qt_5_10);
    out << fortune;
    return block;
  }
  // Qt's Fortune Server and Local Fortune Server (seed 002).
  out.setVersion(QDataStream::Qt_4_0);
  out << quint16(0);
  out << fortune;
  out.device()->seek(0);
  out << quint16(block.size() - sizeof(quint16));
  return block;
}

// Reads one fortune from `device` as the examples' clients do; true once it
// is there.
class FortuneReader {
 public:
  FortuneReader(QIODevice* device, bool qt5) : qt5_(qt5) {
    in_.setDevice(device);
    in_.setVersion(qt5 ? QDataStream::Qt_5_10 : QDataStream::Qt_4_0);
  }

  bool read(QString* fortune) {
    if (qt5_) {
      in_.startTransaction();
      in_ >> *fortune;
      return in_.commitTransaction();
    }
    if (blockSize_ == 0) {
      if (in_.device()->bytesAvailable() < static_cast<qint64>(sizeof(quint16))) return false;
      in_ >> blockSize_;
    }
    if (in_.device()->bytesAvailable() < blockSize_ || in_.atEnd()) return false;
    in_ >> *fortune;
    return true;
  }

 private:
  QDataStream in_;
  bool qt5_;
  quint16 blockSize_ = 0;
};

void printLine(const QString& text) {
  std::printf("%s\n", text.toUtf8().constData());
  std::fflush(stdout);
}

int serve(QCoreApplication& app, bool local, bool qt5, const QString& name, const QString& fortune) {
  const QByteArray block = fortuneBlock(fortune, qt5);
  if (local) {
    QLocalServer server;
    QLocalServer::removeServer(name);
    if (!server.listen(name)) return fail("unable to start the server: " + server.errorString());
    QObject::connect(&server, &QLocalServer::newConnection, [&] {
      QLocalSocket* client = server.nextPendingConnection();
      QObject::connect(client, &QLocalSocket::disconnected, client, &QObject::deleteLater);
      QObject::connect(client, &QLocalSocket::disconnected, &app, &QCoreApplication::quit);
      client->write(block);
      client->flush();
      client->disconnectFromServer();
    });
    printLine("name " + name);
    return app.exec();
  }
  QTcpServer server;
  if (!server.listen(QHostAddress::LocalHost)) return fail("unable to start the server: " + server.errorString());
  QObject::connect(&server, &QTcpServer::newConnection, [&] {
    QTcpSocket* client = server.nextPendingConnection();
    QObject::connect(client, &QAbstractSocket::disconnected, client, &QObject::deleteLater);
    QObject::connect(client, &QAbstractSocket::disconnected, &app, &QCoreApplication::quit);
    client->write(block);
    client->disconnectFromHost();
  });
  printLine(QString("port %1").arg(server.serverPort()));
  return app.exec();
}

template <class Socket>
int fetch(QCoreApplication& app, Socket& socket, bool qt5) {
  FortuneReader reader(&socket, qt5);
  int status = 1;
  QObject::connect(&socket, &QIODevice::readyRead, [&] {
    QString fortune;
    if (!reader.read(&fortune)) return;
    printLine(fortune);
    status = 0;
    app.quit();
  });
  QObject::connect(&socket, &Socket::errorOccurred, [&] {
    if (status == 0) return;
    fail("socket error: " + socket.errorString());
    app.quit();
  });
  QTimer::singleShot(10000, &app, [&] {
    fail("no fortune within 10 s");
    app.quit();
  });
  app.exec();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  const QStringList args = app.arguments();
  if (args.size() < 5) return fail("usage: see qt_fortune_peer.cpp");
  const bool server = args[1] == "server";
  const bool local = args[2] == "local";
  const bool qt5 = args[3] == "qt5";
  if (server) {
    if (local && args.size() >= 6) return serve(app, true, qt5, args[4], args[5]);
    if (!local) return serve(app, false, qt5, QString(), args[4]);
    return fail("usage: server local qt4|qt5 NAME FORTUNE");
  }
  if (local) {
    QLocalSocket socket;
    socket.connectToServer(args[4]);
    return fetch(app, socket, qt5);
  }
  if (args.size() < 6) return fail("usage: client tcp qt4|qt5 HOST PORT");
  QTcpSocket socket;
  socket.connectToHost(args[4], static_cast<quint16>(args[5].toUInt()));
  return fetch(app, socket, qt5);
}
