// libuv_server: the suite's protocols written with libuv the way its
// documentation writes them: the default loop, uv_tcp_t/uv_pipe_t streams
// with uv_read_start, uv_try_write first and uv_write for what is left, and
// a uv_udp_t receiving with recvmmsg (UV_UDP_RECVMMSG).
//
//   libuv_server [--mode echo|sink|close|udp] [--unix PATH] [--port P] [--cpu N]
//
// Stream reads go into one shared kReadSize buffer (the read callback runs
// right after the allocation callback, so one buffer serves every
// connection); datagrams into kUdpBatch slots of kReadSize (libuv cuts the
// buffer into 64 KiB slots and takes at most 20 per recvmmsg).

#include "bench_server.hpp"

#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr const char* kProg = "libuv_server";

struct Context {
  bench::ServerOptions opt;
  bench::ServerStats stats;
  std::vector<char> scratch = std::vector<char>(bench::kReadSize);
  std::vector<char> datagram_slots = std::vector<char>(bench::kUdpBatch * bench::kReadSize);
};

Context* g_context = nullptr;

// What a write that did not complete at once carries: the request and a
// copy of the bytes still to send.
struct PendingWrite {
  uv_write_t request;
  std::vector<char> bytes;
};

// Connection handles are malloc'ed and marked by pointing `data` at
// themselves; the listening and signal handles live on main's stack.
void free_handle(uv_handle_t* handle) { std::free(handle); }

void close_any(uv_handle_t* handle, void*) {
  if (!uv_is_closing(handle)) uv_close(handle, handle->data == handle ? free_handle : nullptr);
}

void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(g_context->scratch.data(), static_cast<unsigned>(g_context->scratch.size()));
}

void on_written(uv_write_t* request, int) {
  delete static_cast<PendingWrite*>(request->data);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream), free_handle);
    return;
  }
  const auto n = static_cast<std::size_t>(nread);
  g_context->stats.bytes += n;
  if (g_context->opt.mode != bench::ServerMode::Echo || n == 0) {
    return;
  }
  uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(n));
  // uv_try_write refuses (UV_EAGAIN) while earlier writes are queued, which
  // keeps the bytes in order.
  const int written = uv_try_write(stream, &out, 1);
  const std::size_t done = written > 0 ? static_cast<std::size_t>(written) : 0;
  if (written < 0 && written != UV_EAGAIN) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream), free_handle);
    return;
  }
  if (done == n) {
    return;
  }
  auto* pending = new PendingWrite{};
  pending->bytes.assign(buf->base + done, buf->base + n);
  pending->request.data = pending;
  uv_buf_t rest = uv_buf_init(pending->bytes.data(), static_cast<unsigned>(pending->bytes.size()));
  if (uv_write(&pending->request, stream, &rest, 1, on_written) != 0) {
    delete pending;
    uv_close(reinterpret_cast<uv_handle_t*>(stream), free_handle);
  }
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) {
    return;
  }
  const bool tcp = g_context->opt.unix_path.empty();
  uv_stream_t* client = nullptr;
  if (tcp) {
    auto* handle = static_cast<uv_tcp_t*>(std::malloc(sizeof(uv_tcp_t)));
    uv_tcp_init(server->loop, handle);
    client = reinterpret_cast<uv_stream_t*>(handle);
  } else {
    auto* handle = static_cast<uv_pipe_t*>(std::malloc(sizeof(uv_pipe_t)));
    uv_pipe_init(server->loop, handle, 0);
    client = reinterpret_cast<uv_stream_t*>(handle);
  }
  client->data = client;
  if (uv_accept(server, client) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(client), free_handle);
    return;
  }
  ++g_context->stats.accepted;
  if (g_context->opt.mode == bench::ServerMode::Close) {
    uv_close(reinterpret_cast<uv_handle_t*>(client), free_handle);
    return;
  }
  if (tcp) {
    uv_tcp_nodelay(reinterpret_cast<uv_tcp_t*>(client), 1);
  }
  uv_read_start(client, on_alloc, on_read);
}

void on_datagram_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
  auto& slots = g_context->datagram_slots;
  *buf = uv_buf_init(slots.data(), static_cast<unsigned>(slots.size()));
}

void on_datagram(uv_udp_t*, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                 unsigned) {
  // nread == 0 with no address: nothing more to read (or the end of a
  // recvmmsg batch, UV_UDP_MMSG_FREE); the buffer is ours, nothing to free.
  if (nread >= 0 && addr != nullptr) {
    g_context->stats.count_datagram(buf->base, static_cast<std::size_t>(nread));
  }
}

void on_stop_signal(uv_signal_t* handle, int) { uv_stop(handle->loop); }

void fail(const char* what, int error) {
  std::fprintf(stderr, "%s: %s: %s\n", kProg, what, uv_strerror(error));
  std::exit(1);
}

// Returns the port bound, 0 for a Unix-domain server.
unsigned start(uv_loop_t* loop, uv_tcp_t& tcp, uv_pipe_t& pipe, uv_udp_t& udp) {
  const bench::ServerOptions& opt = g_context->opt;
  sockaddr_in addr{};
  int r = uv_ip4_addr(opt.host.c_str(), opt.port, &addr);
  if (r != 0) fail("address", r);
  if (opt.mode == bench::ServerMode::Udp) {
    if ((r = uv_udp_init_ex(loop, &udp, AF_INET | UV_UDP_RECVMMSG)) != 0) fail("uv_udp_init_ex", r);
    if ((r = uv_udp_bind(&udp, reinterpret_cast<const sockaddr*>(&addr), 0)) != 0) fail("bind", r);
    if ((r = uv_udp_recv_start(&udp, on_datagram_alloc, on_datagram)) != 0) fail("recv", r);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_udp_getsockname(&udp, reinterpret_cast<sockaddr*>(&bound), &len);
    return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  uv_stream_t* server = nullptr;
  if (!opt.unix_path.empty()) {
    ::unlink(opt.unix_path.c_str());
    uv_pipe_init(loop, &pipe, 0);
    if ((r = uv_pipe_bind(&pipe, opt.unix_path.c_str())) != 0) fail("bind", r);
    server = reinterpret_cast<uv_stream_t*>(&pipe);
  } else {
    uv_tcp_init(loop, &tcp);
    if ((r = uv_tcp_bind(&tcp, reinterpret_cast<const sockaddr*>(&addr), 0)) != 0) fail("bind", r);
    server = reinterpret_cast<uv_stream_t*>(&tcp);
  }
  if ((r = uv_listen(server, SOMAXCONN, on_connection)) != 0) fail("listen", r);
  if (!opt.unix_path.empty()) {
    return 0;
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(&tcp, reinterpret_cast<sockaddr*>(&bound), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  static Context context;
  context.opt = bench::parse_server_options(argc, argv, kProg);
  g_context = &context;
  bench::prepare_server_process(context.opt, kProg);

  uv_loop_t* loop = uv_default_loop();
  uv_signal_t term{};
  uv_signal_t interrupt{};
  uv_signal_init(loop, &term);
  uv_signal_init(loop, &interrupt);
  uv_signal_start(&term, on_stop_signal, SIGTERM);
  uv_signal_start(&interrupt, on_stop_signal, SIGINT);
  uv_tcp_t tcp{};
  uv_pipe_t pipe{};
  uv_udp_t udp{};
  const unsigned port = start(loop, tcp, pipe, udp);
  bench::announce(context.opt, port);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_walk(loop, close_any, nullptr);  // close everything, so that nothing leaks
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  if (!context.opt.unix_path.empty()) {
    ::unlink(context.opt.unix_path.c_str());
  }
  bench::report_and_exit_line(context.stats);
  return 0;
}
