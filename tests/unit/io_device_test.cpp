#include "tether/io_device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "tether/detail/byte_buffer.h"
#include "support/test_support.h"
#include "tether/buffer.h"
#include "tether/event_loop.h"

using namespace tether;

namespace {

// A sequential device with two sources of bytes: receive() plays data
// arriving asynchronously (it lands in the read buffer, readyRead follows
// from the loop, as a socket does), and `source` is what readData() hands
// out when asked. Once `ended`, readData() reports the end of the stream.
class StreamDevice : public IODevice {
 public:
  bool isSequential() const override { return true; }
  using IODevice::readBuffer;  // the tests play the part of the network too

  void receive(std::string_view bytes) {
    readBuffer().append(bytes);
    EventLoop::post(this, [this] { readyRead.emit(); });
  }
  void fail(std::string text) { setErrorString(std::move(text)); }
  std::size_t bufferedInternally() const { return readBuffer().size(); }

  std::string source;
  bool ended = false;
  std::string written;
  int readDataCalls = 0;
  int consumedCalls = 0;

 protected:
  std::int64_t readData(char* data, std::int64_t maxSize) override {
    ++readDataCalls;
    if (source.empty()) return ended ? -1 : 0;
    const auto n = std::min(static_cast<std::size_t>(maxSize), source.size());
    std::memcpy(data, source.data(), n);
    source.erase(0, n);
    return static_cast<std::int64_t>(n);
  }
  std::int64_t writeData(const char* data, std::int64_t maxSize) override {
    written.append(data, static_cast<std::size_t>(maxSize));
    return maxSize;
  }
  void readBufferConsumed() override { ++consumedCalls; }
};

std::unique_ptr<StreamDevice> openStream(std::string_view buffered = {}, std::string source = {},
                                         IODevice::OpenMode mode = IODevice::ReadWrite) {
  auto d = std::make_unique<StreamDevice>();
  EXPECT_TRUE(d->open(mode));
  d->readBuffer().append(buffered);
  d->source = std::move(source);
  return d;
}

// A Buffer opened on a copy of `bytes`.
struct OpenBuffer {
  explicit OpenBuffer(std::string bytes, IODevice::OpenMode mode = IODevice::ReadWrite)
      : data(std::move(bytes)), device(&data) {
    EXPECT_TRUE(device.open(mode));
  }
  std::string data;
  Buffer device;
};

}  // namespace

// ---------------------------------------------------------------- open/close

TEST(IODevice, NewDeviceIsClosedWithDefaultState) {
  StreamDevice d;
  EXPECT_FALSE(d.isOpen());
  EXPECT_EQ(d.openMode(), IODevice::NotOpen);
  EXPECT_FALSE(d.isReadable());
  EXPECT_FALSE(d.isWritable());
  EXPECT_FALSE(d.isTextModeEnabled());
  EXPECT_FALSE(d.isTransactionStarted());
  EXPECT_EQ(d.pos(), 0);
  EXPECT_EQ(d.bytesToWrite(), 0);
  EXPECT_TRUE(d.atEnd());
  EXPECT_EQ(d.errorString(), "Unknown error");
}

TEST(IODevice, OpenRecordsTheModeAndClearsTheErrorString) {
  StreamDevice d;
  d.fail("old trouble");
  ASSERT_TRUE(d.open(IODevice::ReadOnly | IODevice::Text));
  EXPECT_TRUE(d.isOpen());
  EXPECT_TRUE(d.isReadable());
  EXPECT_FALSE(d.isWritable());
  EXPECT_TRUE(d.isTextModeEnabled());
  EXPECT_EQ(d.errorString(), "Unknown error");
}

TEST(IODevice, OpenDropsWhatWasBufferedBefore) {
  auto d = openStream("stale");
  ASSERT_TRUE(d->open(IODevice::ReadOnly));
  EXPECT_EQ(d->bytesAvailable(), 0);
}

TEST(IODevice, CloseEmitsAboutToCloseWhileStillOpenThenCloses) {
  auto d = openStream("abc");
  int emitted = 0;
  bool openDuringSignal = false;
  std::int64_t availableDuringSignal = -1;
  d->aboutToClose.connect([&] {
    ++emitted;
    openDuringSignal = d->isOpen();
    availableDuringSignal = d->bytesAvailable();
  });
  d->close();
  EXPECT_EQ(emitted, 1);
  EXPECT_TRUE(openDuringSignal);
  EXPECT_EQ(availableDuringSignal, 3);
  EXPECT_FALSE(d->isOpen());
  EXPECT_EQ(d->openMode(), IODevice::NotOpen);
  EXPECT_EQ(d->bufferedInternally(), 0u);
}

TEST(IODevice, CloseOfAClosedDeviceDoesNothing) {
  StreamDevice d;
  int emitted = 0;
  d.aboutToClose.connect([&] { ++emitted; });
  d.close();
  EXPECT_EQ(emitted, 0);
}

TEST(IODevice, CloseCancelsATransactionAndKeepsTheErrorString) {
  auto d = openStream("abc");
  d->startTransaction();
  d->fail("broken pipe");
  d->close();
  EXPECT_FALSE(d->isTransactionStarted());
  EXPECT_EQ(d->errorString(), "broken pipe");
}

TEST(IODevice, ASlotMayDestroyTheDeviceDuringAboutToClose) {
  auto* d = openStream("abc").release();
  d->aboutToClose.connect([d] { delete d; });
  d->close();  // must not touch the deleted device (ASan watches)
  SUCCEED();
}

// ---------------------------------------------------------- access errors

TEST(IODevice, ReadingAClosedDeviceFailsWithDeviceNotOpen) {
  StreamDevice d;
  char buf[8] = {};
  EXPECT_EQ(d.read(buf, 4), -1);
  EXPECT_EQ(d.errorString(), "device not open");
  EXPECT_EQ(d.read(4), "");
  EXPECT_EQ(d.readAll(), "");
  EXPECT_EQ(d.readLine(buf, 8), -1);
  EXPECT_EQ(d.readLine(), "");
  EXPECT_EQ(d.peek(buf, 4), -1);
  EXPECT_EQ(d.peek(4), "");
  EXPECT_EQ(d.skip(4), -1);
  EXPECT_FALSE(d.getChar(buf));
  EXPECT_FALSE(d.canReadLine());
  EXPECT_EQ(d.errorString(), "device not open");
}

TEST(IODevice, ReadingAWriteOnlyDeviceFailsWithWriteOnlyDevice) {
  auto d = openStream("abc", "", IODevice::WriteOnly);
  char buf[8] = {};
  EXPECT_EQ(d->read(buf, 4), -1);
  EXPECT_EQ(d->errorString(), "WriteOnly device");
  EXPECT_EQ(d->readAll(), "");
  EXPECT_EQ(d->readLine(buf, 8), -1);
  EXPECT_EQ(d->peek(buf, 2), -1);
  EXPECT_EQ(d->skip(1), -1);
  EXPECT_FALSE(d->getChar(nullptr));
  EXPECT_EQ(d->bufferedInternally(), 3u);  // nothing was taken
}

TEST(IODevice, WritingAReadOnlyDeviceFailsWithReadOnlyDevice) {
  auto d = openStream("", "", IODevice::ReadOnly);
  EXPECT_EQ(d->write("abc"), -1);
  EXPECT_EQ(d->errorString(), "ReadOnly device");
  EXPECT_FALSE(d->putChar('x'));
  EXPECT_EQ(d->written, "");
}

TEST(IODevice, WritingAClosedDeviceFailsWithDeviceNotOpen) {
  StreamDevice d;
  EXPECT_EQ(d.write("abc", 3), -1);
  EXPECT_EQ(d.errorString(), "device not open");
}

TEST(IODevice, NegativeSizesAreErrors) {
  auto d = openStream("abc");
  char buf[4];
  EXPECT_EQ(d->read(buf, -1), -1);
  EXPECT_EQ(d->errorString(), "Called with maxSize < 0");
  EXPECT_EQ(d->peek(buf, -1), -1);
  EXPECT_EQ(d->skip(-1), -1);
  EXPECT_EQ(d->write(buf, -1), -1);
  EXPECT_EQ(d->read(-1), "");
  EXPECT_EQ(d->readLine(-1), "");
  EXPECT_EQ(d->bytesAvailable(), 3);
}

// ---------------------------------------------------- sequential reading

TEST(IODevice, ReadServesTheBufferFirstThenReadData) {
  auto d = openStream("abc", "def");
  char buf[16] = {};
  EXPECT_EQ(d->read(buf, 5), 5);
  EXPECT_EQ(std::string(buf, 5), "abcde");
  EXPECT_EQ(d->read(16), "f");
  EXPECT_EQ(d->read(16), "");
}

TEST(IODevice, SequentialDeviceReportsBufferedBytesAndHasNoPosition) {
  auto d = openStream("abc", "not counted");
  EXPECT_TRUE(d->isSequential());
  EXPECT_EQ(d->bytesAvailable(), 3);
  EXPECT_EQ(d->size(), 3);
  EXPECT_EQ(d->pos(), 0);
  EXPECT_FALSE(d->seek(1));
  EXPECT_FALSE(d->reset());
  EXPECT_FALSE(d->atEnd());
  d->read(3);
  EXPECT_EQ(d->pos(), 0);
  EXPECT_TRUE(d->atEnd());
}

TEST(IODevice, ReadReturnsZeroWhenNothingIsAvailableAndMinusOneAtTheEnd) {
  auto d = openStream();
  char c;
  EXPECT_EQ(d->read(&c, 1), 0);
  d->ended = true;
  EXPECT_EQ(d->read(&c, 1), -1);
}

TEST(IODevice, ReadAtTheEndStillReturnsWhatWasBuffered) {
  auto d = openStream("ab");
  d->ended = true;
  char buf[8];
  EXPECT_EQ(d->read(buf, 8), 2);
  EXPECT_EQ(d->read(buf, 8), -1);
}

TEST(IODevice, ReadOfZeroBytesReturnsZero) {
  auto d = openStream("ab");
  char c;
  EXPECT_EQ(d->read(&c, 0), 0);
  EXPECT_EQ(d->read(0), "");
  EXPECT_EQ(d->bytesAvailable(), 2);
}

TEST(IODevice, ReadAllTakesTheBufferAndEverythingReadDataHas) {
  const std::string big(100000, 'z');
  auto d = openStream("head:", big);
  EXPECT_EQ(d->readAll(), "head:" + big);
  EXPECT_TRUE(d->atEnd());
  EXPECT_EQ(d->readAll(), "");
}

TEST(IODevice, ReadyReadFromASubclassArrivesFromTheLoop) {
  auto d = openStream();
  int ready = 0;
  std::string got;
  d->readyRead.connect([&] {
    ++ready;
    got += d->readAll();
  });
  d->receive("data");
  EXPECT_EQ(ready, 0);
  ASSERT_TRUE(test::runUntil([&] { return ready == 1; }));
  EXPECT_EQ(got, "data");
}

TEST(IODevice, ReadBufferConsumedFollowsReadsFromTheBufferButNotPeeks) {
  auto d = openStream("abcdef\nxyz");
  char buf[16];
  d->peek(buf, 3);
  EXPECT_EQ(d->consumedCalls, 0);
  d->read(buf, 2);
  EXPECT_EQ(d->consumedCalls, 1);
  d->getChar(buf);
  EXPECT_EQ(d->consumedCalls, 2);
  d->readLine(buf, 16);
  EXPECT_EQ(d->consumedCalls, 3);
  d->skip(1);
  EXPECT_EQ(d->consumedCalls, 4);
  d->startTransaction();
  d->read(buf, 1);
  EXPECT_EQ(d->consumedCalls, 4);  // still restorable
  d->commitTransaction();
  EXPECT_EQ(d->consumedCalls, 5);
  d->readAll();
  EXPECT_EQ(d->consumedCalls, 6);
}

// ------------------------------------------------------------------ peek

TEST(IODevice, PeekLeavesTheBytesForTheNextRead) {
  auto d = openStream("abc", "def");
  EXPECT_EQ(d->peek(4), "abcd");
  EXPECT_EQ(d->peek(10), "abcdef");
  // What peek pulled through readData() waits in the buffer.
  EXPECT_EQ(d->bytesAvailable(), 6);
  EXPECT_EQ(d->source, "");
  EXPECT_EQ(d->read(10), "abcdef");
}

TEST(IODevice, PeekIntoACharArrayReturnsTheCount) {
  auto d = openStream("xy");
  char buf[8] = {};
  EXPECT_EQ(d->peek(buf, 8), 2);
  EXPECT_EQ(std::string(buf, 2), "xy");
  EXPECT_EQ(d->bytesAvailable(), 2);
}

TEST(IODevice, PeekOnARandomAccessDeviceKeepsThePosition) {
  OpenBuffer b("ZXCV");
  ASSERT_TRUE(b.device.seek(1));
  EXPECT_EQ(b.device.peek(2), "XC");
  EXPECT_EQ(b.device.pos(), 1);
  EXPECT_EQ(b.device.peek(10), "XCV");
  EXPECT_EQ(b.device.read(10), "XCV");
  EXPECT_EQ(b.device.pos(), 4);
}

TEST(IODevice, PeekAfterUngetCharSeesThePutBackByte) {
  OpenBuffer b("abc");
  char c;
  ASSERT_TRUE(b.device.getChar(&c));
  b.device.ungetChar(c);
  EXPECT_EQ(b.device.peek(3), "abc");
  EXPECT_EQ(b.device.pos(), 0);
  EXPECT_EQ(b.device.read(3), "abc");
}

// -------------------------------------------------------------- readLine

TEST(IODevice, ReadLineStopsAfterTheNewlineAndAddsANul) {
  auto d = openStream("one\ntwo\n");
  char buf[32];
  std::memset(buf, '@', sizeof buf);
  EXPECT_EQ(d->readLine(buf, sizeof buf), 4);
  EXPECT_STREQ(buf, "one\n");
  EXPECT_EQ(d->readLine(), "two\n");
}

TEST(IODevice, ReadLineReadsAtMostMaxSizeMinusOneBytes) {
  auto d = openStream("l\n");
  char buf[8];
  std::memset(buf, '@', sizeof buf);
  EXPECT_EQ(d->readLine(buf, 2), 1);
  EXPECT_STREQ(buf, "l");
  EXPECT_EQ(d->readLine(buf, 3), 1);
  EXPECT_STREQ(buf, "\n");
}

TEST(IODevice, ReadLineNeedsRoomForAByteAndTheNul) {
  auto d = openStream("abc\n");
  char buf[4];
  EXPECT_EQ(d->readLine(buf, 1), -1);
  EXPECT_EQ(d->readLine(buf, 0), -1);
  EXPECT_EQ(d->errorString(), "Called with maxSize < 2");
  EXPECT_EQ(d->readLine(1), "");
  EXPECT_EQ(d->bytesAvailable(), 4);
}

TEST(IODevice, ReadLineStringWithALimitReturnsAtMostLimitMinusOneBytes) {
  auto d = openStream("abcdef\n");
  EXPECT_EQ(d->readLine(4), "abc");
  EXPECT_EQ(d->readLine(100), "def\n");
}

TEST(IODevice, ReadLineWithoutALimitReadsAWholeLongLine) {
  const std::string line = std::string(40000, 'x') + "\n";
  auto d = openStream(line + "next");
  EXPECT_EQ(d->readLine(), line);
  EXPECT_EQ(d->readLine(), "next");
  EXPECT_EQ(d->readLine(), "");

  OpenBuffer b(line + line);
  EXPECT_EQ(b.device.readLine(), line);
  EXPECT_EQ(b.device.pos(), static_cast<std::int64_t>(line.size()));
  EXPECT_EQ(b.device.readLine(0), line);
  EXPECT_TRUE(b.device.atEnd());
}

TEST(IODevice, ReadLineContinuesFromTheBufferIntoReadData) {
  auto d = openStream("ab", "c\nd");
  EXPECT_EQ(d->readLine(), "abc\n");
  EXPECT_EQ(d->readLine(), "d");
}

TEST(IODevice, ReadLineOnASequentialDeviceReturnsAPartialLineThenZero) {
  auto d = openStream("abc");
  char buf[16];
  EXPECT_EQ(d->readLine(buf, 16), 3);
  EXPECT_STREQ(buf, "abc");
  std::memset(buf, '@', sizeof buf);
  EXPECT_EQ(d->readLine(buf, 16), 0);
  EXPECT_EQ(buf[0], '\0');
  d->ended = true;
  EXPECT_EQ(d->readLine(buf, 16), -1);
}

TEST(IODevice, ReadLinePastTheEndOfARandomAccessDeviceReturnsMinusOne) {
  OpenBuffer b("a");
  char buf[4];
  EXPECT_EQ(b.device.readLine(buf, 4), 1);
  buf[0] = '@';
  buf[1] = '@';
  EXPECT_EQ(b.device.readLine(buf, 2), -1);
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(buf[1], '@');
}

TEST(IODevice, CanReadLineLooksForANewlineInTheBuffer) {
  auto d = openStream("ab");
  EXPECT_FALSE(d->canReadLine());
  d->readBuffer().append("c\nd");
  EXPECT_TRUE(d->canReadLine());
  d->readLine();
  EXPECT_FALSE(d->canReadLine());
}

// ---------------------------------------------- getChar, putChar, ungetChar

TEST(IODevice, GetCharReadsOneByteAndFailsWhenNothingIsLeft) {
  auto d = openStream("ab");
  char c = 0;
  EXPECT_TRUE(d->getChar(&c));
  EXPECT_EQ(c, 'a');
  EXPECT_TRUE(d->getChar(nullptr));  // discards
  EXPECT_FALSE(d->getChar(&c));
}

TEST(IODevice, PutCharWritesOneByte) {
  auto d = openStream();
  EXPECT_TRUE(d->putChar('x'));
  EXPECT_TRUE(d->putChar('\0'));
  EXPECT_EQ(d->written, std::string("x\0", 2));
}

TEST(IODevice, UngetCharPutsTheByteBackOnASequentialDevice) {
  auto d = openStream("abc");
  char c;
  ASSERT_TRUE(d->getChar(&c));
  EXPECT_EQ(d->bytesAvailable(), 2);
  d->ungetChar(c);
  EXPECT_EQ(d->bytesAvailable(), 3);
  EXPECT_EQ(d->pos(), 0);
  EXPECT_EQ(d->readAll(), "abc");
}

TEST(IODevice, UngetCharOnARandomAccessDeviceMovesThePositionBack) {
  OpenBuffer b("ZXCV");
  EXPECT_EQ(b.device.read(4), "ZXCV");
  EXPECT_EQ(b.device.pos(), 4);
  b.device.ungetChar('a');
  b.device.ungetChar('b');
  b.device.ungetChar('c');
  b.device.ungetChar('d');
  EXPECT_EQ(b.device.pos(), 0);
  EXPECT_EQ(b.device.bytesAvailable(), 4);
  char buf[6];
  EXPECT_EQ(b.device.readLine(buf, 5), 4);
  EXPECT_EQ(b.device.pos(), 4);
  EXPECT_STREQ(buf, "dcba");
}

TEST(IODevice, UngetCharBytesReadOneLineAtATime) {
  OpenBuffer b("ZXCV");
  b.device.read(4);
  for (char c : std::string("abcd")) b.device.ungetChar(c);
  char buf[2];
  for (char expected : std::string("dcba")) {
    buf[1] = '@';
    EXPECT_EQ(b.device.readLine(buf, 2), 1);
    EXPECT_EQ(buf[0], expected);
    EXPECT_EQ(buf[1], '\0');
  }
  buf[1] = '@';
  EXPECT_EQ(b.device.readLine(buf, 2), -1);
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(buf[1], '@');
  b.device.ungetChar('\n');
  EXPECT_EQ(b.device.readLine(), "\n");
}

TEST(IODevice, UngetCharThenReadLineContinuesIntoTheDevice) {
  OpenBuffer b("ZXCV");
  char c;
  ASSERT_TRUE(b.device.seek(0));
  ASSERT_TRUE(b.device.getChar(&c));
  b.device.ungetChar(c);
  char buf[6];
  EXPECT_EQ(b.device.readLine(buf, 5), 4);
  EXPECT_STREQ(buf, "ZXCV");
  ASSERT_TRUE(b.device.seek(4));
  b.device.ungetChar('Q');
  EXPECT_EQ(b.device.readLine(buf, 3), 1);
  EXPECT_STREQ(buf, "Q");
}

TEST(IODevice, UngetCharIsIgnoredDuringATransaction) {
  auto d = openStream("abc");
  d->startTransaction();
  char c;
  d->getChar(&c);
  d->ungetChar('z');
  d->rollbackTransaction();
  EXPECT_EQ(d->readAll(), "abc");
}

TEST(IODevice, UngetCharOnAClosedDeviceDoesNothing) {
  StreamDevice d;
  d.ungetChar('x');
  EXPECT_EQ(d.errorString(), "device not open");
  EXPECT_EQ(d.bufferedInternally(), 0u);
}

TEST(IODevice, WriteOverUngotBytesDropsThem) {
  OpenBuffer b("abcd");
  b.device.read(2);
  b.device.ungetChar('b');
  EXPECT_EQ(b.device.pos(), 1);
  EXPECT_EQ(b.device.write("X"), 1);
  EXPECT_EQ(b.device.pos(), 2);
  EXPECT_EQ(b.device.readAll(), "cd");
  EXPECT_EQ(b.data, "aXcd");
}

// ------------------------------------------------------------------ skip

TEST(IODevice, SkipDiscardsBufferedAndThenDeviceBytes) {
  auto d = openStream("abc", "defghij");
  for (int i = 0; i < 3; ++i) d->getChar(nullptr);
  EXPECT_EQ(d->skip(6), 6);
  char c;
  ASSERT_TRUE(d->getChar(&c));
  EXPECT_EQ(c, 'j');
}

TEST(IODevice, SkipPastTheEndSkipsWhatThereIs) {
  std::string big(20000, 'a');
  auto d = openStream("", big);
  d->getChar(nullptr);
  EXPECT_EQ(d->skip(20000), 19999);
  EXPECT_EQ(d->skip(5), 0);

  OpenBuffer b(big, IODevice::ReadOnly);
  b.device.getChar(nullptr);
  EXPECT_EQ(b.device.skip(20000), 19999);
  EXPECT_TRUE(b.device.atEnd());
  EXPECT_EQ(b.device.pos(), 20000);
}

TEST(IODevice, SkipOnARandomAccessDeviceMovesThePosition) {
  OpenBuffer b("abcdefghij");
  b.device.read(3);
  EXPECT_EQ(b.device.skip(6), 6);
  EXPECT_EQ(b.device.pos(), 9);
  EXPECT_EQ(b.device.read(5), "j");
}

TEST(IODevice, SkipAfterPeekWalksThroughEveryByte) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (bool sequential : {true, false}) {
    std::string copy = data;  // outlives the Buffer below
    std::unique_ptr<IODevice> dev;
    if (sequential) {
      dev = openStream("", data);
    } else {
      auto buffer = std::make_unique<Buffer>(&copy);
      buffer->open(IODevice::ReadOnly);
      dev = std::move(buffer);
    }
    std::size_t readSoFar = 0;
    std::int64_t step = 1;
    for (;;) {
      const std::string chunk = dev->peek(step);
      if (chunk.empty()) break;
      EXPECT_EQ(dev->skip(step), static_cast<std::int64_t>(chunk.size()));
      EXPECT_EQ(chunk, data.substr(readSoFar, chunk.size()));
      readSoFar += chunk.size();
      step <<= 1;
    }
    EXPECT_EQ(readSoFar, data.size()) << (sequential ? "sequential" : "random-access");
  }
}

TEST(IODevice, SkipInsideATransactionIsUndoneByRollback) {
  auto d = openStream("abc", "def");
  d->startTransaction();
  EXPECT_EQ(d->skip(5), 5);
  d->rollbackTransaction();
  EXPECT_EQ(d->readAll(), "abcdef");
}

// --------------------------------------------------------- random access

TEST(IODevice, RandomAccessDeviceSeeksAndReportsPositionAndSize) {
  OpenBuffer b("0123456789");
  EXPECT_FALSE(b.device.isSequential());
  EXPECT_EQ(b.device.size(), 10);
  EXPECT_EQ(b.device.bytesAvailable(), 10);
  ASSERT_TRUE(b.device.seek(7));
  EXPECT_EQ(b.device.pos(), 7);
  EXPECT_EQ(b.device.bytesAvailable(), 3);
  EXPECT_EQ(b.device.read(2), "78");
  EXPECT_EQ(b.device.pos(), 9);
  EXPECT_FALSE(b.device.atEnd());
  EXPECT_EQ(b.device.read(5), "9");
  EXPECT_TRUE(b.device.atEnd());
  ASSERT_TRUE(b.device.reset());
  EXPECT_EQ(b.device.pos(), 0);
  EXPECT_EQ(b.device.readAll(), "0123456789");
}

TEST(IODevice, SeekToANegativePositionOrOnAClosedDeviceFails) {
  OpenBuffer b("abc");
  ASSERT_TRUE(b.device.seek(2));
  EXPECT_FALSE(b.device.seek(-1));
  EXPECT_EQ(b.device.pos(), 2);
  b.device.close();
  EXPECT_FALSE(b.device.seek(0));
  EXPECT_EQ(b.device.pos(), 0);
  EXPECT_TRUE(b.device.atEnd());
}

TEST(IODevice, WriteOnARandomAccessDeviceAdvancesThePosition) {
  OpenBuffer b("", IODevice::ReadWrite);
  EXPECT_EQ(b.device.write("hello"), 5);
  EXPECT_EQ(b.device.pos(), 5);
  EXPECT_TRUE(b.device.atEnd());
  ASSERT_TRUE(b.device.seek(0));
  EXPECT_EQ(b.device.readAll(), "hello");
}

TEST(IODevice, WriteOnASequentialDeviceGoesToWriteData) {
  auto d = openStream();
  EXPECT_EQ(d->write("abc", 3), 3);
  EXPECT_EQ(d->write(std::string_view("de")), 2);
  EXPECT_EQ(d->write("", 0), 0);
  EXPECT_EQ(d->written, "abcde");
  EXPECT_EQ(d->pos(), 0);
}

TEST(IODevice, BlockingHelpersOfTheBaseReturnFalse) {
  auto d = openStream();
  EXPECT_FALSE(d->waitForReadyRead(0));
  EXPECT_FALSE(d->waitForBytesWritten(0));
}

// ----------------------------------------------------------- transactions

TEST(IODevice, CommitTransactionKeepsWhatWasRead) {
  auto d = openStream("abcdef");
  d->startTransaction();
  EXPECT_TRUE(d->isTransactionStarted());
  EXPECT_EQ(d->read(2), "ab");
  EXPECT_EQ(d->bytesAvailable(), 4);
  d->commitTransaction();
  EXPECT_FALSE(d->isTransactionStarted());
  EXPECT_EQ(d->bytesAvailable(), 4);
  EXPECT_EQ(d->bufferedInternally(), 4u);
  EXPECT_EQ(d->readAll(), "cdef");
}

TEST(IODevice, RollbackTransactionRestoresBufferedBytes) {
  auto d = openStream("abcdef");
  d->startTransaction();
  EXPECT_EQ(d->read(4), "abcd");
  EXPECT_EQ(d->bytesAvailable(), 2);
  EXPECT_EQ(d->readLine(), "ef");
  d->rollbackTransaction();
  EXPECT_FALSE(d->isTransactionStarted());
  EXPECT_EQ(d->bytesAvailable(), 6);
  EXPECT_EQ(d->readAll(), "abcdef");
}

TEST(IODevice, RollbackTransactionRestoresBytesPulledThroughReadData) {
  auto d = openStream("ab", "cdefgh");
  d->startTransaction();
  EXPECT_EQ(d->read(5), "abcde");
  char c;
  ASSERT_TRUE(d->getChar(&c));
  EXPECT_EQ(c, 'f');
  d->rollbackTransaction();
  EXPECT_EQ(d->bytesAvailable(), 6);  // all of it now waits in the buffer
  EXPECT_EQ(d->source, "gh");
  EXPECT_EQ(d->readAll(), "abcdefgh");
}

TEST(IODevice, RollbackRestoresLinesReadThroughReadData) {
  auto d = openStream("", "line one\nline two\n");
  d->startTransaction();
  EXPECT_EQ(d->readLine(), "line one\n");
  EXPECT_EQ(d->skip(5), 5);
  d->rollbackTransaction();
  EXPECT_EQ(d->readLine(), "line one\n");
  EXPECT_EQ(d->readLine(), "line two\n");
}

TEST(IODevice, CanReadLineDuringATransactionLooksOnlyAtUnreadBytes) {
  auto d = openStream("ab\ncd");
  d->startTransaction();
  EXPECT_TRUE(d->canReadLine());
  d->readLine();
  EXPECT_FALSE(d->canReadLine());
  EXPECT_EQ(d->bytesAvailable(), 2);
  d->rollbackTransaction();
  EXPECT_TRUE(d->canReadLine());
}

TEST(IODevice, PeekDuringATransactionDoesNotAdvanceIt) {
  auto d = openStream("abc", "def");
  d->startTransaction();
  EXPECT_EQ(d->read(1), "a");
  EXPECT_EQ(d->peek(4), "bcde");
  EXPECT_EQ(d->read(2), "bc");
  d->commitTransaction();
  EXPECT_EQ(d->readAll(), "def");
}

TEST(IODevice, StartTransactionTwiceIsIgnored) {
  auto d = openStream("abcdef");
  d->startTransaction();
  d->read(2);
  d->startTransaction();  // not nested: still the first transaction
  d->read(2);
  d->rollbackTransaction();
  EXPECT_FALSE(d->isTransactionStarted());
  EXPECT_EQ(d->readAll(), "abcdef");
}

TEST(IODevice, CommitOrRollbackWithoutATransactionDoesNothing) {
  auto d = openStream("abc");
  d->read(1);
  d->commitTransaction();
  d->rollbackTransaction();
  EXPECT_FALSE(d->isTransactionStarted());
  EXPECT_EQ(d->readAll(), "bc");
}

TEST(IODevice, RollbackOnARandomAccessDeviceSeeksBack) {
  OpenBuffer b("0123456789");
  b.device.read(2);
  b.device.startTransaction();
  EXPECT_EQ(b.device.read(5), "23456");
  EXPECT_EQ(b.device.pos(), 7);
  b.device.rollbackTransaction();
  EXPECT_EQ(b.device.pos(), 2);
  b.device.startTransaction();
  EXPECT_EQ(b.device.readLine(), "23456789");
  b.device.commitTransaction();
  EXPECT_EQ(b.device.pos(), 10);
}

TEST(IODevice, RollbackAfterReadingUngotBytesOfARandomAccessDevice) {
  OpenBuffer b("abc");
  char c;
  b.device.getChar(&c);
  b.device.ungetChar(c);
  b.device.startTransaction();
  EXPECT_EQ(b.device.read(2), "ab");
  b.device.rollbackTransaction();
  EXPECT_EQ(b.device.pos(), 0);
  EXPECT_EQ(b.device.readAll(), "abc");
}

// The way a message reader uses transactions: try to read a whole message,
// roll back while it is incomplete, commit once it is there.
TEST(IODevice, TransactionRetriesUntilAWholeMessageHasArrived) {
  const std::string message = "0011hello world";  // 4-digit length, then payload
  for (std::size_t split = 0; split <= message.size(); ++split) {
    auto d = openStream(message.substr(0, split));
    std::string payload;
    bool complete = false;
    for (int attempt = 0; attempt < 2 && !complete; ++attempt) {
      d->startTransaction();
      const std::string header = d->read(4);
      if (header.size() == 4) {
        const auto length = static_cast<std::int64_t>(std::stoi(header));
        payload = d->read(length);
        complete = static_cast<std::int64_t>(payload.size()) == length;
      }
      if (complete) {
        d->commitTransaction();
      } else {
        d->rollbackTransaction();
        EXPECT_EQ(d->bytesAvailable(), static_cast<std::int64_t>(split));
        d->readBuffer().append(message.substr(split));
      }
    }
    EXPECT_TRUE(complete) << "split at " << split;
    EXPECT_EQ(payload, "hello world");
    EXPECT_TRUE(d->atEnd());
  }
}

// -------------------------------------------------------------- text mode

TEST(IODevice, TextModeReadsCrLfAsLf) {
  OpenBuffer b("one\r\ntwo\r\n", IODevice::ReadOnly | IODevice::Text);
  EXPECT_EQ(b.device.readAll(), "one\ntwo\n");
  ASSERT_TRUE(b.device.seek(0));
  EXPECT_EQ(b.device.readLine(), "one\n");
  char buf[16];
  EXPECT_EQ(b.device.readLine(buf, 16), 4);
  EXPECT_STREQ(buf, "two\n");
  ASSERT_TRUE(b.device.seek(0));
  EXPECT_EQ(b.device.read(5), "one\nt");
}

TEST(IODevice, TextModeOnASequentialDeviceReadsCrLfAsLf) {
  auto d = openStream("a\r\nb\r\n", "c\r\n", IODevice::ReadOnly | IODevice::Text);
  EXPECT_EQ(d->readLine(), "a\n");
  EXPECT_EQ(d->readAll(), "b\nc\n");
}

TEST(IODevice, TextModeDropsEveryCarriageReturnLikeQt) {
  OpenBuffer b("a\rb\r\n", IODevice::ReadOnly | IODevice::Text);
  EXPECT_EQ(b.device.readAll(), "ab\n");
}

TEST(IODevice, TextModeReadOfOneByteAtACarriageReturnGivesTheNewline) {
  OpenBuffer b("a\r\nb", IODevice::ReadOnly | IODevice::Text);
  ASSERT_TRUE(b.device.seek(1));
  EXPECT_EQ(b.device.read(1), "\n");
  EXPECT_EQ(b.device.pos(), 3);
}

TEST(IODevice, TextModeReadLineCountsOneByteForCrLf) {
  const std::string line(5000, 'x');
  const std::string data = "First line.\r\n" + line + "\r\n" + "\r\n0123456789";
  OpenBuffer plain(data, IODevice::ReadOnly);
  char temp[8192];
  EXPECT_EQ(plain.device.readLine(temp, sizeof temp), 13);
  EXPECT_EQ(plain.device.readLine(temp, sizeof temp), 5002);
  EXPECT_EQ(plain.device.readLine(temp, sizeof temp), 2);
  EXPECT_EQ(plain.device.readLine(temp, sizeof temp), 10);
  EXPECT_EQ(plain.device.readLine(temp, sizeof temp), -1);

  OpenBuffer text(data, IODevice::ReadOnly | IODevice::Text);
  EXPECT_EQ(text.device.readLine(temp, sizeof temp), 12);
  EXPECT_EQ(text.device.readLine(temp, sizeof temp), 5001);
  EXPECT_EQ(text.device.readLine(temp, sizeof temp), 1);
  EXPECT_EQ(text.device.readLine(temp, sizeof temp), 10);
  EXPECT_EQ(text.device.readLine(temp, sizeof temp), -1);
}

TEST(IODevice, TextModeWritesBytesUnchangedOnUnix) {
  auto d = openStream("", "", IODevice::WriteOnly | IODevice::Text);
  EXPECT_EQ(d->write("a\nb\r\n"), 5);
  EXPECT_EQ(d->written, "a\nb\r\n");
}

TEST(IODevice, SetTextModeEnabledNeedsAnOpenDevice) {
  StreamDevice d;
  d.setTextModeEnabled(true);
  EXPECT_FALSE(d.isTextModeEnabled());
  ASSERT_TRUE(d.open(IODevice::ReadOnly));
  d.setTextModeEnabled(true);
  EXPECT_TRUE(d.isTextModeEnabled());
  EXPECT_EQ(d.openMode(), IODevice::ReadOnly | IODevice::Text);
  d.setTextModeEnabled(false);
  EXPECT_EQ(d.openMode(), IODevice::ReadOnly);
}
