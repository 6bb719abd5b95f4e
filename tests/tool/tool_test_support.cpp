#include "tool_test_support.h"

#include "support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hashing.h"

extern char** environ;

namespace tether::tooltest {

namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

std::string tetherBinary() { return TETHER_CLI_BINARY; }
std::string qtSeedSender() { return TETHER_QT_SEED_SENDER; }
std::string qtSeedReceiver() { return TETHER_QT_SEED_RECEIVER; }

// ------------------------------------------------------------ Process

Process::Process(const std::vector<std::string>& argv) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  outFd_ = out[0];
  errFd_ = err[0];
  // Readable when the child exits: waiting needs no polling loop.
  if (pid_ > 0) pidFd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    wait(10000);
  }
  if (outFd_ >= 0) ::close(outFd_);
  if (errFd_ >= 0) ::close(errFd_);
  if (pidFd_ >= 0) ::close(pidFd_);
}

bool Process::pump(int timeoutMs, bool* exited) {
  pollfd fds[3] = {{outFd_, POLLIN, 0}, {errFd_, POLLIN, 0}, {exited ? pidFd_ : -1, POLLIN, 0}};
  const int n = ::poll(fds, 3, timeoutMs);
  if (n <= 0) return false;
  if (exited && (fds[2].revents & POLLIN)) *exited = true;
  bool got = false;
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char buffer[65536];
    const ssize_t r = ::read(fds[i].fd, buffer, sizeof buffer);
    if (r > 0) {
      got = true;
      if (i == 0) {
        out_.append(buffer, static_cast<std::size_t>(r));
        pending_.append(buffer, static_cast<std::size_t>(r));
      } else {
        err_.append(buffer, static_cast<std::size_t>(r));
      }
    } else {
      // End of that stream.
      ::close(fds[i].fd);
      (i == 0 ? outFd_ : errFd_) = -1;
      got = true;
    }
  }
  return got;
}

std::optional<std::string> Process::readLine(int timeoutMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    const auto newline = pending_.find('\n');
    if (newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }
    if (outFd_ < 0) return std::nullopt;
    const int left = remainingMs(deadline);
    if (left == 0) return std::nullopt;
    pump(left);
  }
}

std::optional<int> Process::wait(int timeoutMs) {
  if (status_) return status_;
  if (pid_ <= 0) return -1;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  bool exited = false;
  // Keep the pipes drained meanwhile, so the child never blocks on a full one.
  while (!exited) {
    const int left = remainingMs(deadline);
    if (left == 0) return std::nullopt;
    pump(left, &exited);
  }
  int raw = 0;
  ::waitpid(pid_, &raw, 0);
  // The rest of the output: the pipes end now that the writer is gone.
  while ((outFd_ >= 0 || errFd_ >= 0) && pump(1000)) {
  }
  status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return status_;
}

void Process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

// ------------------------------------------------------------ running

std::vector<nlohmann::json> RunResult::events() const {
  std::vector<nlohmann::json> list;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) list.push_back(std::move(j));
  }
  return list;
}

nlohmann::json RunResult::event(const std::string& name) const {
  for (auto& e : events())
    if (e.value("event", "") == name) return e;
  return nlohmann::json::object();
}

RunResult run(const std::vector<std::string>& argv, int timeoutMs) {
  Process p(argv);
  RunResult r;
  const auto status = p.wait(timeoutMs);
  r.status = status ? *status : -1;
  r.out = p.out();
  r.err = p.err();
  return r;
}

RunResult runTether(const std::vector<std::string>& args, int timeoutMs) {
  std::vector<std::string> argv{tetherBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeoutMs);
}

Receiver::Receiver(const std::string& dir, const std::vector<std::string>& extra)
    : process_([&] {
        std::vector<std::string> argv{tetherBinary(), "receive", "--json", "--address", "127.0.0.1",
                                      "--port", "0", "--dir", dir};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
      }()) {
  const nlohmann::json listening = waitFor("listening");
  port_ = listening.value("port", std::uint16_t{0});
}

nlohmann::json Receiver::waitFor(const std::string& name, int timeoutMs, int id) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    for (; next_ < seen_.size(); ++next_) {
      const nlohmann::json& e = seen_[next_];
      if (e.value("event", "") == name && (id == 0 || e.value("id", 0) == id)) {
        ++next_;
        return e;
      }
    }
    const auto line = process_.readLine(remainingMs(deadline));
    if (!line) return nlohmann::json::object();
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) seen_.push_back(std::move(j));
  }
}

// ------------------------------------------------------------ files

TempDir::TempDir() {
  char name[] = "/tmp/tether-tool-test-XXXXXX";
  path_ = ::mkdtemp(name) ? name : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string patternBytes(std::size_t size, std::uint64_t seed) {
  return tether::test::randomBytes(size, seed * 0x9E3779B97F4A7C15ULL + 1);
}

void writeFile(const std::string& path, const std::string& content, unsigned mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(content.data(), static_cast<std::streamsize>(content.size()));
  ::chmod(path.c_str(), mode);
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> listDir(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string sha256Hex(const std::string& bytes) {
  cli::Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return proto::hex(hash.finish());
}

// ------------------------------------------------------------ RawClient

RawClient::RawClient(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) close();
}

RawClient::~RawClient() { close(); }

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::send(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> RawClient::receive(std::size_t n, int timeoutMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  while (buffered_.size() < n) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) return std::nullopt;
    char buffer[65536];
    const ssize_t r = ::recv(fd_, buffer, sizeof buffer, 0);
    if (r <= 0) return std::nullopt;
    buffered_.append(buffer, static_cast<std::size_t>(r));
  }
  std::string out = buffered_.substr(0, n);
  buffered_.erase(0, n);
  return out;
}

bool RawClient::waitClosed(int timeoutMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) return false;
    char buffer[65536];
    const ssize_t r = ::recv(fd_, buffer, sizeof buffer, 0);
    if (r <= 0) return true;
  }
}

std::optional<proto::Frame> RawClient::receiveFrame(int timeoutMs) {
  const auto head = receive(proto::kFrameHeaderSize, timeoutMs);
  if (!head) return std::nullopt;
  const std::uint32_t length = (static_cast<std::uint32_t>(static_cast<std::uint8_t>((*head)[1])) << 24) |
                               (static_cast<std::uint32_t>(static_cast<std::uint8_t>((*head)[2])) << 16) |
                               (static_cast<std::uint32_t>(static_cast<std::uint8_t>((*head)[3])) << 8) |
                               static_cast<std::uint32_t>(static_cast<std::uint8_t>((*head)[4]));
  const auto body = receive(length, timeoutMs);
  if (!body) return std::nullopt;
  proto::Frame frame;
  std::size_t used = 0;
  if (proto::takeFrame(*head + *body, frame, used) != proto::Parse::Complete) return std::nullopt;
  return frame;
}

bool RawClient::hello(std::uint32_t files, std::uint64_t total) {
  std::string out = proto::magic();
  proto::encode(out, proto::Hello{proto::kVersion, files, total});
  if (!send(out)) return false;
  const auto frame = receiveFrame();
  proto::Welcome welcome;
  return frame && frame->type == proto::FrameType::Welcome && proto::decode(frame->body, welcome) &&
         welcome.status == proto::Status::Ok;
}

std::optional<proto::Offer> RawClient::offerFor(const std::string& path, std::uint64_t size, std::uint32_t mode) {
  std::string out;
  proto::encode(out, proto::FileHeader{path, size, mode});
  if (!send(out)) return std::nullopt;
  const auto frame = receiveFrame();
  proto::Offer offer;
  if (!frame || frame->type != proto::FrameType::Offer || !proto::decode(frame->body, offer)) return std::nullopt;
  return offer;
}

std::optional<proto::Result> RawClient::result(int timeoutMs) {
  const auto frame = receiveFrame(timeoutMs);
  proto::Result r;
  if (!frame || frame->type != proto::FrameType::Result || !proto::decode(frame->body, r)) return std::nullopt;
  return r;
}

// ------------------------------------------------------------ RawServer

RawServer::RawServer() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd_, 4) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return;
  port_ = ntohs(address.sin_port);
}

RawServer::~RawServer() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> RawServer::acceptAndReadAll(int timeoutMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, remainingMs(deadline)) <= 0) return std::nullopt;
  const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection < 0) return std::nullopt;
  std::string data;
  for (;;) {
    pollfd c{connection, POLLIN, 0};
    if (::poll(&c, 1, remainingMs(deadline)) <= 0) {
      ::close(connection);
      return std::nullopt;
    }
    char buffer[65536];
    const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(connection);
  return data;
}

}  // namespace tether::tooltest
