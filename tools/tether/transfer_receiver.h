// `tether receive`: a server that takes files from seed (Qt) senders and
// native tether senders alike, many connections at once on one event loop.
//
// Receiver owns the listening server, the receiving directory, the options
// and the output; one ReceiveSession per connection runs the protocol (see
// transfer_session.cpp). Writes and hashing run on a worker thread per
// transfer (FileWorker), so the loop keeps serving other connections.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "progress.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "transfer_files.h"

namespace tether::cli {

struct ReceiveOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 0;
  std::string dir = ".";
  bool overwrite = false;
  bool once = false;
  bool json = false;
  bool quiet = false;
  bool sync = true;                  // fsync the file and its directory before reporting it
  bool noSync = false;               // --no-fsync
  int maxClients = 64;
  double idleTimeout = 30.0;         // seconds without a byte before a connection is dropped
  std::uint64_t maxFileSize = 0;     // 0: only the free space limits
};

class ReceiveSession;

class Receiver {
 public:
  Receiver(EventLoop& loop, ReceiveOptions options);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Opens the directory and listens. Returns an exit status (0 ok).
  int start();

  const ReceiveOptions& options() const { return options_; }
  const ReceiveDirectory& directory() const { return directory_; }

  // One event: a JSON line with --json, else `text` on stdout (nothing when
  // quiet, except errors, which go to stderr).
  void report(const nlohmann::json& event, const std::string& text, bool error = false);
  // The progress display for a new transfer.
  Progress::Style progressStyle() const;

  // Files in flight, by path relative to the directory: a second connection
  // for the same file is refused (Busy) instead of racing the first.
  bool claim(const std::string& relativePath);
  void release(const std::string& relativePath);

  // A session is done (it deletes itself later). `failed`: anything went
  // wrong in it.
  void sessionEnded(ReceiveSession* session, bool failed);

 private:
  void acceptConnections();

  EventLoop& loop_;
  ReceiveOptions options_;
  ReceiveDirectory directory_;
  TcpServer server_;
  std::set<ReceiveSession*> sessions_;
  std::set<std::string> claimed_;
  int nextId_ = 1;
  int activeTransfers_ = 0;
  // Parent of every session (live or waiting for its deleteLater); last, so
  // that sessions go before the state they use.
  Object sessionOwner_;
  friend class ReceiveSession;
};

}  // namespace tether::cli
