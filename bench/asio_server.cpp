// asio_server: the suite's protocols written with Boost.Asio the way its
// examples write them: one io_context run by one thread (concurrency hint
// 1), a session object per connection chaining async_read_some and
// async_write, async_accept and async_receive_from loops.
//
//   asio_server [--mode echo|sink|close|udp] [--unix PATH] [--port P] [--cpu N]
//
// Every read takes a kReadSize buffer (each session owns one, as in Asio's
// echo example); a datagram goes into one kReadSize buffer.

#include "bench_server.hpp"

#include <boost/asio.hpp>

#include <unistd.h>

#include <cstdio>
#include <memory>

namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr const char* kProg = "asio_server";

template <typename Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, bool echo, bench::ServerStats& stats)
      : socket_(std::move(socket)), echo_(echo), stats_(stats) {}

  void read() {
    socket_.async_read_some(asio::buffer(buffer_.get(), bench::kReadSize),
                            [self = this->shared_from_this()](error_code ec, std::size_t n) {
                              if (!ec) self->on_read(n);
                            });
  }

 private:
  void on_read(std::size_t n) {
    stats_.bytes += n;
    if (!echo_) {
      read();
      return;
    }
    asio::async_write(socket_, asio::buffer(buffer_.get(), n),
                      [self = this->shared_from_this()](error_code ec, std::size_t) {
                        if (!ec) self->read();
                      });
  }

  Socket socket_;
  bool echo_;
  bench::ServerStats& stats_;
  std::unique_ptr<char[]> buffer_{new char[bench::kReadSize]};
};

template <typename Acceptor>
class StreamServer {
 public:
  StreamServer(Acceptor& acceptor, bench::ServerMode mode, bench::ServerStats& stats)
      : acceptor_(acceptor), mode_(mode), stats_(stats) {}

  void accept() {
    acceptor_.async_accept([this](error_code ec, typename Acceptor::protocol_type::socket socket) {
      if (ec) {
        if (ec != asio::error::operation_aborted) accept();
        return;
      }
      ++stats_.accepted;
      if (mode_ != bench::ServerMode::Close) {
        if constexpr (std::is_same_v<typename Acceptor::protocol_type, asio::ip::tcp>) {
          socket.set_option(asio::ip::tcp::no_delay(true), ec);
        }
        using S = typename Acceptor::protocol_type::socket;
        std::make_shared<Session<S>>(std::move(socket), mode_ == bench::ServerMode::Echo, stats_)
            ->read();
      }  // in close mode the socket closes as it goes out of scope
      accept();
    });
  }

 private:
  Acceptor& acceptor_;
  bench::ServerMode mode_;
  bench::ServerStats& stats_;
};

class DatagramServer {
 public:
  DatagramServer(asio::ip::udp::socket& socket, bench::ServerStats& stats)
      : socket_(socket), stats_(stats) {}

  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_.get(), bench::kReadSize), sender_,
                               [this](error_code ec, std::size_t n) {
                                 if (ec == asio::error::operation_aborted) return;
                                 if (!ec) stats_.count_datagram(buffer_.get(), n);
                                 receive();
                               });
  }

 private:
  asio::ip::udp::socket& socket_;
  bench::ServerStats& stats_;
  asio::ip::udp::endpoint sender_;
  std::unique_ptr<char[]> buffer_{new char[bench::kReadSize]};
};

int serve(const bench::ServerOptions& opt) {
  asio::io_context ctx(1);
  asio::signal_set stop(ctx, SIGTERM, SIGINT);
  stop.async_wait([&](error_code, int) { ctx.stop(); });
  bench::ServerStats stats;
  const auto address = asio::ip::make_address(opt.host);
  const auto port = static_cast<unsigned short>(opt.port);
  if (opt.mode == bench::ServerMode::Udp) {
    asio::ip::udp::socket socket(ctx, asio::ip::udp::endpoint(address, port));
    DatagramServer server(socket, stats);
    server.receive();
    bench::announce(opt, socket.local_endpoint().port());
    ctx.run();
  } else if (!opt.unix_path.empty()) {
    ::unlink(opt.unix_path.c_str());
    using local = asio::local::stream_protocol;
    local::acceptor acceptor(ctx, local::endpoint(opt.unix_path));
    StreamServer<local::acceptor> server(acceptor, opt.mode, stats);
    server.accept();
    bench::announce(opt, 0);
    ctx.run();
    ::unlink(opt.unix_path.c_str());
  } else {
    asio::ip::tcp::acceptor acceptor(ctx);
    const asio::ip::tcp::endpoint endpoint(address, port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    StreamServer<asio::ip::tcp::acceptor> server(acceptor, opt.mode, stats);
    server.accept();
    bench::announce(opt, acceptor.local_endpoint().port());
    ctx.run();
  }
  bench::report_and_exit_line(stats);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::ServerOptions opt = bench::parse_server_options(argc, argv, kProg);
  bench::prepare_server_process(opt, kProg);
  try {
    return serve(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", kProg, e.what());
    return 1;
  }
}
