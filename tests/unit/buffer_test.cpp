#include "tether/buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "tether/event_loop.h"

using namespace tether;

// ----------------------------------------------------------- the string

TEST(Buffer, DefaultBufferWorksOnAnEmptyInternalString) {
  Buffer b;
  EXPECT_FALSE(b.isOpen());
  EXPECT_FALSE(b.isSequential());
  EXPECT_EQ(b.buffer(), "");
  EXPECT_EQ(b.size(), 0);
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  EXPECT_EQ(b.write("abc"), 3);
  EXPECT_EQ(b.data(), "abc");
}

TEST(Buffer, BufferWorksOnTheStringItWasGiven) {
  std::string bytes = "existing";
  Buffer b(&bytes);
  EXPECT_EQ(&b.buffer(), &bytes);
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  EXPECT_EQ(b.readAll(), "existing");
  EXPECT_EQ(b.write("!"), 1);
  EXPECT_EQ(bytes, "existing!");
}

TEST(Buffer, ConstructingWithNullUsesTheInternalString) {
  Buffer b(static_cast<std::string*>(nullptr));
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  b.write("x");
  EXPECT_EQ(b.data(), "x");
}

TEST(Buffer, SetBufferSwitchesStringsOnlyWhileClosed) {
  std::string first = "first";
  std::string second = "second";
  Buffer b;
  b.buffer() = "internal";
  b.setBuffer(&first);
  EXPECT_EQ(b.data(), "first");
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  b.setBuffer(&second);  // ignored: open
  EXPECT_EQ(b.data(), "first");
  b.close();
  b.setBuffer(nullptr);  // back to the internal string, emptied
  EXPECT_EQ(b.data(), "");
  EXPECT_EQ(first, "first");
}

TEST(Buffer, SetDataReplacesTheContentsOnlyWhileClosed) {
  std::string bytes = "old";
  Buffer b(&bytes);
  b.setData("Bogus data");
  EXPECT_EQ(b.data(), "Bogus data");
  EXPECT_EQ(bytes, "Bogus data");
  b.setData(std::string_view());
  EXPECT_EQ(b.data(), "");
  b.setData("abcdef", 3);
  EXPECT_EQ(b.data(), "abc");
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  b.setData("ignored");
  EXPECT_EQ(b.data(), "abc");
}

TEST(Buffer, BufferMayBeChangedBehindItsBack) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  b.write(std::string(1000, 'a'));
  EXPECT_EQ(b.buffer().size(), 1000u);
  b.buffer().clear();
  ASSERT_TRUE(b.seek(0));
  EXPECT_EQ(b.buffer().size(), 0u);
  b.write(std::string(1000, 'b'));
  EXPECT_EQ(b.buffer(), std::string(1000, 'b'));
}

TEST(Buffer, WritingPastAStringThatShrankFillsTheGapWithZeros) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  b.write("abcdef");
  b.buffer().resize(2);
  EXPECT_EQ(b.write("Z"), 1);
  EXPECT_EQ(b.data(), std::string("ab\0\0\0\0Z", 7));
}

// --------------------------------------------------------------- open modes

TEST(Buffer, OpenWithoutReadOrWriteAccessFails) {
  Buffer b;
  for (IODevice::OpenMode mode : {IODevice::OpenMode(IODevice::NotOpen), IODevice::OpenMode(IODevice::Text),
                                   IODevice::OpenMode(IODevice::Unbuffered)}) {
    EXPECT_FALSE(b.open(mode)) << mode;
    EXPECT_FALSE(b.isOpen());
  }
  EXPECT_EQ(b.errorString(), "Buffer access not specified");
  b.close();  // harmless
}

TEST(Buffer, OpenRecordsTheModeWithUnbufferedLikeQBuffer) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  EXPECT_EQ(b.openMode(), IODevice::ReadOnly | IODevice::Unbuffered);
  EXPECT_TRUE(b.isReadable());
  EXPECT_FALSE(b.isWritable());
  b.close();
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  EXPECT_TRUE(b.isReadable());
  EXPECT_TRUE(b.isWritable());
}

TEST(Buffer, OpenWriteOnlyDoesNotTruncateAndStartsAtZero) {
  std::string bytes = "0123456789";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  EXPECT_EQ(b.size(), 10);
  EXPECT_EQ(b.pos(), 0);
  b.write("ab");
  EXPECT_EQ(bytes, "ab23456789");
}

TEST(Buffer, OpenTruncateEmptiesTheStringAndImpliesWriteOnly) {
  std::string bytes(10, 'f');
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::Truncate));
  EXPECT_TRUE(b.isWritable());
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(b.pos(), 0);
  EXPECT_EQ(bytes, "");
}

TEST(Buffer, OpenAppendStartsAtTheEndAndImpliesWriteOnly) {
  std::string bytes(10, 'f');
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::Append));
  EXPECT_TRUE(b.isWritable());
  EXPECT_EQ(b.size(), 10);
  EXPECT_EQ(b.pos(), 10);
  b.write("end");
  EXPECT_EQ(bytes, std::string(10, 'f') + "end");
}

TEST(Buffer, IsClosedAfterClose) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  b.close();
  EXPECT_FALSE(b.isOpen());
  EXPECT_EQ(b.pos(), 0);
}

// ----------------------------------------------------------------- reading

TEST(Buffer, ReadFailsWhenClosedOrWriteOnlyAndStopsAtTheEnd) {
  char a[10];
  Buffer b;
  EXPECT_EQ(b.read(a, 10), -1);
  EXPECT_TRUE(b.atEnd());

  std::string bytes(10, 'x');
  b.setBuffer(&bytes);
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  EXPECT_EQ(b.read(a, 10), -1);
  EXPECT_EQ(b.errorString(), "WriteOnly device");
  b.close();

  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  EXPECT_EQ(b.read(a, 10), 10);
  EXPECT_TRUE(b.atEnd());
  EXPECT_EQ(b.read(a, 1), 0);  // past the end: no data, no error
  EXPECT_TRUE(b.atEnd());

  b.close();
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  EXPECT_EQ(b.read(a, 5), 5);
  EXPECT_EQ(b.read(a + 5, 5), 5);
  EXPECT_TRUE(b.atEnd());
}

TEST(Buffer, ReadNearTheEndReturnsWhatIsLeft) {
  std::string bytes(4096 + 3616, 'd');
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  char dummy[4096];
  b.read(1);
  EXPECT_EQ(b.read(dummy, 4096), 4096);
  EXPECT_EQ(b.read(dummy, 4096), 3615);
  EXPECT_TRUE(b.atEnd());
}

TEST(Buffer, ReadOfZeroBytesDoesNotMove) {
  std::string bytes;
  for (int i = 0; i < 32000; ++i) bytes += static_cast<char>(i & 0xff);
  Buffer in(&bytes);
  ASSERT_TRUE(in.open(IODevice::ReadOnly));
  std::string chunk(16380, '\0');
  EXPECT_EQ(in.read(chunk.data(), 16380), 16380);
  EXPECT_EQ(chunk, bytes.substr(0, 16380));
  EXPECT_EQ(in.read(chunk.data(), 0), 0);
  EXPECT_EQ(in.read(8), bytes.substr(16380, 8));
}

TEST(Buffer, AtEndAfterSeekingToTheEnd) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::Append));
  b.write("heisann");
  b.close();
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  ASSERT_TRUE(b.seek(b.size()));
  char c;
  EXPECT_FALSE(b.getChar(&c));
  EXPECT_EQ(b.read(&c, 1), 0);
  EXPECT_TRUE(b.atEnd());
}

TEST(Buffer, PeekThenReadSeesTheSameBytes) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  b.write("ZXCV");
  ASSERT_TRUE(b.seek(0));
  EXPECT_EQ(b.peek(4), "ZXCV");
  EXPECT_EQ(b.pos(), 0);
  b.write("ABCDE");
  ASSERT_TRUE(b.seek(3));
  EXPECT_EQ(b.peek(1), "D");
  EXPECT_EQ(b.peek(5), "DE");
  ASSERT_TRUE(b.seek(0));
  EXPECT_EQ(b.read(4), "ABCD");
  EXPECT_EQ(b.pos(), 4);

  ASSERT_TRUE(b.seek(0));
  b.write("ZXCV");
  ASSERT_TRUE(b.seek(0));
  char buf[5] = {};
  EXPECT_EQ(b.peek(buf, 4), 4);
  EXPECT_STREQ(buf, "ZXCV");
  EXPECT_EQ(b.pos(), 0);
  EXPECT_EQ(b.read(buf, 4), 4);
  EXPECT_STREQ(buf, "ZXCV");
  EXPECT_EQ(b.pos(), 4);
}

TEST(Buffer, AlternatingPeekAndReadWalksTheWholeString) {
  std::string original;
  for (int i = 0; i < 1000; ++i) original += "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  b.write(original);
  ASSERT_TRUE(b.seek(0));
  std::string readBack;
  while (!b.atEnd()) {
    char peeked[26];
    EXPECT_EQ(b.peek(peeked, 26), 26);
    readBack += b.read(26);
    EXPECT_EQ(std::string(peeked, 26), readBack.substr(readBack.size() - 26));
  }
  EXPECT_EQ(readBack, original);
}

TEST(Buffer, ReadAllFromTheMiddleReturnsTheRest) {
  std::string bytes = "0123456789";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  ASSERT_TRUE(b.seek(4));
  EXPECT_EQ(b.readAll(), "456789");
  EXPECT_EQ(b.pos(), 10);
  EXPECT_EQ(b.readAll(), "");
}

// ------------------------------------------------------------------ lines

TEST(Buffer, ReadLineHonoursTheNewlineAndTheLimit) {
  struct Row {
    std::string src;
    int maxSize;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"line1\nline2\n", 1024, "line1\n"},
      {"hi there", 1024, "hi there"},
      {"l\n", 3, "l\n"},
      {"l\n", 2, "l"},
  };
  for (const Row& row : rows) {
    std::string src = row.src;
    Buffer b(&src);
    ASSERT_TRUE(b.open(IODevice::ReadOnly));
    std::vector<char> out(static_cast<std::size_t>(row.maxSize) + 1, '@');
    EXPECT_EQ(b.readLine(out.data(), row.maxSize), static_cast<std::int64_t>(row.expected.size())) << row.src;
    EXPECT_STREQ(out.data(), row.expected.c_str());
  }
}

TEST(Buffer, ReadLineAtExactlyTheLineLength) {
  for (std::size_t newlineAt : {0u, 1u, 4094u, 4095u, 8190u, 8191u, 8192u, 8193u}) {
    std::string data(9000, 'A');
    data[newlineAt] = '\n';
    const auto lineLength = static_cast<std::int64_t>(newlineAt + 1);
    Buffer b(&data);
    ASSERT_TRUE(b.open(IODevice::ReadWrite));
    EXPECT_TRUE(b.canReadLine());
    std::string line(static_cast<std::size_t>(lineLength) + 100, '\0');
    EXPECT_EQ(b.readLine(line.data(), lineLength + 100), lineLength);
    ASSERT_TRUE(b.seek(0));
    EXPECT_EQ(b.readLine(line.data(), lineLength + 1), lineLength);
    ASSERT_TRUE(b.seek(0));
    EXPECT_EQ(b.readLine(lineLength + 100).size(), static_cast<std::size_t>(lineLength));
    ASSERT_TRUE(b.seek(0));
    EXPECT_EQ(b.readLine().size(), static_cast<std::size_t>(lineLength));
  }
}

TEST(Buffer, ReadLineUntilAtEndReturnsEveryLineAfterAnUngetChar) {
  const std::string line = "This is a line\n";
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  while (b.size() < 16384) b.write(line);
  ASSERT_TRUE(b.seek(0));
  char c;
  ASSERT_TRUE(b.getChar(&c));
  b.ungetChar(c);
  std::string all;
  int lines = 0;
  while (!b.atEnd()) {
    const std::string got = b.readLine();
    EXPECT_EQ(got, line);
    all += got;
    ++lines;
  }
  EXPECT_EQ(all, b.data());
  EXPECT_EQ(lines, static_cast<int>(b.data().size() / line.size()));
}

TEST(Buffer, CanReadLineLooksFromThePosition) {
  struct Row {
    std::string src;
    bool expected;
  };
  for (const Row& row : std::vector<Row>{{"no newline", false}, {"two \n lines\n", true}, {"\n", true}, {"", false}}) {
    std::string src = row.src;
    Buffer b;
    b.setBuffer(&src);
    EXPECT_FALSE(b.canReadLine());  // closed
    ASSERT_TRUE(b.open(IODevice::ReadOnly));
    EXPECT_EQ(b.canReadLine(), row.expected) << row.src;
  }
  std::string bytes = "a\nb";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  ASSERT_TRUE(b.seek(2));
  EXPECT_FALSE(b.canReadLine());
  b.ungetChar('\n');  // a put-back newline counts too
  EXPECT_TRUE(b.canReadLine());
}

// ------------------------------------------------------------------ seeking

TEST(Buffer, SeekPastTheEndOfAWritableBufferPadsWithZeros) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  EXPECT_EQ(b.size(), 0);
  ASSERT_TRUE(b.seek(10));
  EXPECT_EQ(b.size(), 10);
  EXPECT_EQ(b.pos(), 10);
  EXPECT_EQ(b.data(), std::string(10, '\0'));
}

TEST(Buffer, WriteAfterSeekingPastTheEndLeavesAZeroGap) {
  std::string bytes = "ab";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  ASSERT_TRUE(b.seek(5));
  EXPECT_EQ(b.write("c"), 1);
  EXPECT_EQ(bytes, std::string("ab\0\0\0c", 6));
}

TEST(Buffer, SeekPastTheEndOfAReadOnlyBufferFails) {
  std::string bytes = "abc";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  ASSERT_TRUE(b.seek(1));
  EXPECT_FALSE(b.seek(4));
  EXPECT_EQ(b.pos(), 1);
  EXPECT_EQ(bytes, "abc");
  EXPECT_TRUE(b.seek(3));  // the end itself is a valid position
}

TEST(Buffer, SeekValidationMatchesQBuffer) {
  const std::string str = "The Buffer class is an I/O device that operates on a string.";
  std::string bytes;
  Buffer buf(&bytes);
  ASSERT_TRUE(buf.open(IODevice::ReadWrite));
  EXPECT_EQ(buf.pos(), 0);
  EXPECT_EQ(buf.write(str), static_cast<std::int64_t>(str.size()));

  EXPECT_FALSE(buf.seek(-1));
  EXPECT_EQ(buf.pos(), static_cast<std::int64_t>(str.size()));

  for (std::size_t position : {std::size_t{0}, str.size() - 1, str.size() / 2}) {
    char c;
    ASSERT_TRUE(buf.seek(static_cast<std::int64_t>(position)));
    EXPECT_EQ(buf.pos(), static_cast<std::int64_t>(position));
    ASSERT_TRUE(buf.getChar(&c));
    EXPECT_EQ(c, str[position]);
    if (position == str.size() - 1) {
      EXPECT_TRUE(buf.atEnd());
    }
  }

  // One past the last byte: valid, reads nothing, writes append.
  char c = 'a';
  ASSERT_TRUE(buf.seek(static_cast<std::int64_t>(str.size())));
  EXPECT_EQ(buf.read(&c, 1), 0);
  EXPECT_EQ(c, 'a');
  EXPECT_EQ(buf.write(&c, 1), 1);

  // Further past: the buffer grows to the position.
  const std::int64_t pos = buf.size() + 1;
  ASSERT_TRUE(buf.seek(pos));
  EXPECT_EQ(buf.pos(), pos);
  EXPECT_FALSE(buf.getChar(&c));
  ASSERT_TRUE(buf.seek(pos - 1));
  ASSERT_TRUE(buf.getChar(&c));
  EXPECT_EQ(c, buf.data()[static_cast<std::size_t>(pos - 1)]);
  ASSERT_TRUE(buf.seek(pos));
  EXPECT_TRUE(buf.putChar(c));
}

TEST(Buffer, WriteOverwritesInTheMiddle) {
  std::string bytes = "0123456789";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  ASSERT_TRUE(b.seek(3));
  EXPECT_EQ(b.write("abc"), 3);
  EXPECT_EQ(bytes, "012abc6789");
  EXPECT_EQ(b.pos(), 6);
  EXPECT_EQ(b.readAll(), "6789");
}

// ------------------------------------------------------------------ signals

TEST(Buffer, WriteEmitsBytesWrittenThenReadyReadFromTheLoopNotFromWrite) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::ReadWrite));
  std::vector<std::string> events;
  b.bytesWritten.connect([&](std::int64_t n) { events.push_back("bytesWritten " + std::to_string(n)); });
  b.readyRead.connect([&] { events.push_back("readyRead"); });
  EXPECT_EQ(b.write("hello"), 5);
  EXPECT_TRUE(events.empty());
  ASSERT_TRUE(test::runUntil([&] { return events.size() == 2; }));
  EXPECT_EQ(events, (std::vector<std::string>{"bytesWritten 5", "readyRead"}));
  test::runFor(20);
  EXPECT_EQ(events.size(), 2u);
}

TEST(Buffer, WritesBeforeTheLoopRunsAreCoalescedIntoOneEmission) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  std::vector<std::int64_t> written;
  int ready = 0;
  b.bytesWritten.connect([&](std::int64_t n) { written.push_back(n); });
  b.readyRead.connect([&] { ++ready; });
  b.write("ab");
  b.write("cde");
  b.putChar('f');
  ASSERT_TRUE(test::runUntil([&] { return ready == 1; }));
  test::runFor(20);
  EXPECT_EQ(written, (std::vector<std::int64_t>{6}));
  EXPECT_EQ(ready, 1);
}

TEST(Buffer, EachRoundOfWritesGetsItsOwnSignals) {
  std::string sample(100, '1');
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  b.buffer().resize(sample.size() * 10);
  std::int64_t total = 0;
  int ready = 0;
  b.bytesWritten.connect([&](std::int64_t n) { total += n; });
  b.readyRead.connect([&] { ++ready; });
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(b.write(sample), static_cast<std::int64_t>(sample.size()));
    ASSERT_TRUE(test::runUntil([&] { return ready == i + 1; }));
    EXPECT_EQ(total, static_cast<std::int64_t>(sample.size()) * (i + 1));
  }
}

TEST(Buffer, AnEmptyWriteEmitsNothing) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  int signals = 0;
  b.bytesWritten.connect([&] { ++signals; });
  b.readyRead.connect([&] { ++signals; });
  EXPECT_EQ(b.write("", 0), 0);
  test::runFor(20);
  EXPECT_EQ(signals, 0);
}

TEST(Buffer, NothingIsScheduledWhenNoOneIsConnectedAtWriteTime) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  b.write("early");
  int signals = 0;
  b.bytesWritten.connect([&] { ++signals; });
  test::runFor(20);
  EXPECT_EQ(signals, 0);
  // A later write reports only its own bytes.
  std::int64_t reported = 0;
  b.bytesWritten.connect([&](std::int64_t n) { reported = n; });
  b.write("late");
  ASSERT_TRUE(test::runUntil([&] { return reported != 0; }));
  EXPECT_EQ(reported, 4);
}

TEST(Buffer, PendingSignalsOfADestroyedBufferAreDropped) {
  int signals = 0;
  {
    Buffer b;
    ASSERT_TRUE(b.open(IODevice::WriteOnly));
    b.bytesWritten.connect([&] { ++signals; });
    b.write("gone");
  }
  test::runFor(20);
  EXPECT_EQ(signals, 0);
}

TEST(Buffer, ASlotMayDestroyTheBufferDuringBytesWritten) {
  auto* b = new Buffer;
  ASSERT_TRUE(b->open(IODevice::WriteOnly));
  int bytesWritten = 0;
  int ready = 0;
  b->bytesWritten.connect([&, b] {
    ++bytesWritten;
    delete b;
  });
  b->readyRead.connect([&] { ++ready; });
  b->write("x");
  ASSERT_TRUE(test::runUntil([&] { return bytesWritten == 1; }));
  test::runFor(20);
  EXPECT_EQ(ready, 0);
}

TEST(Buffer, AWriteFromABytesWrittenSlotIsReportedInTheNextRound) {
  Buffer b;
  ASSERT_TRUE(b.open(IODevice::WriteOnly));
  std::vector<std::int64_t> written;
  b.bytesWritten.connect([&](std::int64_t n) {
    written.push_back(n);
    if (written.size() == 1) b.write("more");
  });
  b.write("first");
  ASSERT_TRUE(test::runUntil([&] { return written.size() == 2; }));
  EXPECT_EQ(written, (std::vector<std::int64_t>{5, 4}));
  EXPECT_EQ(b.data(), "firstmore");
}

TEST(Buffer, TransactionOnABufferRestoresThePosition) {
  std::string bytes = "header:payload";
  Buffer b(&bytes);
  ASSERT_TRUE(b.open(IODevice::ReadOnly));
  b.startTransaction();
  EXPECT_EQ(b.read(7), "header:");
  b.rollbackTransaction();
  EXPECT_EQ(b.pos(), 0);
  b.startTransaction();
  EXPECT_EQ(b.readAll(), "header:payload");
  b.commitTransaction();
  EXPECT_TRUE(b.atEnd());
}
