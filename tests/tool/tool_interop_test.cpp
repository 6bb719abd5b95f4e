// Wire compatibility with seed 003: the Qt 5 programs qt_seed_sender and
// qt_seed_receiver follow the seed's client and server code unchanged (see
// their sources); tether must take files from the one and deliver files to
// the other, byte for byte.
#include <gtest/gtest.h>

#include <string>

#include "tool_test_support.h"

using namespace tether::tooltest;

namespace {

#define REQUIRE_QT()                                                        \
  if (qtSeedSender().empty()) GTEST_SKIP() << "Qt 5 not found at build time"

// Starts the Qt receiver and reads the port it prints.
std::uint16_t startQtReceiver(Process& qt) {
  const auto line = qt.readLine();
  if (!line || line->rfind("listening on port ", 0) != 0) return 0;
  return static_cast<std::uint16_t>(std::stoi(line->substr(18)));
}

}  // namespace

TEST(ToolInterop, QtSeedSenderToTetherReceiver) {
  REQUIRE_QT();
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes(3 << 20, 1);
  writeFile(src / "from-qt.bin", content);
  Receiver receiver(dst.path());
  ASSERT_NE(receiver.port(), 0);
  const RunResult qt = run({qtSeedSender(), "127.0.0.1", std::to_string(receiver.port()), src / "from-qt.bin"});
  EXPECT_EQ(qt.status, 0) << qt.out;
  const auto done = receiver.waitFor("file-done");
  EXPECT_EQ(done.value("protocol", ""), "qt");
  EXPECT_EQ(done.value("file", ""), "from-qt.bin");
  EXPECT_EQ(done.value("size", 0u), content.size());
  EXPECT_EQ(readFile(dst / "from-qt.bin"), content);
  EXPECT_EQ(listDir(dst.path()), std::vector<std::string>{"from-qt.bin"}) << "no temporary file left";
}

TEST(ToolInterop, QtSeedSenderWithAnEmptyFileAndAUnicodeName) {
  REQUIRE_QT();
  TempDir src;
  TempDir dst;
  const std::string name = "leer-ümlaut-名前.txt";
  writeFile(src / name, "");
  Receiver receiver(dst.path());
  const RunResult qt = run({qtSeedSender(), "127.0.0.1", std::to_string(receiver.port()), src / name});
  EXPECT_EQ(qt.status, 0) << qt.out;
  const auto done = receiver.waitFor("file-done");
  EXPECT_EQ(done.value("file", ""), name);
  EXPECT_EQ(readFile(dst / name), std::string());
}

TEST(ToolInterop, TetherSendQtToQtSeedReceiver) {
  REQUIRE_QT();
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes((2 << 20) + 12345, 2);
  writeFile(src / "to-qt.bin", content);
  Process qt({qtSeedReceiver(), dst.path()});
  const std::uint16_t port = startQtReceiver(qt);
  ASSERT_NE(port, 0) << qt.out();
  const RunResult sent = runTether({"send", "--qt", "--json", src / "to-qt.bin", "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(sent.status, 0) << sent.out << sent.err;
  EXPECT_EQ(sent.event("file-done").value("size", 0u), content.size());
  EXPECT_EQ(qt.wait(), 0) << qt.out();
  EXPECT_NE(qt.out().find("received to-qt.bin " + std::to_string(content.size())), std::string::npos) << qt.out();
  EXPECT_EQ(readFile(dst / "to-qt.bin"), content);
}

TEST(ToolInterop, TetherSeedHeaderIsTheQtSendersHeaderByteForByte) {
  REQUIRE_QT();
  // A plain listener records everything the Qt sender writes: it must be
  // the header tether builds for the same name and size, then the file.
  TempDir src;
  const std::string name = "naïve 😀 name.dat";
  const std::string content = patternBytes(100000, 3);
  writeFile(src / name, content);
  RawServer server;
  ASSERT_NE(server.port(), 0);
  Process qt({qtSeedSender(), "127.0.0.1", std::to_string(server.port()), src / name});
  const auto received = server.acceptAndReadAll();
  ASSERT_TRUE(received);
  EXPECT_EQ(qt.wait(), 0) << qt.out();
  const std::string header = tether::cli::proto::encodeSeedHeader(name, content.size());
  EXPECT_EQ(*received, header + content);
}

TEST(ToolInterop, TetherReceiverTellsQtAndNativeSendersApartOnOnePort) {
  REQUIRE_QT();
  TempDir src;
  TempDir dst;
  writeFile(src / "qt.bin", patternBytes(100000, 5));
  writeFile(src / "native.bin", patternBytes(100000, 6));
  Receiver receiver(dst.path());
  const RunResult qt = run({qtSeedSender(), "127.0.0.1", std::to_string(receiver.port()), src / "qt.bin"});
  const RunResult native = runTether({"send", "--json", src / "native.bin", receiver.destination()});
  EXPECT_EQ(qt.status, 0);
  EXPECT_EQ(native.status, 0) << native.err;
  const auto first = receiver.waitFor("file-done");
  const auto second = receiver.waitFor("file-done");
  EXPECT_EQ(first.value("protocol", "") + "," + second.value("protocol", ""), "qt,native");
  EXPECT_EQ(readFile(dst / "qt.bin"), patternBytes(100000, 5));
  EXPECT_EQ(readFile(dst / "native.bin"), patternBytes(100000, 6));
}
