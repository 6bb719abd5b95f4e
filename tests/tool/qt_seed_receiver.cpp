// The seed's file-transfer server (seeds/003), headless: a Qt 5 program that
// receives one file exactly as the seed's Server dialog does, so that the
// tests and the benchmark can show `tether send --qt` talking to it.
//
//   qt_seed_receiver [DIR]
//       listens on 127.0.0.1, port 0; prints "listening on port N"; takes
//       one connection (then stops listening, as the seed does); writes the
//       file under the name the client sent, relative to DIR (default: the
//       current directory); prints "received NAME SIZE" and exits 0.
//
// The reading logic is the seed's updateServerProgress() step for step (a
// 16-byte header of two 64-bit sizes once 16 bytes are there, the QString
// name once its size is there, then readAll() into the file until the total
// is reached), without the dialog. Exit status 1 on a socket or file error,
// 2 when nothing completes within 120 s.
#include <QCoreApplication>
#include <QDataStream>
#include <QDir>
#include <QFile>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <cstdio>

namespace {

void say(const QByteArray& line) {
  std::fwrite(line.constData(), 1, static_cast<std::size_t>(line.size()), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

class Server {
 public:
  explicit Server(QCoreApplication& app) : app_(app) {
    QObject::connect(&server_, &QTcpServer::newConnection, [this] { acceptConnection(); });
  }

  bool start() {
    if (!server_.listen(QHostAddress::LocalHost, 0)) {
      say("error " + server_.errorString().toUtf8());
      return false;
    }
    totalBytes_ = 0;
    bytesReceived_ = 0;
    fileNameSize_ = 0;
    say("listening on port " + QByteArray::number(server_.serverPort()));
    return true;
  }

 private:
  void acceptConnection() {
    connection_ = server_.nextPendingConnection();
    QObject::connect(connection_, &QTcpSocket::readyRead, [this] { updateServerProgress(); });
    QObject::connect(connection_, &QAbstractSocket::errorOccurred,
                     [this](QAbstractSocket::SocketError) { displayError(); });
    // One-to-one, as in the seed: no more connections after the first.
    server_.close();
  }

  void updateServerProgress() {
    QDataStream in(connection_);
    in.setVersion(QDataStream::Qt_5_7);
    if (bytesReceived_ <= qint64(sizeof(qint64) * 2)) {
      if (connection_->bytesAvailable() >= qint64(sizeof(qint64) * 2) && fileNameSize_ == 0) {
        in >> totalBytes_ >> fileNameSize_;
        bytesReceived_ += sizeof(qint64) * 2;
      }
      if (connection_->bytesAvailable() >= fileNameSize_ && fileNameSize_ != 0) {
        in >> filePath_;
        bytesReceived_ += fileNameSize_;
        file_ = new QFile(filePath_);
        if (!file_->open(QFile::WriteOnly)) {
          say("error cannot open " + filePath_.toUtf8());
          app_.exit(1);
          return;
        }
      } else {
        return;
      }
    }
    if (bytesReceived_ < totalBytes_) {
      bytesReceived_ += connection_->bytesAvailable();
      inBlock_ = connection_->readAll();
      file_->write(inBlock_);
      inBlock_.resize(0);
    }
    if (bytesReceived_ == totalBytes_) {
      connection_->close();
      const qint64 size = file_->size();
      file_->close();
      finished_ = true;
      say("received " + filePath_.toUtf8() + " " + QByteArray::number(size));
      app_.exit(0);
    }
  }

  void displayError() {
    if (finished_) return;
    say("error " + connection_->errorString().toUtf8());
    connection_->close();
    app_.exit(1);
  }

  QCoreApplication& app_;
  QTcpServer server_;
  QTcpSocket* connection_ = nullptr;
  qint64 totalBytes_ = 0;
  qint64 bytesReceived_ = 0;
  qint64 fileNameSize_ = 0;
  QString filePath_;
  QFile* file_ = nullptr;
  QByteArray inBlock_;
  bool finished_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  const QStringList args = app.arguments();
  if (args.size() > 2) {
    say("usage: qt_seed_receiver [DIR]");
    return 1;
  }
  if (args.size() == 2 && !QDir::setCurrent(args[1])) {
    say("error cannot enter " + args[1].toUtf8());
    return 1;
  }
  Server server(app);
  if (!server.start()) return 1;
  QTimer::singleShot(120000, [&app] {
    say("error timed out");
    app.exit(2);
  });
  return app.exec();
}
