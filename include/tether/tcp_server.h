// TcpServer: accepts TCP connections (Qt's QTcpServer).
//
//   tether::TcpServer server;
//   server.newConnection.connect([&] {
//     tether::TcpSocket* client = server.nextPendingConnection();
//     client->disconnected.connect(client, [client] { client->deleteLater(); });
//     client->write("hello\n");
//     client->disconnectFromHost();
//   });
//   server.listen(tether::HostAddress::LocalHost);   // port 0: the system picks
//
// Accepted sockets wait in a queue of at most maxPendingConnections() (30 by
// default); while the queue is full the server stops accepting, and the
// system keeps further connections in its own backlog, until the application
// takes one with nextPendingConnection().
//
// Running out of descriptors while accepting does not stop the server and
// does not spin the loop: the connection that could not be accepted is shed
// (accepted into a reserved descriptor and closed at once), acceptError
// (SocketResourceError) is emitted, and accepting goes on.
//
// Owner thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tether/host_address.h"
#include "tether/object.h"
#include "tether/signal.h"
#include "tether/socket_types.h"

namespace tether {

class TcpSocket;

namespace detail {
struct ServerPrivate;
}

class TcpServer : public Object {
 public:
  explicit TcpServer(Object* parent = nullptr);
  // Closes the server. Accepted sockets not taken are deleted with it, as
  // are taken sockets that are still its children.
  ~TcpServer() override;

  // Listens on address:port; port 0 picks a free port (read it back with
  // serverPort()). Any listens on every IPv4 and IPv6 address (one
  // dual-stack socket). Returns false with serverError() set on failure, or
  // if already listening. Emits nothing.
  bool listen(const HostAddress& address = HostAddress(HostAddress::Any), std::uint16_t port = 0);
  bool isListening() const;
  // Stops listening; connections accepted but not yet taken are deleted.
  void close();

  // The address and port listened on; Null and 0 when not listening.
  HostAddress serverAddress() const;
  std::uint16_t serverPort() const;

  void setMaxPendingConnections(int numConnections);
  int maxPendingConnections() const;
  // The backlog given to listen(2); set it before listen(). Default 50.
  void setListenBacklogSize(int size);
  int listenBacklogSize() const;

  virtual bool hasPendingConnections() const;
  // The next accepted connection, in ConnectedState, or nullptr when there
  // is none. The socket is a child of the server: it is deleted with the
  // server unless deleted first (deleteLater() on disconnected is the usual
  // pattern) or moved out with setParent(nullptr), after which the caller
  // owns it. Taking a connection resumes accepting.
  virtual TcpSocket* nextPendingConnection();

  SocketError serverError() const;
  // Empty before any error.
  std::string errorString() const;

  // Listens on an already listening descriptor (the server takes ownership).
  bool setSocketDescriptor(int socketDescriptor);
  // -1 when not listening.
  int socketDescriptor() const;

  // Blocks up to msec milliseconds (-1: no limit) for a connection, for use
  // without an event loop. Returns true when one was accepted (newConnection
  // is emitted from inside this call). *timedOut is set to whether the time
  // ran out.
  bool waitForNewConnection(int msec = 0, bool* timedOut = nullptr);

  // Stops and resumes accepting; connections wait in the system's backlog.
  void pauseAccepting();
  void resumeAccepting();

  Signal<> newConnection;
  Signal<SocketError> acceptError;
  // Emitted by addPendingConnection().
  Signal<> pendingConnectionAvailable;

 protected:
  // Called for every accepted descriptor, on the server's thread. The default
  // makes a TcpSocket child of the server, adopts the descriptor and queues
  // it with addPendingConnection(). Override it to hand the descriptor to
  // another thread (create the TcpSocket there, setSocketDescriptor()).
  virtual void incomingConnection(int socketDescriptor);
  void addPendingConnection(TcpSocket* socket);

 private:
  friend struct detail::ServerPrivate;
  std::unique_ptr<detail::ServerPrivate> d_;
};

}  // namespace tether
