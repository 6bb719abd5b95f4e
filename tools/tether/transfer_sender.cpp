// `tether send FILE... HOST:PORT`: sends files to `tether receive` (native
// protocol: verified, resumable, many files) or, with --qt, one file to the
// seed's Qt server. A blocking client: TcpSocket's waitFor*() functions, no
// event loop; the file bytes go out with sendfile(2) (TcpSocket::sendFile)
// while a worker thread hashes them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command_support.h"
#include "commands.h"
#include "hashing.h"
#include "progress.h"
#include "tether/tcp_socket.h"
#include "transfer_files.h"
#include "transfer_protocol.h"

namespace tether::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct SendOptions {
  std::vector<std::string> arguments;  // FILE... HOST:PORT
  bool qt = false;
  bool json = false;
  bool quiet = false;
  bool resume = true;
  bool noResume = false;  // --no-resume
  bool verify = true;
  bool noVerify = false;  // --no-verify
  double timeout = 30.0;
};

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class Sender {
 public:
  explicit Sender(const SendOptions& options) : options_(options) {
    socket_.bytesWritten.connect([this](std::int64_t n) { written_ += n; });
  }

  int run() {
    if (!parseHostPort(options_.arguments.back(), host_, port_)) {
      error(fmt::format("not a destination: {} (expected HOST:PORT)", options_.arguments.back()));
      return kExitUsage;
    }
    const std::vector<std::string> paths(options_.arguments.begin(), options_.arguments.end() - 1);
    std::vector<std::string> skipped;
    std::string why;
    if (!collectFiles(paths, !options_.qt, files_, skipped, &why)) {
      error(options_.qt && why.ends_with("is a directory") ? why + " (the Qt protocol sends single files)" : why);
      return options_.qt && why.ends_with("is a directory") ? kExitUsage : kExitLocalFile;
    }
    for (const std::string& s : skipped) note({{"event", "skipped"}, {"path", s}}, "skipped " + s + " (not a regular file)");
    if (options_.qt && files_.size() != 1) {
      error("the Qt protocol sends exactly one file per connection");
      return kExitUsage;
    }
    for (const OutgoingFile& f : files_) {
      struct stat st {};
      if (::stat(f.path.c_str(), &st) != 0) {
        error(fmt::format("cannot read {}: {}", f.path, std::strerror(errno)));
        return kExitLocalFile;
      }
      totalBytes_ += static_cast<std::uint64_t>(st.st_size);
    }
    // The frames are small and each waits for an answer: no Nagle delay.
    socket_.setSocketOption(AbstractSocket::LowDelayOption, 1);
    socket_.connectToHost(host_, port_);
    if (!socket_.waitForConnected(timeoutMs())) {
      error(fmt::format("cannot connect to {}:{}: {}", host_, port_, socket_.errorString()));
      return kExitNetwork;
    }
    note({{"event", "connected"}, {"peer", fmt::format("{}:{}", host_, port_)}, {"protocol", options_.qt ? "qt" : "native"}},
         fmt::format("connected to {}:{} ({} protocol)", host_, port_, options_.qt ? "Qt" : "native"));
    progress_ = std::make_unique<Progress>(Progress::styleFor(options_.json, options_.quiet, STDERR_FILENO),
                                           static_cast<std::int64_t>(totalBytes_));
    const int status = options_.qt ? sendSeed() : sendNative();
    progress_->finish();
    const double seconds = secondsSince(started_);
    const double rate = seconds > 0 ? static_cast<double>(bytesSent_) / seconds : 0.0;
    note({{"event", "done"},
          {"files", filesSent_},
          {"failed", filesFailed_},
          {"bytes", bytesSent_},
          {"seconds", std::round(seconds * 1000) / 1000},
          {"rate", std::round(rate)},
          {"status", status}},
         fmt::format("{} of {} file(s) sent, {} in {:.2f} s ({})", filesSent_, files_.size(),
                     formatBytes(static_cast<std::int64_t>(bytesSent_)), seconds, formatRate(rate)));
    return status;
  }

 private:
  int timeoutMs() const { return static_cast<int>(options_.timeout * 1000); }
  // Extra time for work the receiver does on a whole file before it answers
  // (hashing a partial file, fsync): a second per 20 MiB, at most 10 minutes.
  static int slowWorkMs(std::uint64_t size) {
    return static_cast<int>(std::min<std::uint64_t>(size / (20 << 20) * 1000, 600000));
  }

  void note(const nlohmann::json& event, const std::string& text) {
    if (options_.json) {
      writeJsonLine(stdout, event);
    } else if (!options_.quiet) {
      std::printf("%s\n", text.c_str());
      std::fflush(stdout);
    }
  }
  void error(const std::string& text, nlohmann::json event = nlohmann::json::object()) {
    if (!event.contains("event")) event["event"] = "error";
    event["reason"] = text;
    if (options_.json) {
      writeJsonLine(stdout, event);
    } else {
      std::fprintf(stderr, "tether send: %s\n", text.c_str());
      std::fflush(stderr);
    }
  }

  // Sends everything queued, updating the progress with the file bytes
  // (`fileBase` is the progress value at written_ == `mark`).
  bool drain(std::int64_t mark, std::int64_t fileBase, std::int64_t fileEnd) {
    while (socket_.bytesToWrite() > 0) {
      if (!socket_.waitForBytesWritten(timeoutMs())) return false;
      progress_->update(std::clamp(fileBase + (written_ - mark), fileBase, fileEnd));
    }
    return true;
  }

  // The next frame from the receiver, which must be of `type`.
  std::optional<proto::Frame> expect(proto::FrameType type, int timeoutMs) {
    for (;;) {
      proto::Frame frame;
      std::size_t used = 0;
      const proto::Parse parse = proto::takeFrame(inbox_, frame, used);
      if (parse == proto::Parse::Complete) {
        inbox_.erase(0, used);
        if (frame.type == type) return frame;
        failure_ = fmt::format("protocol error: unexpected frame (type {})", static_cast<int>(frame.type));
        return std::nullopt;
      }
      if (parse == proto::Parse::Malformed) {
        failure_ = "protocol error: malformed frame from the receiver";
        return std::nullopt;
      }
      if (socket_.bytesAvailable() > 0) {
        inbox_ += socket_.readAll();
        continue;
      }
      if (socket_.state() != SocketState::ConnectedState) {
        failure_ = "the receiver closed the connection";
        return std::nullopt;
      }
      if (!socket_.waitForReadyRead(timeoutMs)) {
        failure_ = socket_.error() == SocketError::SocketTimeoutError
                       ? fmt::format("no answer from the receiver for {:.0f} s", timeoutMs / 1000.0)
                       : "the receiver closed the connection: " + socket_.errorString();
        return std::nullopt;
      }
    }
  }

  // --- the seed's protocol

  int sendSeed() {
    const OutgoingFile& f = files_.front();
    UniqueFd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
      error(fmt::format("cannot read {}: {}", f.path, std::strerror(errno)));
      return kExitLocalFile;
    }
    const auto size = static_cast<std::int64_t>(st.st_size);
    // The seed's client sends the name after the last '/'.
    const std::string header = proto::encodeSeedHeader(f.relative, static_cast<std::uint64_t>(size));
    progress_->setLabel(f.relative);
    progress_->setTotal(size);
    note({{"event", "file-start"}, {"file", f.relative}, {"size", size}, {"offset", 0}},
         fmt::format("sending {} ({})", f.relative, formatBytes(size)));
    const auto start = Clock::now();
    socket_.write(header);
    const std::int64_t mark = written_ + static_cast<std::int64_t>(header.size());
    if (size > 0) socket_.sendFile(fd.get(), 0, size);
    if (!drain(mark, 0, size)) {
      const std::int64_t sent = std::clamp<std::int64_t>(written_ - mark, 0, size);
      error(fmt::format("{}: the receiver closed the connection after {} of {} ({})", f.relative, formatBytes(sent),
                        formatBytes(size), socket_.errorString()),
            {{"event", "file-failed"}, {"file", f.relative}, {"bytes", sent}});
      ++filesFailed_;
      return kExitFailed;
    }
    bytesSent_ += static_cast<std::uint64_t>(size);
    ++filesSent_;
    progress_->update(size);
    // The seed's server closes once it has everything: wait for that.
    socket_.disconnectFromHost();
    if (socket_.state() != SocketState::UnconnectedState) socket_.waitForDisconnected(timeoutMs());
    const double seconds = secondsSince(start);
    note({{"event", "file-done"},
          {"file", f.relative},
          {"size", size},
          {"bytes", size},
          {"resumed_from", 0},
          {"seconds", std::round(seconds * 1000) / 1000},
          {"rate", std::round(seconds > 0 ? static_cast<double>(size) / seconds : 0.0)}},
         fmt::format("sent {}: {} in {:.2f} s (Qt protocol: not verified)", f.relative, formatBytes(size), seconds));
    return kExitOk;
  }

  // --- the native protocol

  int sendNative() {
    std::string out = proto::magic();
    proto::encode(out, proto::Hello{proto::kVersion, static_cast<std::uint32_t>(files_.size()), totalBytes_,
                                    options_.verify ? 0u : proto::kUnverified});
    socket_.write(out);
    const auto welcomeFrame = expect(proto::FrameType::Welcome, timeoutMs());
    proto::Welcome welcome;
    if (!welcomeFrame || !proto::decode(welcomeFrame->body, welcome)) {
      error(welcomeFrame ? "protocol error: malformed Welcome" : "no welcome: " + failure_ +
                                                                       " (is it a tether receiver? use --qt for the Qt one)");
      return kExitFailed;
    }
    if (welcome.status != proto::Status::Ok) {
      error(fmt::format("the receiver refused: {} ({})", proto::statusText(welcome.status), welcome.message));
      return kExitFailed;
    }
    int status = kExitOk;
    std::int64_t doneBefore = 0;  // progress of the files before this one
    for (const OutgoingFile& f : files_) {
      const int fileStatus = sendOne(f, doneBefore);
      if (fileStatus == kExitNetwork || fileStatus == -1) return kExitFailed;  // the connection is gone
      if (fileStatus != kExitOk && status == kExitOk) status = fileStatus;
    }
    out.clear();
    proto::encode(out, proto::End{});
    socket_.write(out);
    const auto byeFrame = expect(proto::FrameType::Bye, timeoutMs());
    proto::Bye bye;
    if (!byeFrame || !proto::decode(byeFrame->body, bye)) {
      error("no final acknowledgement: " + failure_);
      return kExitFailed;
    }
    socket_.disconnectFromHost();
    if (socket_.state() != SocketState::UnconnectedState) socket_.waitForDisconnected(timeoutMs());
    return status;
  }

  // One file. Returns an exit status, or -1 when the connection is unusable.
  int sendOne(const OutgoingFile& f, std::int64_t& doneBefore) {
    UniqueFd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
      error(fmt::format("cannot read {}: {}", f.path, std::strerror(errno)), {{"event", "file-failed"}, {"file", f.relative}});
      ++filesFailed_;
      return kExitLocalFile;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    progress_->setLabel(f.relative);
    std::string out;
    proto::encode(out, proto::FileHeader{f.relative, size, static_cast<std::uint32_t>(st.st_mode & 0777)});
    socket_.write(out);
    // A receiver with a partial file hashes it before it answers.
    const auto offerFrame = expect(proto::FrameType::Offer, timeoutMs() + slowWorkMs(size));
    proto::Offer offer;
    if (!offerFrame || !proto::decode(offerFrame->body, offer)) {
      error(offerFrame ? "protocol error: malformed Offer" : f.relative + ": " + failure_);
      return -1;
    }
    if (offer.status != proto::Status::Ok) {
      ++filesFailed_;
      error(fmt::format("{}: refused: {}", f.relative, offer.message.empty() ? proto::statusText(offer.status) : offer.message),
            {{"event", "file-refused"}, {"file", f.relative}, {"status", proto::statusName(offer.status)}});
      doneBefore += static_cast<std::int64_t>(size);
      return kExitFailed;
    }
    // The promises outlive the worker: its destructor still runs what was
    // queued, callbacks included.
    std::promise<std::pair<bool, proto::Digest>> prefix;
    std::promise<std::pair<bool, proto::Digest>> whole;
    FileWorker hasher;
    // Resume when the receiver's partial file is a prefix of ours.
    std::uint64_t offset = 0;
    if (options_.resume && offer.offset > 0 && offer.offset <= size) {
      hasher.hashRange(fd.get(), 0, offer.offset,
                       [&](bool ok, const proto::Digest& d) { prefix.set_value({ok, d}); });
      const auto [ok, digest] = prefix.get_future().get();
      if (ok && digest == offer.prefixDigest) offset = offer.offset;
      else hasher.resetHash();
    }
    out.clear();
    proto::encode(out, proto::Start{offset});
    // The rest is hashed on the worker while sendfile sends it.
    if (options_.verify)
      hasher.hashRange(fd.get(), offset, size, [&](bool ok, const proto::Digest& d) { whole.set_value({ok, d}); });
    else
      whole.set_value({true, proto::Digest{}});
    note({{"event", "file-start"}, {"file", f.relative}, {"size", size}, {"offset", offset}},
         offset > 0 ? fmt::format("resuming {} at {} of {}", f.relative, formatBytes(static_cast<std::int64_t>(offset)),
                                  formatBytes(static_cast<std::int64_t>(size)))
                    : fmt::format("sending {} ({})", f.relative, formatBytes(static_cast<std::int64_t>(size))));
    const auto start = Clock::now();
    socket_.write(out);
    const std::int64_t mark = written_ + static_cast<std::int64_t>(out.size());
    const auto fileStart = doneBefore + static_cast<std::int64_t>(offset);
    const auto fileEnd = doneBefore + static_cast<std::int64_t>(size);
    progress_->update(fileStart);
    if (size > offset) socket_.sendFile(fd.get(), static_cast<std::int64_t>(offset), static_cast<std::int64_t>(size - offset));
    if (!drain(mark, fileStart, fileEnd)) {
      const std::int64_t sent = std::clamp<std::int64_t>(written_ - mark, 0, static_cast<std::int64_t>(size - offset));
      error(fmt::format("{}: the connection failed after {} of {} ({})", f.relative,
                        formatBytes(static_cast<std::int64_t>(offset) + sent),
                        formatBytes(static_cast<std::int64_t>(size)), socket_.errorString()),
            {{"event", "file-failed"}, {"file", f.relative}, {"bytes", static_cast<std::int64_t>(offset) + sent}});
      ++filesFailed_;
      return -1;
    }
    const auto [hashed, digest] = whole.get_future().get();
    out.clear();
    proto::encode(out, proto::DigestFrame{digest});
    socket_.write(out);
    // Verifying and syncing a large file takes the receiver a while.
    const auto resultFrame = expect(proto::FrameType::Result, timeoutMs() + slowWorkMs(size));
    proto::Result result;
    if (!resultFrame || !proto::decode(resultFrame->body, result)) {
      error(fmt::format("{}: no result: {}", f.relative, resultFrame ? "malformed Result" : failure_),
            {{"event", "file-failed"}, {"file", f.relative}});
      ++filesFailed_;
      return -1;
    }
    doneBefore = fileEnd;
    progress_->update(fileEnd);
    if (!hashed) {
      ++filesFailed_;
      error(f.relative + ": read error while hashing", {{"event", "file-failed"}, {"file", f.relative}});
      return kExitLocalFile;
    }
    if (result.status != proto::Status::Ok) {
      ++filesFailed_;
      error(fmt::format("{}: {}", f.relative, result.message.empty() ? proto::statusText(result.status) : result.message),
            {{"event", "file-failed"}, {"file", f.relative}, {"status", proto::statusName(result.status)}});
      return kExitFailed;
    }
    ++filesSent_;
    bytesSent_ += size - offset;
    const double seconds = secondsSince(start);
    const double rate = seconds > 0 ? static_cast<double>(size - offset) / seconds : 0.0;
    nlohmann::json done{{"event", "file-done"},
                        {"file", f.relative},
                        {"size", size},
                        {"bytes", size - offset},
                        {"resumed_from", offset},
                        {"seconds", std::round(seconds * 1000) / 1000},
                        {"rate", std::round(rate)},
                        {"verified", options_.verify}};
    if (options_.verify) done["sha256"] = proto::hex(digest);
    note(done, fmt::format("sent {}: {} in {:.2f} s ({}), {}{}", f.relative, formatBytes(static_cast<std::int64_t>(size)),
                           seconds, formatRate(rate),
                           options_.verify ? "SHA-256 verified by the receiver" : "not verified (--no-verify)",
                           offset > 0 ? fmt::format(" (resumed at {})", formatBytes(static_cast<std::int64_t>(offset)))
                                      : ""));
    return kExitOk;
  }

  const SendOptions& options_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::vector<OutgoingFile> files_;
  std::uint64_t totalBytes_ = 0;
  TcpSocket socket_;
  std::int64_t written_ = 0;
  std::string inbox_;
  std::string failure_;
  std::unique_ptr<Progress> progress_;
  Clock::time_point started_ = Clock::now();
  std::uint64_t bytesSent_ = 0;
  int filesSent_ = 0;
  int filesFailed_ = 0;
};

}  // namespace

void addSendCommand(CLI::App& app) {
  auto options = std::make_shared<SendOptions>();
  CLI::App* cmd = app.add_subcommand(
      "send",
      "Send files and directories to `tether receive` (SHA-256 verified, resumes an interrupted transfer, "
      "sendfile zero-copy), or with --qt one file to the Qt file-transfer server of seed 003.");
  cmd->add_option("paths", options->arguments,
                  "Files and directories to send (a directory with everything below it), then the receiver")
      ->required()
      ->expected(-2)
      ->type_name("FILE... HOST:PORT");
  cmd->add_flag("--qt", options->qt,
                "Speak seed 003's Qt protocol: one file, no verification, no resume, no answer from the receiver");
  cmd->add_flag("--json", options->json, "Print events and progress as JSON lines on stdout");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only errors");
  cmd->add_flag("--no-resume", options->noResume, "Always send whole files, even if the receiver has a part");
  cmd->add_flag("--no-verify", options->noVerify,
                "Skip the SHA-256 of every file on both sides (saves a CPU-second per GiB; only the checks of TCP remain)");
  cmd->add_option("--timeout", options->timeout, "Seconds to wait for the receiver before giving up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([options] {
    options->resume = !options->noResume;
    options->verify = !options->noVerify;
    int status = kExitOk;
    {
      Sender sender(*options);
      status = sender.run();
    }
    if (status != kExitOk) exitWith(status);
  });
}

}  // namespace tether::cli
