// The "physical limit" of the file-transfer benchmark (bench/file_transfer.cpp):
// a raw sendfile(2) loop on the sending side and a read(2)/write(2) loop on
// the receiving side, with no protocol, no checks and no event loop.
//
//   file_transfer_raw receive DIR
//       listens on 127.0.0.1, port 0; prints "listening on port N"; takes one
//       connection and writes everything it sends to DIR/raw.bin until the
//       sender closes; exits 0.
//   file_transfer_raw send FILE HOST PORT
//       connects and sends the whole file with sendfile(2), then closes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "file_transfer_raw: %s: %s\n", what, std::strerror(errno));
  return 1;
}

int receive(const std::string& dir, bool useSplice) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return fail("listen");
  std::printf("listening on port %u\n", ntohs(address.sin_port));
  std::fflush(stdout);
  const int connection = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection < 0) return fail("accept");
  const std::string path = dir + "/raw.bin";
  const int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return fail("open");
  if (useSplice) {
    // socket -> pipe -> file: the bytes never enter user space.
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) return fail("pipe");
    ::fcntl(pipeFds[1], F_SETPIPE_SZ, 1 << 20);
    for (;;) {
      const ssize_t n = ::splice(connection, nullptr, pipeFds[1], nullptr, 1 << 20, SPLICE_F_MOVE);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("splice from the socket");
      }
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::splice(pipeFds[0], nullptr, out, nullptr, static_cast<std::size_t>(n - done), SPLICE_F_MOVE);
        if (w <= 0) return fail("splice into the file");
        done += w;
      }
    }
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    ::close(out);
    ::close(connection);
    ::close(listener);
    return 0;
  }
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t n = ::read(connection, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("read");
    }
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out, buffer.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0) return fail("write");
      done += w;
    }
  }
  ::close(out);
  ::close(connection);
  ::close(listener);
  return 0;
}

int send(const std::string& file, const std::string& host, int port) {
  const int in = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (in < 0 || ::fstat(in, &st) != 0) return fail("open");
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return fail("address");
  if (::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return fail("connect");
  off_t offset = 0;
  while (offset < st.st_size) {
    const ssize_t n = ::sendfile(s, in, &offset, static_cast<std::size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("sendfile");
  }
  ::close(s);
  ::close(in);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "receive") == 0) return receive(argv[2], false);
  if (argc == 3 && std::strcmp(argv[1], "receive-splice") == 0) return receive(argv[2], true);
  if (argc == 5 && std::strcmp(argv[1], "send") == 0) return send(argv[2], argv[3], std::atoi(argv[4]));
  std::fprintf(stderr, "usage: file_transfer_raw receive DIR | send FILE HOST PORT\n");
  return 2;
}
