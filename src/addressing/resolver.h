// Internal: the c-ares side of HostInfo and DnsLookup.
//
// Asynchronous lookups run on the calling thread's ThreadResolver: one
// c-ares channel per thread, created on first use, its sockets watched by the
// thread's Dispatcher (level-triggered, as c-ares expects) through
// ARES_OPT_SOCK_STATE_CB, its timeouts kept by one TimerRecord that is
// rescheduled from ares_timeout() after every processing step. Blocking
// lookups (fromName) use a private channel driven by poll().
//
// Settings (servers, timeout, tries) are process-wide; a channel keeps the
// settings it was made with, and a thread replaces its channel when the
// settings change (the old one finishes its queries first).
//
// DnsLookup's queries (one record type, no search domains) run on channels
// of their own: one per name server, and one for the default servers. These
// hand every reply over, SERVFAIL and REFUSED included, instead of asking
// the next server; a thread keeps them only while they have queries.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tether/host_address.h"
#include "tether/host_info.h"

namespace tether::detail {

struct ResolverSettings {
  std::vector<std::pair<HostAddress, std::uint16_t>> servers;  // empty: system configuration
  int timeoutMs = 0;                                           // <= 0: c-ares default
  int tries = 0;                                               // <= 0: c-ares default
  std::uint64_t generation = 0;  // bumped by every change
};

ResolverSettings resolverSettings();
void setResolverServers(std::vector<std::pair<HostAddress, std::uint16_t>> servers);
void setResolverTimeouts(int timeoutMs, int tries);

// The outcome of one name lookup.
struct ResolveResult {
  HostInfo::HostInfoError error = HostInfo::NoError;
  std::string errorString;
  std::vector<HostAddress> addresses;
};

// One asynchronous lookup as the resolver sees it.
class ResolveRequest {
 public:
  virtual ~ResolveRequest() = default;
  // True once nobody wants the result any more (aborted, receiver gone): the
  // resolver may then cancel the DNS work.
  [[nodiscard]] virtual bool isAbandoned() const = 0;
  // Called once with the result, from inside c-ares processing on the
  // resolver's thread (or inside resolveAsync() itself when the lookup fails
  // at once). Not called when the lookup is cancelled or the thread's
  // resolver is torn down.
  virtual void finished(ResolveResult result) = 0;
};

// Starts looking up `asciiName` (already in ASCII form) on the calling
// thread's resolver.
void resolveAsync(const std::string& asciiName, std::shared_ptr<ResolveRequest> request);

// Cancels the calling thread's DNS work if every lookup on it is abandoned,
// so that no socket stays open for results nobody wants.
void cancelAbandonedLookups();

// Lookups the calling thread's resolver has not finished yet (abandoned ones
// included). For tests and diagnostics.
std::size_t pendingLookupCount();

// Looks `asciiName` up on a private channel, waiting with poll().
ResolveResult resolveBlocking(const std::string& asciiName);

// ---------------------------------------------------------------- raw queries

// The ASCII (ACE) form in which `name` is sent to DNS: lower-cased, IDNA
// labels punycode-encoded, at most one trailing dot; nothing if the name is
// not a valid host name. HostInfo's rules (defined in host_info.cpp).
std::optional<std::string> asciiHostName(std::string_view name);

// A name server: an IPv4 or IPv6 address and a port (0 means 53).
using NameServer = std::pair<HostAddress, std::uint16_t>;

// The outcome of one query: c-ares's status, and the server's reply as it
// came whenever one arrived (it may carry an error rcode, and c-ares reports
// NXDOMAIN and empty answers with the reply too).
struct QueryResult {
  int status = 0;                      // an ARES_* status
  std::vector<unsigned char> reply;    // empty when no reply arrived
};

// One asynchronous query as the resolver sees it; the same contract as
// ResolveRequest.
class QueryRequest {
 public:
  virtual ~QueryRequest() = default;
  [[nodiscard]] virtual bool isAbandoned() const = 0;
  virtual void finished(QueryResult result) = 0;
};

// Sends one query (class IN, `type`, recursion desired) for `asciiName`
// exactly as given, without search domains, on the calling thread's
// resolver: to `server` when there is one, else to the servers HostInfo
// uses (setNameServers(), else the system's); the first reply counts, even
// a SERVFAIL or REFUSED one. Timeouts and tries are the resolver settings'. `finished` may run inside this call when the query
// fails at once.
void queryAsync(const std::string& asciiName, int type, const std::optional<NameServer>& server,
                std::shared_ptr<QueryRequest> request);

}  // namespace tether::detail
