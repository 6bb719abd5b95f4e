#include "tether/detail/byte_buffer.h"

#include <sys/uio.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace tether::detail {

namespace {

// The first allocation holds at least this much besides the prepend area, so
// that a buffer filled a few bytes at a time does not reallocate every call.
constexpr std::size_t kInitialSize = 1024;

// True if p points into [base, base + capacity): the caller passed our own
// bytes, which growing or sliding could move under it.
bool pointsInto(const char* p, const char* base, std::size_t capacity) {
  return base && p >= base && p < base + capacity;
}

// Blocks that buffers let go of, kept per thread for the next buffer that
// needs one. Sockets release their buffers whenever they run empty (an idle
// connection holds none), and the next message of any connection on the
// thread takes the block back while it is still in the cache: a server with
// a thousand connections cycles a few warm blocks instead of touching a
// thousand cold ones, and a bulk stream does not hand its memory back to the
// system (and fault it in again) on every event.
//
// Two caches, so that neither size evicts the other: large blocks (16 KiB
// to 4 MiB: read buffers of bulk streams) and small ones (2 KiB to 16 KiB:
// the read and write buffers of messages of a few KiB). Blocks under 2 KiB
// are left to the allocator, whose own per-thread cache does the same for
// them; those from 2 KiB up are past it, and allocating and freeing one per
// message measured at about 1% of an echo server's time at 4 KiB.
//
// The caches are trivially destructible, so they stay usable while the
// thread ends: buffers destroyed by other thread-local objects' destructors
// (a dispatcher deleting its sockets, say) still find them. A separate
// guard, made with the first cached block, frees what is kept and closes the
// caches so that later blocks go straight back to the allocator.
class BlockCache {
 public:
  static constexpr std::size_t kMaxBlocks = 4;

  constexpr BlockCache(std::size_t minBlock, std::size_t maxBlock, std::size_t maxBytes)
      : minBlock_(minBlock), maxBlock_(maxBlock), maxBytes_(maxBytes) {}

  // Whether a block of this capacity belongs here.
  bool holds(std::size_t capacity) const { return capacity >= minBlock_ && capacity < maxBlock_; }

  // Keeps the block (the newest is handed out first); the oldest go back to
  // the allocator to make room. Returns false, keeping nothing, once closed.
  bool put(std::unique_ptr<char[]>& block, std::size_t capacity) {
    if (closed_) return false;
    while (count_ == kMaxBlocks || bytes_ + capacity > maxBytes_) dropOldest();
    blocks_[count_++] = {block.release(), capacity};
    bytes_ += capacity;
    return true;
  }

  // The newest block of at least `needed` bytes, if one is kept.
  std::unique_ptr<char[]> take(std::size_t needed, std::size_t* capacity) {
    for (std::size_t i = count_; i-- > 0;) {
      if (blocks_[i].capacity < needed) continue;
      std::unique_ptr<char[]> block(blocks_[i].data);
      *capacity = blocks_[i].capacity;
      removeAt(i);
      return block;
    }
    return nullptr;
  }

  // The thread is ending: free what is kept, keep nothing more.
  void close() {
    closed_ = true;
    while (count_ > 0) dropOldest();
  }

 private:
  void dropOldest() {
    delete[] blocks_[0].data;
    removeAt(0);
  }
  void removeAt(std::size_t i) {
    bytes_ -= blocks_[i].capacity;
    for (std::size_t j = i + 1; j < count_; ++j) blocks_[j - 1] = blocks_[j];
    blocks_[--count_] = {};
  }

  struct Block {
    char* data = nullptr;  // owned; from new char[]
    std::size_t capacity = 0;
  };
  Block blocks_[kMaxBlocks];
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  std::size_t minBlock_;
  std::size_t maxBlock_;
  std::size_t maxBytes_;
  bool closed_ = false;
};

constexpr std::size_t kSmallBlock = 2 * 1024;
constexpr std::size_t kLargeBlock = 16 * 1024;

struct ThreadBlocks {
  BlockCache large{kLargeBlock, 4 * 1024 * 1024 + 1, 4 * 1024 * 1024};
  BlockCache small{kSmallBlock, kLargeBlock, 4 * kLargeBlock};
  bool guarded = false;

  BlockCache* cacheFor(std::size_t capacity) {
    if (large.holds(capacity)) return &large;
    if (small.holds(capacity)) return &small;
    return nullptr;
  }
};

constinit thread_local ThreadBlocks threadBlocks{};

struct BlockCacheGuard {
  BlockCacheGuard() = default;
  BlockCacheGuard(const BlockCacheGuard&) = delete;
  BlockCacheGuard& operator=(const BlockCacheGuard&) = delete;
  ~BlockCacheGuard() {
    threadBlocks.large.close();
    threadBlocks.small.close();
  }
};

// Storage of at least `needed` bytes: a cached block if one fits, else a new
// allocation of `wanted` (>= needed) bytes.
std::unique_ptr<char[]> newStorage(std::size_t needed, std::size_t wanted, std::size_t* capacity) {
  if (BlockCache* cache = threadBlocks.cacheFor(needed)) {
    if (auto block = cache->take(needed, capacity)) return block;
  }
  *capacity = wanted;
  return std::make_unique_for_overwrite<char[]>(wanted);  // no zero-filling
}

// Gives storage back: to the thread's cache if it is a block worth keeping.
void dropStorage(std::unique_ptr<char[]>& storage, std::size_t capacity) {
  if (!storage) return;
  if (BlockCache* cache = threadBlocks.cacheFor(capacity)) {
    if (!threadBlocks.guarded) {
      static thread_local BlockCacheGuard guard;
      threadBlocks.guarded = true;
    }
    if (cache->put(storage, capacity)) return;
  }
  storage.reset();
}

}  // namespace

ByteBuffer::ByteBuffer(ByteBuffer&& other) noexcept
    : storage_(std::move(other.storage_)),
      capacity_(std::exchange(other.capacity_, 0)),
      readIndex_(std::exchange(other.readIndex_, 0)),
      writeIndex_(std::exchange(other.writeIndex_, 0)) {}

ByteBuffer& ByteBuffer::operator=(ByteBuffer&& other) noexcept {
  if (this != &other) {
    dropStorage(storage_, capacity_);
    storage_ = std::move(other.storage_);
    capacity_ = std::exchange(other.capacity_, 0);
    readIndex_ = std::exchange(other.readIndex_, 0);
    writeIndex_ = std::exchange(other.writeIndex_, 0);
  }
  return *this;
}

ByteBuffer::~ByteBuffer() { dropStorage(storage_, capacity_); }

std::size_t ByteBuffer::find(char c, std::size_t from) const {
  if (from >= size()) return npos;
  const void* hit = std::memchr(data() + from, static_cast<unsigned char>(c), size() - from);
  if (!hit) return npos;
  return static_cast<std::size_t>(static_cast<const char*>(hit) - data());
}

void ByteBuffer::consume(std::size_t n) {
  assert(n <= size());
  if (n >= size()) {
    clear();
    return;
  }
  readIndex_ += n;
}

std::size_t ByteBuffer::take(char* out, std::size_t n) {
  const std::size_t count = std::min(n, size());
  if (count > 0) std::memcpy(out, data(), count);
  consume(count);
  return count;
}

void ByteBuffer::clear() {
  // With storage, start again right after the prepend area so that the whole
  // allocation is writable; without, stay at zero.
  readIndex_ = writeIndex_ = storage_ ? kPrepend : 0;
}

void ByteBuffer::append(const char* p, std::size_t n) {
  if (n == 0) return;
  if (pointsInto(p, storage_.get(), capacity_)) {
    const std::string copy(p, n);
    append(copy.data(), copy.size());
    return;
  }
  ensureWritable(n);
  std::memcpy(storage_.get() + writeIndex_, p, n);
  writeIndex_ += n;
}

void ByteBuffer::prepend(const char* p, std::size_t n) {
  if (n == 0) return;
  if (pointsInto(p, storage_.get(), capacity_)) {
    const std::string copy(p, n);
    prepend(copy.data(), copy.size());
    return;
  }
  if (n > readIndex_) {
    // Make room in front: keep a fresh prepend area in front of the new bytes
    // so that a run of ungetChar() calls does not move the data every time.
    const std::size_t readable = size();
    const std::size_t front = kPrepend + n;
    if (storage_ && front + readable <= capacity_) {
      std::memmove(storage_.get() + front, data(), readable);
    } else {
      const std::size_t needed = front + readable + std::max(writableBytes(), kInitialSize);
      replaceStorage(needed, std::max(capacity_ * 2, needed), front);
    }
    readIndex_ = front;
    writeIndex_ = front + readable;
  }
  readIndex_ -= n;
  std::memcpy(storage_.get() + readIndex_, p, n);
}

char* ByteBuffer::prepareWrite(std::size_t n) {
  ensureWritable(n);
  return storage_.get() + writeIndex_;
}

void ByteBuffer::commitWrite(std::size_t n) {
  assert(n <= writableBytes());
  writeIndex_ += n;
}

void ByteBuffer::ensureWritable(std::size_t n) {
  if (writableBytes() >= n) return;
  const std::size_t readable = size();
  if (storage_ && capacity_ >= kPrepend + readable + n) {
    // Enough room overall: slide the readable bytes back to the front.
    std::memmove(storage_.get() + kPrepend, data(), readable);
  } else {
    const std::size_t needed = kPrepend + readable + std::max(n, kInitialSize);
    replaceStorage(needed, std::max(capacity_ * 2, needed), kPrepend);
  }
  readIndex_ = kPrepend;
  writeIndex_ = kPrepend + readable;
}

void ByteBuffer::replaceStorage(std::size_t needed, std::size_t wanted, std::size_t at) {
  std::size_t capacity = 0;
  std::unique_ptr<char[]> fresh = newStorage(needed, wanted, &capacity);
  const std::size_t readable = size();
  if (readable > 0) std::memcpy(fresh.get() + at, data(), readable);
  dropStorage(storage_, capacity_);
  storage_ = std::move(fresh);
  capacity_ = capacity;
}

ByteBuffer::ReadPlan ByteBuffer::planRead(std::size_t maxBytes) {
  const std::size_t limit = maxBytes == 0 ? std::numeric_limits<std::size_t>::max() : maxBytes;
  if (!storage_ && limit >= kSpill) {
    // No storage: a block the thread keeps takes the read directly (with
    // the spill behind it), which saves copying out of the spill.
    std::size_t capacity = 0;
    if (auto block = threadBlocks.large.take(kPrepend + kSpill, &capacity)) {
      storage_ = std::move(block);
      capacity_ = capacity;
      readIndex_ = writeIndex_ = kPrepend;
    }
  }
  const std::size_t intoBuffer = std::min(writableBytes(), limit);
  const std::size_t intoSpill = std::min(kSpill, limit - intoBuffer);
  // One plain read(2) where one buffer will do: readv's iovec import costs
  // the kernel more than the call itself saves on small messages. (A large
  // empty buffer still takes readv with the spill: reading straight into
  // all of it measured slower for bulk streams.)
  if (intoSpill == 0) return {ReadPlan::Buffer, intoBuffer, 0};
  // Nothing held: read into the spill and copy what came (small messages
  // cost a few bytes of copying; large ones grow the buffer for next time).
  if (empty() && intoBuffer < kSpill) return {ReadPlan::Spill, 0, std::min(limit, kSpill)};
  return {ReadPlan::Both, intoBuffer, intoSpill};
}

ssize_t ByteBuffer::readFromFd(int fd, std::size_t maxBytes) {
  const ReadPlan plan = planRead(maxBytes);
  ssize_t n;
  if (plan.kind == ReadPlan::Buffer) {
    do {
      n = ::read(fd, storage_.get() + writeIndex_, plan.intoBuffer);
    } while (n < 0 && errno == EINTR);
    if (n > 0) writeIndex_ += static_cast<std::size_t>(n);
    return n;
  }

  char spill[kSpill];
  if (plan.kind == ReadPlan::Spill) {
    do {
      n = ::read(fd, spill, plan.intoSpill);
    } while (n < 0 && errno == EINTR);
    if (n > 0) append(spill, static_cast<std::size_t>(n));
    return n;
  }

  iovec vec[2];
  int count = 0;
  if (plan.intoBuffer > 0) vec[count++] = {storage_.get() + writeIndex_, plan.intoBuffer};
  vec[count++] = {spill, plan.intoSpill};
  do {
    n = ::readv(fd, vec, count);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n;

  const auto got = static_cast<std::size_t>(n);
  if (got <= plan.intoBuffer) {
    writeIndex_ += got;
  } else {
    writeIndex_ += plan.intoBuffer;
    append(spill, got - plan.intoBuffer);
  }
  return n;
}

std::size_t ByteBuffer::readRoom(std::size_t maxBytes) {
  const ReadPlan plan = planRead(maxBytes);
  return plan.intoBuffer + plan.intoSpill;
}

void ByteBuffer::releaseIfEmpty(std::size_t keepBytes) {
  if (!empty() || capacity_ <= keepBytes) return;
  dropStorage(storage_, capacity_);
  capacity_ = 0;
  readIndex_ = writeIndex_ = 0;
}

}  // namespace tether::detail
