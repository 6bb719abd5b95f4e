#include "addressing/dns_lookup_reply.h"

#include <ares.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

namespace tether::detail {

namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kRecordFixedSize = 10;  // type, class, TTL, data length
constexpr std::uint16_t kClassIn = 1;

std::uint16_t read16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t read32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

DnsLookup::Reply invalidReply(std::string_view what = {}) {
  if (what.empty()) return dnsFailure(DnsLookup::InvalidReplyError, "Invalid reply received");
  return dnsFailure(DnsLookup::InvalidReplyError,
                    "Invalid reply received (" + std::string(what) + ')');
}

// The error a reply's rcode (RFC 1035 4.1.1, RFC 6895 2.3) stands for.
DnsLookup::Reply rcodeFailure(unsigned rcode) {
  switch (rcode) {
    case 1:  // FORMERR
      return dnsFailure(DnsLookup::InvalidRequestError, "Server could not process query");
    case 2:  // SERVFAIL
    case 4:  // NOTIMP
      return dnsFailure(DnsLookup::ServerFailureError, "Server failure");
    case 3:  // NXDOMAIN
      return dnsFailure(DnsLookup::NotFoundError, "Non existent domain");
    case 5:  // REFUSED
      return dnsFailure(DnsLookup::ServerRefusedError, "Server refused to answer");
    default:
      return invalidReply("rcode " + std::to_string(rcode));
  }
}

// The error a c-ares status stands for when no reply came with it.
DnsLookup::Reply statusFailure(int status) {
  switch (status) {
    case ARES_ETIMEOUT:
      return dnsFailure(DnsLookup::TimeoutError, "Request timed out");
    case ARES_ENOTFOUND:
      return rcodeFailure(3);
    case ARES_ESERVFAIL:
    case ARES_ENOTIMP:
      return rcodeFailure(2);
    case ARES_EREFUSED:
      return rcodeFailure(5);
    case ARES_EFORMERR:
      return rcodeFailure(1);
    case ARES_EBADRESP:
      return invalidReply();
    case ARES_EBADNAME:
    case ARES_EBADQUERY:
      return dnsFailure(DnsLookup::InvalidRequestError, "Invalid domain name");
    case ARES_ECONNREFUSED:
      return dnsFailure(DnsLookup::ResolverError, std::strerror(ECONNREFUSED));
    case ARES_ENOMEM:
      return dnsFailure(DnsLookup::ResolverError, std::strerror(ENOMEM));
    default:
      return dnsFailure(DnsLookup::ResolverError, ares_strerror(status));
  }
}

// Reads the domain name at `at` (compression pointers may point anywhere in
// the reply); sets `length` to the bytes it takes at `at`.
std::optional<std::string> expandName(const unsigned char* reply, std::size_t size,
                                      const unsigned char* at, std::size_t& length) {
  char* text = nullptr;
  long used = 0;
  if (ares_expand_name(at, reply, static_cast<int>(size), &text, &used) != ARES_SUCCESS)
    return std::nullopt;
  std::string name(text);
  ares_free_string(text);
  length = static_cast<std::size_t>(used);
  return name;
}

// One answer record: where its data is, and who owns it.
struct RecordView {
  std::string name;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  const unsigned char* data = nullptr;
  std::size_t size = 0;
};

class ReplyReader {
 public:
  ReplyReader(const unsigned char* reply, std::size_t size) : reply_(reply), size_(size) {}

  DnsLookup::Reply read() {
    if (size_ < kHeaderSize) return invalidReply();
    if (const unsigned rcode = reply_[3] & 0x0fu; rcode != 0) return rcodeFailure(rcode);
    const std::uint16_t questions = read16(reply_ + 4);
    const std::uint16_t answers = read16(reply_ + 6);
    std::size_t offset = kHeaderSize;
    if (questions > 1) return invalidReply();
    if (questions == 1) {
      std::size_t length = 0;
      if (!expandName(reply_, size_, reply_ + offset, length))
        return invalidReply("Could not expand domain name");
      offset += length + 4;  // name, type, class
      if (offset > size_) return invalidReply();
    }
    DnsLookup::Reply result;
    for (std::uint16_t i = 0; i < answers; ++i) {
      std::size_t length = 0;
      std::optional<std::string> name = expandName(reply_, size_, reply_ + offset, length);
      if (!name) return invalidReply("Could not expand domain name");
      offset += length;
      if (offset + kRecordFixedSize > size_) break;  // cut short: keep what we have
      RecordView record;
      record.name = std::move(*name);
      record.type = read16(reply_ + offset);
      const std::uint16_t recordClass = read16(reply_ + offset + 2);
      record.ttl = read32(reply_ + offset + 4);
      record.size = read16(reply_ + offset + 8);
      offset += kRecordFixedSize;
      if (offset + record.size > size_) break;
      record.data = reply_ + offset;
      offset += record.size;
      if (recordClass != kClassIn) continue;
      if (std::optional<std::string> problem = add(std::move(record), result))
        return invalidReply(*problem);
    }
    return result;
  }

 private:
  // Adds the record to `result`; returns what is wrong with it, if anything.
  std::optional<std::string> add(RecordView record, DnsLookup::Reply& result) const {
    switch (record.type) {
      case DnsLookup::A: {
        if (record.size != 4) return "Invalid IPv4 address record";
        result.hostAddressRecords.emplace_back(std::move(record.name), record.ttl,
                                               HostAddress(read32(record.data)));
        return std::nullopt;
      }
      case DnsLookup::AAAA: {
        if (record.size != 16) return "Invalid IPv6 address record";
        result.hostAddressRecords.emplace_back(std::move(record.name), record.ttl,
                                               HostAddress(record.data));
        return std::nullopt;
      }
      case DnsLookup::CNAME:
      case DnsLookup::NS:
      case DnsLookup::PTR: {
        std::optional<std::string> value = nameInData(record, 0);
        if (record.type == DnsLookup::CNAME) {
          if (!value) return "Invalid canonical name record";
          result.canonicalNameRecords.emplace_back(std::move(record.name), record.ttl, std::move(*value));
        } else if (record.type == DnsLookup::NS) {
          if (!value) return "Invalid name server record";
          result.nameServerRecords.emplace_back(std::move(record.name), record.ttl, std::move(*value));
        } else {
          if (!value) return "Invalid pointer record";
          result.pointerRecords.emplace_back(std::move(record.name), record.ttl, std::move(*value));
        }
        return std::nullopt;
      }
      case DnsLookup::MX: {
        std::optional<std::string> exchange = nameInData(record, 2);
        if (!exchange) return "Invalid mail exchange record";
        result.mailExchangeRecords.emplace_back(std::move(record.name), record.ttl,
                                                read16(record.data), std::move(*exchange));
        return std::nullopt;
      }
      case DnsLookup::SRV: {
        std::optional<std::string> target = nameInData(record, 6);
        if (!target) return "Invalid service record";
        result.serviceRecords.emplace_back(std::move(record.name), record.ttl, read16(record.data),
                                           read16(record.data + 2), read16(record.data + 4),
                                           std::move(*target));
        return std::nullopt;
      }
      case DnsLookup::TXT: {
        std::vector<std::string> values;
        for (std::size_t at = 0; at < record.size;) {
          const std::size_t length = record.data[at++];
          if (at + length > record.size) return "Invalid text record";
          values.emplace_back(reinterpret_cast<const char*>(record.data + at), length);
          at += length;
        }
        result.textRecords.emplace_back(std::move(record.name), record.ttl, std::move(values));
        return std::nullopt;
      }
      default:
        return std::nullopt;  // a type DnsLookup does not return
    }
  }

  // The domain name `skip` bytes into the record's data; it must start
  // there and, without its compression pointer's target, end there too.
  std::optional<std::string> nameInData(const RecordView& record, std::size_t skip) const {
    if (record.size <= skip) return std::nullopt;
    std::size_t length = 0;
    std::optional<std::string> name = expandName(reply_, size_, record.data + skip, length);
    if (name && skip + length > record.size) return std::nullopt;
    return name;
  }

  const unsigned char* reply_;
  std::size_t size_;
};

}  // namespace

DnsLookup::Reply dnsFailure(DnsLookup::Error error, std::string text) {
  DnsLookup::Reply reply;
  reply.error = error;
  reply.errorString = std::move(text);
  return reply;
}

DnsLookup::Reply parseDnsReply(const unsigned char* data, std::size_t size) {
  return ReplyReader(data, size).read();
}

DnsLookup::Reply dnsReplyOf(const QueryResult& result) {
  if (result.reply.empty()) {
    // No reply: c-ares's verdict is all there is (a success always has one).
    return statusFailure(result.status == ARES_SUCCESS ? ARES_EBADRESP : result.status);
  }
  DnsLookup::Reply reply = parseDnsReply(result.reply.data(), result.reply.size());
  thread_local std::mt19937 random{std::random_device{}()};
  sortMailExchangeRecords(reply.mailExchangeRecords, random);
  sortServiceRecords(reply.serviceRecords, random);
  return reply;
}

void sortMailExchangeRecords(std::vector<DnsMailExchangeRecord>& records, std::mt19937& random) {
  std::shuffle(records.begin(), records.end(), random);
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return a.preference() < b.preference();
  });
}

void sortServiceRecords(std::vector<DnsServiceRecord>& records, std::mt19937& random) {
  std::stable_sort(records.begin(), records.end(),
                   [](const auto& a, const auto& b) { return a.priority() < b.priority(); });
  for (auto group = records.begin(); group != records.end();) {
    const auto end = std::find_if(group, records.end(), [&](const DnsServiceRecord& r) {
      return r.priority() != group->priority();
    });
    std::stable_partition(group, end, [](const DnsServiceRecord& r) { return r.weight() == 0; });
    // Selection: each round draws from [0, total weight] and takes the first
    // record whose running sum reaches the draw.
    for (auto next = group; next != end; ++next) {
      std::uint32_t total = 0;
      for (auto it = next; it != end; ++it) total += it->weight();
      const std::uint32_t draw = std::uniform_int_distribution<std::uint32_t>(0, total)(random);
      std::uint32_t sum = 0;
      auto chosen = next;
      for (auto it = next; it != end; ++it) {
        sum += it->weight();
        if (sum >= draw) {
          chosen = it;
          break;
        }
      }
      // Keep the others in their order: the zero weights stay in front.
      std::rotate(next, chosen, chosen + 1);
    }
    group = end;
  }
}

}  // namespace tether::detail
