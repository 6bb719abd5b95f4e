// SHA-256 (OpenSSL EVP) and the worker thread that keeps hashing and file
// writes off the event loop during a transfer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transfer_protocol.h"

struct evp_md_ctx_st;

namespace tether::cli {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);

  void update(const void* data, std::size_t size);
  // The digest of everything so far; the object starts over afterwards.
  proto::Digest finish();
  // The digest so far, without ending the computation.
  proto::Digest peek() const;
  void reset();

 private:
  evp_md_ctx_st* ctx_;
};

// Adds bytes [begin, end) of the file to `hash`, reading with pread.
// False on a read error or a file shorter than `end`.
bool hashFileRange(int fd, std::uint64_t begin, std::uint64_t end, Sha256& hash);

// One thread that, in order: writes chunks to a file (pwrite) and/or adds
// them to a running SHA-256, hashes ranges of a file, and reports digests.
// Jobs run in submission order; completion callbacks run on the worker
// thread (post them to your loop). Chunk buffers come from a small pool so
// that a long transfer allocates nothing per chunk. The destructor finishes
// every submitted job, then joins.
class FileWorker {
 public:
  FileWorker();
  ~FileWorker();
  FileWorker(const FileWorker&) = delete;
  FileWorker& operator=(const FileWorker&) = delete;

  // A buffer of `size` bytes (contents unspecified) to fill and submit.
  std::string takeBuffer(std::size_t size);
  // Writes the first `length` bytes of `chunk` at `offset` of fd (when
  // fd >= 0) and adds them to the hash (when hash is true); the buffer goes
  // back to the pool. A write error is remembered (see finish()).
  void submitChunk(std::string chunk, std::size_t length, int fd, std::uint64_t offset, bool hash);
  // Adds bytes [begin, end) of fd to the hash; done(ok, digest so far).
  void hashRange(int fd, std::uint64_t begin, std::uint64_t end,
                 std::function<void(bool ok, const proto::Digest& soFar)> done);
  // Starts the hash over.
  void resetHash();
  // After every job before it: fsync(fd) when fd >= 0 and sync is set, then
  // done(ok, digest) with ok false if any write, read or the fsync failed
  // (`error` says what). The hash starts over.
  void finish(int fd, bool sync, std::function<void(bool ok, const std::string& error, const proto::Digest&)> done);
  // Blocks the caller until at most `jobs` jobs are waiting (back-pressure).
  void waitBelow(std::size_t jobs);
  // Blocks until every job submitted so far has run.
  void drain() { waitBelow(0); }

 private:
  void run();
  void post(std::function<void()> job);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable progress_;
  std::deque<std::function<void()>> jobs_;
  std::size_t running_ = 0;
  std::vector<std::string> spare_;
  bool stopping_ = false;
  // Worker-thread state.
  Sha256 hash_;
  std::string error_;
  std::thread thread_;
};

}  // namespace tether::cli
