// One connection of `tether receive`: tells a seed (Qt) sender from a native
// one by the first eight bytes, then runs that protocol.
//
// Seed: header (16 bytes), name, raw bytes into an O_TMPFILE file; when the
// total has arrived: fsync, link under the name, close. Nothing is sent
// back, as the seed's server sends nothing.
//
// Native: Hello/Welcome, then per file: File -> checks -> Offer (with the
// prefix digest of a partial file, hashed on the worker), Start, raw bytes,
// Digest -> verify, fsync, rename -> Result; End -> Bye.
//
// A connection that sends garbage, breaks the protocol, stops in the middle
// or stays silent for the idle timeout is dropped; what it had sent is never
// published (a native partial file stays for a resume). Other connections are
// not affected.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "hashing.h"
#include "progress.h"
#include "tether/object.h"
#include "tether/tcp_socket.h"
#include "tether/timer.h"
#include "transfer_files.h"
#include "transfer_protocol.h"

namespace tether::cli {

class Receiver;

class ReceiveSession : public Object {
 public:
  // Takes `socket` (it becomes the session's child).
  ReceiveSession(Receiver& receiver, TcpSocket* socket, int id, Object* parent);
  ~ReceiveSession() override;

  int id() const { return id_; }

 private:
  enum class State {
    Detect,        // waiting for 8 bytes: magic or a seed header
    SeedHeader,
    SeedName,
    Hello,         // native: waiting for Hello
    BetweenFiles,  // native: waiting for File or End
    Preparing,     // native: hashing a partial file's prefix on the worker
    AwaitStart,
    Data,
    AwaitDigest,
    Finishing,     // fsync and digest on the worker, then publish
    Closing,       // done; waiting for the socket to close
  };

  // The file being received.
  struct Transfer {
    IncomingFile target;
    std::string relative;  // for messages and the busy registry
    std::uint64_t size = 0;
    std::uint32_t mode = 0644;
    std::uint64_t offset = 0;    // where this connection's bytes start
    std::uint64_t received = 0;  // bytes of this connection written so far
    std::uint64_t offered = 0;   // native: the resume offset offered
    proto::Digest offeredDigest{};
    proto::Digest expected{};    // native: the sender's digest
    bool native = false;
    bool verify = true;          // native: hash and compare (the sender did not say kUnverified)
    bool counted = false;        // in the receiver's count of active transfers
    std::unique_ptr<FileWorker> worker;
    std::string chunk;
    std::size_t chunkFill = 0;
    std::unique_ptr<Progress> progress;
    std::chrono::steady_clock::time_point started;
  };

  void onReadyRead();
  void onDisconnected();
  void checkIdle();
  void pump();
  // Moves bytes from the socket into the inbox until it holds n; false if
  // there are not that many yet.
  bool need(std::size_t n);

  // Seed protocol.
  bool readSeedHeader();
  bool readSeedName();
  // Native protocol.
  bool readFrame();
  void onHello(const proto::Frame& frame);
  void onFile(const proto::Frame& frame);
  void onStart(const proto::Frame& frame);
  void onDigest(const proto::Frame& frame);
  void onEnd();
  void prefixHashed(bool ok, const proto::Digest& digest);
  void sendOffer();

  // Both protocols.
  // Checks and opens the target; false (reported, and refused to a native
  // sender) when the file cannot be taken.
  bool beginFile(const std::string& relative, const std::vector<std::string>& components, std::uint64_t size,
                 std::uint32_t mode, bool native);
  void refuse(proto::Status status, const std::string& reason);
  void startData();
  void moveData();
  void submitChunk(Transfer& t);
  void allBytesArrived();
  // Everything is here (and, native, the digest): sync and hash on the
  // worker, then fileFinished().
  void dataComplete();
  void fileFinished(bool ok, const std::string& error, const proto::Digest& digest);
  void endTransfer(bool keepPartial);
  // Drops the connection (garbage, protocol error, timeout).
  void fail(const std::string& reason);
  void send(const std::string& frame);
  void finishSession();
  std::string peer() const;
  nlohmann::json event(const char* name) const;

  Receiver& receiver_;
  TcpSocket* socket_;
  Timer idleTimer_;
  int id_;
  State state_ = State::Detect;
  std::string inbox_;
  proto::SeedHeader seedHeader_;
  std::unique_ptr<Transfer> transfer_;
  std::string lastFile_;  // for the error after a transfer ends
  std::chrono::steady_clock::time_point lastActivity_;
  std::string peer_;
  bool verify_ = true;  // from the sender's Hello
  int filesReceived_ = 0;
  int filesFailed_ = 0;
  bool failed_ = false;
  bool ended_ = false;
};

}  // namespace tether::cli
