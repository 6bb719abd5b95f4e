#include "hashing.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

namespace tether::cli {

namespace {
// Work on a chunk in slices that stay in a core's L2 cache between the two
// passes over them (hash, write).
constexpr std::size_t kCacheSlice = 256 * 1024;
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(const Sha256& other) : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_MD_CTX_copy_ex(ctx_, other.ctx_) != 1) throw std::runtime_error("SHA-256: cannot copy state");
}

Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other && EVP_MD_CTX_copy_ex(ctx_, other.ctx_) != 1)
    throw std::runtime_error("SHA-256: cannot copy state");
  return *this;
}

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256: cannot start");
}

void Sha256::update(const void* data, std::size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_, data, size) != 1) throw std::runtime_error("SHA-256: update failed");
}

proto::Digest Sha256::finish() {
  proto::Digest d{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_, d.data(), &length) != 1 || length != d.size())
    throw std::runtime_error("SHA-256: cannot finish");
  reset();
  return d;
}

proto::Digest Sha256::peek() const {
  Sha256 copy(*this);
  return copy.finish();
}

bool hashFileRange(int fd, std::uint64_t begin, std::uint64_t end, Sha256& hash) {
  constexpr std::size_t kChunk = kCacheSlice;  // read, then hashed while still in the cache
  std::string buffer(kChunk, '\0');
  std::uint64_t at = begin;
  while (at < end) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, end - at));
    const ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    hash.update(buffer.data(), static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  return true;
}

// ------------------------------------------------------------ FileWorker

FileWorker::FileWorker() : thread_([this] { run(); }) {}

FileWorker::~FileWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void FileWorker::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything done
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    lock.unlock();
    job();
    lock.lock();
    --running_;
    progress_.notify_all();
  }
}

void FileWorker::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void FileWorker::waitBelow(std::size_t jobs) {
  std::unique_lock lock(mutex_);
  progress_.wait(lock, [&] { return jobs_.size() + running_ <= jobs; });
}

std::string FileWorker::takeBuffer(std::size_t size) {
  std::string buffer;
  {
    std::lock_guard lock(mutex_);
    if (!spare_.empty()) {
      buffer = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  buffer.resize(size);  // a recycled buffer has the size already: no clearing
  return buffer;
}

void FileWorker::submitChunk(std::string chunk, std::size_t length, int fd, std::uint64_t offset, bool hash) {
  // std::function needs a copyable callable, so the buffer rides in a
  // shared_ptr; it goes back to the pool once written and hashed.
  auto buffer = std::make_shared<std::string>(std::move(chunk));
  post([this, buffer, length, fd, offset, hash] {
    // Slice by slice, so that the write and the hash read the same bytes
    // from this core's cache rather than from memory twice.
    for (std::size_t slice = 0; slice < length; slice += kCacheSlice) {
      const std::size_t size = std::min(kCacheSlice, length - slice);
      if (hash) hash_.update(buffer->data() + slice, size);
      std::size_t done = 0;
      while (fd >= 0 && error_.empty() && done < size) {
        const ssize_t n = ::pwrite(fd, buffer->data() + slice + done, size - done,
                                   static_cast<off_t>(offset + slice + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          error_ = std::string("write failed: ") + std::strerror(n < 0 ? errno : EIO);
          break;
        }
        done += static_cast<std::size_t>(n);
      }
    }
    std::lock_guard lock(mutex_);
    if (spare_.size() < 8) spare_.push_back(std::move(*buffer));
  });
}

void FileWorker::hashRange(int fd, std::uint64_t begin, std::uint64_t end,
                           std::function<void(bool, const proto::Digest&)> done) {
  post([this, fd, begin, end, done = std::move(done)] {
    const bool ok = hashFileRange(fd, begin, end, hash_);
    if (!ok && error_.empty()) error_ = "read failed";
    done(ok, hash_.peek());
  });
}

void FileWorker::resetHash() {
  post([this] {
    hash_.reset();
    error_.clear();
  });
}

void FileWorker::finish(int fd, bool sync,
                        std::function<void(bool, const std::string&, const proto::Digest&)> done) {
  post([this, fd, sync, done = std::move(done)] {
    if (fd >= 0 && sync && error_.empty() && ::fsync(fd) != 0)
      error_ = std::string("fsync failed: ") + std::strerror(errno);
    const proto::Digest digest = hash_.finish();
    const std::string error = std::exchange(error_, std::string());
    done(error.empty(), error, digest);
  });
}

}  // namespace tether::cli
