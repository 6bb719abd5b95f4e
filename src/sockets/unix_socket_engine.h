// The Unix-domain socket engine and the file-system side of local socket
// names: where a plain name lives (Qt's rule, so that tether and Qt programs
// find each other) and how a stale socket file is removed.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sockets/socket_engine.h"

namespace tether::detail {

// AF_UNIX stream sockets: addressing (paths, the abstract namespace, socket
// files with exact permissions) is its own; reading, writing, readiness and
// blocking waits are the native engine's, which it wraps. It serves
// listening and connecting: a connected local socket hands its descriptor
// to a plain native engine, so no message passes through this wrapper.
std::unique_ptr<SocketEngine> createUnixSocketEngine();

// getsockname() (or getpeername()) of an AF_UNIX socket as a Unix-domain
// address; empty for an unnamed end or a descriptor that is none.
SocketEngine::UnixAddress unixAddressOf(int descriptor, bool peer);

// The directory QDir::tempPath() names: $TMPDIR, or /tmp when it is unset or
// empty, cleaned and made canonical (symbolic links resolved, relative paths
// made absolute). Empty when that directory does not exist, as in Qt. Read
// anew on every call.
std::string localTempPath();

// The socket path of a server name, as Qt maps it: a name starting with '/'
// is used as given, any other name lives in localTempPath().
std::string localSocketPath(std::string_view name);

// Removes the file at path. True when it is gone or never existed.
bool removeLocalSocketFile(const std::string& path);

}  // namespace tether::detail
