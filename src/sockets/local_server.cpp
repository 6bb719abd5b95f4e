// LocalServer accepts through a private TcpServer: the listening descriptor
// is made by the Unix-domain engine and handed to it, so the accept loop,
// the pause while the queue is full and the shedding of connections when
// descriptors run out are TcpServer's. LocalServer adds the names, the
// socket file and Qt's QLocalServer errors.
#include "tether/local_server.h"

#include <sys/stat.h>

#include <cassert>
#include <cerrno>
#include <deque>
#include <string>

#include "sockets/local_socket_private.h"
#include "sockets/unix_socket_engine.h"
#include "system/unique_fd.h"
#include "tether/local_socket.h"
#include "tether/tcp_server.h"

namespace tether::detail {

namespace {

constexpr const char* kListenFunction = "QLocalServer::listen";

// Hands every accepted descriptor to the LocalServer.
class LocalAcceptor final : public TcpServer {
 public:
  explicit LocalAcceptor(LocalServerPrivate* server) : server_(server) {}

 protected:
  void incomingConnection(int socketDescriptor) override;

 private:
  LocalServerPrivate* server_;
};

}  // namespace

struct LocalServerPrivate {
  explicit LocalServerPrivate(LocalServer* owner) : q(owner), acceptor(this) {
    acceptor.acceptError.connect([this](SocketError e) { acceptFailed(e); });  // dies with q
  }

  // Qt's QLocalServer reading of errno.
  void setSystemError(int err, std::string_view function) {
    std::string text(function);
    switch (err) {
      case EACCES:
        error = SocketError::SocketAccessError;
        text += ": Permission denied";
        break;
      case ELOOP:
      case ENOENT:
      case ENAMETOOLONG:
      case EROFS:
      case ENOTDIR:
        error = SocketError::HostNotFoundError;
        text += ": Name error";
        break;
      case EADDRINUSE:
        error = SocketError::AddressInUseError;
        text += ": Address in use";
        break;
      default:
        error = SocketError::UnknownSocketError;
        text += ": Unknown error " + std::to_string(err);
    }
    errorString = std::move(text);
  }

  void acceptFailed(SocketError e) {
    // The acceptor sheds the connection, or pauses until a connection is
    // taken: either way the server keeps listening.
    error = e;
    errorString = "QLocalSocket::activated: " + acceptor.errorString();
    acceptorPaused = true;
  }

  // Stops accepting while the queue is full, resumes when there is room.
  void updateAccepting() {
    if (!acceptor.isListening()) return;
    const bool full = static_cast<int>(pending.size()) >= maxPending;
    if (full && !acceptorPaused) {
      acceptor.pauseAccepting();
      acceptorPaused = true;
    } else if (!full && acceptorPaused) {
      acceptor.resumeAccepting();
      acceptorPaused = false;
    }
  }

  // Takes over a listening descriptor (closed on failure).
  bool startAccepting(int fd) {
    UniqueFd owned(fd);
    if (!acceptor.setSocketDescriptor(fd)) {
      error = acceptor.serverError();
      errorString = std::string(kListenFunction) + ": " + acceptor.errorString();
      return false;
    }
    owned.release();
    acceptorPaused = false;
    updateAccepting();
    return true;
  }

  void incoming(int fd) { q->incomingConnection(fd); }

  LocalServer* q;
  LocalAcceptor acceptor;
  std::deque<LocalSocket*> pending;
  std::string serverName;
  std::string fullServerName;
  bool abstractName = false;
  LocalServer::SocketOptions options = LocalServer::NoOptions;
  SocketError error = SocketError::UnknownSocketError;
  std::string errorString;
  int maxPending = 30;
  int backlog = 50;
  bool acceptorPaused = false;
};

void LocalAcceptor::incomingConnection(int socketDescriptor) { server_->incoming(socketDescriptor); }

}  // namespace tether::detail

namespace tether {

using detail::LocalServerPrivate;

LocalServer::LocalServer(Object* parent) : Object(parent), d_(std::make_unique<LocalServerPrivate>(this)) {}

LocalServer::~LocalServer() { close(); }

bool LocalServer::listen(std::string_view name) {
  assert(isOwnerThread());
  auto& d = *d_;
  if (isListening()) return false;  // Qt only warns
  if (name.empty()) {
    d.error = SocketError::HostNotFoundError;
    d.errorString = std::string(detail::kListenFunction) + ": Name error";
    return false;
  }
  const bool abstract = (d.options & AbstractNamespaceOption) != 0;
  const std::string full = abstract ? std::string(name) : detail::localSocketPath(name);
  unsigned fileMode = 0;
  if (!abstract) {
    if (d.options & UserAccessOption) fileMode |= S_IRWXU;
    if (d.options & GroupAccessOption) fileMode |= S_IRWXG;
    if (d.options & OtherAccessOption) fileMode |= S_IRWXO;
  }
  auto engine = detail::createUnixSocketEngine();
  if (!engine->listenLocal({full, abstract}, fileMode, d.backlog)) {
    d.setSystemError(engine->failure().code, detail::kListenFunction);
    return false;
  }
  if (!d.startAccepting(engine->release())) {
    if (!abstract) detail::removeLocalSocketFile(full);
    return false;
  }
  d.serverName = std::string(name);
  d.fullServerName = full;
  d.abstractName = abstract;
  return true;
}

bool LocalServer::listen(int socketDescriptor) {
  auto& d = *d_;
  if (isListening()) return false;
  auto engine = detail::createUnixSocketEngine();
  if (!engine->adopt(socketDescriptor)) {  // not a socket: it stays the caller's
    d.error = engine->failure().error;
    d.errorString = std::string(detail::kListenFunction) + ": " + engine->failure().text;
    return false;
  }
  const auto address = engine->localUnixAddress();
  if (!d.startAccepting(engine->release())) return false;
  d.abstractName = address.abstractNamespace;
  d.fullServerName = address.name;
  d.serverName = address.abstractNamespace ? address.name : detail::serverNameOfPath(address.name);
  if (address.abstractNamespace) d.options |= AbstractNamespaceOption;
  return true;
}

bool LocalServer::isListening() const { return d_->acceptor.isListening(); }

void LocalServer::close() {
  auto& d = *d_;
  if (!isListening()) return;
  while (!d.pending.empty()) {
    LocalSocket* s = d.pending.front();
    d.pending.pop_front();
    delete s;
  }
  d.acceptor.close();
  if (!d.fullServerName.empty() && !d.abstractName) detail::removeLocalSocketFile(d.fullServerName);
  d.serverName.clear();
  d.fullServerName.clear();
  d.abstractName = false;
  d.acceptorPaused = false;
  d.error = SocketError::UnknownSocketError;
  d.errorString.clear();
}

std::string LocalServer::serverName() const { return d_->serverName; }
std::string LocalServer::fullServerName() const { return d_->fullServerName; }

bool LocalServer::removeServer(std::string_view name) {
  return detail::removeLocalSocketFile(detail::localSocketPath(name));
}

void LocalServer::setSocketOptions(SocketOptions options) { d_->options = options; }
LocalServer::SocketOptions LocalServer::socketOptions() const { return d_->options; }

void LocalServer::setMaxPendingConnections(int numConnections) {
  d_->maxPending = numConnections;
  d_->updateAccepting();
}

int LocalServer::maxPendingConnections() const { return d_->maxPending; }
void LocalServer::setListenBacklogSize(int size) { d_->backlog = size; }
int LocalServer::listenBacklogSize() const { return d_->backlog; }
bool LocalServer::hasPendingConnections() const { return !d_->pending.empty(); }

LocalSocket* LocalServer::nextPendingConnection() {
  auto& d = *d_;
  if (d.pending.empty()) return nullptr;
  LocalSocket* s = d.pending.front();
  d.pending.pop_front();
  d.updateAccepting();
  return s;
}

int LocalServer::socketDescriptor() const { return d_->acceptor.socketDescriptor(); }
SocketError LocalServer::serverError() const { return d_->error; }
std::string LocalServer::errorString() const { return d_->errorString; }

bool LocalServer::waitForNewConnection(int msec, bool* timedOut) {
  auto& d = *d_;
  if (timedOut) *timedOut = false;
  if (!isListening()) return false;
  if (!d.pending.empty()) return true;
  auto token = lifeToken();
  bool ranOut = false;
  d.acceptor.waitForNewConnection(msec, &ranOut);  // its own timeout error stays its own
  if (token.expired()) return false;  // a newConnection slot deleted the server
  if (timedOut) *timedOut = ranOut;
  return !d.pending.empty();
}

void LocalServer::incomingConnection(int socketDescriptor) {
  auto& d = *d_;
  auto* socket = new LocalSocket(this);
  if (!socket->setSocketDescriptor(socketDescriptor)) {
    delete socket;
    detail::UniqueFd refused(socketDescriptor);  // closes it
    return;
  }
  // The server's own names: with access options the socket was bound under
  // a temporary name, which is what the accepted socket's address says.
  if (!d.fullServerName.empty()) socket->d_->setNames({d.fullServerName, d.abstractName});
  addPendingConnection(socket);
  newConnection.emit();
}

void LocalServer::addPendingConnection(LocalSocket* socket) {
  d_->pending.push_back(socket);
  d_->updateAccepting();
}

}  // namespace tether
