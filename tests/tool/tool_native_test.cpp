// tether to tether: SHA-256 verification, several files and directories,
// resume of an interrupted transfer, JSON, plain and terminal output, exit
// statuses, stopping.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "tool_test_support.h"

using namespace tether::tooltest;
namespace proto = tether::cli::proto;

namespace {

unsigned modeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

std::uint64_t sizeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// Starts a native transfer of `content` as `name` on a raw connection and
// stops after `cut` bytes, as a sender that dies would.
void interruptedTransfer(Receiver& receiver, const std::string& name, const std::string& content, std::size_t cut) {
  RawClient client(receiver.port());
  ASSERT_TRUE(client.hello(1, content.size()));
  const auto offer = client.offerFor(name, content.size());
  ASSERT_TRUE(offer);
  ASSERT_EQ(offer->status, proto::Status::Ok);
  std::string start;
  proto::encode(start, proto::Start{0});
  ASSERT_TRUE(client.send(start + content.substr(0, cut)));
  client.close();
  const auto failed = receiver.waitFor("file-failed");
  EXPECT_EQ(failed.value("kept_partial", false), true) << failed.dump();
  EXPECT_EQ(failed.value("bytes", 0u), cut);
}

}  // namespace

TEST(ToolNative, TransferIsVerifiedWithSha256OnBothSides) {
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes((5 << 20) + 7, 11);
  writeFile(src / "data.bin", content);
  Receiver receiver(dst.path());
  const RunResult sent = runTether({"send", "--json", src / "data.bin", receiver.destination()});
  ASSERT_EQ(sent.status, 0) << sent.out << sent.err;
  const std::string digest = sha256Hex(content);
  EXPECT_EQ(sent.event("file-done").value("sha256", ""), digest);
  const auto done = receiver.waitFor("file-done");
  EXPECT_EQ(done.value("sha256", ""), digest);
  EXPECT_EQ(done.value("protocol", ""), "native");
  EXPECT_EQ(readFile(dst / "data.bin"), content);
  EXPECT_EQ(listDir(dst.path()), std::vector<std::string>{"data.bin"});
}

TEST(ToolNative, SeveralFilesAndWholeDirectoriesInOneConnection) {
  TempDir src;
  TempDir dst;
  std::filesystem::create_directories(src / "tree/sub/deeper");
  writeFile(src / "single.txt", "single\n");
  writeFile(src / "tree/x.bin", patternBytes(300000, 12));
  writeFile(src / "tree/sub/run.sh", "#!/bin/sh\necho hi\n", 0755);
  writeFile(src / "tree/sub/deeper/empty", "");
  ASSERT_EQ(::symlink("../single.txt", (src / "tree/link").c_str()), 0);
  Receiver receiver(dst.path());
  const RunResult sent = runTether({"send", "--json", src / "single.txt", src / "tree/", receiver.destination()});
  ASSERT_EQ(sent.status, 0) << sent.out << sent.err;
  EXPECT_EQ(sent.event("done").value("files", 0), 4);
  EXPECT_NE(sent.event("skipped").value("path", "").find("tree/link"), std::string::npos) << "links are skipped";
  EXPECT_EQ(receiver.waitFor("connection-closed").value("files", 0), 4);
  EXPECT_EQ(readFile(dst / "single.txt"), "single\n");
  EXPECT_EQ(readFile(dst / "tree/x.bin"), patternBytes(300000, 12));
  EXPECT_EQ(readFile(dst / "tree/sub/run.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(modeOf(dst / "tree/sub/run.sh"), 0755u) << "the mode travels";
  EXPECT_EQ(modeOf(dst / "tree/x.bin"), 0644u);
  EXPECT_EQ(readFile(dst / "tree/sub/deeper/empty"), "");
  EXPECT_FALSE(exists(dst / "tree/link"));
  EXPECT_EQ(listDir(dst / "tree"), (std::vector<std::string>{"sub", "x.bin"}));
}

TEST(ToolNative, AnInterruptedTransferResumesWhereItStopped) {
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes(8 << 20, 13);
  writeFile(src / "big.bin", content);
  Receiver receiver(dst.path());
  interruptedTransfer(receiver, "big.bin", content, 3 << 20);
  EXPECT_FALSE(exists(dst / "big.bin")) << "never published unfinished";
  EXPECT_EQ(sizeOf(dst / ".big.bin.tether-part"), 3u << 20) << "kept for a resume";

  const RunResult sent = runTether({"send", "--json", src / "big.bin", receiver.destination()});
  ASSERT_EQ(sent.status, 0) << sent.out << sent.err;
  EXPECT_EQ(sent.event("file-start").value("offset", 0u), 3u << 20);
  EXPECT_EQ(sent.event("file-done").value("bytes", 0u), 5u << 20) << "only the rest travels";
  const auto done = receiver.waitFor("file-done");
  EXPECT_EQ(done.value("resumed_from", 0u), 3u << 20);
  EXPECT_EQ(done.value("sha256", ""), sha256Hex(content)) << "the digest covers the whole file";
  EXPECT_EQ(readFile(dst / "big.bin"), content);
  EXPECT_FALSE(exists(dst / ".big.bin.tether-part"));
}

TEST(ToolNative, APartialFileWithOtherContentIsNotResumed) {
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes(2 << 20, 14);
  writeFile(src / "f.bin", content);
  writeFile(dst / ".f.bin.tether-part", patternBytes(1 << 20, 99));  // not a prefix of f.bin
  Receiver receiver(dst.path());
  const RunResult sent = runTether({"send", "--json", src / "f.bin", receiver.destination()});
  ASSERT_EQ(sent.status, 0) << sent.err;
  EXPECT_EQ(sent.event("file-start").value("offset", 1u), 0u);
  EXPECT_EQ(receiver.waitFor("file-done").value("resumed_from", 1u), 0u);
  EXPECT_EQ(readFile(dst / "f.bin"), content);
}

TEST(ToolNative, NoResumeSendsTheWholeFileAnyway) {
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes(2 << 20, 15);
  writeFile(src / "f.bin", content);
  Receiver receiver(dst.path());
  interruptedTransfer(receiver, "f.bin", content, 1 << 20);
  const RunResult sent = runTether({"send", "--json", "--no-resume", src / "f.bin", receiver.destination()});
  ASSERT_EQ(sent.status, 0) << sent.err;
  EXPECT_EQ(sent.event("file-done").value("bytes", 0u), content.size());
  EXPECT_EQ(readFile(dst / "f.bin"), content);
}

TEST(ToolNative, JsonOutputIsOneObjectPerLine) {
  TempDir src;
  TempDir dst;
  writeFile(src / "a.txt", "hello");
  Receiver receiver(dst.path());
  const RunResult sent = runTether({"send", "--json", src / "a.txt", receiver.destination()});
  ASSERT_EQ(sent.status, 0);
  std::vector<std::string> names;
  std::size_t lines = 0;
  for (char c : sent.out) lines += c == '\n';
  for (const auto& e : sent.events()) names.push_back(e.value("event", ""));
  EXPECT_EQ(names.size(), lines) << "every line is a JSON object:\n" << sent.out;
  EXPECT_EQ(names.front(), "connected");
  EXPECT_EQ(names.back(), "done");
  EXPECT_NE(std::find(names.begin(), names.end(), "progress"), names.end());
  const auto progress = sent.event("progress");
  for (const char* key : {"bytes", "total", "rate", "eta", "elapsed"}) EXPECT_TRUE(progress.contains(key)) << key;
  EXPECT_EQ(sent.event("done").value("status", -1), 0);
  EXPECT_TRUE(sent.err.empty()) << sent.err;
}

TEST(ToolNative, PlainLinesWhenNotATerminal) {
  TempDir src;
  TempDir dst;
  writeFile(src / "plain.bin", patternBytes(100000, 16));
  Receiver receiver(dst.path());
  const RunResult sent = runTether({"send", src / "plain.bin", receiver.destination()});
  ASSERT_EQ(sent.status, 0);
  // No carriage returns or escape sequences: progress is whole lines.
  EXPECT_EQ(sent.err.find('\r'), std::string::npos);
  EXPECT_EQ(sent.err.find('\x1b'), std::string::npos);
  EXPECT_NE(sent.err.find("plain.bin: 100% 97.7 KiB / 97.7 KiB"), std::string::npos) << sent.err;
  EXPECT_NE(sent.out.find("sent plain.bin: 97.7 KiB"), std::string::npos) << sent.out;
  EXPECT_NE(sent.out.find("SHA-256 verified"), std::string::npos) << sent.out;
}

TEST(ToolNative, ExitStatuses) {
  TempDir src;
  TempDir dst;
  writeFile(src / "f.txt", "x");
  // 0: help and version.
  const RunResult help = runTether({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("send"), std::string::npos);
  EXPECT_NE(help.out.find("receive"), std::string::npos);
  EXPECT_EQ(runTether({"send", "--help"}).status, 0);
  EXPECT_EQ(runTether({"receive", "--help"}).status, 0);
  EXPECT_NE(runTether({"--version"}).out.find("tether "), std::string::npos);
  // 2: bad command lines, each with a message.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"fetch"},
                                             {"send", src / "f.txt"},
                                             {"send", src / "f.txt", "no-port"},
                                             {"send", src / "f.txt", "host:99999"},
                                             {"send", "--qt", src / "f.txt", src / "f.txt", "127.0.0.1:1"},
                                             {"send", "--qt", src.path(), "127.0.0.1:1"},
                                             {"receive", "--port", "70000"},
                                             {"receive", "--address", "not-an-address"},
                                             {"receive", "--bogus"}}) {
    const RunResult r = runTether(args);
    EXPECT_EQ(r.status, 2) << testing::PrintToString(args) << r.err;
    EXPECT_FALSE(r.err.empty()) << testing::PrintToString(args);
  }
  // 4: a local file that cannot be read, a directory that cannot be used.
  EXPECT_EQ(runTether({"send", src / "missing.txt", "127.0.0.1:1"}).status, 4);
  writeFile(src / "plain-file", "");
  EXPECT_EQ(runTether({"receive", "--dir", src / "plain-file/sub"}).status, 4);
  // 3: nothing listening; a port already taken.
  std::uint16_t closedPort = 0;
  {
    RawServer gone;
    closedPort = gone.port();
  }
  const RunResult refused = runTether({"send", src / "f.txt", "127.0.0.1:" + std::to_string(closedPort)});
  EXPECT_EQ(refused.status, 3);
  EXPECT_NE(refused.err.find("cannot connect"), std::string::npos) << refused.err;
  RawServer taken;
  EXPECT_EQ(runTether({"receive", "--address", "127.0.0.1", "--port", std::to_string(taken.port())}).status, 3);
  // 1: the receiver refused the file.
  writeFile(dst / "f.txt", "already here");
  Receiver receiver(dst.path());
  const RunResult exists = runTether({"send", src / "f.txt", receiver.destination()});
  EXPECT_EQ(exists.status, 1);
  EXPECT_NE(exists.err.find("exists"), std::string::npos) << exists.err;
}

TEST(ToolNative, ReceiveOnceExitsWithTheOutcomeOfItsConnection) {
  TempDir src;
  TempDir dst;
  writeFile(src / "f.txt", "once");
  {
    Receiver receiver(dst.path(), {"--once"});
    EXPECT_EQ(runTether({"send", src / "f.txt", receiver.destination()}).status, 0);
    EXPECT_EQ(receiver.process().wait(), 0);
  }
  {
    Receiver receiver(dst.path(), {"--once"});
    RawClient garbage(receiver.port());
    garbage.send("definitely not a file transfer header");
    EXPECT_TRUE(garbage.waitClosed());
    EXPECT_EQ(receiver.process().wait(), 1);
  }
}

TEST(ToolNative, AQuietReceiverStillNamesItsPortAndOnlyErrorsFollow) {
  TempDir src;
  TempDir dst;
  writeFile(src / "q.txt", "quiet");
  Process receiver({tetherBinary(), "receive", "--quiet", "--once", "--address", "127.0.0.1", "--dir", dst.path()});
  const auto line = receiver.readLine();
  ASSERT_TRUE(line);
  const auto at = line->rfind("port ");
  ASSERT_NE(at, std::string::npos) << *line;
  const std::string port = line->substr(at + 5, line->find(',', at) - at - 5);
  EXPECT_EQ(runTether({"send", "--quiet", src / "q.txt", "127.0.0.1:" + port}).out, "");
  EXPECT_EQ(receiver.wait(), 0);
  EXPECT_EQ(receiver.out(), *line + "\n") << "nothing but the listening line";
  EXPECT_EQ(readFile(dst / "q.txt"), "quiet");
}

TEST(ToolNative, NoVerifySkipsTheDigestButNotTheBytes) {
  TempDir src;
  TempDir dst;
  const std::string content = patternBytes(3 << 20, 17);
  writeFile(src / "nv.bin", content);
  Receiver receiver(dst.path());
  const RunResult sent = runTether({"send", "--json", "--no-verify", src / "nv.bin", receiver.destination()});
  ASSERT_EQ(sent.status, 0) << sent.err;
  EXPECT_EQ(sent.event("file-done").value("verified", true), false);
  EXPECT_FALSE(sent.event("file-done").contains("sha256"));
  const auto done = receiver.waitFor("file-done");
  EXPECT_EQ(done.value("verified", true), false);
  EXPECT_EQ(readFile(dst / "nv.bin"), content);
}

TEST(ToolNative, StoppingTheReceiverKeepsPartialFilesForAResume) {
  TempDir dst;
  const std::string content = patternBytes(2 << 20, 18);
  Receiver receiver(dst.path());
  RawClient client(receiver.port());
  ASSERT_TRUE(client.hello(1, content.size()));
  ASSERT_EQ(client.offerFor("stop.bin", content.size())->status, proto::Status::Ok);
  std::string start;
  proto::encode(start, proto::Start{0});
  ASSERT_TRUE(client.send(start + content.substr(0, 1 << 20)));
  ASSERT_FALSE(receiver.waitFor("file-start").empty());
  // The bytes sent are all in once the receiver reports them (or the
  // connection ends); SIGTERM then ends it cleanly.
  receiver.process().signal(SIGTERM);
  EXPECT_EQ(receiver.process().wait(), 0);
  EXPECT_TRUE(client.waitClosed());
  EXPECT_FALSE(exists(dst / "stop.bin"));
  const auto part = readFile(dst / ".stop.bin.tether-part");
  ASSERT_TRUE(part);
  EXPECT_LE(part->size(), std::size_t{1} << 20);
  EXPECT_EQ(*part, content.substr(0, part->size())) << "a prefix, ready for a resume";
}

TEST(ToolNative, ALiveBarWithRateAndEtaOnATerminal) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) not installed (util-linux)";
  TempDir src;
  TempDir dst;
  writeFile(src / "tty.bin", patternBytes(1 << 20, 19));
  Receiver receiver(dst.path());
  // script(1) runs the sender on a pseudo-terminal: stderr is a terminal.
  const RunResult r = run({"/usr/bin/script", "-qec",
                           tetherBinary() + " send " + (src / "tty.bin") + " " + receiver.destination(), "/dev/null"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\r"), std::string::npos) << "redrawn in place";
  EXPECT_NE(r.out.find("\x1b[K"), std::string::npos);
  EXPECT_NE(r.out.find("100%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/s"), std::string::npos) << r.out;
}
