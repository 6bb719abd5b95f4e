// Buffer: an IODevice over a std::string (Qt's QBuffer).
//
//   std::string bytes;
//   Buffer buffer(&bytes);              // or Buffer buffer; and buffer.buffer()
//   buffer.open(IODevice::WriteOnly);
//   buffer.write("hello\n");            // bytes == "hello\n"
//
// A random-access device: pos(), seek() and size() work on the string.
// Without a string of its own the Buffer uses an internal one; with one (the
// constructor or setBuffer()) it does not take ownership, and the string must
// outlive the Buffer or the next setBuffer().
//
// Open modes: opening does not truncate, even WriteOnly; Truncate empties the
// string and Append starts at its end (both imply WriteOnly). A mode with
// neither ReadOnly nor WriteOnly fails. Like QBuffer, the mode is recorded
// with Unbuffered added. Seeking past the end of a writable Buffer pads the
// string with zero bytes up to the new position; a read-only one refuses.
//
// Signals: after write(), bytesWritten(n) and then readyRead() are emitted
// from the event loop, never from inside write(). Writes made before the
// loop gets there are coalesced into one bytesWritten with their total. They
// are only scheduled when something is connected to either signal at the
// time of the write.
//
// Owner thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tether/io_device.h"

namespace tether {

class Buffer : public IODevice {
 public:
  // Uses an internal, initially empty string.
  explicit Buffer(Object* parent = nullptr);
  // Works on *buffer (not owned); nullptr means the internal string.
  explicit Buffer(std::string* buffer, Object* parent = nullptr);
  ~Buffer() override;

  // The string the Buffer works on; it may be changed behind the Buffer's
  // back (the next read or write sees the change).
  std::string& buffer();
  const std::string& buffer() const;
  // Same as buffer().
  const std::string& data() const;

  // Switches to *buffer (nullptr: the internal string, emptied). Ignored
  // while the Buffer is open.
  void setBuffer(std::string* buffer);
  // Replaces the contents of the current string. Ignored while open.
  void setData(std::string_view data);
  void setData(const char* data, std::int64_t size);

  bool open(OpenMode mode) override;
  std::int64_t size() const override;
  bool seek(std::int64_t pos) override;
  bool canReadLine() const override;

 protected:
  std::int64_t readData(char* data, std::int64_t maxSize) override;
  std::int64_t readLineData(char* data, std::int64_t maxSize) override;
  std::int64_t writeData(const char* data, std::int64_t maxSize) override;

 private:
  void emitWriteSignals();

  std::string internal_;
  std::string* buf_ = &internal_;
  std::int64_t writtenSinceLastEmit_ = 0;
  bool signalsPending_ = false;
};

}  // namespace tether
