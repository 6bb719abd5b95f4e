// tether_server: the suite's protocols written with tether's public API, the
// way an application would write them: TcpServer/TcpSocket, LocalServer/
// LocalSocket and UdpSocket with their signals, one EventLoop.
//
//   tether_server [--mode echo|sink|close|udp] [--unix PATH] [--port P] [--cpu N]
//
// Stream sockets are read with read() into one kReadSize buffer; datagrams
// with readDatagrams(), kUdpBatch buffers of kReadSize at a time, payload
// only (like raw_server and Qt 5 readDatagram without a sender). The stop
// signals arrive on a signalfd watched by a SocketNotifier.

#include "bench_server.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tether/event_loop.h"
#include "tether/local_server.h"
#include "tether/local_socket.h"
#include "tether/socket_notifier.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"
#include "tether/udp_socket.h"

namespace {

constexpr const char* kProg = "tether_server";

// What every stream connection does with its bytes, for TcpSocket and
// LocalSocket alike.
template <typename Socket>
void serve_stream(Socket* socket, bench::ServerMode mode, bench::ServerStats& stats,
                  std::vector<char>& scratch) {
  if (mode == bench::ServerMode::Close) {
    socket->close();
    socket->deleteLater();
    return;
  }
  const bool echo = mode == bench::ServerMode::Echo;
  socket->readyRead.connect([socket, echo, &stats, &scratch] {
    for (;;) {
      const std::int64_t n = socket->read(scratch.data(), static_cast<std::int64_t>(scratch.size()));
      if (n <= 0) break;
      stats.bytes += static_cast<unsigned long long>(n);
      if (echo) socket->write(scratch.data(), n);
    }
  });
  socket->disconnected.connect(socket, [socket] { socket->deleteLater(); });
}

class Server {
 public:
  explicit Server(const bench::ServerOptions& o) : opt_(o) {}

  int run(int stop_fd) {
    tether::SocketNotifier stop(stop_fd, tether::SocketNotifier::Read);
    stop.activated.connect([this](int, tether::SocketNotifier::Type) { loop_.quit(); });
    stop.setEnabled(true);
    unsigned port = 0;
    if (!start(port)) return 1;
    bench::announce(opt_, port);
    loop_.exec();
    if (!opt_.unix_path.empty()) ::unlink(opt_.unix_path.c_str());
    bench::report_and_exit_line(stats_);
    return 0;
  }

 private:
  bool start(unsigned& port) {
    if (opt_.mode == bench::ServerMode::Udp) return start_udp(port);
    if (!opt_.unix_path.empty()) return start_local();
    tcp_.setMaxPendingConnections(1 << 20);
    tcp_.setListenBacklogSize(4096);  // as the raw server: SOMAXCONN
    if (!tcp_.listen(tether::HostAddress(opt_.host), static_cast<std::uint16_t>(opt_.port))) {
      std::fprintf(stderr, "%s: listen: %s\n", kProg, tcp_.errorString().c_str());
      return false;
    }
    tcp_.newConnection.connect([this] {
      while (tether::TcpSocket* socket = tcp_.nextPendingConnection()) {
        ++stats_.accepted;
        // As the other servers: a connection closed at once gets no options.
        if (opt_.mode != bench::ServerMode::Close)
          socket->setSocketOption(tether::SocketOption::LowDelayOption, 1);
        serve_stream(socket, opt_.mode, stats_, scratch_);
      }
    });
    port = tcp_.serverPort();
    return true;
  }

  bool start_local() {
    tether::LocalServer::removeServer(opt_.unix_path);
    local_.setMaxPendingConnections(1 << 20);
    local_.setListenBacklogSize(4096);
    if (!local_.listen(opt_.unix_path)) {
      std::fprintf(stderr, "%s: listen %s: %s\n", kProg, opt_.unix_path.c_str(),
                   local_.errorString().c_str());
      return false;
    }
    local_.newConnection.connect([this] {
      while (tether::LocalSocket* socket = local_.nextPendingConnection()) {
        ++stats_.accepted;
        serve_stream(socket, opt_.mode, stats_, scratch_);
      }
    });
    return true;
  }

  bool start_udp(unsigned& port) {
    if (!udp_.bind(tether::HostAddress(opt_.host), static_cast<std::uint16_t>(opt_.port))) {
      std::fprintf(stderr, "%s: bind: %s\n", kProg, udp_.errorString().c_str());
      return false;
    }
    slots_.resize(bench::kUdpBatch * bench::kReadSize);
    buffers_.resize(bench::kUdpBatch);
    for (std::size_t i = 0; i < buffers_.size(); ++i) {
      buffers_[i].data = slots_.data() + i * bench::kReadSize;
      buffers_[i].capacity = static_cast<std::int64_t>(bench::kReadSize);
    }
    udp_.readyRead.connect([this] {
      for (;;) {
        // The payload is all the server needs: no sender, no control data.
        const std::int64_t n = udp_.readDatagrams(buffers_, tether::DatagramDetails::Payload);
        for (std::int64_t i = 0; i < n; ++i) {
          const auto& b = buffers_[static_cast<std::size_t>(i)];
          stats_.count_datagram(b.data, static_cast<std::size_t>(b.size));
        }
        if (n < static_cast<std::int64_t>(buffers_.size())) break;
      }
    });
    port = udp_.localPort();
    return true;
  }

  bench::ServerOptions opt_;
  bench::ServerStats stats_;
  tether::EventLoop loop_;
  tether::TcpServer tcp_;
  tether::LocalServer local_;
  tether::UdpSocket udp_;
  std::vector<char> scratch_ = std::vector<char>(bench::kReadSize);
  std::vector<char> slots_;
  std::vector<tether::DatagramBuffer> buffers_;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::ServerOptions opt = bench::parse_server_options(argc, argv, kProg);
  bench::prepare_server_process(opt, kProg);
  const int stop_fd = bench::make_stop_signalfd(kProg);
  Server server(opt);
  return server.run(stop_fd);
}
