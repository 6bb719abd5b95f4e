// LocalServer: accepts local (Unix-domain stream) socket connections (Qt's
// QLocalServer).
//
//   tether::LocalServer server;
//   server.newConnection.connect([&] {
//     tether::LocalSocket* client = server.nextPendingConnection();
//     client->disconnected.connect(client, [client] { client->deleteLater(); });
//     client->write("hello\n");
//     client->disconnectFromServer();
//   });
//   if (!server.listen("fortune")) std::cerr << server.errorString() << '\n';
//
// Names, as Qt maps them: a name starting with '/' is the socket file's
// path; any other name is a file in the temporary directory ($TMPDIR, or
// /tmp, made canonical — Qt's QDir::tempPath()), so that Qt clients find a
// tether server by the same name and the other way round. With
// AbstractNamespaceOption the name lives in Linux's abstract namespace (no
// file). A socket file left behind by a server that died makes listen() fail
// with AddressInUseError, as in Qt: call removeServer() first.
//
// Accepted sockets wait in a queue of at most maxPendingConnections() (30);
// while it is full the server stops accepting and the system's backlog
// (listenBacklogSize(), 50) holds further clients. Running out of
// descriptors does not close the server: the connection that could not be
// accepted is shed and serverError() says SocketResourceError.
//
// Owner thread only.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tether/object.h"
#include "tether/signal.h"
#include "tether/socket_types.h"

namespace tether {

class LocalSocket;

namespace detail {
struct LocalServerPrivate;
}

class LocalServer : public Object {
 public:
  // Flags: combine with |. The access options set the permissions of the
  // socket file (user, group, others: read, write, execute); without them
  // the file gets the process's default (umask). Qt's values.
  enum SocketOption : unsigned {
    NoOptions = 0x0,
    UserAccessOption = 0x01,
    GroupAccessOption = 0x02,
    OtherAccessOption = 0x04,
    WorldAccessOption = 0x07,
    // Linux's abstract namespace (Qt 6.2): no file, no permissions.
    AbstractNamespaceOption = 0x08,
  };
  using SocketOptions = unsigned;

  explicit LocalServer(Object* parent = nullptr);
  // Closes the server (see close()).
  ~LocalServer() override;

  // Listens on `name`. Returns false if already listening (nothing else
  // changes), or with serverError() and errorString() set: an empty name or
  // a bad path gives HostNotFoundError, a name in use (a live server or a
  // stale file) AddressInUseError, no permission SocketAccessError. Emits
  // nothing.
  bool listen(std::string_view name);
  // Listens on a descriptor that is already bound and listening (e.g.
  // inherited from a service manager); the server takes it over. The names
  // come from its address. On failure the descriptor stays the caller's.
  bool listen(int socketDescriptor);
  bool isListening() const;
  // Stops listening and removes the socket file (Qt does so even for a
  // descriptor given to listen(int)). Connections accepted but not taken are
  // deleted; the names and the error are cleared.
  void close();

  // The name given to listen() (or the last part of an adopted socket's
  // path); empty when not listening.
  std::string serverName() const;
  // The socket's path (or abstract name); empty when not listening.
  std::string fullServerName() const;

  // Removes the socket file a server of this name would use (a stale file
  // left by a crash). True if no such file remains.
  static bool removeServer(std::string_view name);

  // Set before listen(). The abstract option is also set by listen(int) on
  // an abstract socket.
  void setSocketOptions(SocketOptions options);
  SocketOptions socketOptions() const;

  // 0 or less: accept nothing (clients wait in the system's backlog).
  void setMaxPendingConnections(int numConnections);
  int maxPendingConnections() const;
  // The backlog given to listen(2); set it before listen(). Default 50.
  void setListenBacklogSize(int size);
  int listenBacklogSize() const;

  virtual bool hasPendingConnections() const;
  // The next accepted connection (ConnectedState, open ReadWrite), or nullptr.
  // The socket is a child of the server: it dies with the server unless
  // deleted first (deleteLater() on disconnected) or taken out with
  // setParent(nullptr). Taking one makes room in the queue.
  virtual LocalSocket* nextPendingConnection();

  // -1 when not listening.
  int socketDescriptor() const;

  // UnknownSocketError and an empty text until something fails.
  SocketError serverError() const;
  std::string errorString() const;

  // Blocks up to msec milliseconds (-1: no limit) for a connection, for use
  // without an event loop; true when one is waiting (at once if one already
  // was). newConnection is emitted from inside this call. *timedOut tells
  // whether the time ran out; a timeout sets no error.
  bool waitForNewConnection(int msec = 0, bool* timedOut = nullptr);

  // Emitted once per accepted connection, by the default incomingConnection().
  Signal<> newConnection;

 protected:
  // Called for every accepted descriptor. The default makes a LocalSocket
  // child of the server, adopts the descriptor, queues it with
  // addPendingConnection() and emits newConnection. Override it to hand the
  // descriptor to another thread (LocalSocket::setSocketDescriptor there).
  virtual void incomingConnection(int socketDescriptor);
  // Queues an accepted socket for nextPendingConnection(); emits nothing.
  void addPendingConnection(LocalSocket* socket);

 private:
  friend struct detail::LocalServerPrivate;
  std::unique_ptr<detail::LocalServerPrivate> d_;
};

}  // namespace tether
