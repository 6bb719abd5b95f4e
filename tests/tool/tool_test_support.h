// Helpers for the tests of the `tether` tool: child processes with their
// output read line by line against a deadline (never a sleep), temporary
// directories, files of known content, and raw TCP clients that speak the
// seed's or the native protocol byte by byte (to send exactly what a test
// needs, malformed or cut short).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "transfer_protocol.h"

namespace tether::tooltest {

namespace proto = tether::cli::proto;

// Paths of the programs under test (set by CMake).
std::string tetherBinary();
std::string qtSeedSender();    // empty when Qt 5 was not found
std::string qtSeedReceiver();

// A child process; stdout and stderr are pipes read by the test.
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv);
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The next stdout line (without '\n'), or nullopt at end of output or
  // after timeoutMs. stderr is collected meanwhile.
  std::optional<std::string> readLine(int timeoutMs = 10000);
  // Exit status (or 128 + signal); nullopt when still running after timeoutMs.
  std::optional<int> wait(int timeoutMs = 20000);
  void signal(int sig);
  // Everything read from stdout and stderr so far (after wait(): all of it).
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  pid_t pid() const { return pid_; }

 private:
  // Reads what is available from both pipes, waiting up to timeoutMs; with
  // `exited`, also notices the child's exit.
  bool pump(int timeoutMs, bool* exited = nullptr);

  pid_t pid_ = -1;
  int pidFd_ = -1;
  int outFd_ = -1;
  int errFd_ = -1;
  std::string out_;
  std::string err_;
  std::string pending_;  // stdout not yet returned by readLine
  std::optional<int> status_;
};

// The result of running a command to its end.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
  // stdout as JSON lines (lines that are not JSON are skipped).
  std::vector<nlohmann::json> events() const;
  // The first event named `name` (or an empty object).
  nlohmann::json event(const std::string& name) const;
};
RunResult run(const std::vector<std::string>& argv, int timeoutMs = 30000);
// `tether ARGS...` (the tool under test)
RunResult runTether(const std::vector<std::string>& args, int timeoutMs = 30000);

// `tether receive --json --address 127.0.0.1 --port 0 ARGS...`, started and
// listening.
class Receiver {
 public:
  explicit Receiver(const std::string& dir, const std::vector<std::string>& extra = {});
  std::uint16_t port() const { return port_; }
  std::string destination() const { return "127.0.0.1:" + std::to_string(port_); }
  // Reads events until one named `name` (for connection `id` when id > 0)
  // arrives; returns it, or an empty object after timeoutMs. Every event
  // read is kept in seen().
  nlohmann::json waitFor(const std::string& name, int timeoutMs = 15000, int id = 0);
  const std::vector<nlohmann::json>& seen() const { return seen_; }
  Process& process() { return process_; }

 private:
  Process process_;
  std::uint16_t port_ = 0;
  std::vector<nlohmann::json> seen_;
  std::size_t next_ = 0;  // seen_ entries already returned by waitFor
};

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Deterministic bytes, different for every seed.
std::string patternBytes(std::size_t size, std::uint64_t seed);
void writeFile(const std::string& path, const std::string& content, unsigned mode = 0644);
// The whole file, or nullopt when it cannot be read.
std::optional<std::string> readFile(const std::string& path);
bool exists(const std::string& path);
// Names in a directory (not "." and ".."), sorted.
std::vector<std::string> listDir(const std::string& path);
std::string sha256Hex(const std::string& bytes);

// A blocking TCP client on 127.0.0.1 (plain sockets, no tether).
class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return fd_ >= 0; }
  // False when the peer closed or reset the connection.
  bool send(const std::string& bytes);
  // Exactly n bytes, or nullopt (closed, or timeoutMs passed).
  std::optional<std::string> receive(std::size_t n, int timeoutMs = 10000);
  // True when the peer closed (or reset) the connection within timeoutMs;
  // bytes still arriving are dropped.
  bool waitClosed(int timeoutMs = 10000);
  void close();

  // The native protocol, one step at a time.
  bool sendFrame(const std::string& frame) { return send(frame); }
  std::optional<proto::Frame> receiveFrame(int timeoutMs = 10000);
  // magic + Hello, then the Welcome.
  bool hello(std::uint32_t files, std::uint64_t total);
  // File header, then the Offer.
  std::optional<proto::Offer> offerFor(const std::string& path, std::uint64_t size, std::uint32_t mode = 0644);
  std::optional<proto::Result> result(int timeoutMs = 10000);

 private:
  int fd_ = -1;
  std::string buffered_;
};

// A plain TCP listener on 127.0.0.1, port 0.
class RawServer {
 public:
  RawServer();
  ~RawServer();
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  std::uint16_t port() const { return port_; }
  // Accepts one connection and reads until the peer closes it; nullopt when
  // nothing connects or the peer does not close within timeoutMs.
  std::optional<std::string> acceptAndReadAll(int timeoutMs = 15000);

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace tether::tooltest
