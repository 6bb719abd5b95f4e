#include "tether/tcp_socket.h"

namespace tether {

TcpSocket::TcpSocket(Object* parent) : AbstractSocket(SocketType::TcpSocket, parent) {}

TcpSocket::~TcpSocket() = default;

}  // namespace tether
