#include "tether/tcp_server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cassert>
#include <unistd.h>

#include <cerrno>
#include <deque>

#include "reactor/dispatcher.h"
#include "sockets/socket_engine.h"
#include "sockets/socket_private.h"
#include "system/unique_fd.h"
#include "tether/tcp_socket.h"

namespace tether::detail {

struct ServerPrivate final : EngineHandler, DeferredCall {
  explicit ServerPrivate(TcpServer* owner) : q(owner), dispatcher(Dispatcher::current()) {}
  ~ServerPrivate() { dispatcher->cancel(this); }
  ServerPrivate(const ServerPrivate&) = delete;
  ServerPrivate& operator=(const ServerPrivate&) = delete;

  void watchEvents(std::uint32_t) override {
    acceptReady = true;
    acceptConnections();
  }
  void runDeferred() override {
    if (acceptReady) acceptConnections();
  }

  // Accepts until the system has no more, the queue is full, or accepting is
  // paused. Edge-triggered: acceptReady remembers that the backlog may still
  // hold connections when we stop early.
  void acceptConnections();
  // EMFILE/ENFILE: accept into the reserved descriptor and close at once, so
  // the connection leaves the backlog and the loop does not spin on it.
  // Returns true when a connection was shed, or when none could be and
  // accepting is paused; false when the backlog turned out to be empty.
  bool shedOneConnection();
  void setError(SocketError e, std::string text) {
    error = e;
    errorString = std::move(text);
  }
  void fail(const SocketFailure& f) { setError(f.error, f.text); }
  bool listening() const { return engine && engine->isValid(); }

  TcpServer* q;
  std::shared_ptr<Dispatcher> dispatcher;
  std::unique_ptr<SocketEngine> engine;
  std::deque<TcpSocket*> pending;
  UniqueFd spare;
  HostAddress requestedAddress;
  SocketEngine::Endpoint bound;  // what the system says the server listens on
  bool boundToWildcard = false;   // Any, AnyIPv4 or AnyIPv6: connections differ in their local address
  void setBound(SocketEngine::Endpoint e) {
    bound = std::move(e);
    boundToWildcard = bound.address == HostAddress(HostAddress::Any) ||
                      bound.address == HostAddress(HostAddress::AnyIPv4) ||
                      bound.address == HostAddress(HostAddress::AnyIPv6);
  }
  // The connection incomingConnection() is being given: what accept4()
  // said of it, so that the default incomingConnection() need not ask the
  // system again. An override that passes the descriptor elsewhere leaves
  // it unused.
  int acceptedFd = -1;
  SocketEngine::Endpoint acceptedPeer;
  SocketError error = SocketError::UnknownSocketError;
  std::string errorString;
  int maxPending = 30;
  int backlog = 50;
  bool paused = false;
  bool acceptReady = false;
};

void ServerPrivate::acceptConnections() {
  auto token = q->lifeToken();
  while (acceptReady && !paused && listening() && static_cast<int>(pending.size()) < maxPending) {
    const int fd = engine->accept(&acceptedPeer);
    if (fd < 0) {
      const SocketFailure& f = engine->failure();
      if (f.code == EAGAIN || f.code == EWOULDBLOCK) {
        acceptReady = false;  // backlog drained
        return;
      }
      if (f.error == SocketError::TemporaryError) continue;  // aborted by the peer, interrupted
      if (f.error == SocketError::SocketResourceError) {
        // Linux reports EMFILE before it looks at the backlog: report only
        // a connection that was really there.
        if (!shedOneConnection()) continue;
        fail(f);
        if (!q->acceptError.emit(SocketError::SocketResourceError) || token.expired()) return;
        continue;
      }
      // Anything else: pause, as Qt does; resumeAccepting() tries again.
      fail(f);
      paused = true;
      q->acceptError.emit(f.error);
      return;
    }
    acceptedFd = fd;
    q->incomingConnection(fd);
    if (token.expired()) return;
    acceptedFd = -1;
    if (!q->newConnection.emit() || token.expired()) return;
  }
}

bool ServerPrivate::shedOneConnection() {
  spare.reset();
  const int fd = ::accept4(engine->descriptor(), nullptr, nullptr, SOCK_CLOEXEC);
  const bool shed = fd >= 0;
  if (shed) ::close(fd);
  else if (errno == EAGAIN || errno == EWOULDBLOCK) acceptReady = false;
  spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  // Still out of descriptors with no reserve: stop until the application
  // frees some and calls resumeAccepting(), rather than spin.
  if (!spare && acceptReady) {
    paused = true;
    return true;
  }
  return shed;
}

}  // namespace tether::detail

namespace tether {

using detail::ServerPrivate;

TcpServer::TcpServer(Object* parent) : Object(parent), d_(std::make_unique<ServerPrivate>(this)) {}

TcpServer::~TcpServer() { close(); }

bool TcpServer::listen(const HostAddress& address, std::uint16_t port) {
  assert(isOwnerThread());
  auto& d = *d_;
  if (d.listening()) {
    d.setError(SocketError::OperationError, "Already listening");
    return false;
  }
  NetworkLayerProtocol protocol = address.protocol();
  if (protocol == NetworkLayerProtocol::UnknownNetworkLayerProtocol) protocol = NetworkLayerProtocol::IPv4Protocol;
  d.engine = detail::createNativeSocketEngine();
  if (!d.engine->create(SocketType::TcpSocket, protocol)) {
    d.fail(d.engine->failure());
    d.engine.reset();
    return false;
  }
  // Servers rebind a port whose old connections are in TIME_WAIT (Unix).
  if (!d.engine->bind(address, port, ReuseAddressHint) || !d.engine->listen(d.backlog) ||
      !d.engine->startWatching(*d.dispatcher, &d)) {
    d.fail(d.engine->failure());
    d.engine.reset();
    return false;
  }
  d.requestedAddress = address;
  d.setBound(d.engine->localEndpoint());
  d.spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  d.paused = false;
  d.acceptReady = false;
  return true;
}

bool TcpServer::isListening() const { return d_->listening(); }

void TcpServer::close() {
  auto& d = *d_;
  while (!d.pending.empty()) {
    TcpSocket* s = d.pending.front();
    d.pending.pop_front();
    delete s;
  }
  d.dispatcher->cancel(&d);
  d.engine.reset();
  d.spare.reset();
  d.acceptReady = false;
}

HostAddress TcpServer::serverAddress() const {
  const auto& d = *d_;
  if (!d.listening()) return HostAddress();
  if (d.requestedAddress == HostAddress(HostAddress::Any)) return d.requestedAddress;
  return d.bound.address;
}

std::uint16_t TcpServer::serverPort() const { return d_->listening() ? d_->bound.port : 0; }

void TcpServer::setMaxPendingConnections(int numConnections) {
  d_->maxPending = numConnections;
  if (d_->acceptReady) d_->dispatcher->schedule(d_.get());
}

int TcpServer::maxPendingConnections() const { return d_->maxPending; }
void TcpServer::setListenBacklogSize(int size) { d_->backlog = size; }
int TcpServer::listenBacklogSize() const { return d_->backlog; }
bool TcpServer::hasPendingConnections() const { return !d_->pending.empty(); }

TcpSocket* TcpServer::nextPendingConnection() {
  auto& d = *d_;
  if (d.pending.empty()) return nullptr;
  TcpSocket* s = d.pending.front();
  d.pending.pop_front();
  // Room in the queue again: resume accepting (this also ends a pause).
  d.paused = false;
  if (d.acceptReady && d.listening()) d.dispatcher->schedule(&d);
  return s;
}

SocketError TcpServer::serverError() const { return d_->error; }
std::string TcpServer::errorString() const { return d_->errorString; }

bool TcpServer::setSocketDescriptor(int socketDescriptor) {
  auto& d = *d_;
  if (d.listening()) {
    d.setError(SocketError::OperationError, "Already listening");
    return false;
  }
  d.engine = detail::createNativeSocketEngine();
  if (!d.engine->adopt(socketDescriptor)) {
    d.fail(d.engine->failure());
    d.engine->release();
    d.engine.reset();
    return false;
  }
  if (!d.engine->startWatching(*d.dispatcher, &d)) {
    d.fail(d.engine->failure());
    d.engine->release();
    d.engine.reset();
    return false;
  }
  d.setBound(d.engine->localEndpoint());
  d.requestedAddress = d.bound.address;
  d.spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  d.paused = false;
  d.acceptReady = true;  // connections may be waiting already
  d.dispatcher->schedule(&d);
  return true;
}

int TcpServer::socketDescriptor() const { return d_->listening() ? d_->engine->descriptor() : -1; }

bool TcpServer::waitForNewConnection(int msec, bool* timedOut) {
  auto& d = *d_;
  if (timedOut) *timedOut = false;
  if (!d.listening()) return false;
  if (!d.pending.empty()) return true;
  bool readReady = false;
  const int rc = d.engine->waitFor(true, false, msec, &readReady, nullptr);
  if (rc == 0) {
    if (timedOut) *timedOut = true;
    d.setError(SocketError::SocketTimeoutError, "Network operation timed out");
    return false;
  }
  if (rc < 0) return false;
  const std::size_t before = d.pending.size();
  auto token = lifeToken();
  d.acceptReady = true;
  d.acceptConnections();
  if (token.expired()) return false;
  return d.pending.size() > before || !d.pending.empty();
}

void TcpServer::pauseAccepting() { d_->paused = true; }

void TcpServer::resumeAccepting() {
  auto& d = *d_;
  d.paused = false;
  if (d.listening()) {
    d.acceptReady = true;  // try: the backlog may have filled while paused
    d.dispatcher->schedule(&d);
  }
}

void TcpServer::incomingConnection(int socketDescriptor) {
  auto& d = *d_;
  auto* socket = new TcpSocket(this);
  bool adopted;
  if (socketDescriptor == d.acceptedFd && d.engine->protocol() != NetworkLayerProtocol::UnknownNetworkLayerProtocol) {
    // Straight from accept4() on an IP listener: a non-blocking stream
    // socket whose peer is known, and whose local end is the listening
    // address unless that is a wildcard. Three system calls fewer than
    // adopting an unknown descriptor, and none to learn the addresses.
    d.acceptedFd = -1;
    adopted = detail::SocketPrivate::adoptAccepted(*socket, socketDescriptor, d.engine->protocol(),
                                                   d.boundToWildcard ? nullptr : &d.bound, d.acceptedPeer);
  } else {
    adopted = socket->setSocketDescriptor(socketDescriptor);
  }
  if (!adopted) {
    delete socket;
    ::close(socketDescriptor);
    return;
  }
  detail::SocketPrivate::forgetAdoptionNotes(socket);
  addPendingConnection(socket);
}

void TcpServer::addPendingConnection(TcpSocket* socket) {
  d_->pending.push_back(socket);
  pendingConnectionAvailable.emit();
}

}  // namespace tether
