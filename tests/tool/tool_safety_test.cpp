// The receiver's rules against hostile and broken peers: it never writes
// outside its directory, never overwrites unless asked, shows nothing under
// the final name before the file is complete (and verified), refuses what
// does not fit, and drops garbage, truncated and abandoned connections while
// it keeps serving everyone else.
//
// Every test puts the receiving directory one level below a temporary base
// directory, so that a file written outside it would be found in the base.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "hashing.h"
#include "tool_test_support.h"

using namespace tether::tooltest;
namespace proto = tether::cli::proto;

namespace {

struct Dirs {
  TempDir base;
  std::string recv = base / "recv";
  Dirs() { std::filesystem::create_directories(recv); }
  std::string in(const std::string& name) const { return recv + "/" + name; }
  // Everything in the base is the receiving directory (nothing escaped).
  bool nothingOutside() const { return listDir(base.path()) == std::vector<std::string>{"recv"}; }
};

std::string seedTransfer(const std::string& name, const std::string& content) {
  return proto::encodeSeedHeader(name, content.size()) + content;
}

std::string frame(const auto& message) {
  std::string out;
  proto::encode(out, message);
  return out;
}

// A complete native file on an open connection: File, Start, bytes, Digest.
std::optional<proto::Result> sendNativeFile(RawClient& client, const std::string& path, const std::string& content) {
  const auto offer = client.offerFor(path, content.size());
  if (!offer || offer->status != proto::Status::Ok) return std::nullopt;
  proto::DigestFrame digest;
  tether::cli::Sha256 hash;
  hash.update(content.data(), content.size());
  digest.digest = hash.finish();
  client.send(frame(proto::Start{0}) + content + frame(digest));
  return client.result();
}

}  // namespace

TEST(ToolSafety, SeedNamesLoseTheirDirectories) {
  Dirs d;
  Receiver receiver(d.recv);
  RawClient client(receiver.port());
  ASSERT_TRUE(client.send(seedTransfer("sub/dir/stripped.txt", "content")));
  EXPECT_EQ(receiver.waitFor("file-done").value("file", ""), "stripped.txt");
  EXPECT_EQ(readFile(d.in("stripped.txt")), "content");
  EXPECT_EQ(listDir(d.recv), std::vector<std::string>{"stripped.txt"});
  EXPECT_TRUE(d.nothingOutside());
}

TEST(ToolSafety, SeedNamesThatCouldEscapeAreRefused) {
  Dirs d;
  Receiver receiver(d.recv);
  for (const std::string& name : {std::string("../escape.txt"), std::string("a/../../escape.txt"),
                                  d.base / "absolute.txt", std::string("dir/"), std::string(300, 'n'),
                                  std::string("bad\nname"), std::string(".x.tether-part")}) {
    RawClient client(receiver.port());
    client.send(seedTransfer(name, "payload"));
    EXPECT_TRUE(client.waitClosed()) << name;
    const auto refused = receiver.waitFor("file-refused");
    EXPECT_EQ(refused.value("status", ""), "bad-name") << name << " " << refused.dump();
  }
  // An empty name is no file header at all.
  RawClient empty(receiver.port());
  empty.send(seedTransfer("", "payload"));
  EXPECT_TRUE(empty.waitClosed());
  EXPECT_FALSE(receiver.waitFor("connection-error").empty());
  EXPECT_TRUE(listDir(d.recv).empty());
  EXPECT_TRUE(d.nothingOutside());
}

TEST(ToolSafety, NativePathsThatCouldEscapeAreRefusedAndTheConnectionGoesOn) {
  Dirs d;
  Receiver receiver(d.recv);
  RawClient client(receiver.port());
  ASSERT_TRUE(client.hello(9, 9));
  std::string deep;
  for (int i = 0; i < 33; ++i) deep += "d/";
  for (const std::string& path : {std::string("../escape.txt"), std::string("a/../../escape.txt"), d.base / "abs.txt",
                                  std::string("a//b"), std::string(""), deep + "f", std::string(256, 'n'),
                                  std::string("dir/.f.tether-part")}) {
    const auto offer = client.offerFor(path, 1);
    ASSERT_TRUE(offer) << path;
    EXPECT_EQ(offer->status, proto::Status::BadName) << path;
  }
  // The same connection still takes a good file.
  const auto result = sendNativeFile(client, "ok/fine.txt", "fine");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, proto::Status::Ok);
  EXPECT_EQ(readFile(d.in("ok/fine.txt")), "fine");
  EXPECT_EQ(listDir(d.recv), std::vector<std::string>{"ok"});
  EXPECT_TRUE(d.nothingOutside());
}

TEST(ToolSafety, LinksInTheReceivingDirectoryAreNeverFollowed) {
  Dirs d;
  std::filesystem::create_directories(d.base / "outside");
  ASSERT_EQ(::symlink((d.base / "outside").c_str(), d.in("linkdir").c_str()), 0);
  ASSERT_EQ(::symlink((d.base / "outside/target.txt").c_str(), d.in("linkfile").c_str()), 0);
  Receiver receiver(d.recv, {"--overwrite"});
  RawClient client(receiver.port());
  ASSERT_TRUE(client.hello(2, 2));
  const auto throughDir = client.offerFor("linkdir/f.txt", 1);
  ASSERT_TRUE(throughDir);
  EXPECT_EQ(throughDir->status, proto::Status::BadName) << throughDir->message;
  // Overwriting a link replaces the link itself, never what it points to.
  const auto result = sendNativeFile(client, "linkfile", "replaced");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, proto::Status::Ok);
  EXPECT_TRUE(listDir(d.base / "outside").empty());
  struct stat st {};
  ASSERT_EQ(::lstat(d.in("linkfile").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(readFile(d.in("linkfile")), "replaced");
}

TEST(ToolSafety, ExistingFilesAreNeverOverwrittenUnlessAsked) {
  Dirs d;
  TempDir src;
  writeFile(d.in("keep.txt"), "original");
  writeFile(src / "keep.txt", "new content");
  {
    Receiver receiver(d.recv);
    const RunResult native = runTether({"send", "--json", src / "keep.txt", receiver.destination()});
    EXPECT_EQ(native.status, 1);
    EXPECT_EQ(native.event("file-refused").value("status", ""), "exists");
    RawClient seed(receiver.port());
    seed.send(seedTransfer("keep.txt", "new content"));
    EXPECT_TRUE(seed.waitClosed());
    EXPECT_EQ(receiver.waitFor("file-refused").value("status", ""), "exists");
    EXPECT_EQ(receiver.waitFor("file-refused").value("status", ""), "exists");
    EXPECT_EQ(readFile(d.in("keep.txt")), "original");
  }
  Receiver overwriting(d.recv, {"--overwrite"});
  EXPECT_EQ(runTether({"send", src / "keep.txt", overwriting.destination()}).status, 0);
  EXPECT_EQ(readFile(d.in("keep.txt")), "new content");
  EXPECT_EQ(listDir(d.recv), std::vector<std::string>{"keep.txt"});
}

TEST(ToolSafety, NothingAppearsUnderTheFinalNameBeforeTheFileIsComplete) {
  Dirs d;
  Receiver receiver(d.recv);
  const std::string content = patternBytes(1 << 20, 21);
  // Seed protocol: an unnamed (O_TMPFILE) file, linked in at the end.
  RawClient seed(receiver.port());
  const std::string transfer = seedTransfer("seed.bin", content);
  ASSERT_TRUE(seed.send(transfer.substr(0, transfer.size() / 2)));
  ASSERT_FALSE(receiver.waitFor("file-start").empty());
  EXPECT_TRUE(listDir(d.recv).empty()) << "nothing visible at all";
  ASSERT_TRUE(seed.send(transfer.substr(transfer.size() / 2)));
  ASSERT_FALSE(receiver.waitFor("file-done").empty());
  EXPECT_EQ(readFile(d.in("seed.bin")), content);
  // Native protocol: a hidden partial file, renamed once verified.
  RawClient native(receiver.port());
  ASSERT_TRUE(native.hello(1, content.size()));
  ASSERT_EQ(native.offerFor("native.bin", content.size())->status, proto::Status::Ok);
  ASSERT_TRUE(native.send(frame(proto::Start{0}) + content.substr(0, 1000)));
  ASSERT_FALSE(receiver.waitFor("file-start").empty());
  EXPECT_FALSE(exists(d.in("native.bin")));
  tether::cli::Sha256 hash;
  hash.update(content.data(), content.size());
  ASSERT_TRUE(native.send(content.substr(1000) + frame(proto::DigestFrame{hash.finish()})));
  const auto result = native.result();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, proto::Status::Ok);
  EXPECT_EQ(readFile(d.in("native.bin")), content);
  EXPECT_EQ(listDir(d.recv), (std::vector<std::string>{"native.bin", "seed.bin"}));
}

TEST(ToolSafety, AWrongDigestIsNeverPublished) {
  Dirs d;
  Receiver receiver(d.recv);
  RawClient client(receiver.port());
  ASSERT_TRUE(client.hello(1, 5));
  ASSERT_EQ(client.offerFor("bad.bin", 5)->status, proto::Status::Ok);
  ASSERT_TRUE(client.send(frame(proto::Start{0}) + "hello" + frame(proto::DigestFrame{})));
  const auto result = client.result();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, proto::Status::DigestMismatch);
  EXPECT_TRUE(listDir(d.recv).empty()) << "neither the file nor a partial one";
}

TEST(ToolSafety, TransfersLargerThanTheFreeSpaceAreRefused) {
  Dirs d;
  Receiver receiver(d.recv);
  const std::uint64_t huge = std::uint64_t{1} << 60;  // an exbibyte
  RawClient native(receiver.port());
  ASSERT_TRUE(native.hello(1, huge));
  const auto offer = native.offerFor("huge.bin", huge);
  ASSERT_TRUE(offer);
  EXPECT_EQ(offer->status, proto::Status::NoSpace) << offer->message;
  RawClient seed(receiver.port());
  seed.send(proto::encodeSeedHeader("huge.bin", huge) + "start of the data");
  EXPECT_TRUE(seed.waitClosed());
  EXPECT_EQ(receiver.waitFor("file-refused").value("status", ""), "no-space");
  EXPECT_EQ(receiver.waitFor("file-refused").value("status", ""), "no-space");
  EXPECT_TRUE(listDir(d.recv).empty());
}

TEST(ToolSafety, GarbageIsDroppedAndTheReceiverKeepsServing) {
  Dirs d;
  TempDir src;
  Receiver receiver(d.recv);
  const std::vector<std::string> garbage{
      "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
      patternBytes(64, 22),
      proto::magic() + std::string("\xff\x00\x00\x00\x00", 5),      // unknown frame type
      proto::magic() + std::string("\x01\x00\x10\x00\x00", 5),      // a 1 MiB frame: refused before it comes
      proto::magic() + frame(proto::Hello{7, 1, 1}),                 // a version from the future
      proto::magic() + frame(proto::Hello{}) + frame(proto::Start{}),  // Start before any File
  };
  for (const std::string& bytes : garbage) {
    RawClient client(receiver.port());
    client.send(bytes);
    EXPECT_TRUE(client.waitClosed()) << testing::PrintToString(bytes);
    EXPECT_FALSE(receiver.waitFor("connection-error").empty()) << testing::PrintToString(bytes);
  }
  writeFile(src / "after.txt", "still serving");
  EXPECT_EQ(runTether({"send", src / "after.txt", receiver.destination()}).status, 0);
  EXPECT_EQ(readFile(d.in("after.txt")), "still serving");
  EXPECT_EQ(listDir(d.recv), std::vector<std::string>{"after.txt"});
}

TEST(ToolSafety, TruncatedTransfersLeaveNothingBehind) {
  Dirs d;
  Receiver receiver(d.recv);
  {
    RawClient cutHeader(receiver.port());
    cutHeader.send(proto::encodeSeedHeader("x.bin", 10).substr(0, 7));
  }
  EXPECT_EQ(receiver.waitFor("connection-error").value("reason", ""), "connection closed before a complete header");
  {
    RawClient cutData(receiver.port());
    cutData.send(proto::encodeSeedHeader("cut.bin", 1 << 20) + patternBytes(1000, 23));
    ASSERT_FALSE(receiver.waitFor("file-start").empty());
  }
  const auto failed = receiver.waitFor("file-failed");
  EXPECT_EQ(failed.value("status", ""), "interrupted");
  EXPECT_EQ(failed.value("bytes", 0u), 1000u);
  EXPECT_EQ(failed.value("kept_partial", true), false) << "the seed protocol cannot resume";
  EXPECT_TRUE(listDir(d.recv).empty());
}

TEST(ToolSafety, AbandonedConnectionsAreDroppedWhileOthersAreServed) {
  Dirs d;
  TempDir src;
  Receiver receiver(d.recv, {"--idle-timeout", "1"});
  RawClient abandoned(receiver.port());
  ASSERT_TRUE(abandoned.send(proto::magic()));  // then silence
  const int abandonedId = receiver.waitFor("connection").value("id", 0);
  writeFile(src / "meanwhile.txt", "served meanwhile");
  EXPECT_EQ(runTether({"send", src / "meanwhile.txt", receiver.destination()}).status, 0);
  EXPECT_TRUE(abandoned.waitClosed(10000));
  const auto dropped = receiver.waitFor("connection-error", 10000, abandonedId);
  EXPECT_NE(dropped.value("reason", "").find("no data"), std::string::npos) << dropped.dump();
  EXPECT_EQ(readFile(d.in("meanwhile.txt")), "served meanwhile");
}

TEST(ToolSafety, ConnectionsAreServedConcurrently) {
  Dirs d;
  Receiver receiver(d.recv);
  const std::string a = patternBytes(2 << 20, 24);
  const std::string b = patternBytes(1 << 20, 25);
  RawClient first(receiver.port());
  ASSERT_TRUE(first.hello(1, a.size()));
  ASSERT_EQ(first.offerFor("a.bin", a.size())->status, proto::Status::Ok);
  ASSERT_TRUE(first.send(frame(proto::Start{0}) + a.substr(0, a.size() / 2)));
  // A second connection for the same file is refused while the first one
  // writes it; another file goes through in full meanwhile.
  RawClient second(receiver.port());
  ASSERT_TRUE(second.hello(2, a.size() + b.size()));
  EXPECT_EQ(second.offerFor("a.bin", a.size())->status, proto::Status::Busy);
  const auto resultB = sendNativeFile(second, "b.bin", b);
  ASSERT_TRUE(resultB);
  EXPECT_EQ(resultB->status, proto::Status::Ok);
  EXPECT_EQ(readFile(d.in("b.bin")), b);
  tether::cli::Sha256 hash;
  hash.update(a.data(), a.size());
  ASSERT_TRUE(first.send(a.substr(a.size() / 2) + frame(proto::DigestFrame{hash.finish()})));
  const auto resultA = first.result();
  ASSERT_TRUE(resultA);
  EXPECT_EQ(resultA->status, proto::Status::Ok);
  EXPECT_EQ(readFile(d.in("a.bin")), a);
}

TEST(ToolSafety, ConnectionsBeyondTheLimitAreRefused) {
  Dirs d;
  Receiver receiver(d.recv, {"--max-clients", "1"});
  RawClient first(receiver.port());
  ASSERT_FALSE(receiver.waitFor("connection").empty());
  RawClient second(receiver.port());
  EXPECT_TRUE(second.waitClosed());
  EXPECT_EQ(receiver.waitFor("connection-refused").value("reason", ""), "too many clients");
}

TEST(ToolSafety, FilesOverTheSizeLimitAreRefused) {
  Dirs d;
  Receiver receiver(d.recv, {"--max-size", "1000"});
  RawClient client(receiver.port());
  ASSERT_TRUE(client.hello(1, 1001));
  EXPECT_EQ(client.offerFor("big.bin", 1001)->status, proto::Status::LimitExceeded);
  EXPECT_TRUE(listDir(d.recv).empty());
}
