#include "tether/dns_lookup.h"

#include <optional>
#include <utility>

#include "addressing/dns_lookup_reply.h"
#include "addressing/resolver.h"
#include "tether/detail/object_life.h"

namespace tether {

namespace {

// Qt's limit on the name as sent (RFC 1035: 255 bytes in wire form).
constexpr std::size_t kMaxNameLength = 255;

}  // namespace

// One lookup() or abort() whose finished() is still to come. The resolver
// holds it while the query runs; it reaches the DnsLookup only through a
// call posted to the owner thread's loop, and only while it is the
// lookup's running query (not abandoned).
class DnsLookup::Query final : public detail::QueryRequest,
                               public std::enable_shared_from_this<DnsLookup::Query> {
 public:
  explicit Query(DnsLookup* owner) : owner_(owner), poster_(detail::currentLoopPoster()) {}

  bool isAbandoned() const override { return owner_ == nullptr; }

  // The DnsLookup no longer wants this query: nothing reaches it any more.
  void abandon() { owner_ = nullptr; }

  void finished(detail::QueryResult result) override {
    if (!owner_) return;
    post(detail::dnsReplyOf(result));
  }

  // Hands the DnsLookup its reply (or, with none, just finished()) from the
  // loop: never inside lookup() or abort(), nor inside c-ares's processing.
  void post(std::optional<Reply> reply) {
    poster_->post([self = shared_from_this(), reply = std::move(reply)]() mutable {
      if (DnsLookup* owner = self->owner_) {
        self->owner_ = nullptr;
        owner->finish(std::move(reply));
      }
    });
  }

 private:
  DnsLookup* owner_;
  std::shared_ptr<detail::Poster> poster_;
};

DnsLookup::DnsLookup(Object* parent) : Object(parent) {
  timeoutTimer_.setSingleShot(true);
  timeoutTimer_.timeout.connect(this, &DnsLookup::onTimeout);
}

DnsLookup::DnsLookup(Type type, std::string_view name, Object* parent) : DnsLookup(parent) {
  type_ = type;
  name_ = name;
}

DnsLookup::DnsLookup(Type type, std::string_view name, const HostAddress& nameserver,
                     Object* parent)
    : DnsLookup(type, name, nameserver, 0, parent) {}

DnsLookup::DnsLookup(Type type, std::string_view name, const HostAddress& nameserver,
                     std::uint16_t port, Object* parent)
    : DnsLookup(type, name, parent) {
  nameserver_ = nameserver;
  nameserverPort_ = port;
}

DnsLookup::~DnsLookup() { cancelRunning(); }

DnsLookup::Error DnsLookup::error() const { return reply_.error; }
const std::string& DnsLookup::errorString() const { return reply_.errorString; }

void DnsLookup::setName(std::string_view name) {
  if (name == name_) return;
  name_ = name;
  nameChanged.emit(name_);
}

void DnsLookup::setType(Type type) {
  if (type == type_) return;
  type_ = type;
  typeChanged.emit(type_);
}

void DnsLookup::setNameserver(const HostAddress& nameserver) {
  if (nameserver == nameserver_) return;
  nameserver_ = nameserver;
  nameserverChanged.emit(nameserver_);
}

void DnsLookup::setNameserver(const HostAddress& nameserver, std::uint16_t port) {
  ObjectPtr<DnsLookup> self(this);
  setNameserver(nameserver);
  if (self) setNameserverPort(port);
}

void DnsLookup::setNameserverPort(std::uint16_t port) {
  if (port == nameserverPort_) return;
  nameserverPort_ = port;
  nameserverPortChanged.emit(nameserverPort_);
}

void DnsLookup::setLookupTimeout(int msecs) { lookupTimeoutMs_ = msecs > 0 ? msecs : 0; }

const std::vector<DnsDomainNameRecord>& DnsLookup::canonicalNameRecords() const {
  return reply_.canonicalNameRecords;
}
const std::vector<DnsHostAddressRecord>& DnsLookup::hostAddressRecords() const {
  return reply_.hostAddressRecords;
}
const std::vector<DnsMailExchangeRecord>& DnsLookup::mailExchangeRecords() const {
  return reply_.mailExchangeRecords;
}
const std::vector<DnsDomainNameRecord>& DnsLookup::nameServerRecords() const {
  return reply_.nameServerRecords;
}
const std::vector<DnsDomainNameRecord>& DnsLookup::pointerRecords() const {
  return reply_.pointerRecords;
}
const std::vector<DnsServiceRecord>& DnsLookup::serviceRecords() const {
  return reply_.serviceRecords;
}
const std::vector<DnsTextRecord>& DnsLookup::textRecords() const { return reply_.textRecords; }

void DnsLookup::lookup() {
  cancelRunning();
  reply_ = Reply();
  finished_ = false;
  auto query = std::make_shared<Query>(this);
  running_ = query;

  // An empty name is the root domain; others go in their ASCII form.
  std::optional<std::string> ascii =
      name_.empty() ? std::optional<std::string>(".") : detail::asciiHostName(name_);
  if (!ascii || ascii->size() > kMaxNameLength) {
    query->post(detail::dnsFailure(InvalidRequestError, "Invalid domain name"));
    return;
  }
  if (lookupTimeoutMs_ > 0) timeoutTimer_.start(lookupTimeoutMs_);
  std::optional<detail::NameServer> server;
  const NetworkLayerProtocol protocol = nameserver_.protocol();
  if (protocol == NetworkLayerProtocol::IPv4Protocol ||
      protocol == NetworkLayerProtocol::IPv6Protocol)
    server = detail::NameServer(nameserver_, nameserverPort_);
  // The resolver may report a failure inside this call; the query posts it.
  detail::queryAsync(*ascii, static_cast<int>(type_), server, std::move(query));
}

void DnsLookup::abort() {
  if (!running_ || finished_) return;
  cancelRunning();
  reply_ = detail::dnsFailure(OperationCancelledError, "Operation cancelled");
  finished_ = true;
  running_ = std::make_shared<Query>(this);
  running_->post(std::nullopt);
}

void DnsLookup::finish(std::optional<Reply> reply) {
  timeoutTimer_.stop();
  running_.reset();
  if (reply) reply_ = std::move(*reply);
  finished_ = true;
  finished.emit();
}

void DnsLookup::onTimeout() {
  if (!running_ || finished_) return;
  cancelRunning();
  finish(detail::dnsFailure(TimeoutError, "Request timed out"));
}

// Drops the running query, if any: it will not reach this object, and its
// DNS work stops when nothing else on this thread needs it.
void DnsLookup::cancelRunning() {
  timeoutTimer_.stop();
  if (!running_) return;
  running_->abandon();
  running_.reset();
  detail::cancelAbandonedLookups();
}

}  // namespace tether
