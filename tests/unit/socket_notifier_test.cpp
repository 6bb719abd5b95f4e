#include "tether/socket_notifier.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"

using namespace tether;
using tether::detail::UniqueFd;

namespace {

struct Pipe {
  UniqueFd readEnd;
  UniqueFd writeEnd;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    readEnd.reset(fds[0]);
    writeEnd.reset(fds[1]);
  }
  void put(const char* s) { EXPECT_GT(::write(writeEnd.get(), s, std::strlen(s)), 0); }
  std::string drain() {
    char buf[256];
    std::string out;
    ssize_t n;
    while ((n = ::read(readEnd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};

}  // namespace

TEST(SocketNotifier, IsEnabledFromConstructionAndReportsItsDescriptorAndType) {
  test::DescriptorLeakCheck leaks;
  Pipe p;
  SocketNotifier n(p.readEnd.get(), SocketNotifier::Read);
  EXPECT_TRUE(n.isEnabled());
  EXPECT_EQ(n.socket(), p.readEnd.get());
  EXPECT_EQ(n.type(), SocketNotifier::Read);
}

TEST(SocketNotifier, ReadNotifierFiresWhenDataArrivesWithDescriptorAndType) {
  test::DescriptorLeakCheck leaks;
  Pipe p;
  SocketNotifier n(p.readEnd.get(), SocketNotifier::Read);
  int fired = 0;
  int seenFd = -1;
  SocketNotifier::Type seenType = SocketNotifier::Write;
  std::string got;
  n.activated.connect([&](int fd, SocketNotifier::Type t) {
    ++fired;
    seenFd = fd;
    seenType = t;
    got += p.drain();
  });
  test::runFor(20);
  EXPECT_EQ(fired, 0) << "no data, no activation";
  p.put("abc");
  ASSERT_TRUE(test::runUntil([&] { return fired == 1; }));
  EXPECT_EQ(seenFd, p.readEnd.get());
  EXPECT_EQ(seenType, SocketNotifier::Read);
  EXPECT_EQ(got, "abc");
  test::runFor(20);
  EXPECT_EQ(fired, 1) << "consumed: no further activation";
}

TEST(SocketNotifier, IsLevelTriggeredUntilTheConditionIsConsumed) {
  test::DescriptorLeakCheck leaks;
  Pipe p;
  SocketNotifier n(p.readEnd.get(), SocketNotifier::Read);
  int fired = 0;
  n.activated.connect([&] {
    if (++fired == 3) p.drain();
  });
  p.put("x");
  ASSERT_TRUE(test::runUntil([&] { return fired == 3; }));
  test::runFor(20);
  EXPECT_EQ(fired, 3);
}

TEST(SocketNotifier, DisabledNotifierDoesNotFireAndResumesWhenReenabled) {
  test::DescriptorLeakCheck leaks;
  Pipe p;
  SocketNotifier n(p.readEnd.get(), SocketNotifier::Read);
  int fired = 0;
  n.activated.connect([&] {
    ++fired;
    p.drain();
  });
  n.setEnabled(false);
  EXPECT_FALSE(n.isEnabled());
  p.put("x");
  test::runFor(30);
  EXPECT_EQ(fired, 0);
  n.setEnabled(true);
  ASSERT_TRUE(test::runUntil([&] { return fired == 1; }));
}

TEST(SocketNotifier, ReadAndWriteNotifiersShareOneDescriptor) {
  test::DescriptorLeakCheck leaks;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  SocketNotifier reader(a.get(), SocketNotifier::Read);
  SocketNotifier writer(a.get(), SocketNotifier::Write);
  ASSERT_TRUE(reader.isEnabled());
  ASSERT_TRUE(writer.isEnabled());
  int reads = 0;
  int writes = 0;
  reader.activated.connect([&] {
    ++reads;
    char buf[16];
    while (::read(a.get(), buf, sizeof buf) > 0) {
    }
  });
  writer.activated.connect([&] {
    ++writes;
    writer.setEnabled(false);  // writable at once; one report is enough
  });
  ASSERT_TRUE(test::runUntil([&] { return writes == 1; }));
  EXPECT_EQ(reads, 0);
  ASSERT_EQ(::write(b.get(), "hi", 2), 2);
  ASSERT_TRUE(test::runUntil([&] { return reads == 1; }));
  EXPECT_EQ(writes, 1);
}

TEST(SocketNotifier, ExceptionNotifierReportsUrgentData) {
  test::DescriptorLeakCheck leaks;
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  ASSERT_TRUE(server.valid());
  SocketNotifier n(server.get(), SocketNotifier::Exception);
  int fired = 0;
  n.activated.connect([&](int, SocketNotifier::Type t) {
    EXPECT_EQ(t, SocketNotifier::Exception);
    ++fired;
    char c;
    ::recv(server.get(), &c, 1, MSG_OOB);
  });
  ASSERT_EQ(::send(client.get(), "!", 1, MSG_OOB), 1);
  ASSERT_TRUE(test::runUntil([&] { return fired >= 1; }));
}

TEST(SocketNotifier, DeletingTheNotifierInsideItsSlotIsSafe) {
  test::DescriptorLeakCheck leaks;
  Pipe p;
  auto* n = new SocketNotifier(p.readEnd.get(), SocketNotifier::Read);
  auto* other = new SocketNotifier(p.readEnd.get(), SocketNotifier::Read);
  int fired = 0;
  n->activated.connect([&] {
    ++fired;
    delete n;
    delete other;  // the other notifier of the same descriptor too
  });
  other->activated.connect([&] { ADD_FAILURE() << "deleted notifier was called"; });
  p.put("x");
  ASSERT_TRUE(test::runUntil([&] { return fired == 1; }));
  test::runFor(20);
  EXPECT_EQ(fired, 1);
}
