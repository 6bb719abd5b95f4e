#include "tether/io_device.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "tether/detail/byte_buffer.h"

namespace tether {

namespace {

// How much one step of readAll(), readLine() or a transaction pulls at a time.
constexpr std::int64_t kChunk = 16 * 1024;

constexpr const char* kNegativeMaxSize = "Called with maxSize < 0";
constexpr const char* kLineMaxSizeTooSmall = "Called with maxSize < 2";

// Why a read-side call cannot proceed, in the words Qt warns with (kept as
// the error string), or nullptr when it can.
const char* readRefusal(IODevice::OpenMode mode, std::int64_t maxSize) {
  if (!(mode & IODevice::ReadOnly)) return mode == IODevice::NotOpen ? "device not open" : "WriteOnly device";
  return maxSize < 0 ? kNegativeMaxSize : nullptr;
}

const char* writeRefusal(IODevice::OpenMode mode, std::int64_t maxSize) {
  if (!(mode & IODevice::WriteOnly)) return mode == IODevice::NotOpen ? "device not open" : "ReadOnly device";
  return maxSize < 0 ? kNegativeMaxSize : nullptr;
}

// The std::string forms of read(), peek() and readLine(limit): fill(data,
// maxSize) does the work; an empty request still goes through it for its
// checks.
template <class Fill>
std::string collect(std::int64_t maxSize, Fill&& fill) {
  std::string result(static_cast<std::size_t>(std::max<std::int64_t>(maxSize, 0)), '\0');
  const std::int64_t got = fill(result.data(), maxSize);
  result.resize(static_cast<std::size_t>(std::max<std::int64_t>(got, 0)));
  return result;
}

// Moves the read position of a random-access device to newPos. The buffer
// holds the bytes at [pos, pos + size) (put back by ungetChar); moving
// forward inside them drops what was passed, anything else drops them all.
void moveReadPosition(detail::ByteBuffer& buffer, std::int64_t& pos, std::int64_t newPos) {
  const std::int64_t offset = newPos - pos;
  pos = newPos;
  if (offset < 0 || offset >= static_cast<std::int64_t>(buffer.size())) buffer.clear();
  else buffer.consume(static_cast<std::size_t>(offset));
}

// Text mode on read: every '\r' goes (Qt's rule), so "\r\n" reads as "\n".
// Returns the number of bytes removed from [begin, end).
std::int64_t dropCarriageReturns(char* begin, char* end) {
  return end - std::remove(begin, end, '\r');
}

}  // namespace

IODevice::IODevice(Object* parent) : Object(parent) {}

IODevice::~IODevice() = default;

bool IODevice::open(OpenMode mode) {
  openMode_ = mode;
  buffer_.clear();
  buffer_.releaseIfEmpty();
  transactionStarted_ = false;
  transactionPos_ = 0;
  errorString_.clear();
  pos_ = 0;
  if ((mode & Append) && !isSequential()) pos_ = size();
  return true;
}

void IODevice::close() {
  if (openMode_ == NotOpen) return;
  if (!aboutToClose.emit()) return;  // a slot destroyed the device
  openMode_ = NotOpen;
  pos_ = 0;
  transactionStarted_ = false;
  transactionPos_ = 0;
  buffer_.clear();
  buffer_.releaseIfEmpty();
}

void IODevice::setTextModeEnabled(bool enabled) {
  if (!isOpen()) return;  // as in Qt: only an open device has a mode to change
  if (enabled) openMode_ |= Text;
  else openMode_ &= ~static_cast<OpenMode>(Text);
}

std::int64_t IODevice::pos() const { return pos_; }

std::int64_t IODevice::size() const { return isSequential() ? bytesAvailable() : 0; }

bool IODevice::seek(std::int64_t pos) {
  if (isSequential() || !isOpen() || pos < 0) return false;
  moveReadPosition(buffer_, pos_, pos);
  return true;
}

bool IODevice::atEnd() const { return !isOpen() || (bufferedBytes() == 0 && bytesAvailable() == 0); }

bool IODevice::reset() { return seek(0); }

std::int64_t IODevice::bytesAvailable() const {
  if (isSequential()) return bufferedBytes();
  return std::max(size() - pos_, bufferedBytes());
}

std::int64_t IODevice::bytesToWrite() const { return 0; }

std::int64_t IODevice::bufferedBytes() const {
  const std::int64_t held = static_cast<std::int64_t>(buffer_.size());
  const std::int64_t passed = (isSequential() && transactionStarted_) ? transactionPos_ : 0;
  return std::max<std::int64_t>(held - passed, 0);
}

// The one read path. Serves the buffer first, then readData(). Buffered bytes
// stay in the buffer when peeking or inside a transaction on a sequential
// device; in those cases the device's bytes are pulled into the buffer too,
// so that a later read() or a rollback finds them there.
std::int64_t IODevice::readImpl(char* data, std::int64_t maxSize, bool peeking) {
  const bool sequential = isSequential();
  const bool inTransaction = sequential && transactionStarted_;
  const bool keep = peeking || inTransaction;
  const bool pullIntoBuffer = sequential && keep;
  const bool text = isTextModeEnabled();
  const std::int64_t savedPos = pos_;
  std::size_t offset = inTransaction ? static_cast<std::size_t>(transactionPos_) : 0;
  std::size_t consumed = 0;
  if (sequential && maxSize > 0 && buffer_.size() < offset + static_cast<std::size_t>(maxSize))
    prepareRead(maxSize - static_cast<std::int64_t>(buffer_.size() - std::min(buffer_.size(), offset)), keep);

  std::int64_t readSoFar = 0;
  char* unfiltered = data;  // start of the bytes text mode has not looked at yet
  bool deviceDone = false;
  bool failed = false;
  for (;;) {
    if (maxSize > 0 && buffer_.size() > offset) {
      const std::size_t n = std::min(buffer_.size() - offset, static_cast<std::size_t>(maxSize));
      std::memcpy(data, buffer_.data() + offset, n);
      if (keep) {
        offset += n;
      } else {
        buffer_.consume(n);
        consumed += n;
      }
      if (!sequential) pos_ += static_cast<std::int64_t>(n);
      data += n;
      maxSize -= static_cast<std::int64_t>(n);
      readSoFar += static_cast<std::int64_t>(n);
    }

    if (maxSize > 0 && !deviceDone) {
      std::int64_t got = 0;
      if (pullIntoBuffer) {
        // A scratch chunk, not the buffer's own space: readData() of a
        // subclass may append to the read buffer itself.
        std::array<char, kChunk> chunk;
        const std::int64_t want = std::min(maxSize, kChunk);
        got = readData(chunk.data(), want);
        if (got > 0) {
          buffer_.append(chunk.data(), static_cast<std::size_t>(got));
          deviceDone = got < want;
          continue;  // serve them from the buffer
        }
        deviceDone = true;
      } else {
        got = readData(data, maxSize);
        deviceDone = got != maxSize;
        if (got > 0) {
          if (!sequential) pos_ += got;
          data += got;
          maxSize -= got;
          readSoFar += got;
        }
      }
      if (got < 0 && readSoFar == 0) {
        failed = true;
        break;
      }
    }

    if (text && unfiltered < data) {
      const std::int64_t dropped = dropCarriageReturns(unfiltered, data);
      data -= dropped;
      maxSize += dropped;
      readSoFar -= dropped;
      unfiltered = data;
      if (dropped > 0) continue;  // room again: a "\r" must not stand for a byte
    }
    break;
  }

  if (peeking) pos_ = savedPos;
  else if (inTransaction) transactionPos_ = static_cast<std::int64_t>(offset);
  if (consumed > 0) readBufferConsumed();
  return failed ? -1 : readSoFar;
}

std::int64_t IODevice::read(char* data, std::int64_t maxSize) {
  if (const char* refusal = readRefusal(openMode_, maxSize)) {
    errorString_ = refusal;
    return -1;
  }
  return readImpl(data, maxSize, false);
}

std::string IODevice::read(std::int64_t maxSize) {
  return collect(maxSize, [this](char* data, std::int64_t n) { return read(data, n); });
}

std::string IODevice::readAll() {
  std::string result;
  if (const char* refusal = readRefusal(openMode_, 0)) {
    errorString_ = refusal;
    return result;
  }
  std::int64_t chunk = std::max(kChunk, bufferedBytes());
  if (!isSequential()) chunk = std::max(chunk, size() - pos_);
  for (;;) {
    const std::size_t old = result.size();
    result.resize(old + static_cast<std::size_t>(chunk));
    const std::int64_t got = readImpl(result.data() + old, chunk, false);
    result.resize(old + static_cast<std::size_t>(std::max<std::int64_t>(got, 0)));
    if (got <= 0) break;
    chunk = kChunk;
  }
  return result;
}

std::int64_t IODevice::readLine(char* data, std::int64_t maxSize) {
  if (const char* refusal = readRefusal(openMode_, 0)) {
    errorString_ = refusal;
    return -1;
  }
  if (maxSize < 2) {
    errorString_ = kLineMaxSizeTooSmall;
    return -1;
  }
  --maxSize;  // room for the terminating NUL

  const bool sequential = isSequential();
  const bool inTransaction = sequential && transactionStarted_;
  const bool text = isTextModeEnabled();
  const std::size_t offset = inTransaction ? static_cast<std::size_t>(transactionPos_) : 0;
  bool consumed = false;
  std::int64_t readSoFar = 0;
  if (sequential && buffer_.find('\n', offset) == detail::ByteBuffer::npos) prepareRead(maxSize, true);

  // What is buffered first, up to and including a '\n'.
  if (buffer_.size() > offset) {
    const std::size_t newline = buffer_.find('\n', offset);
    std::size_t n = newline == detail::ByteBuffer::npos ? buffer_.size() - offset : newline - offset + 1;
    n = std::min(n, static_cast<std::size_t>(maxSize));
    std::memcpy(data, buffer_.data() + offset, n);
    if (inTransaction) {
      transactionPos_ += static_cast<std::int64_t>(n);
    } else {
      buffer_.consume(n);
      consumed = true;
    }
    if (!sequential) pos_ += static_cast<std::int64_t>(n);
    readSoFar = static_cast<std::int64_t>(n);
    if (text) readSoFar -= dropCarriageReturns(data, data + readSoFar);
    if (readSoFar > 0 && data[readSoFar - 1] == '\n') {
      data[readSoFar] = '\0';
      if (consumed) readBufferConsumed();
      return readSoFar;
    }
  }

  // Then the device. Inside a transaction on a sequential device the base
  // implementation is forced: it keeps what it reads in the buffer.
  const std::int64_t posBefore = pos_;
  const std::int64_t got = inTransaction
                               ? IODevice::readLineData(data + readSoFar, maxSize - readSoFar)
                               : readLineData(data + readSoFar, maxSize - readSoFar);
  if (consumed) readBufferConsumed();
  if (got < 0) {
    data[readSoFar] = '\0';
    return readSoFar > 0 ? readSoFar : -1;
  }
  // An override that read without going through read() left pos_ alone.
  if (!sequential && pos_ == posBefore) pos_ += got;
  readSoFar += got;
  data[readSoFar] = '\0';
  if (text && readSoFar > 1 && data[readSoFar - 1] == '\n' && data[readSoFar - 2] == '\r') {
    data[readSoFar - 2] = '\n';
    data[--readSoFar] = '\0';
  }
  return readSoFar;
}

std::string IODevice::readLine(std::int64_t maxSize) {
  std::string result;
  if (const char* refusal = readRefusal(openMode_, maxSize)) {
    errorString_ = refusal;
    return result;
  }
  if (maxSize > 0) {
    return collect(maxSize, [this](char* data, std::int64_t n) { return readLine(data, n); });
  }

  // No limit: read in chunks until the line ends or nothing more comes.
  std::int64_t total = 0;
  for (;;) {
    result.resize(static_cast<std::size_t>(total + kChunk + 1));
    const std::int64_t got = readLine(result.data() + total, kChunk + 1);
    if (got > 0) total += got;
    if (got <= 0 || result[static_cast<std::size_t>(total - 1)] == '\n') break;
  }
  result.resize(static_cast<std::size_t>(total));
  return result;
}

std::int64_t IODevice::readLineData(char* data, std::int64_t maxSize) {
  if (maxSize <= 0) return 0;
  std::int64_t readSoFar = 0;
  std::int64_t last = 0;
  while (readSoFar < maxSize) {
    char c = 0;
    last = readImpl(&c, 1, false);
    if (last != 1) break;
    data[readSoFar++] = c;
    if (c == '\n') break;
  }
  if (last != 1 && readSoFar == 0) return isSequential() ? last : -1;
  return readSoFar;
}

bool IODevice::canReadLine() const {
  const std::size_t offset = (isSequential() && transactionStarted_) ? static_cast<std::size_t>(transactionPos_) : 0;
  if (buffer_.find('\n', offset) != detail::ByteBuffer::npos) return true;
  if (!isSequential()) return false;
  // Bytes a socket announced but left in the system come into the buffer to
  // be looked at: the answer stays "can read", as it is for bytes buffered.
  const_cast<IODevice*>(this)->prepareRead(kChunk, true);
  return buffer_.find('\n', offset) != detail::ByteBuffer::npos;
}

std::int64_t IODevice::peek(char* data, std::int64_t maxSize) {
  if (const char* refusal = readRefusal(openMode_, maxSize)) {
    errorString_ = refusal;
    return -1;
  }
  return readImpl(data, maxSize, true);
}

std::string IODevice::peek(std::int64_t maxSize) {
  return collect(maxSize, [this](char* data, std::int64_t n) { return peek(data, n); });
}

std::int64_t IODevice::skip(std::int64_t maxSize) {
  if (const char* refusal = readRefusal(openMode_, maxSize)) {
    errorString_ = refusal;
    return -1;
  }
  const bool sequential = isSequential();
  // Bytes that must stay restorable, or that text mode may drop, are read.
  if ((sequential && transactionStarted_) || isTextModeEnabled()) return IODevice::skipData(maxSize);

  std::int64_t skipped = 0;
  if (!buffer_.empty()) {
    const std::size_t n = std::min(buffer_.size(), static_cast<std::size_t>(maxSize));
    buffer_.consume(n);
    if (!sequential) pos_ += static_cast<std::int64_t>(n);
    readBufferConsumed();
    skipped = static_cast<std::int64_t>(n);
    maxSize -= skipped;
    if (maxSize == 0) return skipped;
  }

  // A random-access device seeks over what it holds.
  if (!sequential) {
    const std::int64_t over = std::min(size() - pos_, maxSize);
    if (over > 0) {
      if (!seek(pos_ + over)) return skipped > 0 ? skipped : -1;
      skipped += over;
      maxSize -= over;
      if (maxSize == 0) return skipped;
    }
  }

  const std::int64_t rest = skipData(maxSize);
  if (skipped == 0) return rest;
  return rest < 0 ? skipped : skipped + rest;
}

std::int64_t IODevice::skipData(std::int64_t maxSize) {
  std::array<char, 4096> scratch;
  std::int64_t skipped = 0;
  while (maxSize > 0) {
    const std::int64_t want = std::min<std::int64_t>(maxSize, scratch.size());
    const std::int64_t got = readImpl(scratch.data(), want, false);
    if (got != want) {
      if (skipped == 0) return got;
      return got < 0 ? skipped : skipped + got;
    }
    skipped += got;
    maxSize -= got;
  }
  return skipped;
}

bool IODevice::getChar(char* c) {
  char ignored = 0;
  return read(c ? c : &ignored, 1) == 1;
}

bool IODevice::putChar(char c) { return write(&c, 1) == 1; }

void IODevice::ungetChar(char c) {
  if (const char* refusal = readRefusal(openMode_, 0)) {
    errorString_ = refusal;
    return;
  }
  if (transactionStarted_) return;  // as in Qt: not while a transaction is open
  buffer_.prepend(&c, 1);
  if (!isSequential() && pos_ > 0) --pos_;
}

std::int64_t IODevice::write(const char* data, std::int64_t maxSize) {
  if (const char* refusal = writeRefusal(openMode_, maxSize)) {
    errorString_ = refusal;
    return -1;
  }
  // On Unix, Qt writes text-mode data unchanged; so do we.
  const std::int64_t written = writeData(data, maxSize);
  if (written > 0 && !isSequential()) {
    pos_ += written;
    // Bytes put back by ungetChar() stood for the positions just overwritten.
    buffer_.consume(std::min(buffer_.size(), static_cast<std::size_t>(written)));
  }
  return written;
}

std::int64_t IODevice::write(std::string_view data) {
  return write(data.data(), static_cast<std::int64_t>(data.size()));
}

bool IODevice::waitForReadyRead(int) { return false; }

bool IODevice::waitForBytesWritten(int) { return false; }

void IODevice::startTransaction() {
  if (transactionStarted_) return;  // Qt warns; nesting is not supported
  // Sequential: bytes read since the start (they stay in the buffer).
  // Random-access: the position to return to.
  transactionPos_ = isSequential() ? 0 : pos_;
  transactionStarted_ = true;
}

void IODevice::commitTransaction() {
  if (!transactionStarted_) return;
  const bool release = isSequential() && transactionPos_ > 0;
  if (release) buffer_.consume(std::min(buffer_.size(), static_cast<std::size_t>(transactionPos_)));
  transactionStarted_ = false;
  transactionPos_ = 0;
  if (release) readBufferConsumed();
}

void IODevice::rollbackTransaction() {
  if (!transactionStarted_) return;
  if (!isSequential()) moveReadPosition(buffer_, pos_, transactionPos_);
  transactionStarted_ = false;
  transactionPos_ = 0;
}

std::string IODevice::errorString() const {
  return errorString_.empty() ? std::string("Unknown error") : errorString_.str();
}

void IODevice::setOpenMode(OpenMode mode) { openMode_ = mode; }

void IODevice::setErrorString(std::string text) { errorString_ = text; }

detail::ByteBuffer& IODevice::readBuffer() { return buffer_; }

const detail::ByteBuffer& IODevice::readBuffer() const { return buffer_; }

}  // namespace tether
