// DnsServer: a real DNS server for tests, dnsmasq on 127.0.0.1.
//
//   test::DnsServer dns({.arguments = {"--host-record=a.test,192.0.2.1,2001:db8::1"},
//                        .silentDomains = {"slow.test"}});
//   ASSERT_TRUE(dns.isRunning()) << dns.errorString();
//   HostInfo::setNameServers({{HostAddress(test::DnsServer::kAddress), dns.port()}});
//
// dnsmasq (Debian's dnsmasq-base) runs in the foreground as a child of the
// test, reads no configuration, resolv.conf or hosts file of the machine,
// and listens on 127.0.0.1 only, on a port picked for it. It answers from the
// records the test defines (any dnsmasq option: --host-record, --address,
// --cname, --txt-record, --srv-host, --mx-host, ...) and, by default, with
// NXDOMAIN for every other name; it never forwards anything off the machine.
// Queries for a silent domain go to a local socket that nobody reads, so
// they are never answered: that is how tests get resolver timeouts.
//
// The port is found by binding UDP and TCP sockets to port 0 and closing
// them before dnsmasq binds the same port; another process may take it in
// between, so a failed start is retried with a new port a few times. The
// constructor returns once dnsmasq answers a real query (or it gave up); the
// destructor stops it (SIGTERM, then waits for it). dnsmasq is also told to
// die if the thread that started it exits, so a crashed test leaves nothing
// behind: start it from a thread that outlives it (the main thread).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "system/unique_fd.h"

namespace tether::test {

class DnsServer {
 public:
  struct Options {
    // Extra dnsmasq options, one per element ("--cname=alias.test,a.test").
    std::vector<std::string> arguments;
    // Domains (and every name below them) whose queries are never answered.
    std::vector<std::string> silentDomains;
    // Answer NXDOMAIN for names the options do not define; otherwise dnsmasq
    // answers REFUSED, having no upstream server.
    bool unknownNamesAreNxdomain = true;
  };

  static constexpr const char* kAddress = "127.0.0.1";

  DnsServer();  // only the defaults: every name is NXDOMAIN
  explicit DnsServer(Options options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  bool isRunning() const { return pid_ > 0; }
  // Why the server is not running (with dnsmasq's own messages), or "".
  const std::string& errorString() const { return error_; }
  // The UDP and TCP port dnsmasq listens on at kAddress.
  std::uint16_t port() const { return port_; }
  // Everything dnsmasq has logged so far.
  std::string log() const;

 private:
  bool startOnce(const Options& options);
  bool waitUntilAnswering(int timeoutMs);
  void stop();

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string error_;
  detail::UniqueFd log_;        // dnsmasq's stdout and stderr (a memfd)
  detail::UniqueFd pidfd_;      // readable once dnsmasq has exited
  detail::UniqueFd blackHole_;  // where silent domains are forwarded
};

}  // namespace tether::test
