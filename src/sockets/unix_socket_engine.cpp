// The Unix-domain engine: AF_UNIX stream sockets addressed by path or by a
// name in Linux's abstract namespace. Everything after connect/accept (reads,
// gathered writes, readiness, blocking waits) is the native engine's: this
// engine creates the descriptor, hands it to a native engine and forwards.
#include "sockets/unix_socket_engine.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "system/unique_fd.h"

namespace tether::detail {

namespace {

using UnixAddress = SocketEngine::UnixAddress;

constexpr std::size_t kSunPathSize = sizeof(sockaddr_un::sun_path);

// The kernel's form of an address; false when the name does not fit.
bool toSockaddr(const UnixAddress& address, sockaddr_un* out, socklen_t* length) {
  *out = {};
  out->sun_family = AF_UNIX;
  // A path needs its terminator; an abstract name its leading NUL.
  if (address.name.size() + 1 > kSunPathSize) return false;
  if (address.abstractNamespace) {
    std::memcpy(out->sun_path + 1, address.name.data(), address.name.size());
    *length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + address.name.size());
  } else {
    std::memcpy(out->sun_path, address.name.data(), address.name.size());
    *length = static_cast<socklen_t>(sizeof(sockaddr_un));
  }
  return true;
}

UnixAddress fromSockaddr(const sockaddr_un& address, socklen_t length) {
  const std::size_t header = offsetof(sockaddr_un, sun_path);
  if (address.sun_family != AF_UNIX || length <= header) return {};  // unnamed
  const std::size_t size = std::min<std::size_t>(length - header, kSunPathSize);
  if (address.sun_path[0] == '\0') return {std::string(address.sun_path + 1, size - 1), true};
  return {std::string(address.sun_path, ::strnlen(address.sun_path, size)), false};
}

// Qt's QDir::cleanPath: no empty or "." segments, ".." taken back lexically.
std::string cleanPath(std::string_view path) {
  const bool absolute = path.starts_with('/');
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!absolute) parts.push_back(part);
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

class UnixSocketEngine final : public SocketEngine {
 public:
  UnixSocketEngine() : native_(createNativeSocketEngine()) {}
  ~UnixSocketEngine() override { close(); }

  bool create(SocketType, NetworkLayerProtocol) override { return createSocket(); }
  bool adopt(int descriptor) override { return forwarded(native_->adopt(descriptor)); }
  int descriptor() const override { return native_->descriptor(); }
  bool isValid() const override { return native_->isValid(); }
  SocketType socketType() const override { return native_->socketType(); }
  NetworkLayerProtocol protocol() const override { return native_->protocol(); }
  int release() override { return native_->release(); }
  void close() override { native_->close(); }

  bool bind(const HostAddress&, std::uint16_t, BindMode) override { return unsupported(); }
  bool listen(int backlog) override { return forwarded(native_->listen(backlog)); }
  int accept(Endpoint* /*peer*/) override {
    const int fd = native_->accept(nullptr);
    own_ = false;
    return fd;
  }
  ConnectResult connect(const HostAddress&, std::uint16_t) override {
    unsupported();
    return ConnectResult::Failed;
  }
  ConnectResult finishConnect() override {
    own_ = false;
    return native_->finishConnect();
  }
  // Unix-domain sockets have no host addresses.
  Endpoint localEndpoint() const override { return {}; }
  Endpoint peerEndpoint() const override { return {}; }

  ssize_t read(ByteBuffer& into, std::size_t maxBytes) override {
    own_ = false;
    return native_->read(into, maxBytes);
  }
  ssize_t write(const iovec* buffers, int count) override {
    own_ = false;
    return native_->write(buffers, count);
  }
  bool wouldBlock() const override { return native_->wouldBlock(); }
  bool lastReadDrained() const override { return native_->lastReadDrained(); }
  bool canSendFile() const override { return native_->canSendFile(); }
  ssize_t sendFile(int fd, std::int64_t offset, std::int64_t count) override {
    own_ = false;
    return native_->sendFile(fd, offset, count);
  }
  void shutdownWrite() override { native_->shutdownWrite(); }

  bool startWatching(Dispatcher& dispatcher, EngineHandler* handler) override {
    return forwarded(native_->startWatching(dispatcher, handler));
  }
  void stopWatching() override { native_->stopWatching(); }
  // The IP-level options mean nothing here; the buffer sizes do.
  bool setOption(SocketOption option, int value) override { return forwarded(native_->setOption(option, value)); }
  int option(SocketOption option) const override { return native_->option(option); }
  int waitFor(bool forRead, bool forWrite, int msecs, bool* readReady, bool* writeReady) override {
    return native_->waitFor(forRead, forWrite, msecs, readReady, writeReady);
  }

  const SocketFailure& failure() const override { return own_ ? failure_ : native_->failure(); }

  // ------------------------------------------------------------ local

  bool listenLocal(const UnixAddress& address, unsigned fileMode, int backlog) override {
    sockaddr_un sa{};
    socklen_t length = 0;
    if (!toSockaddr(address, &sa, &length)) return failWith(ENAMETOOLONG, SocketCall::Bind);
    if (!createSocket()) return false;
    if (address.abstractNamespace || fileMode == 0) {
      if (::bind(descriptor(), reinterpret_cast<sockaddr*>(&sa), length) != 0) return failAndClose(errno);
      if (::listen(descriptor(), backlog) != 0) {
        const int err = errno;
        if (!address.abstractNamespace) ::unlink(address.name.c_str());  // the file we just made
        return failAndClose(err);
      }
      return true;
    }
    return listenWithFileMode(address.name, fileMode, backlog);
  }

  ConnectResult connectLocal(const UnixAddress& address) override {
    sockaddr_un sa{};
    socklen_t length = 0;
    if (!toSockaddr(address, &sa, &length)) {
      failWith(ENAMETOOLONG, SocketCall::Connect);
      return ConnectResult::Failed;
    }
    if (!isValid() && !createSocket()) return ConnectResult::Failed;
    for (;;) {
      if (::connect(descriptor(), reinterpret_cast<sockaddr*>(&sa), length) == 0) return ConnectResult::Connected;
      if (errno == EINTR) continue;
      // A full backlog: the connection can be tried again.
      if (errno == EAGAIN) return ConnectResult::InProgress;
      failWith(errno, SocketCall::Connect);
      return ConnectResult::Failed;
    }
  }

  UnixAddress localUnixAddress() const override { return unixAddressOf(descriptor(), false); }
  UnixAddress peerUnixAddress() const override { return unixAddressOf(descriptor(), true); }

 private:
  bool createSocket() {
    close();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return failWith(errno, SocketCall::Create);
    if (!native_->adopt(fd)) {
      ::close(fd);
      own_ = false;
      return false;
    }
    return true;
  }

  // Binds under a private temporary name beside the final path, listens,
  // sets the mode, then links the final name: no client can see the socket
  // with other permissions, and an existing file is never replaced.
  bool listenWithFileMode(const std::string& path, unsigned fileMode, int backlog) {
    const std::size_t slash = path.rfind('/');
    std::string directory = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    std::string pattern = directory + (directory.ends_with('/') ? "" : "/") + ".tether-local-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return failAndClose(errno);
    const std::string privateDir = pattern;
    const std::string temporary = privateDir + "/s";
    auto cleanUp = [&] {
      ::unlink(temporary.c_str());
      ::rmdir(privateDir.c_str());
    };
    sockaddr_un sa{};
    socklen_t length = 0;
    if (!toSockaddr({temporary, false}, &sa, &length)) {
      cleanUp();
      return failAndClose(ENAMETOOLONG);
    }
    if (::bind(descriptor(), reinterpret_cast<sockaddr*>(&sa), length) != 0 || ::listen(descriptor(), backlog) != 0 ||
        ::chmod(temporary.c_str(), static_cast<mode_t>(fileMode)) != 0 || ::link(temporary.c_str(), path.c_str()) != 0) {
      // link() refuses an existing name, which is what bind() says too.
      const int err = errno == EEXIST ? EADDRINUSE : errno;
      cleanUp();
      return failAndClose(err);
    }
    cleanUp();
    return true;
  }

  bool failWith(int err, SocketCall call) {
    failure_ = mapSystemError(err, call);
    own_ = true;
    return false;
  }
  bool failAndClose(int err) {
    close();
    return failWith(err, SocketCall::Bind);
  }
  bool unsupported() {
    failure_ = {SocketError::UnsupportedSocketOperationError, 0, text::kOperationNotSupported};
    own_ = true;
    return false;
  }
  // The native engine's outcome; its failure() is the one to report.
  bool forwarded(bool ok) {
    own_ = false;
    return ok;
  }

  std::unique_ptr<SocketEngine> native_;
  SocketFailure failure_;
  bool own_ = false;  // failure() is ours, not the native engine's
};

}  // namespace

std::unique_ptr<SocketEngine> createUnixSocketEngine() { return std::make_unique<UnixSocketEngine>(); }

SocketEngine::UnixAddress unixAddressOf(int descriptor, bool peer) {
  sockaddr_un sa{};
  socklen_t length = sizeof sa;
  auto* address = reinterpret_cast<sockaddr*>(&sa);
  if ((peer ? ::getpeername(descriptor, address, &length) : ::getsockname(descriptor, address, &length)) != 0)
    return {};
  return fromSockaddr(sa, length);
}

std::string localTempPath() {
  const char* env = std::getenv("TMPDIR");
  const std::string cleaned = cleanPath(env != nullptr && *env != '\0' ? env : "/tmp");
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(cleaned.c_str(), nullptr), &std::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

std::string localSocketPath(std::string_view name) {
  if (name.starts_with('/')) return std::string(name);
  std::string path = localTempPath();
  path += '/';
  path += name;
  return path;
}

bool removeLocalSocketFile(const std::string& path) { return ::unlink(path.c_str()) == 0 || errno == ENOENT; }

}  // namespace tether::detail
