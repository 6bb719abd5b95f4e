// The seed's file-transfer client (seeds/003), headless: a Qt 5 program that
// sends one file exactly as the seed's Client dialog does, so that the tests
// and the benchmark can show `tether receive` taking it.
//
//   qt_seed_sender HOST PORT FILE
//       connects; on connected writes the header (quint64 total size,
//       quint64 name size, QString name; QDataStream Qt_5_7; the total
//       counts the header too) and then, on every bytesWritten, the next
//       64 KiB of the file; closes when every byte was written, prints
//       "sent NAME SIZE" and exits 0.
//
// The steps are the seed's startTransfer() and updateClientProgress(),
// without the dialog. Exit status 1 on a socket or file error, 2 when
// nothing completes within 120 s.
#include <QCoreApplication>
#include <QDataStream>
#include <QFile>
#include <QTcpSocket>
#include <QTimer>

#include <cstdio>

namespace {

void say(const QByteArray& line) {
  std::fwrite(line.constData(), 1, static_cast<std::size_t>(line.size()), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

class Client {
 public:
  Client(QCoreApplication& app, QString filePath) : app_(app), filePath_(std::move(filePath)) {
    tcpClient_ = new QTcpSocket;
    QObject::connect(tcpClient_, &QTcpSocket::connected, [this] { startTransfer(); });
    QObject::connect(tcpClient_, &QTcpSocket::bytesWritten, [this](qint64 n) { updateClientProgress(n); });
    QObject::connect(tcpClient_, &QAbstractSocket::errorOccurred,
                     [this](QAbstractSocket::SocketError) { displayError(); });
  }
  ~Client() { delete tcpClient_; }

  void send(const QString& host, quint16 port) {
    bytesWritten_ = 0;
    tcpClient_->connectToHost(host, port);
  }

 private:
  void startTransfer() {
    localFile_ = new QFile(filePath_);
    if (!localFile_->open(QFile::ReadOnly)) {
      say("error cannot open " + filePath_.toUtf8());
      app_.exit(1);
      return;
    }
    totalBytes_ = localFile_->size();
    QDataStream sendOut(&outBlock_, QIODevice::WriteOnly);
    sendOut.setVersion(QDataStream::Qt_5_7);
    const QString currentFileName = filePath_.right(filePath_.size() - filePath_.lastIndexOf('/') - 1);
    // Room for the two sizes, then the name; the sizes are filled in after.
    sendOut << quint64(0) << quint64(0) << currentFileName;
    totalBytes_ += outBlock_.size();
    sendOut.device()->seek(0);
    sendOut << quint64(totalBytes_) << quint64(outBlock_.size() - 2 * qint64(sizeof(quint64)));
    bytesToWrite_ = totalBytes_ - tcpClient_->write(outBlock_);
    outBlock_.resize(0);
  }

  void updateClientProgress(qint64 numBytes) {
    bytesWritten_ += numBytes;
    if (bytesToWrite_ > 0) {
      outBlock_ = localFile_->read(qMin(payloadSize_, bytesToWrite_));
      bytesToWrite_ -= tcpClient_->write(outBlock_);
      outBlock_.resize(0);
    } else {
      localFile_->close();
    }
    if (totalBytes_ == bytesWritten_) {
      localFile_->close();
      finished_ = true;
      tcpClient_->close();
      say("sent " + filePath_.toUtf8() + " " + QByteArray::number(totalBytes_));
      app_.exit(0);
    }
  }

  void displayError() {
    if (finished_) return;
    say("error " + tcpClient_->errorString().toUtf8());
    tcpClient_->close();
    app_.exit(1);
  }

  QCoreApplication& app_;
  QTcpSocket* tcpClient_ = nullptr;
  QFile* localFile_ = nullptr;
  qint64 totalBytes_ = 0;
  qint64 bytesWritten_ = 0;
  qint64 bytesToWrite_ = 0;
  qint64 payloadSize_ = 64 * 1024;
  QString filePath_;
  QByteArray outBlock_;
  bool finished_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  const QStringList args = app.arguments();
  if (args.size() != 4) {
    say("usage: qt_seed_sender HOST PORT FILE");
    return 1;
  }
  Client client(app, args[3]);
  client.send(args[1], static_cast<quint16>(args[2].toUInt()));
  QTimer::singleShot(120000, [&app] {
    say("error timed out");
    app.exit(2);
  });
  return app.exec();
}
