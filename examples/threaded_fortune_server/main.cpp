// Threaded Fortune Server: the listening thread only accepts; every accepted
// descriptor is handed to one of the worker threads, which creates the
// socket on its own event loop (incomingConnection + EventLoop::post).
//
//   threaded_fortune_server [PORT] [WORKERS]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "common/fortune_protocol.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

namespace {

class Worker {
 public:
  Worker() : thread_([this] { run(); }) {
    while (!loop_.load()) std::this_thread::yield();
  }
  ~Worker() {
    loop_.load()->quit();
    thread_.join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Any thread: serves one accepted connection on this worker's loop.
  void serve(int descriptor, std::size_t fortuneIndex) {
    loop_.load()->post([descriptor, fortuneIndex] {
      auto* socket = new tether::TcpSocket;  // owned by this thread's loop
      if (!socket->setSocketDescriptor(descriptor)) {
        std::fprintf(stderr, "worker: %s\n", socket->errorString().c_str());
        delete socket;
        return;
      }
      socket->disconnected.connect(socket, [socket] { socket->deleteLater(); });
      socket->write(fortune::encode(fortune::kFortunes[fortuneIndex]));
      socket->disconnectFromHost();
    });
  }

 private:
  void run() {
    tether::EventLoop loop;
    loop_.store(&loop);
    loop.exec();
  }

  std::atomic<tether::EventLoop*> loop_{nullptr};
  std::thread thread_;
};

class ThreadedServer : public tether::TcpServer {
 public:
  explicit ThreadedServer(std::size_t workers) {
    for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  }

 protected:
  void incomingConnection(int descriptor) override {
    workers_[next_ % workers_.size()]->serve(descriptor, next_ % std::size(fortune::kFortunes));
    ++next_;
  }

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
  std::size_t next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  const auto workers = static_cast<std::size_t>(argc > 2 ? std::atoi(argv[2]) : 2);
  tether::EventLoop loop;
  ThreadedServer server(workers == 0 ? 1 : workers);
  if (!server.listen(tether::HostAddress(tether::HostAddress::LocalHost), port)) {
    std::fprintf(stderr, "threaded_fortune_server: %s\n", server.errorString().c_str());
    return 1;
  }
  std::printf("The threaded server is running on port %u with %zu worker threads.\n", server.serverPort(),
              workers);
  std::fflush(stdout);
  return loop.exec();
}
