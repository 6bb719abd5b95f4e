#include "transfer_session.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "tether/event_loop.h"
#include "transfer_receiver.h"

namespace tether::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunkSize = 1 << 20;       // one write and one hash step
constexpr std::size_t kChunksInFlight = 4;        // per transfer, on the worker
constexpr std::int64_t kReadBufferLimit = 4 << 20;  // per connection, then TCP flow control

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::uint32_t bigEndian32(std::string_view b) {
  return (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[0])) << 24) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[2])) << 8) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[3]));
}

}  // namespace

ReceiveSession::ReceiveSession(Receiver& receiver, TcpSocket* socket, int id, Object* parent)
    : Object(parent),
      receiver_(receiver), socket_(socket), idleTimer_(this), id_(id), lastActivity_(Clock::now()) {
  socket_->setParent(this);
  socket_->setReadBufferSize(kReadBufferLimit);
  // Small answers (Welcome, Offer, Result) must not wait for Nagle and the
  // peer's delayed ACK: each is a round trip the sender waits on.
  socket_->setSocketOption(AbstractSocket::LowDelayOption, 1);
  peer_ = socket_->peerAddress().toString() + ":" + std::to_string(socket_->peerPort());
  socket_->readyRead.connect(this, &ReceiveSession::onReadyRead);
  socket_->disconnected.connect(this, &ReceiveSession::onDisconnected);
  const double idle = receiver_.options().idleTimeout;
  idleTimer_.setInterval(static_cast<int>(std::clamp(idle * 250.0, 20.0, 1000.0)));
  idleTimer_.timeout.connect(this, &ReceiveSession::checkIdle);
  idleTimer_.start();
  nlohmann::json e = event("connection");
  receiver_.report(e, fmt::format("[{}] connection from {}", id_, peer_));
  // Bytes that arrived before the signals were connected.
  Timer::singleShot(0, this, [this] { pump(); });
}

ReceiveSession::~ReceiveSession() { endTransfer(transfer_ && transfer_->native); }

std::string ReceiveSession::peer() const { return peer_; }

nlohmann::json ReceiveSession::event(const char* name) const {
  return {{"event", name}, {"id", id_}, {"peer", peer_}};
}

void ReceiveSession::onReadyRead() {
  lastActivity_ = Clock::now();
  pump();
}

void ReceiveSession::checkIdle() {
  if (ended_ || state_ == State::Preparing || state_ == State::Finishing) return;  // waiting for us, not the peer
  const double idle = secondsSince(lastActivity_);
  if (idle >= receiver_.options().idleTimeout)
    fail(fmt::format("no data for {:.1f} s: connection dropped", receiver_.options().idleTimeout));
}

bool ReceiveSession::need(std::size_t n) {
  while (inbox_.size() < n) {
    const std::int64_t available = socket_->bytesAvailable();
    if (available <= 0) return false;
    const auto want = std::min<std::int64_t>(available, static_cast<std::int64_t>(n - inbox_.size()));
    inbox_ += socket_->read(want);
  }
  return true;
}

void ReceiveSession::pump() {
  while (!ended_) {
    const State before = state_;
    bool progressed = false;
    switch (state_) {
      case State::Detect:
        if (!need(proto::kMagic.size())) return;
        if (proto::startsWithMagic(inbox_)) {
          inbox_.erase(0, proto::kMagic.size());
          state_ = State::Hello;
        } else {
          state_ = State::SeedHeader;
        }
        progressed = true;
        break;
      case State::SeedHeader:
        progressed = readSeedHeader();
        break;
      case State::SeedName:
        progressed = readSeedName();
        break;
      case State::Hello:
      case State::BetweenFiles:
      case State::AwaitStart:
      case State::AwaitDigest:
        progressed = readFrame();
        break;
      case State::Data:
        moveData();
        progressed = state_ != before;
        break;
      case State::Preparing:
      case State::Finishing:
      case State::Closing:
        return;
    }
    if (!progressed) return;
  }
}

// ------------------------------------------------------------ seed protocol

bool ReceiveSession::readSeedHeader() {
  if (!need(proto::kSeedHeaderSize)) return false;
  std::string why;
  const auto header = proto::parseSeedHeader(inbox_, &why);
  if (!header) {
    fail(why);
    return false;
  }
  seedHeader_ = *header;
  inbox_.erase(0, proto::kSeedHeaderSize);
  state_ = State::SeedName;
  return true;
}

bool ReceiveSession::readSeedName() {
  const auto field = static_cast<std::size_t>(seedHeader_.nameField);
  if (!need(field)) return false;
  std::string why;
  const auto sent = proto::parseSeedName(std::string_view(inbox_).substr(0, field), &why);
  inbox_.erase(0, field);
  if (!sent) {
    fail(why);
    return false;
  }
  const auto name = proto::seedFileName(*sent, &why);
  if (!name) {
    lastFile_ = *sent;
    refuse(proto::Status::BadName, why);
    return false;
  }
  if (!beginFile(*name, {*name}, proto::seedFileSize(seedHeader_), 0644, false)) return false;
  startData();
  return true;
}

// ------------------------------------------------------------ native protocol

bool ReceiveSession::readFrame() {
  if (!need(proto::kFrameHeaderSize)) return false;
  proto::Frame frame;
  std::size_t consumed = 0;
  proto::Parse parse = proto::takeFrame(inbox_, frame, consumed);
  if (parse == proto::Parse::Incomplete) {
    if (!need(proto::kFrameHeaderSize + bigEndian32(std::string_view(inbox_).substr(1, 4)))) return false;
    parse = proto::takeFrame(inbox_, frame, consumed);
  }
  if (parse != proto::Parse::Complete) {
    fail("protocol error: malformed frame");
    return false;
  }
  inbox_.erase(0, consumed);
  using T = proto::FrameType;
  if (state_ == State::Hello && frame.type == T::Hello) {
    onHello(frame);
  } else if (state_ == State::BetweenFiles && frame.type == T::File) {
    onFile(frame);
  } else if (state_ == State::BetweenFiles && frame.type == T::End) {
    onEnd();
  } else if (state_ == State::AwaitStart && frame.type == T::Start) {
    onStart(frame);
  } else if (state_ == State::AwaitDigest && frame.type == T::FileDigest) {
    onDigest(frame);
  } else {
    fail(fmt::format("protocol error: unexpected frame (type {})", static_cast<int>(frame.type)));
    return false;
  }
  return true;
}

void ReceiveSession::onHello(const proto::Frame& frame) {
  proto::Hello hello;
  if (!proto::decode(frame.body, hello)) return fail("protocol error: malformed Hello");
  proto::Welcome welcome;
  std::string out;
  if (hello.version != proto::kVersion) {
    welcome.status = proto::Status::UnsupportedVersion;
    welcome.message = fmt::format("this receiver speaks version {}", proto::kVersion);
    proto::encode(out, welcome);
    send(out);
    return fail(fmt::format("sender speaks protocol version {}", hello.version));
  }
  verify_ = (hello.flags & proto::kUnverified) == 0;
  proto::encode(out, welcome);
  send(out);
  state_ = State::BetweenFiles;
}

void ReceiveSession::onFile(const proto::Frame& frame) {
  proto::FileHeader header;
  if (!proto::decode(frame.body, header)) return fail("protocol error: malformed File");
  lastFile_ = header.path;
  std::string why;
  const auto components = proto::splitRelativePath(header.path, &why);
  if (!components) return refuse(proto::Status::BadName, why);
  if (!beginFile(header.path, *components, header.size, header.mode, true)) return;
  Transfer& t = *transfer_;
  if (t.target.existing > t.size) {
    // Longer than the file now is: not a prefix of it.
    if (::ftruncate(t.target.file.get(), 0) != 0) return refuse(proto::Status::IoError, "cannot reset partial file");
    t.target.existing = 0;
  }
  if (t.target.existing == 0) return sendOffer();
  // Hash what the partial file holds, on the worker; the offer follows.
  state_ = State::Preparing;
  t.worker->hashRange(t.target.file.get(), 0, t.target.existing, [this](bool ok, const proto::Digest& digest) {
    EventLoop::post(this, [this, ok, digest] { prefixHashed(ok, digest); });
  });
}

void ReceiveSession::prefixHashed(bool ok, const proto::Digest& digest) {
  if (ended_ || !transfer_ || state_ != State::Preparing) return;
  Transfer& t = *transfer_;
  if (ok) {
    t.offered = t.target.existing;
    t.offeredDigest = digest;
  } else {
    t.worker->resetHash();
  }
  sendOffer();
  pump();
}

void ReceiveSession::sendOffer() {
  Transfer& t = *transfer_;
  proto::Offer offer;
  offer.offset = t.offered;
  offer.prefixDigest = t.offeredDigest;
  std::string out;
  proto::encode(out, offer);
  send(out);
  state_ = State::AwaitStart;
}

void ReceiveSession::onStart(const proto::Frame& frame) {
  proto::Start start;
  if (!proto::decode(frame.body, start)) return fail("protocol error: malformed Start");
  Transfer& t = *transfer_;
  if (start.offset != 0 && start.offset != t.offered)
    return fail(fmt::format("protocol error: start at {} but {} was offered", start.offset, t.offered));
  if (start.offset == 0 && t.offered > 0) {
    // The sender's file does not begin with what we have: start over.
    if (::ftruncate(t.target.file.get(), 0) != 0) return fail("cannot reset partial file");
    t.worker->resetHash();
  }
  t.offset = start.offset;
  startData();
}

void ReceiveSession::onDigest(const proto::Frame& frame) {
  proto::DigestFrame digest;
  if (!proto::decode(frame.body, digest)) return fail("protocol error: malformed Digest");
  transfer_->expected = digest.digest;
  dataComplete();
}

void ReceiveSession::onEnd() {
  proto::Bye bye;
  bye.status = filesFailed_ == 0 ? proto::Status::Ok : proto::Status::IoError;
  bye.filesReceived = static_cast<std::uint32_t>(filesReceived_);
  bye.message = fmt::format("{} received, {} failed", filesReceived_, filesFailed_);
  std::string out;
  proto::encode(out, bye);
  send(out);
  state_ = State::Closing;
  socket_->disconnectFromHost();
}

// ------------------------------------------------------------ both protocols

bool ReceiveSession::beginFile(const std::string& relative, const std::vector<std::string>& components,
                               std::uint64_t size, std::uint32_t mode, bool native) {
  const ReceiveOptions& options = receiver_.options();
  lastFile_ = relative;
  if (options.maxFileSize > 0 && size > options.maxFileSize) {
    refuse(proto::Status::LimitExceeded, fmt::format("{} is larger than the limit of {}", formatBytes(static_cast<std::int64_t>(size)),
                                                     formatBytes(static_cast<std::int64_t>(options.maxFileSize))));
    return false;
  }
  if (!receiver_.claim(relative)) {
    refuse(proto::Status::Busy, "another connection is receiving this file");
    return false;
  }
  auto t = std::make_unique<Transfer>();
  t->relative = relative;
  t->size = size;
  t->mode = mode;
  t->native = native;
  t->verify = native && verify_;
  std::string why;
  t->target.dir = receiver_.directory().openParent(components, &why);
  t->target.name = components.back();
  auto giveUp = [&](proto::Status status, const std::string& reason, bool removePart) {
    if (removePart) ReceiveDirectory::discard(t->target);
    receiver_.release(relative);
    refuse(status, reason);
    return false;
  };
  if (!t->target.dir) return giveUp(proto::Status::BadName, why, false);
  if (!options.overwrite && ReceiveDirectory::exists(t->target.dir.get(), t->target.name))
    return giveUp(proto::Status::Exists, relative + " exists (use --overwrite to replace it)", false);
  bool busy = false;
  if (native ? !ReceiveDirectory::openPartial(t->target, &busy, &why) : !ReceiveDirectory::createTemporary(t->target, &why))
    return giveUp(busy ? proto::Status::Busy : proto::Status::IoError, why, false);
  const bool newPart = native && t->target.existing == 0;
  const std::uint64_t kept = std::min(t->target.existing, size);
  const std::uint64_t needed = size - kept;
  const std::uint64_t available = ReceiveDirectory::freeSpace(t->target.dir.get());
  if (needed > available)
    return giveUp(proto::Status::NoSpace,
                  fmt::format("{} needed, {} free", formatBytes(static_cast<std::int64_t>(std::min<std::uint64_t>(needed, INT64_MAX))),
                              formatBytes(static_cast<std::int64_t>(available))),
                  newPart || !native);
  if (!ReceiveDirectory::reserve(t->target.file.get(), kept, needed, &why))
    return giveUp(proto::Status::NoSpace, why, newPart || !native);
  t->worker = std::make_unique<FileWorker>();
  transfer_ = std::move(t);
  return true;
}

void ReceiveSession::refuse(proto::Status status, const std::string& reason) {
  ++filesFailed_;
  failed_ = true;
  nlohmann::json e = event("file-refused");
  e["file"] = lastFile_;
  e["status"] = proto::statusName(status);
  e["reason"] = reason;
  receiver_.report(e, fmt::format("[{}] refused {}: {}", id_, lastFile_, reason), true);
  if (state_ == State::SeedName || state_ == State::SeedHeader || state_ == State::Detect) {
    // The seed's sender cannot be told: hang up on it.
    socket_->abort();
    finishSession();
    return;
  }
  proto::Offer offer;
  offer.status = status;
  offer.message = reason;
  std::string out;
  proto::encode(out, offer);
  send(out);
  state_ = State::BetweenFiles;
}

void ReceiveSession::startData() {
  Transfer& t = *transfer_;
  state_ = State::Data;
  t.started = Clock::now();
  ++receiver_.activeTransfers_;
  t.counted = true;
  nlohmann::json e = event("file-start");
  e["protocol"] = t.native ? "native" : "qt";
  e["file"] = t.relative;
  e["size"] = t.size;
  e["offset"] = t.offset;
  receiver_.report(e, t.offset > 0 ? fmt::format("[{}] resuming {} at {} of {}", id_, t.relative,
                                                 formatBytes(static_cast<std::int64_t>(t.offset)),
                                                 formatBytes(static_cast<std::int64_t>(t.size)))
                                   : fmt::format("[{}] receiving {} ({}, {} protocol)", id_, t.relative,
                                                 formatBytes(static_cast<std::int64_t>(t.size)),
                                                 t.native ? "native" : "Qt"));
  t.progress = std::make_unique<Progress>(receiver_.progressStyle(), static_cast<std::int64_t>(t.size));
  t.progress->setLabel(t.relative);
  t.progress->setJsonContext({{"id", id_}, {"peer", peer_}});
  t.progress->update(static_cast<std::int64_t>(t.offset));
  if (t.offset == t.size) allBytesArrived();
}

void ReceiveSession::moveData() {
  Transfer& t = *transfer_;
  std::uint64_t left = t.size - t.offset - t.received - t.chunkFill;
  while (left > 0) {
    if (t.chunk.empty()) {
      t.worker->waitBelow(kChunksInFlight);
      t.chunk = t.worker->takeBuffer(kChunkSize);
      t.chunkFill = 0;
    }
    const auto room = static_cast<std::size_t>(std::min<std::uint64_t>(kChunkSize - t.chunkFill, left));
    std::size_t got = 0;
    if (!inbox_.empty()) {
      got = std::min(room, inbox_.size());
      std::memcpy(t.chunk.data() + t.chunkFill, inbox_.data(), got);
      inbox_.erase(0, got);
    } else {
      const std::int64_t n = socket_->read(t.chunk.data() + t.chunkFill, static_cast<std::int64_t>(room));
      if (n <= 0) break;
      got = static_cast<std::size_t>(n);
    }
    t.chunkFill += got;
    left -= got;
    if (t.chunkFill == kChunkSize || left == 0) submitChunk(t);
  }
  t.progress->update(static_cast<std::int64_t>(t.offset + t.received + t.chunkFill));
  if (left == 0) allBytesArrived();
}

void ReceiveSession::allBytesArrived() {
  // The native sender's digest follows the bytes; the seed's file is done.
  if (transfer_->native) {
    state_ = State::AwaitDigest;
  } else {
    dataComplete();
  }
}

void ReceiveSession::submitChunk(Transfer& t) {
  if (t.chunkFill == 0) return;
  t.worker->submitChunk(std::move(t.chunk), t.chunkFill, t.target.file.get(), t.offset + t.received, t.verify);
  t.received += t.chunkFill;
  t.chunk.clear();
  t.chunkFill = 0;
}

void ReceiveSession::dataComplete() {
  Transfer& t = *transfer_;
  submitChunk(t);
  state_ = State::Finishing;
  t.worker->finish(t.target.file.get(), receiver_.options().sync,
                   [this](bool ok, const std::string& error, const proto::Digest& digest) {
                     EventLoop::post(this, [this, ok, error, digest] { fileFinished(ok, error, digest); });
                   });
}

void ReceiveSession::fileFinished(bool ok, const std::string& error, const proto::Digest& digest) {
  if (!transfer_ || state_ != State::Finishing) return;
  Transfer& t = *transfer_;
  proto::Status status = proto::Status::Ok;
  std::string reason;
  if (!ok) {
    status = proto::Status::IoError;
    reason = error;
  } else if (t.verify && digest != t.expected) {
    status = proto::Status::DigestMismatch;
    reason = "SHA-256 mismatch: the file changed or was corrupted in transit";
  } else {
    bool exists = false;
    if (!ReceiveDirectory::publish(t.target, t.mode, receiver_.options().overwrite, receiver_.options().sync, &exists,
                                   &reason))
      status = exists ? proto::Status::Exists : proto::Status::IoError;
  }
  const double seconds = secondsSince(t.started);
  if (status == proto::Status::Ok) {
    ++filesReceived_;
    t.progress->update(static_cast<std::int64_t>(t.size));
    t.progress->finish();
    const double rate = seconds > 0 ? static_cast<double>(t.received) / seconds : 0.0;
    nlohmann::json e = event("file-done");
    e["protocol"] = t.native ? "native" : "qt";
    e["file"] = t.relative;
    e["size"] = t.size;
    e["bytes"] = t.received;
    e["resumed_from"] = t.offset;
    e["seconds"] = std::round(seconds * 1000) / 1000;
    e["rate"] = std::round(rate);
    e["verified"] = t.verify;
    if (t.verify) e["sha256"] = proto::hex(digest);
    receiver_.report(e, fmt::format("[{}] received {}: {} in {:.2f} s ({}){}", id_, t.relative,
                                    formatBytes(static_cast<std::int64_t>(t.size)), seconds, formatRate(rate),
                                    t.verify ? ", SHA-256 verified" : ", not verified"));
  } else {
    ++filesFailed_;
    failed_ = true;
    nlohmann::json e = event("file-failed");
    e["file"] = t.relative;
    e["status"] = proto::statusName(status);
    e["reason"] = reason;
    e["bytes"] = t.received;
    e["kept_partial"] = false;
    receiver_.report(e, fmt::format("[{}] failed {}: {}", id_, t.relative, reason), true);
  }
  const bool native = t.native;
  endTransfer(false);
  if (native) {
    proto::Result result;
    result.status = status;
    result.message = reason;
    std::string out;
    proto::encode(out, result);
    send(out);
    state_ = State::BetweenFiles;
    if (socket_->state() == SocketState::UnconnectedState) return finishSession();
    pump();
  } else {
    // The seed's server closes once the file is complete.
    state_ = State::Closing;
    socket_->disconnectFromHost();
    if (socket_->state() == SocketState::UnconnectedState) finishSession();
  }
}

void ReceiveSession::endTransfer(bool keepPartial) {
  if (!transfer_) return;
  std::unique_ptr<Transfer> t = std::move(transfer_);
  if (t->counted) --receiver_.activeTransfers_;
  if (keepPartial) submitChunk(*t);
  t->worker.reset();  // runs what was submitted, then stops
  const std::uint64_t kept = t->offset + t->received;
  if (keepPartial && kept > 0 && !t->target.partName.empty()) {
    // Give back the space reserved beyond what arrived; keep the rest for a
    // resume.
    if (::ftruncate(t->target.file.get(), static_cast<off_t>(kept)) != 0) ReceiveDirectory::discard(t->target);
    t->target.file.reset();
  } else if (!t->target.partName.empty() || t->target.file) {
    ReceiveDirectory::discard(t->target);
  }
  receiver_.release(t->relative);
}

void ReceiveSession::onDisconnected() {
  if (ended_) return;
  pump();  // what arrived with the close
  if (ended_) return;
  if (state_ == State::Finishing) return;  // every byte is here: publishing goes on, then the session ends
  if (transfer_) {
    Transfer& t = *transfer_;
    const std::uint64_t got = t.offset + t.received + t.chunkFill;
    const bool keep = t.native && got > 0;
    const std::string relative = t.relative;
    const std::uint64_t size = t.size;
    ++filesFailed_;
    failed_ = true;
    endTransfer(keep);  // first, so that the partial file is complete when reported
    nlohmann::json e = event("file-failed");
    e["file"] = relative;
    e["status"] = "interrupted";
    e["reason"] = fmt::format("connection closed after {} of {} bytes", got, size);
    e["bytes"] = got;
    e["kept_partial"] = keep;
    receiver_.report(e, fmt::format("[{}] failed {}: connection closed after {} of {}{}", id_, relative,
                                    formatBytes(static_cast<std::int64_t>(got)),
                                    formatBytes(static_cast<std::int64_t>(size)),
                                    keep ? "; partial file kept for a resume" : ""),
                     true);
  } else if (state_ != State::Closing && state_ != State::BetweenFiles) {
    failed_ = true;
    nlohmann::json e = event("connection-error");
    e["reason"] = "connection closed before a complete header";
    receiver_.report(e, fmt::format("[{}] {} closed the connection before a complete header", id_, peer_), true);
  } else if (state_ == State::BetweenFiles) {
    failed_ = true;  // a native sender that never said End
  }
  finishSession();
}

void ReceiveSession::fail(const std::string& reason) {
  if (ended_) return;
  failed_ = true;
  if (transfer_) {
    ++filesFailed_;
    const bool keep = transfer_->native && transfer_->offset + transfer_->received + transfer_->chunkFill > 0;
    endTransfer(keep);
  }
  nlohmann::json e = event("connection-error");
  e["reason"] = reason;
  if (!lastFile_.empty()) e["file"] = lastFile_;
  receiver_.report(e, fmt::format("[{}] dropped {}: {}", id_, peer_, reason), true);
  socket_->abort();
  finishSession();
}

void ReceiveSession::send(const std::string& frame) { socket_->write(frame); }

void ReceiveSession::finishSession() {
  if (ended_) return;
  ended_ = true;
  idleTimer_.stop();
  nlohmann::json e = event("connection-closed");
  e["files"] = filesReceived_;
  e["failed"] = filesFailed_;
  receiver_.report(e, fmt::format("[{}] connection from {} closed: {} received, {} failed", id_, peer_,
                                  filesReceived_, filesFailed_));
  receiver_.sessionEnded(this, failed_);
  deleteLater();
}

}  // namespace tether::cli
