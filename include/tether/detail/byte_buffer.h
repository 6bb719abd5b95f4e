// ByteBuffer: the read and write buffer of devices and sockets.
//
// One contiguous allocation with a small prepend area, a read index and a
// write index (muduo's layout):
//
//   | prepend (ungetChar) |  readable bytes  |  writable space  |
//   0                  readIndex         writeIndex         capacity
//
// readFromFd() reads with one system call into the writable space plus a
// 64 KiB stack spill, so it takes everything available without asking the
// size first. An empty buffer can release its storage (idle connections
// hold no large buffers). Not thread-safe; owner thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tether::detail {

class ByteBuffer {
 public:
  static constexpr std::size_t kPrepend = 8;
  static constexpr std::size_t kSpill = 64 * 1024;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&&) noexcept;
  ByteBuffer& operator=(ByteBuffer&&) noexcept;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer();

  // Readable bytes.
  std::size_t size() const { return writeIndex_ - readIndex_; }
  bool empty() const { return size() == 0; }
  const char* data() const { return storage_.get() + readIndex_; }
  std::string_view view() const { return {data(), size()}; }
  // The byte at readable offset i (i < size()).
  char operator[](std::size_t i) const { return data()[i]; }
  // Offset of the first `c` at or after readable offset `from`, or npos.
  std::size_t find(char c, std::size_t from = 0) const;

  // Drops n readable bytes from the front (n <= size()).
  void consume(std::size_t n);
  // Copies up to n bytes out, then drops them. Returns the count copied.
  std::size_t take(char* out, std::size_t n);
  void clear();

  void append(const char* p, std::size_t n);
  void append(std::string_view s) { append(s.data(), s.size()); }
  // Puts bytes back in front of the readable bytes (ungetChar, rollback).
  void prepend(const char* p, std::size_t n);

  // At least n writable bytes at the returned pointer; commitWrite(k) makes k
  // of them readable.
  char* prepareWrite(std::size_t n);
  void commitWrite(std::size_t n);
  std::size_t writableBytes() const { return capacity_ - writeIndex_; }
  std::size_t capacity() const { return capacity_; }

  // Reads from fd with one system call into the writable space plus a stack
  // spill, appending at most maxBytes (0 = no limit): a plain read() into
  // the buffer when the limit fits in it, a read() into the spill when the
  // buffer is empty with less than 64 KiB free, else readv() into both.
  // Returns the bytes read, 0 at end of stream, or -1 with errno set
  // (EAGAIN included).
  ssize_t readFromFd(int fd, std::size_t maxBytes = 0);
  // How many bytes the next readFromFd(fd, maxBytes) asks the kernel for:
  // a read that returns fewer emptied a stream socket's receive queue. Not
  // const: a buffer without storage first takes a cached block, as the read
  // itself would.
  std::size_t readRoom(std::size_t maxBytes = 0);

  // Lets the storage go if the buffer is empty and holds more than
  // keepBytes; an idle connection then costs no buffer memory. Blocks of
  // 2 KiB and more go to one of two small per-thread caches (2-16 KiB and
  // 16 KiB-4 MiB) that the next buffer needing one takes them from, the
  // rest back to the allocator.
  void releaseIfEmpty(std::size_t keepBytes = 0);

 private:
  void ensureWritable(std::size_t n);
  // Where the next read goes, decided once for readFromFd() and readRoom().
  struct ReadPlan {
    enum Kind { Buffer, Spill, Both } kind;  // read() into the buffer / read() into the spill / readv() into both
    std::size_t intoBuffer;
    std::size_t intoSpill;
  };
  ReadPlan planRead(std::size_t maxBytes);
  // New storage of at least `needed` bytes (`wanted` if newly allocated)
  // with the readable bytes copied to offset `at`.
  void replaceStorage(std::size_t needed, std::size_t wanted, std::size_t at);

  std::unique_ptr<char[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t readIndex_ = 0;
  std::size_t writeIndex_ = 0;
};

}  // namespace tether::detail
