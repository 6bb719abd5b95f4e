// TcpSocket: a TCP connection (Qt's QTcpSocket). Everything is in
// AbstractSocket; this class fixes the socket type.
//
//   tether::TcpSocket socket;
//   socket.connected.connect([&] { socket.write("hello\n"); });
//   socket.readyRead.connect([&] { std::cout << socket.readAll(); });
//   socket.connectToHost("localhost", 7000);
#pragma once

#include "tether/abstract_socket.h"

namespace tether {

class TcpSocket : public AbstractSocket {
 public:
  explicit TcpSocket(Object* parent = nullptr);
  ~TcpSocket() override;
};

}  // namespace tether
