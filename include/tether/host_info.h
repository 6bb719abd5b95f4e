// HostInfo: host name lookups, the counterpart of Qt's QHostInfo.
//
// A HostInfo is a plain value holding the result of one lookup: the name that
// was looked up, its addresses, an error and the lookup's id. The static
// functions do the lookups, on c-ares:
//
//   int id = HostInfo::lookupHost("example.org", this, [this](const HostInfo& info) {
//     if (info.error() != HostInfo::NoError) return report(info.errorString());
//     for (const HostAddress& a : info.addresses()) use(a);
//   });
//   HostInfo::abortHostLookup(id);                           // no callback any more
//   HostInfo info = HostInfo::fromName("example.org");       // blocking
//
// Asynchronous lookups never call back from inside lookupHost(): the result
// is delivered by the event loop of the receiver's thread (of the calling
// thread when there is no receiver), exactly once, or not at all when the
// lookup was aborted or the receiver was destroyed first. Each thread runs
// its lookups on its own c-ares channel, driven by its event loop.
//
// Name handling follows Qt:
//   - "" gives HostNotFound, "No host name given".
//   - An IPv4 or IPv6 literal (any text HostAddress accepts) gives that
//     address without asking DNS.
//   - Other names are converted to their ASCII (IDNA) form first; a name that
//     cannot be converted gives HostNotFound, "Invalid hostname".
//   - Addresses come back IPv4 and IPv6 together, in the resolver's order
//     (RFC 6724), without duplicates; the hosts file is consulted before DNS.
//   - Unknown names give HostNotFound, "Host not found"; other failures give
//     UnknownError with the text getaddrinfo would report.
//
// Deliberate differences from Qt (see docs/porting-from-qt.md):
//   - An IP literal is not reverse-looked-up: hostName() is the address in
//     canonical text form (what Qt reports when the reverse lookup finds no
//     name), so literals never touch the network.
//   - There is no 60-second result cache: every lookup asks the resolver.
//   - AI_ADDRCONFIG is not applied: IPv6 addresses are returned even when the
//     host has no IPv6 address configured.
//   - The IDNA conversion lower-cases ASCII and a few common alphabets (Latin-1,
//     Greek, Cyrillic) and punycode-encodes the rest as given; it does not
//     apply Unicode normalisation or the full UTS #46 mapping table.
//   - Names longer than 253 characters in ASCII form give "Invalid hostname".
//   - tether additions: setNameServers() and setResolverTimeout().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tether/host_address.h"
#include "tether/object.h"

namespace tether {

class HostInfo {
 public:
  // Values are Qt's.
  enum HostInfoError {
    NoError = 0,       // the lookup succeeded
    HostNotFound = 1,  // no address was found for the name
    UnknownError = 2,  // anything else
  };

  // An empty result: no name, no addresses, NoError, errorString()
  // "Unknown error", and the given lookup id.
  explicit HostInfo(int lookupId = -1);

  HostInfo(const HostInfo&) = default;
  HostInfo(HostInfo&&) noexcept = default;
  HostInfo& operator=(const HostInfo&) = default;
  HostInfo& operator=(HostInfo&&) noexcept = default;
  ~HostInfo() = default;

  void swap(HostInfo& other) noexcept;
  friend void swap(HostInfo& a, HostInfo& b) noexcept { a.swap(b); }

  // The addresses found for hostName(); may be empty.
  [[nodiscard]] const std::vector<HostAddress>& addresses() const { return addresses_; }
  void setAddresses(std::vector<HostAddress> addresses) { addresses_ = std::move(addresses); }

  // The name that was looked up, as it was given (UTF-8).
  [[nodiscard]] const std::string& hostName() const { return hostName_; }
  void setHostName(std::string_view name) { hostName_ = name; }

  [[nodiscard]] HostInfoError error() const { return error_; }
  void setError(HostInfoError error) { error_ = error; }

  // A human-readable description of the failure; "Unknown error" when the
  // lookup succeeded, as in Qt.
  [[nodiscard]] const std::string& errorString() const { return errorString_; }
  void setErrorString(std::string_view text) { errorString_ = text; }

  // The id lookupHost() returned for this lookup.
  [[nodiscard]] int lookupId() const { return lookupId_; }
  void setLookupId(int id) { lookupId_ = id; }

  using Callback = std::function<void(const HostInfo&)>;

  // Starts looking up `name` and returns the lookup's id: unique, and
  // increasing from 1 across the process. `callback` runs once on
  // `receiver`'s thread, from its event loop, with the result, unless the
  // receiver was destroyed or the lookup aborted first. A null receiver means
  // the calling thread. Any thread; receiver must be alive during the call.
  static int lookupHost(std::string_view name, const Object* receiver, Callback callback);

  // The same with no receiver: the callback runs on the calling thread.
  static int lookupHost(std::string_view name, Callback callback) {
    return lookupHost(name, nullptr, std::move(callback));
  }

  // The same with a member function of the receiver as the callback.
  template <class R, class Slot>
    requires std::is_member_function_pointer_v<Slot> && std::is_base_of_v<Object, R>
  static int lookupHost(std::string_view name, R* receiver, Slot slot) {
    return lookupHost(name, static_cast<const Object*>(receiver),
                      [receiver, slot](const HostInfo& info) { (receiver->*slot)(info); });
  }

  // Aborts the lookup with this id: its callback will not run. Ids that are
  // unknown, finished or already aborted are ignored. Any thread; from a
  // thread other than the lookup's, a callback already on its way may still
  // run.
  static void abortHostLookup(int id);

  // Looks `name` up and waits for the result. Works on any thread, with or
  // without a running event loop (it drives a private c-ares channel with
  // poll()), and never runs other events meanwhile. lookupId() is -1.
  static HostInfo fromName(std::string_view name);

  // This machine's host name (gethostname); not necessarily fully qualified.
  static std::string localHostName();

  // This machine's DNS domain as the system resolver (res_ninit) sees it:
  // the LOCALDOMAIN variable, else resolv.conf's "domain", else its first
  // "search" entry; "" if there is none. In ASCII (ACE) form.
  static std::string localDomainName();

  // tether addition: the DNS servers lookups started from now on use, each an
  // address and a port (0 means 53), tried in order. An empty list (the
  // default) means the system configuration (/etc/resolv.conf). Null and Any
  // addresses are skipped. The hosts file is still consulted first.
  // Process-wide; any thread.
  static void setNameServers(std::vector<std::pair<HostAddress, std::uint16_t>> servers);
  static std::vector<std::pair<HostAddress, std::uint16_t>> nameServers();

  // tether addition: how long lookups started from now on wait for a DNS
  // server's answer before asking again (milliseconds, doubled after each
  // round over all servers, as c-ares does) and how many rounds they make.
  // Values <= 0 restore c-ares's defaults: resolv.conf's "timeout" and
  // "attempts" options, else 5000 ms and 4 tries in c-ares 1.18, which is
  // 5 + 10 + 20 + 40 = 75 s before a server that never answers is given up
  // (glibc's getaddrinfo gives up after about 10 s). A lookup that runs out
  // of tries fails with UnknownError, "Temporary failure in name
  // resolution". Process-wide; any thread.
  static void setResolverTimeout(int timeoutMs, int tries);

 private:
  std::vector<HostAddress> addresses_;
  std::string hostName_;
  std::string errorString_;
  HostInfoError error_ = NoError;
  int lookupId_ = -1;
};

}  // namespace tether
