#include "tether/buffer.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "tether/event_loop.h"

namespace tether {

Buffer::Buffer(Object* parent) : IODevice(parent) {}

Buffer::Buffer(std::string* buffer, Object* parent) : IODevice(parent), buf_(buffer ? buffer : &internal_) {}

Buffer::~Buffer() = default;

std::string& Buffer::buffer() { return *buf_; }

const std::string& Buffer::buffer() const { return *buf_; }

const std::string& Buffer::data() const { return *buf_; }

void Buffer::setBuffer(std::string* buffer) {
  if (isOpen()) return;
  buf_ = buffer ? buffer : &internal_;
  internal_.clear();
}

void Buffer::setData(std::string_view data) {
  if (isOpen()) return;
  buf_->assign(data.data(), data.size());
}

void Buffer::setData(const char* data, std::int64_t size) {
  setData(std::string_view(data, static_cast<std::size_t>(std::max<std::int64_t>(size, 0))));
}

bool Buffer::open(OpenMode mode) {
  if (mode & (Append | Truncate)) mode |= WriteOnly;
  if ((mode & ReadWrite) == 0) {
    setErrorString("Buffer access not specified");
    return false;
  }
  if (mode & Truncate) buf_->clear();
  return IODevice::open(mode | Unbuffered);
}

std::int64_t Buffer::size() const { return static_cast<std::int64_t>(buf_->size()); }

bool Buffer::seek(std::int64_t pos) {
  if (pos > size() && isWritable()) {
    try {
      buf_->resize(static_cast<std::size_t>(pos), '\0');
    } catch (const std::bad_alloc&) {
      setErrorString("Unable to fill gap");
      return false;
    }
  }
  if (pos < 0 || pos > size()) return false;
  return IODevice::seek(pos);
}

bool Buffer::canReadLine() const {
  if (!isOpen()) return false;
  const std::int64_t at = pos();
  if (at < size() && buf_->find('\n', static_cast<std::size_t>(at)) != std::string::npos) return true;
  return IODevice::canReadLine();
}

std::int64_t Buffer::readData(char* data, std::int64_t maxSize) {
  const std::int64_t n = std::min(maxSize, size() - pos());
  if (n <= 0) return 0;
  std::memcpy(data, buf_->data() + pos(), static_cast<std::size_t>(n));
  return n;
}

// Faster than the byte-by-byte base version: one search and one copy. Text
// mode goes through the base version, which drops every '\r'.
std::int64_t Buffer::readLineData(char* data, std::int64_t maxSize) {
  if (isTextModeEnabled()) return IODevice::readLineData(data, maxSize);
  if (maxSize <= 0) return 0;
  const std::int64_t at = pos();
  const std::int64_t available = size() - at;
  if (available <= 0) return -1;  // reading past the end
  std::int64_t n = std::min(maxSize, available);
  const char* begin = buf_->data() + at;
  if (const void* newline = std::memchr(begin, '\n', static_cast<std::size_t>(n)))
    n = static_cast<const char*>(newline) - begin + 1;
  std::memcpy(data, begin, static_cast<std::size_t>(n));
  return n;
}

std::int64_t Buffer::writeData(const char* data, std::int64_t maxSize) {
  if (maxSize <= 0) return 0;
  const auto at = static_cast<std::size_t>(pos());
  const std::size_t end = at + static_cast<std::size_t>(maxSize);
  try {
    if (end > buf_->size()) buf_->resize(end, '\0');  // also fills a gap if the string shrank
  } catch (const std::bad_alloc&) {
    setErrorString("Memory allocation error");
    return -1;
  }
  std::memcpy(buf_->data() + at, data, static_cast<std::size_t>(maxSize));

  if (signalsPending_ || bytesWritten.hasConnections() || readyRead.hasConnections()) {
    writtenSinceLastEmit_ += maxSize;
    if (!signalsPending_) {
      signalsPending_ = true;
      EventLoop::post(this, [this] { emitWriteSignals(); });
    }
  }
  return maxSize;
}

void Buffer::emitWriteSignals() {
  // Cleared first: a slot that writes schedules the next round, never a
  // nested emission.
  signalsPending_ = false;
  const std::int64_t written = std::exchange(writtenSinceLastEmit_, 0);
  if (!bytesWritten.emit(written)) return;  // a slot destroyed the Buffer
  readyRead.emit();
}

}  // namespace tether
