// IODevice: the base of every device that reads and writes bytes (Qt's
// QIODevice): sockets, Buffer, later TLS and network replies.
//
// Reading: sequential devices that receive data asynchronously (sockets)
// append it to the device's read buffer (readBuffer()) and emit readyRead;
// read(), peek(), readLine(), getChar() serve from that buffer first and call
// readData() for more. Random-access devices (Buffer) implement readData()
// and seek(). Writing goes through writeData(); buffered devices report what
// is still queued through bytesToWrite() and emit bytesWritten as it leaves.
//
// Transactions (startTransaction/commitTransaction/rollbackTransaction) let a
// reader consume bytes provisionally: rollback restores every byte read since
// the start, so a DataStream can try to read a whole message and retry when
// more data has arrived.
//
// Owner thread only. Signals are emitted from the event loop, or from inside
// waitForReadyRead()/waitForBytesWritten() in blocking use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tether/detail/byte_buffer.h"
#include "tether/detail/rare_string.h"
#include "tether/object.h"
#include "tether/signal.h"

namespace tether {

namespace detail {
struct SocketPrivate;
}

class IODevice : public Object {
 public:
  enum OpenModeFlag : unsigned {
    NotOpen = 0x0000,
    ReadOnly = 0x0001,
    WriteOnly = 0x0002,
    ReadWrite = ReadOnly | WriteOnly,
    Append = 0x0004,
    Truncate = 0x0008,
    Text = 0x0010,
    Unbuffered = 0x0020,
    NewOnly = 0x0040,
    ExistingOnly = 0x0080,
  };
  using OpenMode = unsigned;

  explicit IODevice(Object* parent = nullptr);
  ~IODevice() override;

  // Opens with `mode`; the base version records the mode, resets the
  // position, the buffers and the error string, and returns true.
  virtual bool open(OpenMode mode);
  // Emits aboutToClose, then closes: mode becomes NotOpen, buffers are
  // dropped, a transaction in progress is cancelled.
  virtual void close();

  OpenMode openMode() const { return openMode_; }
  bool isOpen() const { return openMode_ != NotOpen; }
  bool isReadable() const { return (openMode_ & ReadOnly) != 0; }
  bool isWritable() const { return (openMode_ & WriteOnly) != 0; }
  bool isTextModeEnabled() const { return (openMode_ & Text) != 0; }
  void setTextModeEnabled(bool enabled);
  virtual bool isSequential() const { return false; }

  // Position and size: for random-access devices only (sequential: 0 and
  // bytesAvailable()).
  virtual std::int64_t pos() const;
  virtual std::int64_t size() const;
  virtual bool seek(std::int64_t pos);
  virtual bool atEnd() const;
  virtual bool reset();

  // Bytes that can be read now (buffered plus, for random-access devices,
  // the rest of the device).
  virtual std::int64_t bytesAvailable() const;
  // Bytes written but not yet handed to the system (buffered devices).
  virtual std::int64_t bytesToWrite() const;

  // Reads at most maxSize bytes; returns the count, or -1 on error (device
  // not open or not readable). 0 means nothing available now.
  std::int64_t read(char* data, std::int64_t maxSize);
  std::string read(std::int64_t maxSize);
  std::string readAll();
  // Reads up to and including '\n', at most maxSize - 1 bytes (like Qt, a
  // terminating NUL is written). Returns the count or -1.
  std::int64_t readLine(char* data, std::int64_t maxSize);
  // maxSize 0: no limit.
  std::string readLine(std::int64_t maxSize = 0);
  virtual bool canReadLine() const;

  // Like read, but the bytes stay available.
  std::int64_t peek(char* data, std::int64_t maxSize);
  std::string peek(std::int64_t maxSize);
  // Discards up to maxSize bytes; returns the count skipped or -1.
  std::int64_t skip(std::int64_t maxSize);

  bool getChar(char* c);
  bool putChar(char c);
  // Puts c back so that the next read returns it first.
  void ungetChar(char c);

  // Writes; returns the count accepted or -1 (not open, not writable, or the
  // device's error).
  std::int64_t write(const char* data, std::int64_t maxSize);
  std::int64_t write(std::string_view data);

  // Blocking helpers; the base versions return false. msecs -1 = forever.
  virtual bool waitForReadyRead(int msecs);
  virtual bool waitForBytesWritten(int msecs);

  void startTransaction();
  // Keeps what was read since startTransaction().
  void commitTransaction();
  // Restores every byte read since startTransaction().
  void rollbackTransaction();
  bool isTransactionStarted() const { return transactionStarted_; }

  std::string errorString() const;

  // Signals.
  Signal<> readyRead;
  Signal<std::int64_t> bytesWritten;
  Signal<> aboutToClose;
  Signal<> readChannelFinished;

 protected:
  // Reads up to maxSize bytes from the underlying source; -1 on error or end
  // of a closed stream, 0 if nothing is available now.
  virtual std::int64_t readData(char* data, std::int64_t maxSize) = 0;
  // Default: reads byte by byte through readData() up to '\n'.
  virtual std::int64_t readLineData(char* data, std::int64_t maxSize);
  virtual std::int64_t writeData(const char* data, std::int64_t maxSize) = 0;
  // Default: reads into a scratch buffer and drops it.
  virtual std::int64_t skipData(std::int64_t maxSize);

  void setOpenMode(OpenMode mode);
  void setErrorString(std::string text);

  // Called after a reader consumed bytes from the read buffer (read, skip,
  // readLine, getChar, readAll, commitTransaction — not peek): a device that
  // paused reading because its buffer was full resumes here.
  virtual void readBufferConsumed() {}

  // Called before a read the buffer cannot serve alone: `wanted` more bytes
  // are asked for, and `keep` says they must stay in the buffer (peek,
  // readLine, canReadLine, a transaction on a sequential device). A device
  // that announces bytes it has left in the system, to read them straight
  // into the caller's memory (AbstractSocket on a bulk stream), moves them
  // into the buffer here when the read is small or must keep them.
  virtual void prepareRead(std::int64_t /*wanted*/, bool /*keep*/) {}

  // The read buffer of a sequential device: subclasses that receive data
  // asynchronously append to it and emit readyRead.
  detail::ByteBuffer& readBuffer();
  const detail::ByteBuffer& readBuffer() const;

 private:
  // A socket's bytes go straight into the buffer of the device the
  // application reads (LocalSocket's, not its inner stream's).
  friend struct detail::SocketPrivate;

  // What the device has made readable but the reader has not consumed.
  std::int64_t bufferedBytes() const;
  std::int64_t readImpl(char* data, std::int64_t maxSize, bool peeking);

  OpenMode openMode_ = NotOpen;
  bool transactionStarted_ = false;
  detail::RareString errorString_;  // set by failures only
  std::int64_t pos_ = 0;            // random-access position
  // Sequential: bytes read since startTransaction() (they stay in buffer_).
  // Random-access: the position rollbackTransaction() returns to.
  std::int64_t transactionPos_ = 0;
  detail::ByteBuffer buffer_;  // read buffer (sequential devices, ungetChar, transactions); allocates only when used
};

}  // namespace tether
