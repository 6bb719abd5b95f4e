#include "support/dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

namespace tether::test {

namespace {

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";
constexpr int kStartAttempts = 5;
constexpr int kReadyTimeoutMs = 5000;
constexpr int kStopTimeoutMs = 5000;

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

bool bindLoopback(int fd, std::uint16_t port) {
  const sockaddr_in sa = loopback(port);
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
}

std::uint16_t boundPort(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
  return ntohs(sa.sin_port);
}

// A port free for both UDP and TCP on 127.0.0.1 at the time of the call.
std::optional<std::uint16_t> pickPort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    detail::UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    detail::UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!udp || !tcp || !bindLoopback(udp.get(), 0)) return std::nullopt;
    const std::uint16_t port = boundPort(udp.get());
    if (port != 0 && bindLoopback(tcp.get(), port)) return port;
  }
  return std::nullopt;
}

std::string exitText(int status) {
  if (WIFEXITED(status)) return "dnsmasq exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "dnsmasq was killed by signal " + std::to_string(WTERMSIG(status));
  return "dnsmasq stopped";
}

// A standard query for "harness-ready.invalid." type A, with the given id.
std::vector<std::uint8_t> readinessQuery(std::uint16_t id) {
  std::vector<std::uint8_t> packet = {
      static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id & 0xff),
      0x01, 0x00,  // recursion desired
      0x00, 0x01,  // one question
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  for (const char* label : {"harness-ready", "invalid"}) {
    packet.push_back(static_cast<std::uint8_t>(std::strlen(label)));
    packet.insert(packet.end(), label, label + std::strlen(label));
  }
  packet.insert(packet.end(), {0x00, 0x00, 0x01, 0x00, 0x01});  // root, A, IN
  return packet;
}

}  // namespace

DnsServer::DnsServer() : DnsServer(Options{}) {}

DnsServer::DnsServer(Options options) {
  if (!options.silentDomains.empty()) {
    blackHole_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!blackHole_ || !bindLoopback(blackHole_.get(), 0)) {
      error_ = std::string("cannot bind the silent server's socket: ") + std::strerror(errno);
      return;
    }
  }
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    if (startOnce(options)) {
      error_.clear();
      return;
    }
  }
}

DnsServer::~DnsServer() { stop(); }

std::string DnsServer::log() const {
  if (!log_) return {};
  struct stat st {};
  if (::fstat(log_.get(), &st) != 0 || st.st_size <= 0) return {};
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  const ssize_t n = ::pread(log_.get(), text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

bool DnsServer::startOnce(const Options& options) {
  const std::optional<std::uint16_t> port = pickPort();
  if (!port) {
    error_ = std::string("no free port on 127.0.0.1: ") + std::strerror(errno);
    return false;
  }

  std::vector<std::string> args = {
      kDnsmasq,
      "--keep-in-foreground",
      "--conf-file=/dev/null",  // not /etc/dnsmasq.conf
      "--pid-file",             // no pid file
      "--no-resolv",            // not the machine's resolv.conf: no upstream at all
      "--no-hosts",             // not /etc/hosts
      "--no-poll",
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--port=" + std::to_string(*port),
      "--cache-size=0",
      "--log-facility=-",
  };
  for (const std::string& domain : options.silentDomains)
    args.push_back("--server=/" + domain + "/127.0.0.1#" + std::to_string(boundPort(blackHole_.get())));
  if (options.unknownNamesAreNxdomain) args.push_back("--address=/#/");
  args.insert(args.end(), options.arguments.begin(), options.arguments.end());

  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  log_.reset(static_cast<int>(::syscall(SYS_memfd_create, "dnsmasq-log", MFD_CLOEXEC)));
  detail::UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!log_ || !devNull) {
    error_ = std::string("cannot set up dnsmasq's output: ") + std::strerror(errno);
    return false;
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(devNull.get(), STDIN_FILENO);
    ::dup2(log_.get(), STDOUT_FILENO);
    ::dup2(log_.get(), STDERR_FILENO);
    ::execv(kDnsmasq, argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  port_ = *port;
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (waitUntilAnswering(kReadyTimeoutMs)) return true;
  stop();
  return false;
}

bool DnsServer::waitUntilAnswering(int timeoutMs) {
  detail::UniqueFd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const sockaddr_in server = loopback(port_);
  if (!probe ||
      ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
    error_ = std::string("cannot create the readiness probe: ") + std::strerror(errno);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  std::uint16_t id = static_cast<std::uint16_t>(::getpid());
  while (std::chrono::steady_clock::now() < deadline) {
    // Until dnsmasq has bound its port a query is lost (or refused), so each
    // round sends a fresh one and waits a little for its answer.
    ++id;
    const std::vector<std::uint8_t> query = readinessQuery(id);
    [[maybe_unused]] ssize_t sent = ::send(probe.get(), query.data(), query.size(), 0);
    std::array<pollfd, 2> fds = {pollfd{probe.get(), POLLIN, 0}, pollfd{pidfd_.get(), POLLIN, 0}};
    const nfds_t count = pidfd_ ? 2 : 1;
    if (::poll(fds.data(), count, 50) < 0 && errno != EINTR) break;
    if (count == 2 && (fds[1].revents & POLLIN)) break;  // dnsmasq exited
    if (!pidfd_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = exitText(status) + ": " + log();
        return false;
      }
    }
    if (fds[0].revents == 0) continue;
    std::array<std::uint8_t, 512> reply{};
    const ssize_t n = ::recv(probe.get(), reply.data(), reply.size(), 0);
    if (n >= 12 && reply[0] == (id >> 8) && reply[1] == (id & 0xff) && (reply[2] & 0x80)) return true;
    if (n < 0 && errno == ECONNREFUSED) {
      // Not listening yet: the refusal comes back at once, so wait a little
      // before asking again (waking early if dnsmasq exits).
      pollfd exited{pidfd_.get(), POLLIN, 0};
      ::poll(&exited, pidfd_ ? 1 : 0, 20);
    }
  }
  error_ = "dnsmasq did not answer on 127.0.0.1 port " + std::to_string(port_);
  if (pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = exitText(status);
    }
  }
  error_ += ": " + log();
  return false;
}

void DnsServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (pidfd_) {
      pollfd pfd{pidfd_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, kStopTimeoutMs) == 0) ::kill(pid_, SIGKILL);
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  pidfd_.reset();
}

}  // namespace tether::test
