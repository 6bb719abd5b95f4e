// DnsLookup: one DNS query for records of one type, the counterpart of Qt's
// QDnsLookup; and the record values it returns.
//
//   auto* dns = new DnsLookup(DnsLookup::SRV, "_xmpp-client._tcp.example.org", this);
//   dns->finished.connect(this, [this, dns] {
//     if (dns->error() != DnsLookup::NoError) report(dns->errorString());
//     for (const DnsServiceRecord& r : dns->serviceRecords()) use(r.target(), r.port());
//     dns->deleteLater();
//   });
//   dns->lookup();
//
// Set a type and a name (and, optionally, a name server), call lookup(), and
// read the records when finished() is emitted. The query runs on c-ares, on
// the owner thread's resolver channel, driven by its event loop.
//
// Signals:
//   - finished() is emitted once per lookup() or abort(), always from the
//     event loop: never inside lookup(), abort() or any other call. A lookup
//     (or an abort) that a later lookup() replaced before its finished(), or
//     whose object was destroyed, emits nothing.
//   - nameChanged, typeChanged, nameserverChanged, nameserverPortChanged are
//     emitted inside the setter, and only when the value really changes (Qt's
//     property notifications).
//
// Results follow Qt:
//   - Every record of the reply's answer section whose type DnsLookup knows
//     is returned, whatever type was asked for: an A lookup of an alias
//     gives the CNAME records and the addresses of the target; ANY gives
//     whatever the server sends. Records of class other than IN are skipped.
//   - mailExchangeRecords() are sorted by preference, records of equal
//     preference in random order (RFC 5321); serviceRecords() by priority,
//     records of equal priority in the weighted random order of RFC 2782.
//   - errorString() is "" after a successful lookup; otherwise Qt's text:
//     "Invalid domain name", "Non existent domain" (NXDOMAIN), "Server
//     failure" (SERVFAIL, NOTIMP), "Server refused to answer" (REFUSED),
//     "Server could not process query" (FORMERR), "Invalid reply received"
//     and "Invalid reply received (<what>)", "Request timed out",
//     "Operation cancelled"; ResolverError carries the system's or c-ares's
//     text.
//   - A name with no records of the type asked for is NoError with no
//     records (the server's NODATA answer), not NotFoundError.
//   - Names are sent in their ASCII (IDNA) form, as given: no search domains
//     are appended. An empty name asks about the root domain (Qt 6.7 and
//     later; usually with type NS). A name that is not a valid host name
//     fails with InvalidRequestError, "Invalid domain name".
//   - Reverse (PTR) lookups take the reverse name: "4.3.2.1.in-addr.arpa"
//     for 1.2.3.4.
//
// Name servers: with no nameserver() (a Null address, or Any) the query goes
// to the servers HostInfo uses: HostInfo::setNameServers() if set, else the
// system configuration (/etc/resolv.conf). HostInfo::setResolverTimeout()
// applies to every lookup; see also setLookupTimeout().
//
// Deliberate differences from Qt (see docs/porting-from-qt.md):
//   - finished() after abort() is emitted from the event loop, not inside
//     abort(); error(), errorString() and isFinished() change at once.
//   - With the default servers, the first reply counts: a SERVFAIL or
//     REFUSED is reported as such instead of asking the next server (which
//     is asked when a server does not answer at all).
//   - Names in records (record names, targets, exchanges) are the ASCII form
//     the server sent ("xn--bcher-kva.example"); Qt shows punycode labels in
//     Unicode for some top-level domains.
//   - No TLSA records, DNS-over-TLS, authenticData() or property bindings.
//   - tether addition: setLookupTimeout(), a limit on the whole lookup.
//   - Record classes have public constructors and operator==.
//
// Threading: a DnsLookup belongs to the thread that created it; every member
// function is owner thread only. Destroying it during a lookup is safe: the
// result is dropped. Records are plain values, safe to copy to any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tether/host_address.h"
#include "tether/object.h"
#include "tether/signal.h"
#include "tether/timer.h"

namespace tether {

// A record whose value is a domain name: CNAME, NS or PTR.
class DnsDomainNameRecord {
 public:
  DnsDomainNameRecord() = default;
  DnsDomainNameRecord(std::string name, std::uint32_t timeToLive, std::string value)
      : name_(std::move(name)), value_(std::move(value)), timeToLive_(timeToLive) {}

  // The owner name of the record, e.g. "alias.example.org".
  [[nodiscard]] const std::string& name() const { return name_; }
  // Seconds for which the record may be cached.
  [[nodiscard]] std::uint32_t timeToLive() const { return timeToLive_; }
  // The domain name the record points to.
  [[nodiscard]] const std::string& value() const { return value_; }

  void swap(DnsDomainNameRecord& other) noexcept {
    name_.swap(other.name_);
    value_.swap(other.value_);
    std::swap(timeToLive_, other.timeToLive_);
  }
  friend void swap(DnsDomainNameRecord& a, DnsDomainNameRecord& b) noexcept { a.swap(b); }
  friend bool operator==(const DnsDomainNameRecord&, const DnsDomainNameRecord&) = default;

 private:
  std::string name_;
  std::string value_;
  std::uint32_t timeToLive_ = 0;
};

// An A or AAAA record.
class DnsHostAddressRecord {
 public:
  DnsHostAddressRecord() = default;
  DnsHostAddressRecord(std::string name, std::uint32_t timeToLive, HostAddress value)
      : name_(std::move(name)), value_(std::move(value)), timeToLive_(timeToLive) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint32_t timeToLive() const { return timeToLive_; }
  [[nodiscard]] const HostAddress& value() const { return value_; }

  void swap(DnsHostAddressRecord& other) noexcept {
    name_.swap(other.name_);
    value_.swap(other.value_);
    std::swap(timeToLive_, other.timeToLive_);
  }
  friend void swap(DnsHostAddressRecord& a, DnsHostAddressRecord& b) noexcept { a.swap(b); }
  friend bool operator==(const DnsHostAddressRecord&, const DnsHostAddressRecord&) = default;

 private:
  std::string name_;
  HostAddress value_;
  std::uint32_t timeToLive_ = 0;
};

// An MX record (RFC 1035): a mail server for name(), lower preference first.
class DnsMailExchangeRecord {
 public:
  DnsMailExchangeRecord() = default;
  DnsMailExchangeRecord(std::string name, std::uint32_t timeToLive, std::uint16_t preference,
                        std::string exchange)
      : name_(std::move(name)), exchange_(std::move(exchange)), timeToLive_(timeToLive),
        preference_(preference) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint32_t timeToLive() const { return timeToLive_; }
  [[nodiscard]] std::uint16_t preference() const { return preference_; }
  // The mail server's host name.
  [[nodiscard]] const std::string& exchange() const { return exchange_; }

  void swap(DnsMailExchangeRecord& other) noexcept {
    name_.swap(other.name_);
    exchange_.swap(other.exchange_);
    std::swap(timeToLive_, other.timeToLive_);
    std::swap(preference_, other.preference_);
  }
  friend void swap(DnsMailExchangeRecord& a, DnsMailExchangeRecord& b) noexcept { a.swap(b); }
  friend bool operator==(const DnsMailExchangeRecord&, const DnsMailExchangeRecord&) = default;

 private:
  std::string name_;
  std::string exchange_;
  std::uint32_t timeToLive_ = 0;
  std::uint16_t preference_ = 0;
};

// An SRV record (RFC 2782): where a service runs. Try the lowest priority
// first; among equal priorities, higher weights are preferred.
class DnsServiceRecord {
 public:
  DnsServiceRecord() = default;
  DnsServiceRecord(std::string name, std::uint32_t timeToLive, std::uint16_t priority,
                   std::uint16_t weight, std::uint16_t port, std::string target)
      : name_(std::move(name)), target_(std::move(target)), timeToLive_(timeToLive),
        priority_(priority), weight_(weight), port_(port) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint32_t timeToLive() const { return timeToLive_; }
  [[nodiscard]] std::uint16_t priority() const { return priority_; }
  [[nodiscard]] std::uint16_t weight() const { return weight_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // The host the service runs on.
  [[nodiscard]] const std::string& target() const { return target_; }

  void swap(DnsServiceRecord& other) noexcept {
    name_.swap(other.name_);
    target_.swap(other.target_);
    std::swap(timeToLive_, other.timeToLive_);
    std::swap(priority_, other.priority_);
    std::swap(weight_, other.weight_);
    std::swap(port_, other.port_);
  }
  friend void swap(DnsServiceRecord& a, DnsServiceRecord& b) noexcept { a.swap(b); }
  friend bool operator==(const DnsServiceRecord&, const DnsServiceRecord&) = default;

 private:
  std::string name_;
  std::string target_;
  std::uint32_t timeToLive_ = 0;
  std::uint16_t priority_ = 0;
  std::uint16_t weight_ = 0;
  std::uint16_t port_ = 0;
};

// A TXT record: one or more strings of bytes (any bytes, NUL included).
class DnsTextRecord {
 public:
  DnsTextRecord() = default;
  DnsTextRecord(std::string name, std::uint32_t timeToLive, std::vector<std::string> values)
      : name_(std::move(name)), values_(std::move(values)), timeToLive_(timeToLive) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint32_t timeToLive() const { return timeToLive_; }
  // The record's character strings, in order (Qt's QList<QByteArray>).
  [[nodiscard]] const std::vector<std::string>& values() const { return values_; }

  void swap(DnsTextRecord& other) noexcept {
    name_.swap(other.name_);
    values_.swap(other.values_);
    std::swap(timeToLive_, other.timeToLive_);
  }
  friend void swap(DnsTextRecord& a, DnsTextRecord& b) noexcept { a.swap(b); }
  friend bool operator==(const DnsTextRecord&, const DnsTextRecord&) = default;

 private:
  std::string name_;
  std::vector<std::string> values_;
  std::uint32_t timeToLive_ = 0;
};

class DnsLookup : public Object {
 public:
  // Values are Qt's.
  enum Error {
    NoError = 0,
    ResolverError,            // the resolver could not be set up or used
    OperationCancelledError,  // abort() was called
    InvalidRequestError,      // the name is invalid, or the server could not parse the query
    InvalidReplyError,        // the server's reply could not be parsed
    ServerFailureError,       // SERVFAIL or NOTIMP
    ServerRefusedError,       // REFUSED
    NotFoundError,            // NXDOMAIN: the name does not exist
    TimeoutError,             // no reply in time (Qt 6.6)
  };

  // The record type to ask for; values are the DNS type numbers, as in Qt.
  // Other type numbers may be cast to Type: the query is sent, and the
  // records DnsLookup knows are returned.
  enum Type {
    A = 1,
    AAAA = 28,
    ANY = 255,
    CNAME = 5,
    MX = 15,
    NS = 2,
    PTR = 12,
    SRV = 33,
    TXT = 16,
  };

  // Type A, no name, the default name servers.
  explicit DnsLookup(Object* parent = nullptr);
  DnsLookup(Type type, std::string_view name, Object* parent = nullptr);
  // Asks `nameserver` on port 53.
  DnsLookup(Type type, std::string_view name, const HostAddress& nameserver,
            Object* parent = nullptr);
  // Asks `nameserver` on `port` (0 means 53). Qt 6.6.
  DnsLookup(Type type, std::string_view name, const HostAddress& nameserver, std::uint16_t port,
            Object* parent = nullptr);
  // Safe during a lookup: the result is dropped and finished() not emitted.
  ~DnsLookup() override;

  // The outcome of the last lookup; NoError and "" before the first.
  [[nodiscard]] Error error() const;
  [[nodiscard]] const std::string& errorString() const;
  // True once the last lookup has finished or was aborted; false before the
  // first lookup and while one runs.
  [[nodiscard]] bool isFinished() const { return finished_; }

  // The name to look up (UTF-8), sent in its ASCII (IDNA) form.
  [[nodiscard]] const std::string& name() const { return name_; }
  void setName(std::string_view name);

  // The record type to ask for; A by default.
  [[nodiscard]] Type type() const { return type_; }
  void setType(Type type);

  // The name server to ask; Null (the default) or Any means the default
  // servers. A scope id is not used.
  [[nodiscard]] const HostAddress& nameserver() const { return nameserver_; }
  void setNameserver(const HostAddress& nameserver);
  // Sets both; Qt 6.6.
  void setNameserver(const HostAddress& nameserver, std::uint16_t port);

  // The name server's port; 0 (the default) means 53. Qt 6.6.
  [[nodiscard]] std::uint16_t nameserverPort() const { return nameserverPort_; }
  void setNameserverPort(std::uint16_t port);

  // tether addition: the longest a lookup may take, in milliseconds, after
  // which it finishes with TimeoutError, "Request timed out". 0 (the
  // default) means no limit of its own: the lookup ends when the resolver
  // gives up (HostInfo::setResolverTimeout(); c-ares's defaults are about
  // 75 s for a server that never answers). Applies to lookups started
  // afterwards.
  [[nodiscard]] int lookupTimeout() const { return lookupTimeoutMs_; }
  void setLookupTimeout(int msecs);

  // The records of the last lookup, empty unless it succeeded.
  [[nodiscard]] const std::vector<DnsDomainNameRecord>& canonicalNameRecords() const;
  [[nodiscard]] const std::vector<DnsHostAddressRecord>& hostAddressRecords() const;
  [[nodiscard]] const std::vector<DnsMailExchangeRecord>& mailExchangeRecords() const;
  [[nodiscard]] const std::vector<DnsDomainNameRecord>& nameServerRecords() const;
  [[nodiscard]] const std::vector<DnsDomainNameRecord>& pointerRecords() const;
  [[nodiscard]] const std::vector<DnsServiceRecord>& serviceRecords() const;
  [[nodiscard]] const std::vector<DnsTextRecord>& textRecords() const;

  // Starts a lookup with the current type, name, name server and timeout.
  // The previous results are cleared and isFinished() becomes false; a
  // lookup still running is dropped without finished(). finished() follows
  // from the event loop, also when the name is invalid.
  void lookup();

  // Ends the running lookup: at once, error() is OperationCancelledError,
  // errorString() "Operation cancelled", the records are cleared and
  // isFinished() is true; finished() follows from the event loop (unless
  // lookup() is called again first). Does nothing when no lookup is running.
  void abort();

  Signal<> finished;
  Signal<std::string> nameChanged;
  Signal<Type> typeChanged;
  Signal<HostAddress> nameserverChanged;
  Signal<std::uint16_t> nameserverPortChanged;  // Qt 6.6

  // Internal: the outcome of one query.
  struct Reply {
    Error error = NoError;
    std::string errorString;
    std::vector<DnsDomainNameRecord> canonicalNameRecords;
    std::vector<DnsHostAddressRecord> hostAddressRecords;
    std::vector<DnsMailExchangeRecord> mailExchangeRecords;
    std::vector<DnsDomainNameRecord> nameServerRecords;
    std::vector<DnsDomainNameRecord> pointerRecords;
    std::vector<DnsServiceRecord> serviceRecords;
    std::vector<DnsTextRecord> textRecords;
  };

 private:
  class Query;

  void finish(std::optional<Reply> reply);
  void cancelRunning();
  void onTimeout();

  std::string name_;
  HostAddress nameserver_;
  Type type_ = A;
  std::uint16_t nameserverPort_ = 0;
  int lookupTimeoutMs_ = 0;
  bool finished_ = false;
  Reply reply_;
  std::shared_ptr<Query> running_;  // the lookup whose finished() is still to come
  Timer timeoutTimer_;
};

}  // namespace tether
