// Local Fortune Client (seed 002): connects to a local socket name and reads
// one fortune: a quint16 block size, then a QString, in a QDataStream at
// version Qt_4_0.
//
//   local_fortune_client [NAME]      (default "fortune")
#include <cstdio>
#include <string>

#include "tether/data_stream.h"
#include "tether/event_loop.h"
#include "tether/local_socket.h"
#include "tether/timer.h"

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "fortune";
  tether::EventLoop loop;
  tether::LocalSocket socket;
  tether::DataStream in(&socket);
  in.setVersion(tether::DataStream::Qt_4_0);
  std::uint16_t blockSize = 0;
  int status = 1;

  socket.readyRead.connect([&] {
    if (blockSize == 0) {
      if (socket.bytesAvailable() < static_cast<std::int64_t>(sizeof(std::uint16_t))) return;
      in >> blockSize;
    }
    if (socket.bytesAvailable() < blockSize || in.atEnd()) return;
    std::string text;
    in >> tether::asQString(text);
    std::printf("%s\n", text.c_str());
    status = 0;
    loop.quit();
  });
  socket.errorOccurred.connect([&](tether::LocalSocket::LocalSocketError) {
    if (status == 0) return;
    std::fprintf(stderr, "local_fortune_client: %s\n", socket.errorString().c_str());
    loop.quit();
  });
  tether::Timer::singleShot(10000, &socket, [&] {
    std::fprintf(stderr, "local_fortune_client: no fortune within 10 s\n");
    loop.quit();
  });
  socket.connectToServer(name);
  loop.exec();
  return status;
}
