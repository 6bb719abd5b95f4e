#include "tether/host_info.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "addressing/resolver.h"
#include "support/dns_server.h"
#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"
#include "tether/timer.h"

using namespace tether;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> sortedTexts(const HostInfo& info) {
  std::vector<std::string> texts;
  for (const HostAddress& a : info.addresses()) texts.push_back(a.toString());
  std::sort(texts.begin(), texts.end());
  return texts;
}

// A UDP socket on 127.0.0.1 that nobody reads: a name server that never
// answers, and a witness that nothing was asked.
struct SilentSocket {
  detail::UniqueFd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  std::uint16_t port = 0;

  SilentSocket() {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return;
    socklen_t len = sizeof sa;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
  }
  bool receivedAnything() const {
    char byte;
    return ::recv(fd.get(), &byte, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
  }
};

class HostInfoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = new test::DnsServer({
        .arguments = {"--host-record=v4.tether.test,192.0.2.4",
                      "--host-record=v6.tether.test,2001:db8::6",
                      "--host-record=both.tether.test,192.0.2.1,2001:db8::1",
                      "--host-record=both.tether.test,192.0.2.2",
                      "--host-record=xn--alqualond-34a.tether.test,192.0.2.8",
                      "--host-record=xn--bcher-kva.tether.test,192.0.2.9",
                      "--cname=alias.tether.test,v4.tether.test"},
        .silentDomains = {"slow.tether.test"},
    });
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
    HostInfo::setNameServers({});
    HostInfo::setResolverTimeout(0, 0);
  }

  void SetUp() override {
    ASSERT_TRUE(dns_->isRunning()) << dns_->errorString();
    useServer(dns_->port());
    // Bounded even if something goes wrong: a lost answer is retried after
    // 500 ms, and a lookup gives up after 1.5 s.
    HostInfo::setResolverTimeout(500, 2);
  }

  static void useServer(std::uint16_t port) {
    HostInfo::setNameServers({{HostAddress(test::DnsServer::kAddress), port}});
  }

  // Looks `name` up asynchronously and waits (bounded) for the one result.
  static HostInfo lookup(std::string_view name, int* idOut = nullptr) {
    Object receiver;
    std::optional<HostInfo> result;
    int calls = 0;
    const int id = HostInfo::lookupHost(name, &receiver, [&](const HostInfo& info) {
      result = info;
      ++calls;
    });
    if (idOut) *idOut = id;
    EXPECT_TRUE(test::runUntil([&] { return calls > 0; }, 5000)) << "no result for " << name;
    EXPECT_EQ(calls, 1);
    if (result) {
      EXPECT_EQ(result->lookupId(), id);
    }
    return result.value_or(HostInfo());
  }

  // An IP literal gives itself (and its canonical text as hostName()),
  // asynchronously and blocking, while the only name server is one that
  // would never answer: no DNS was involved.
  static void expectLiteralWithoutDns(std::string_view name, const std::string& canonical) {
    SCOPED_TRACE(name);
    SilentSocket server;
    ASSERT_NE(server.port, 0);
    useServer(server.port);
    for (const HostInfo& info : {lookup(name), HostInfo::fromName(name)}) {
      EXPECT_EQ(info.error(), HostInfo::NoError);
      EXPECT_EQ(info.hostName(), canonical);
      EXPECT_EQ(sortedTexts(info), (std::vector<std::string>{canonical}));
    }
    EXPECT_FALSE(server.receivedAnything());
  }

  static inline test::DnsServer* dns_ = nullptr;
  test::DescriptorLeakCheck leakCheck_;
};

}  // namespace

TEST(HostInfoValue, DefaultsAreQtsAndSettersRoundTrip) {
  HostInfo info;
  EXPECT_EQ(info.lookupId(), -1);
  EXPECT_EQ(info.error(), HostInfo::NoError);
  EXPECT_EQ(info.errorString(), "Unknown error");
  EXPECT_TRUE(info.hostName().empty());
  EXPECT_TRUE(info.addresses().empty());
  EXPECT_EQ(HostInfo(7).lookupId(), 7);

  info.setHostName("example.test");
  info.setAddresses({HostAddress("192.0.2.1"), HostAddress("2001:db8::1")});
  info.setError(HostInfo::HostNotFound);
  info.setErrorString("Host not found");
  info.setLookupId(INT_MIN);
  HostInfo copy = info;
  EXPECT_EQ(copy.hostName(), "example.test");
  EXPECT_EQ(copy.addresses().size(), 2u);
  EXPECT_EQ(copy.error(), HostInfo::HostNotFound);
  EXPECT_EQ(copy.errorString(), "Host not found");
  EXPECT_EQ(copy.lookupId(), INT_MIN);
  HostInfo other(3);
  swap(copy, other);
  EXPECT_EQ(copy.lookupId(), 3);
  EXPECT_EQ(other.hostName(), "example.test");
}

TEST(HostInfoValue, NameServersRoundTripAndEmptyMeansTheSystemConfiguration) {
  const std::vector<std::pair<HostAddress, std::uint16_t>> servers = {
      {HostAddress("127.0.0.1"), 5353}, {HostAddress("::1"), 0}};
  HostInfo::setNameServers(servers);
  EXPECT_EQ(HostInfo::nameServers(), servers);
  HostInfo::setNameServers({});
  EXPECT_TRUE(HostInfo::nameServers().empty());
}

TEST_F(HostInfoTest, IPv4OnlyNameGivesItsAddress) {
  const HostInfo info = lookup("v4.tether.test");
  EXPECT_EQ(info.error(), HostInfo::NoError);
  EXPECT_EQ(info.errorString(), "Unknown error");
  EXPECT_EQ(info.hostName(), "v4.tether.test");
  EXPECT_EQ(sortedTexts(info), (std::vector<std::string>{"192.0.2.4"}));
}

TEST_F(HostInfoTest, IPv6OnlyNameGivesItsAddress) {
  const HostInfo info = lookup("v6.tether.test");
  EXPECT_EQ(info.error(), HostInfo::NoError);
  EXPECT_EQ(sortedTexts(info), (std::vector<std::string>{"2001:db8::6"}));
  ASSERT_EQ(info.addresses().size(), 1u);
  EXPECT_EQ(info.addresses()[0].protocol(), NetworkLayerProtocol::IPv6Protocol);
}

TEST_F(HostInfoTest, DualStackNameGivesBothFamiliesOnceEach) {
  const HostInfo info = lookup("both.tether.test");
  EXPECT_EQ(info.error(), HostInfo::NoError);
  EXPECT_EQ(sortedTexts(info), (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::1"}));
}

TEST_F(HostInfoTest, CanonicalNameIsFollowedToItsAddresses) {
  const HostInfo info = lookup("alias.tether.test");
  EXPECT_EQ(info.error(), HostInfo::NoError);
  EXPECT_EQ(info.hostName(), "alias.tether.test");
  EXPECT_EQ(sortedTexts(info), (std::vector<std::string>{"192.0.2.4"}));
}

TEST_F(HostInfoTest, UnknownNameGivesHostNotFound) {
  const HostInfo info = lookup("nx.tether.test");
  EXPECT_EQ(info.error(), HostInfo::HostNotFound);
  EXPECT_EQ(info.errorString(), "Host not found");
  EXPECT_EQ(info.hostName(), "nx.tether.test");
  EXPECT_TRUE(info.addresses().empty());
}

TEST_F(HostInfoTest, EmptyNameGivesNoHostNameGiven) {
  int id = 0;
  const HostInfo info = lookup("", &id);
  EXPECT_EQ(info.error(), HostInfo::HostNotFound);
  EXPECT_EQ(info.errorString(), "No host name given");
  EXPECT_EQ(info.lookupId(), id);
  EXPECT_TRUE(info.addresses().empty());

  const HostInfo blocking = HostInfo::fromName("");
  EXPECT_EQ(blocking.error(), HostInfo::HostNotFound);
  EXPECT_EQ(blocking.errorString(), "No host name given");
}

TEST_F(HostInfoTest, NamesThatAreNotValidHostNamesGiveInvalidHostname) {
  const std::string label63(63, 'a');
  const std::string tooLong = label63 + '.' + label63 + '.' + label63 + '.' + label63;  // 255
  for (const std::string& name :
       {std::string(64, 'a') + ".tether.test", std::string("a..tether.test"),
        std::string(".tether.test"), std::string("-a.tether.test"), std::string("a-.tether.test"),
        std::string("has space.tether.test"), std::string("bang!.tether.test"),
        std::string("bad\xff.tether.test"), std::string("."), tooLong}) {
    SCOPED_TRACE(name);
    const HostInfo info = lookup(name);
    EXPECT_EQ(info.error(), HostInfo::HostNotFound);
    EXPECT_EQ(info.errorString(), "Invalid hostname");
    EXPECT_EQ(info.hostName(), name);
    const HostInfo blocking = HostInfo::fromName(name);
    EXPECT_EQ(blocking.error(), HostInfo::HostNotFound);
    EXPECT_EQ(blocking.errorString(), "Invalid hostname");
  }
  // The limits themselves are fine: a 63-character label is asked for.
  const HostInfo longest = lookup(label63 + ".tether.test");
  EXPECT_EQ(longest.errorString(), "Host not found");
  // So are an underscore and one trailing dot (an absolute name).
  EXPECT_EQ(lookup("under_score.tether.test").errorString(), "Host not found");
  EXPECT_EQ(sortedTexts(lookup("v4.tether.test.")), (std::vector<std::string>{"192.0.2.4"}));
}

TEST_F(HostInfoTest, NamesAreLookedUpInLowerCaseAsciiForm) {
  EXPECT_EQ(sortedTexts(lookup("V4.Tether.TEST")), (std::vector<std::string>{"192.0.2.4"}));
  const HostInfo idn = lookup("Alqualond\xc3\xab.tether.test");  // ë: xn--alqualond-34a
  EXPECT_EQ(idn.error(), HostInfo::NoError);
  EXPECT_EQ(idn.hostName(), "Alqualond\xc3\xab.tether.test");
  EXPECT_EQ(sortedTexts(idn), (std::vector<std::string>{"192.0.2.8"}));
  // RFC 3492's example: bücher is xn--bcher-kva, also from the capital Ü.
  EXPECT_EQ(sortedTexts(HostInfo::fromName("B\xc3\x9c" "cher.tether.test")),
            (std::vector<std::string>{"192.0.2.9"}));
}

TEST_F(HostInfoTest, IPv4LiteralResolvesWithoutAskingDns) {
  expectLiteralWithoutDns("192.0.2.77", "192.0.2.77");
  // inet_aton's short forms are literals too, as in Qt.
  expectLiteralWithoutDns("127.1", "127.0.0.1");
}

TEST_F(HostInfoTest, IPv6LiteralResolvesWithoutAskingDns) {
  expectLiteralWithoutDns("2001:DB8:0:0::5", "2001:db8::5");
  expectLiteralWithoutDns("::1", "::1");
}

TEST_F(HostInfoTest, LookupHostNeverCallsBackInsideTheCall) {
  const std::vector<std::string> names = {"", "192.0.2.1", "::1", "bad..name", "v4.tether.test",
                                          "nx.tether.test"};
  std::map<int, int> calls;
  std::vector<int> ids;
  for (const std::string& name : names) {
    ids.push_back(HostInfo::lookupHost(name, [&](const HostInfo& info) { ++calls[info.lookupId()]; }));
    EXPECT_TRUE(calls.empty()) << name;
  }
  ASSERT_TRUE(test::runUntil([&] { return calls.size() == names.size(); }, 5000));
  test::runFor(20);
  for (int id : ids) EXPECT_EQ(calls[id], 1) << "lookup " << id;
}

TEST_F(HostInfoTest, LookupIdsIncreaseAndEachResultCarriesItsId) {
  std::vector<int> delivered;
  Object receiver;
  const int a = HostInfo::lookupHost("v4.tether.test", &receiver,
                                     [&](const HostInfo& i) { delivered.push_back(i.lookupId()); });
  const int b = HostInfo::lookupHost("192.0.2.1", &receiver,
                                     [&](const HostInfo& i) { delivered.push_back(i.lookupId()); });
  const int c = HostInfo::lookupHost("", &receiver,
                                     [&](const HostInfo& i) { delivered.push_back(i.lookupId()); });
  EXPECT_GT(a, 0);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  ASSERT_TRUE(test::runUntil([&] { return delivered.size() == 3; }, 5000));
  std::sort(delivered.begin(), delivered.end());
  EXPECT_EQ(delivered, (std::vector<int>{a, b, c}));
}

TEST_F(HostInfoTest, MemberFunctionOfTheReceiverCanBeTheCallback) {
  struct Receiver : Object {
    std::vector<std::string> addresses;
    void hostFound(const HostInfo& info) { addresses = sortedTexts(info); }
  } receiver;
  HostInfo::lookupHost("v4.tether.test", &receiver, &Receiver::hostFound);
  ASSERT_TRUE(test::runUntil([&] { return !receiver.addresses.empty(); }, 5000));
  EXPECT_EQ(receiver.addresses, (std::vector<std::string>{"192.0.2.4"}));
}

TEST_F(HostInfoTest, LookupStartedFromACallbackIsAnswered) {
  std::vector<std::string> addresses;
  HostInfo::lookupHost("nx.tether.test", [&](const HostInfo& first) {
    EXPECT_EQ(first.error(), HostInfo::HostNotFound);
    HostInfo::lookupHost("v6.tether.test", [&](const HostInfo& second) { addresses = sortedTexts(second); });
  });
  ASSERT_TRUE(test::runUntil([&] { return !addresses.empty(); }, 5000));
  EXPECT_EQ(addresses, (std::vector<std::string>{"2001:db8::6"}));
}

TEST_F(HostInfoTest, AbortHostLookupStopsTheCallback) {
  int calls = 0;
  const int answered = HostInfo::lookupHost("v4.tether.test", [&](const HostInfo&) { ++calls; });
  const int literal = HostInfo::lookupHost("192.0.2.1", [&](const HostInfo&) { ++calls; });
  const int silent = HostInfo::lookupHost("x.slow.tether.test", [&](const HostInfo&) { ++calls; });
  EXPECT_EQ(detail::pendingLookupCount(), 2u);
  HostInfo::abortHostLookup(answered);
  HostInfo::abortHostLookup(literal);
  HostInfo::abortHostLookup(silent);
  HostInfo::abortHostLookup(silent);  // twice: harmless
  HostInfo::abortHostLookup(-1);      // unknown: harmless
  // Every lookup on this thread was abandoned, so the DNS work was cancelled.
  EXPECT_EQ(detail::pendingLookupCount(), 0u);
  test::runFor(50);
  EXPECT_EQ(calls, 0);
  // The resolver still works afterwards.
  EXPECT_EQ(sortedTexts(lookup("v4.tether.test")), (std::vector<std::string>{"192.0.2.4"}));
}

TEST_F(HostInfoTest, AbortingOneLookupLeavesTheOthersRunning) {
  std::vector<int> delivered;
  const int first = HostInfo::lookupHost("v4.tether.test",
                                         [&](const HostInfo& i) { delivered.push_back(i.lookupId()); });
  const int second = HostInfo::lookupHost("v6.tether.test",
                                          [&](const HostInfo& i) { delivered.push_back(i.lookupId()); });
  HostInfo::abortHostLookup(first);
  ASSERT_TRUE(test::runUntil([&] { return detail::pendingLookupCount() == 0; }, 5000));
  test::runFor(20);
  EXPECT_EQ(delivered, (std::vector<int>{second}));
}

TEST_F(HostInfoTest, AbortFromAnotherThreadStopsTheCallbackAndTheDnsWork) {
  int calls = 0;
  const int id = HostInfo::lookupHost("x.slow.tether.test", [&](const HostInfo&) { ++calls; });
  EXPECT_EQ(detail::pendingLookupCount(), 1u);
  std::thread([id] { HostInfo::abortHostLookup(id); }).join();
  // The cancellation is handed to this thread's loop.
  ASSERT_TRUE(test::runUntil([&] { return detail::pendingLookupCount() == 0; }, 5000));
  test::runFor(20);
  EXPECT_EQ(calls, 0);
}

TEST_F(HostInfoTest, DestroyedReceiverGetsNoCallback) {
  int calls = 0;
  auto receiver = std::make_unique<Object>();
  HostInfo::lookupHost("v4.tether.test", receiver.get(), [&](const HostInfo&) { ++calls; });
  HostInfo::lookupHost("192.0.2.1", receiver.get(), [&](const HostInfo&) { ++calls; });
  receiver.reset();
  // The answer does arrive; it is dropped.
  ASSERT_TRUE(test::runUntil([&] { return detail::pendingLookupCount() == 0; }, 5000));
  test::runFor(20);
  EXPECT_EQ(calls, 0);
}

TEST_F(HostInfoTest, ServerThatNeverAnswersGivesAnErrorAfterTheResolverTimeout) {
  HostInfo::setResolverTimeout(100, 2);  // 100 ms, then 200 ms
  const auto start = Clock::now();
  const HostInfo info = lookup("x.slow.tether.test");
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(info.error(), HostInfo::UnknownError);
  EXPECT_EQ(info.errorString(), "Temporary failure in name resolution");
  EXPECT_TRUE(info.addresses().empty());
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));  // both tries were waited for
}

TEST_F(HostInfoTest, SettingsApplyToLookupsStartedAfterwards) {
  test::DnsServer other(
      {.arguments = {"--host-record=v4.tether.test,198.51.100.4"}, .silentDomains = {}});
  ASSERT_TRUE(other.isRunning()) << other.errorString();
  int firstCalls = 0;
  std::optional<HostInfo> first;
  HostInfo::lookupHost("v4.tether.test", [&](const HostInfo& i) {
    first = i;
    ++firstCalls;
  });
  useServer(other.port());  // the lookup already running keeps its server
  const HostInfo second = lookup("v4.tether.test");
  ASSERT_TRUE(test::runUntil([&] { return firstCalls == 1; }, 5000));
  EXPECT_EQ(sortedTexts(*first), (std::vector<std::string>{"192.0.2.4"}));
  EXPECT_EQ(sortedTexts(second), (std::vector<std::string>{"198.51.100.4"}));
  useServer(dns_->port());
}

TEST_F(HostInfoTest, FromNameBlocksOnAThreadWithNoEventLoop) {
  std::promise<std::vector<HostInfo>> results;
  std::thread worker([&] {
    results.set_value({HostInfo::fromName("both.tether.test"), HostInfo::fromName("nx.tether.test"),
                       HostInfo::fromName("v6.tether.test")});
  });
  auto future = results.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  worker.join();
  const std::vector<HostInfo> infos = future.get();
  EXPECT_EQ(infos[0].error(), HostInfo::NoError);
  EXPECT_EQ(infos[0].lookupId(), -1);
  EXPECT_EQ(infos[0].hostName(), "both.tether.test");
  EXPECT_EQ(sortedTexts(infos[0]), (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::1"}));
  EXPECT_EQ(infos[1].error(), HostInfo::HostNotFound);
  EXPECT_EQ(infos[1].errorString(), "Host not found");
  EXPECT_EQ(sortedTexts(infos[2]), (std::vector<std::string>{"2001:db8::6"}));
}

TEST_F(HostInfoTest, FromNameRunsNoOtherEventsWhileItWaits) {
  int calls = 0;
  HostInfo::lookupHost("192.0.2.1", [&](const HostInfo&) { ++calls; });
  HostInfo::lookupHost("v4.tether.test", [&](const HostInfo&) { ++calls; });
  const HostInfo info = HostInfo::fromName("v6.tether.test");
  EXPECT_EQ(sortedTexts(info), (std::vector<std::string>{"2001:db8::6"}));
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(test::runUntil([&] { return calls == 2; }, 5000));
}

TEST_F(HostInfoTest, FromNameGivesAnErrorWhenTheServerNeverAnswers) {
  HostInfo::setResolverTimeout(100, 1);
  const HostInfo info = HostInfo::fromName("x.slow.tether.test");
  EXPECT_EQ(info.error(), HostInfo::UnknownError);
  EXPECT_EQ(info.errorString(), "Temporary failure in name resolution");
}

TEST_F(HostInfoTest, ReceiverOnAnotherThreadGetsTheResultOnItsThread) {
  struct Worker {
    EventLoop* loop;
    const Object* receiver;
  };
  std::promise<Worker> ready;
  std::thread::id workerThread;
  std::thread::id callbackThread;
  std::vector<std::string> addresses;
  std::thread worker([&] {
    workerThread = std::this_thread::get_id();
    EventLoop loop;
    Object receiver;
    Timer::singleShot(5000, [&] { loop.quit(); });  // bounded, whatever happens
    ready.set_value({&loop, &receiver});
    loop.exec();
  });
  const Worker w = ready.get_future().get();
  HostInfo::lookupHost("v4.tether.test", w.receiver, [&, loop = w.loop](const HostInfo& info) {
    callbackThread = std::this_thread::get_id();
    addresses = sortedTexts(info);
    loop->quit();
  });
  worker.join();
  EXPECT_EQ(callbackThread, workerThread);
  EXPECT_EQ(addresses, (std::vector<std::string>{"192.0.2.4"}));
}

TEST_F(HostInfoTest, ManyConcurrentLookupsAreAllAnsweredExactlyOnce) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"v4.tether.test", {"192.0.2.4"}},
      {"v6.tether.test", {"2001:db8::6"}},
      {"both.tether.test", {"192.0.2.1", "192.0.2.2", "2001:db8::1"}},
      {"nx.tether.test", {}},
      {"alias.tether.test", {"192.0.2.4"}},
      {"192.0.2.55", {"192.0.2.55"}},
  };
  constexpr int kRounds = 50;
  Object receiver;
  std::map<int, std::size_t> expected;  // id -> case
  std::map<int, int> calls;
  int wrong = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t c = 0; c < cases.size(); ++c) {
      const int id = HostInfo::lookupHost(cases[c].first, &receiver, [&, c](const HostInfo& info) {
        ++calls[info.lookupId()];
        if (sortedTexts(info) != cases[c].second || info.hostName() != cases[c].first) ++wrong;
      });
      expected.emplace(id, c);
    }
  }
  const std::size_t total = kRounds * cases.size();
  ASSERT_EQ(expected.size(), total);
  ASSERT_TRUE(test::runUntil([&] { return calls.size() == total; }, 20000)) << calls.size();
  test::runFor(20);
  EXPECT_EQ(calls.size(), total);
  for (const auto& [id, count] : calls) {
    EXPECT_EQ(count, 1) << "lookup " << id;
    EXPECT_TRUE(expected.count(id)) << "unexpected id " << id;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(detail::pendingLookupCount(), 0u);
}

TEST_F(HostInfoTest, ThreadThatExitsWithLookupsPendingCleansUp) {
  int calls = 0;
  std::thread worker([&] {
    HostInfo::lookupHost("x.slow.tether.test", [&](const HostInfo&) { ++calls; });
    HostInfo::lookupHost("v4.tether.test", [&](const HostInfo&) { ++calls; });
    EXPECT_EQ(detail::pendingLookupCount(), 2u);
    // The thread ends without running its loop: its channel is torn down.
  });
  worker.join();
  EXPECT_EQ(calls, 0);
}

TEST(HostInfoLocal, LocalHostNameIsGethostname) {
  char name[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
  EXPECT_EQ(HostInfo::localHostName(), name);
}

TEST(HostInfoLocal, LocalDomainNameFollowsTheResolverConfiguration) {
  const char* saved = std::getenv("LOCALDOMAIN");
  const std::string previous = saved ? saved : "";
  ::setenv("LOCALDOMAIN", "corp.example second.example", 1);
  EXPECT_EQ(HostInfo::localDomainName(), "corp.example");
  if (saved) ::setenv("LOCALDOMAIN", previous.c_str(), 1);
  else ::unsetenv("LOCALDOMAIN");
}
