// Blocking Fortune Client: the network work runs on a thread with no event
// loop, using the waitFor*() functions, as in the seeds' blocking mode.
//
//   blocking_fortune_client HOST PORT [COUNT]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/fortune_protocol.h"
#include "tether/tcp_socket.h"

namespace {

// Runs on a plain std::thread: no EventLoop anywhere.
bool fetchFortune(const std::string& host, std::uint16_t port, std::string* fortuneText, std::string* error) {
  constexpr int kTimeout = 5000;
  tether::TcpSocket socket;
  socket.connectToHost(host, port);
  if (!socket.waitForConnected(kTimeout)) {
    *error = socket.errorString();
    return false;
  }
  std::string received;
  for (;;) {
    if (auto message = fortune::decode(received)) {
      *fortuneText = message->text;
      return true;
    }
    if (!socket.waitForReadyRead(kTimeout)) {
      *error = socket.errorString();
      return false;
    }
    received += socket.readAll();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: blocking_fortune_client HOST PORT [COUNT]\n");
    return 2;
  }
  const std::string host = argv[1];
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  const int count = argc > 3 ? std::atoi(argv[3]) : 1;
  int status = 0;
  std::thread worker([&] {
    for (int i = 0; i < count; ++i) {
      std::string text;
      std::string error;
      if (!fetchFortune(host, port, &text, &error)) {
        std::fprintf(stderr, "blocking_fortune_client: %s\n", error.c_str());
        status = 1;
        return;
      }
      std::printf("%s\n", text.c_str());
    }
  });
  worker.join();
  return status;
}
